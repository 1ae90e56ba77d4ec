"""Property-based walk over the whole OpenAPI schema: no input makes the server fail (5xx).

One plain pytest parameter per operation (not `schema.parametrize()`): its lazily generated
items did not survive pytest-xdist's `loadgroup` scheduling (the 117 operations collapsed
into one item that ran for half a second), so the walk silently stopped walking. Each
operation gets what the pytest plugin gave it: schemathesis' coverage cases (boundary and
invalid values of every parameter) and then hypothesis fuzzing, valid and invalid inputs.

Each operation is walked twice: as the local operator (the `get_principal` override, every
right, no account) and as a real administrator whose bearer token came from a real login
(issue 14: some 500s only showed with an account behind the request). The token walk must not
saw off its own branch: what could end the walker's token, post or account is aimed at a
throwaway administrator instead, and after each operation the token must still work.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.config import GenerationConfig

from tests.factories import load_territory, quarters
from wangge.api.deps import get_principal
from wangge.auth import service
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
# The same routes without the override: who calls is whoever the request's token says.
AUTH_APP = create_app(SETTINGS)
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
PASSWORD = "Walk-Admin-Pass-2026"

# Operations that end the caller's own token (or lock his account) whatever the input.
ENDS_OWN_TOKEN = {
    "POST /api/v1/auth/logout",
    "POST /api/v1/auth/logout-everywhere",
    "POST /api/v1/auth/password",
}
# Path parameters that may name the walker's own account, post or token (fuzzers love 1).
OWN_IDS = ("user_id", "post_id", "token_id")
REVOKE = "DELETE /api/v1/api-keys/{token_id}"


@dataclass(frozen=True)
class Admin:
    """An administrator account with its admin post, a bearer token and an API key."""

    token: str
    user_id: int
    post_id: int
    token_id: int
    key_id: int


@pytest.fixture(scope="module")
def world() -> Iterator[Admin]:
    """Load the world, then log the walker in and let him issue his token over HTTP."""
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
        service.seed_roles(s)
        user = service.create_user(s, username="walker", password=PASSWORD, display_name="巡检")
        post_id = service.assign_post(s, user, "admin").id
    for app in (APP, AUTH_APP):
        app.state.engine, app.state.session_factory = engine, session_factory(engine)
    client = TestClient(AUTH_APP)  # no `with`: the lifespan would put its own engine in place
    me = client.post("/api/v1/auth/login", json={"username": "walker", "password": PASSWORD})
    assert me.status_code == 200, me.text
    issued = client.post(
        "/api/v1/auth/tokens",
        json={"name": "schemathesis walk"},
        headers={"X-CSRF-Token": me.json()["csrf_token"]},
    )
    assert issued.status_code == 200, issued.text
    yield Admin(issued.json()["token"], me.json()["user_id"], post_id, issued.json()["id"], 0)
    engine.dispose()


_spares = count(1)


def _spare() -> Admin:
    """Make a throwaway administrator for requests that would end the walker's own access."""
    n = next(_spares)
    with unit_of_work(AUTH_APP.state.session_factory) as s:
        user = service.create_user(
            s, username=f"spare{n}", password=PASSWORD, display_name=f"备用{n}"
        )
        post = service.assign_post(s, user, "admin")
        token, row = service.issue_token(s, kind="bearer", name=f"spare{n}", user=user)
        _key, key = service.issue_token(s, kind="api_key", name=f"spare{n}")
        return Admin(token, user.id, post.id, row.id, key.id)


def _as_admin(case, walker: Admin) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Return the case's Authorization header; aim self-harming requests at a spare admin."""
    label = case.operation.label
    token = walker.token
    params = case.path_parameters or {}
    if label in ENDS_OWN_TOKEN:
        token = _spare().token
    for name in OWN_IDS:
        if name in params and str(params[name]) == str(getattr(walker, name)):
            params[name] = getattr(_spare(), name)
    if label == REVOKE and isinstance(params.get("token_id"), int):
        params["token_id"] = _spare().key_id  # a real key is revoked, never the walk's own
    return {"Authorization": f"Bearer {token}"}


def test_the_walk_covers_every_documented_operation():
    assert len(OPERATIONS) >= 100
    assert len({op.label for op in OPERATIONS}) == len(OPERATIONS)


def _check(case, walker: Admin | None) -> None:  # type: ignore[no-untyped-def]
    kw = {} if walker is None else {"app": AUTH_APP, "headers": _as_admin(case, walker)}
    response = case.call(**kw)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    )


@pytest.mark.parametrize("caller", ["operator", "token"])
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_no_request_makes_the_server_fail(world, operation, caller):  # type: ignore[no-untyped-def]
    walker = world if caller == "token" else None
    modes = list(GenerationMode)
    for case in SCHEMA.iter_coverage_cases(
        operation, generation_modes=modes, generation_config=GenerationConfig()
    ):
        _check(case, walker)

    @given(case=st.one_of(*(operation.as_strategy(mode) for mode in modes)))
    @settings(
        max_examples=8,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def fuzz(case):  # type: ignore[no-untyped-def]
        _check(case, walker)

    fuzz()
    if walker is not None:  # the walk still runs as the administrator it logged in as
        me = TestClient(AUTH_APP).get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {walker.token}"}
        )
        assert me.status_code == 200, me.text
        assert me.json()["user_id"] == walker.user_id and "admin" in me.json()["roles"]


def test_revoking_a_key_over_the_walk_leaves_the_walkers_token_alone(world):
    spare = _spare()
    headers = {"Authorization": f"Bearer {world.token}"}
    client = TestClient(AUTH_APP)
    assert client.delete(f"/api/v1/api-keys/{spare.key_id}", headers=headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
