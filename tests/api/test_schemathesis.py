"""Property-based walk over the whole OpenAPI schema: no input makes the server fail (5xx)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

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


def _app():  # type: ignore[no-untyped-def]
    root = Path(tempfile.mkdtemp(prefix="wangge-fuzz-"))
    settings = Settings(database_url=f"sqlite:///{root / 'fuzz.db'}", upload_dir=root / "uploads")
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with unit_of_work(session_factory(engine)) as s:
        load_territory(s)
        seed_categories(s)
        version = new_version(s, "110108", "social", "v1")
        add_grids(
            s, version, [GridIn(kind="basic", geom=g) for g in quarters("110108001001")], width=3
        )
        activate_version(s, version.id)
    app = create_app(settings)
    app.state.engine, app.state.session_factory = engine, session_factory(engine)
    app.dependency_overrides[get_principal] = lambda: LOCAL_OPERATOR
    return app


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_request_makes_the_server_fail(case):  # type: ignore[no-untyped-def]
    response = case.call()
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    )
