"""Property-based walk over the whole OpenAPI schema: no input makes the server fail (5xx).

One plain pytest parameter per operation (not `schema.parametrize()`): its lazily generated
items did not survive pytest-xdist's `loadgroup` scheduling (the 117 operations collapsed
into one item that ran for half a second), so the walk silently stopped walking. Each
operation gets what the pytest plugin gave it: schemathesis' coverage cases (boundary and
invalid values of every parameter) and then hypothesis fuzzing, valid and invalid inputs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.config import GenerationConfig

from tests.factories import load_territory, quarters
from wangge.api.deps import get_principal
from wangge.auth.principal import LOCAL_OPERATOR
from wangge.cases.categories import seed_categories
from wangge.config import Settings
from wangge.db import make_engine, session_factory, unit_of_work
from wangge.dbadmin import upgrade
from wangge.grids.service import GridIn, add_grids, new_version
from wangge.grids.versions import activate_version
from wangge.main import create_app

pytestmark = pytest.mark.slow

# The schema needs no database; the world is loaded once per worker by the fixture below.
ROOT = Path(tempfile.mkdtemp(prefix="wangge-fuzz-"))
SETTINGS = Settings(database_url=f"sqlite:///{ROOT / 'fuzz.db'}", upload_dir=ROOT / "uploads")
APP = create_app(SETTINGS)
APP.dependency_overrides[get_principal] = lambda: LOCAL_OPERATOR
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@pytest.fixture(scope="module")
def world() -> Iterator[None]:
    engine = make_engine(SETTINGS.database_url)
    upgrade(engine)
    with unit_of_work(session_factory(engine)) as s:
        load_territory(s)
        seed_categories(s)
        version = new_version(s, "110108", "social", "v1")
        add_grids(
            s, version, [GridIn(kind="basic", geom=g) for g in quarters("110108001001")], width=3
        )
        activate_version(s, version.id)
    APP.state.engine, APP.state.session_factory = engine, session_factory(engine)
    yield
    engine.dispose()


def test_the_walk_covers_every_documented_operation():
    assert len(OPERATIONS) >= 100
    assert len({op.label for op in OPERATIONS}) == len(OPERATIONS)


def _check(case) -> None:  # type: ignore[no-untyped-def]
    response = case.call()
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    )


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_no_request_makes_the_server_fail(world, operation):  # type: ignore[no-untyped-def]
    modes = list(GenerationMode)
    for case in SCHEMA.iter_coverage_cases(
        operation, generation_modes=modes, generation_config=GenerationConfig()
    ):
        _check(case)

    @given(case=st.one_of(*(operation.as_strategy(mode) for mode in modes)))
    @settings(
        max_examples=8,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def fuzz(case):  # type: ignore[no-untyped-def]
        _check(case)

    fuzz()
