"""A registry over HTTP with a grid worker serving one grid (信息采集 and 走访 tests)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.api_support import serve_session
from tests.factories import quarters
from tests.registry_factories import CENTER, A, setup_grids
from wangge.assignments.service import add_assignment
from wangge.auth import service
from wangge.auth.principal import LOCAL_OPERATOR
from wangge.common.models import utcnow
from wangge.config import Settings
from wangge.grids.models import Grid
from wangge.main import create_app
from wangge.registry import houses, people
from wangge.registry.households import save_household

PASSWORD = "Grid-Worker-2026"


@dataclass
class World:
    """Grid ids of community A and a household in each of its first two grids."""

    grids: list[int]  # the grids of the two buildings; the worker serves the first
    codes: list[str]
    rooms: list[int]  # a room in each
    households: list[int]


def _centre(community: str, index: int) -> tuple[float, float]:
    g = quarters(community)[index]
    return g.centroid.x, g.centroid.y


def build(session: Session) -> World:
    """Community A with four grids; worker "wangwu" serves the first one (网格员配置)."""
    setup_grids(session)
    service.seed_roles(session)
    admin = service.create_user(
        session, username="admin", password="Center-Pass-2026", display_name="中心"
    )
    service.assign_post(session, admin, "admin")
    worker = service.create_user(session, username="wangwu", password=PASSWORD, display_name="王五")
    service.assign_post(session, worker, "supervisor", scope=A)
    rooms, households, grids = [], [], []
    for index in (0, 1):
        lon, lat = _centre(A, index)
        b = houses.save_building(
            session,
            CENTER,
            {"name": f"{index + 1}号楼", "community_code": A, "lon": lon, "lat": lat},
        )
        r = houses.save_room(session, CENTER, {"building_id": b.id, "number": "101"})
        h = save_household(session, CENTER, {"number": f"H{index + 1}", "room_id": r.id})
        people.save_person(
            session, CENTER, {"name": f"户主{index + 1}", "household_id": h.id, "relation": "户主"}
        )
        rooms.append(r.id)
        households.append(h.id)
        grids.append(b.grid_id)
    codes = [session.scalar(select(Grid.code).where(Grid.id == g)) for g in grids]
    add_assignment(
        session, LOCAL_OPERATOR, user_id=worker.id, grid_code=codes[0], kind="full_time",
        starts_on=(utcnow() - timedelta(days=30)).date(),
    )  # fmt: skip
    session.flush()
    return World(grids, codes, rooms, households)  # type: ignore[arg-type]


def client_for(session: Session, tmp_path) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """Yield a test client of the app on the test's session."""
    app = create_app(
        Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", upload_dir=tmp_path / "up")
    )
    serve_session(app, session)
    with TestClient(app) as c:
        yield c


def login(client: TestClient, username: str = "wangwu", password: str = PASSWORD) -> dict[str, str]:
    """Log in; return the CSRF header of the session."""
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf_token"]}
