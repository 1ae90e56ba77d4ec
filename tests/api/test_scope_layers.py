"""A grid code names a grid of one layer: scope never leaks through a code both layers carry.

Found by outside testing on the demo: social grid 1 and unit grid 121 both carried code
110108001001001, and a supervisor scoped to social grid …003 read a case lying in another
social grid, because its *unit* grid was …003.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import box

from tests.api_support import serve_session
from tests.case_factories import build_world, report
from tests.factories import COMMUNITIES, DX, DY, X0, Y0
from wangge.auth import service as auth
from wangge.config import Settings
from wangge.grids.service import GridIn, add_grids, new_version
from wangge.grids.versions import activate_version
from wangge.main import create_app

PASSWORD = "Scope-Layers-2026"
COMMUNITY = "110108001001"


@pytest.fixture
def world(session, tmp_path) -> Iterator[tuple[TestClient, int]]:
    build_world(session)  # social quarters: NW …001, NE …002, SW …003, SE …004
    minx, miny, maxx, maxy = COMMUNITIES[COMMUNITY].bounds
    step = (maxx - minx) / 4
    strips = [box(minx + i * step, miny, minx + (i + 1) * step, maxy) for i in range(4)]
    unit = new_version(session, "110108", "unit", "万米单元网格")
    add_grids(session, unit, [GridIn(kind="unit", geom=g) for g in strips], width=3)
    activate_version(session, unit.id)  # unit strips west→east: …001 … …004
    # North-east quarter (social …002) and the third strip (unit …003).
    case = report(session, lon=X0 + 0.6 * DX, lat=Y0 + 0.7 * DY)
    assert case.grid_id is not None and case.unit_grid_id is not None
    auth.seed_roles(session)
    for name, scope, layer in (
        ("social3", f"{COMMUNITY}003", None),
        ("social2", f"{COMMUNITY}002", None),
        ("unit3", f"{COMMUNITY}003", "unit"),
    ):
        user = auth.create_user(session, username=name, password=PASSWORD, display_name=name)
        auth.assign_post(session, user, "supervisor", scope=scope, layer=layer)
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}"))
    serve_session(app, session)
    with TestClient(app) as client:
        yield client, case.id


def _sees(client: TestClient, username: str, case_id: int) -> bool:
    client.cookies.clear()
    r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    status = client.get(f"/api/v1/cases/{case_id}").status_code
    listed = {c["id"] for c in client.get("/api/v1/cases").json()["items"]}
    assert (status == 200) == (case_id in listed)
    return status == 200


def test_a_social_grid_post_sees_its_social_grid_and_not_a_unit_grid_of_the_same_code(world):
    client, case_id = world
    assert _sees(client, "social2", case_id)  # the case lies in social grid …002
    assert not _sees(client, "social3", case_id)  # …003 is only its unit grid's code
    assert _sees(client, "unit3", case_id)  # a unit-layer post of …003 does see it


def test_grids_name_their_layer_and_a_post_reads_only_grids_of_its_own_layer(world):
    client, _ = world
    client.cookies.clear()
    client.post("/api/v1/auth/login", json={"username": "social3", "password": PASSWORD})
    found = client.get(
        "/api/v1/grids/locate", params={"lon": X0 + 0.25 * DX, "lat": Y0 + 0.25 * DY}
    ).json()
    assert found["grid"]["code"] == f"{COMMUNITY}003" and found["grid"]["layer"] == "social"
    assert found["unit_grid"] is None  # unit grid …002 there is not his
