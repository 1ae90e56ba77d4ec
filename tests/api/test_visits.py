"""走访 over HTTP: a visit per household (once per Idempotency-Key), in its history, and the
share of households visited this quarter per grid."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.forms_support import World, build, client_for, login
from tests.registry_factories import CENTER
from wangge.registry import visits
from wangge.registry.households import save_household
from wangge.registry.houses import save_room
from wangge.registry.models import Room
from wangge.registry.models_visits import HouseholdVisit


@pytest.fixture
def world(session) -> World:
    return build(session)


@pytest.fixture
def client(session, world, tmp_path) -> Iterator[TestClient]:
    yield from client_for(session, tmp_path)


def test_quarters_run_from_the_first_to_the_last_day_of_three_months():
    from datetime import date

    assert visits.quarter_of(date(2026, 12, 8)) == (date(2026, 10, 1), date(2026, 12, 31))
    assert visits.quarter_of(date(2026, 2, 28)) == (date(2026, 1, 1), date(2026, 3, 31))
    assert visits.quarter_of(date(2026, 4, 1)) == (date(2026, 4, 1), date(2026, 6, 30))


def test_a_visit_is_logged_once_per_key_and_shows_in_the_households_history(client, world, session):
    headers = login(client) | {"Idempotency-Key": "visit-1"}
    path = f"/api/v1/registry/households/{world.households[0]}/visits"
    body = {"notes": "入户走访，家中老人身体良好"}
    first = client.post(path, json=body, headers=headers)
    again = client.post(path, json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["worker_name"] == "wangwu" and first.json()["visited_on"]
    assert session.scalar(select(func.count()).select_from(HouseholdVisit)) == 1
    detail = client.get(f"/api/v1/registry/households/{world.households[0]}").json()
    assert detail["visited_this_quarter"] and len(detail["visits"]) == 1
    assert [p["name"] for p in detail["people"]] == ["户主1"]
    history = client.get(f"/api/v1/registry/households/{world.households[0]}/history").json()
    assert history[-1]["action"] == "visit" and history[-1]["actor"] == "wangwu"


def test_a_visit_with_a_photo_keeps_the_upload(client, world):
    from tests.case_factories import jpeg

    headers = login(client)
    up = client.post(
        "/api/v1/uploads", files={"file": ("p.jpg", jpeg(), "image/jpeg")}, headers=headers
    )
    assert up.status_code == 201, up.text
    ref = f"/api/v1/uploads/{up.json()['id']}"
    path = f"/api/v1/registry/households/{world.households[0]}/visits"
    r = client.post(path, json={"notes": "拍照", "photos": [ref]}, headers=headers)
    assert r.status_code == 201 and r.json()["photos"] == [ref]
    bad = client.post(path, json={"photos": ["/api/v1/uploads/nope"]}, headers=headers)
    assert bad.status_code == 422 and bad.json()["code"] == "unknown_photo"


def test_a_grid_worker_visits_only_households_of_his_grid_and_not_in_the_future(client, world):
    headers = login(client)
    theirs = client.post(
        f"/api/v1/registry/households/{world.households[1]}/visits", json={}, headers=headers
    )
    assert theirs.status_code == 403 and theirs.json()["code"] == "not_your_grid"
    future = (visits.today() + timedelta(days=2)).isoformat()
    late = client.post(
        f"/api/v1/registry/households/{world.households[0]}/visits",
        json={"visited_on": future}, headers=headers,
    )  # fmt: skip
    assert late.status_code == 422 and late.json()["field"] == "visited_on"
    assert "晚于今天" in late.json()["detail"] and "future" in late.json()["detail_en"]


def test_coverage_is_the_share_of_households_visited_this_quarter_per_grid(client, world, session):
    # Three more households in the worker's grid: four there, one in the other grid.
    building = session.get(Room, world.rooms[0]).building_id
    for n in range(3):
        room = save_room(session, CENTER, {"building_id": building, "number": f"20{n}"})
        save_household(session, CENTER, {"number": f"G{n}", "room_id": room.id})
    session.flush()
    admin = login(client, "admin", "Center-Pass-2026")
    last_quarter = visits.quarter_of(visits.today())[0] - timedelta(days=1)
    client.post(
        f"/api/v1/registry/households/{world.households[0]}/visits",
        json={"visited_on": last_quarter.isoformat()}, headers=admin,
    )  # fmt: skip  # last quarter's visit does not count
    for hid in (world.households[0], world.households[1]):
        r = client.post(f"/api/v1/registry/households/{hid}/visits", json={}, headers=admin)
        assert r.status_code == 201, r.text
    whole = client.get("/api/v1/registry/visits/coverage").json()
    by_grid = {g["grid_id"]: g for g in whole["grids"]}
    assert (by_grid[world.grids[0]]["households"], by_grid[world.grids[0]]["visited"]) == (4, 1)
    assert by_grid[world.grids[0]]["share"] == 0.25
    assert (by_grid[world.grids[1]]["households"], by_grid[world.grids[1]]["visited"]) == (1, 1)
    assert (whole["households"], whole["visited"], whole["share"]) == (5, 2, 0.4)
    previous = client.get("/api/v1/registry/visits/coverage", params={"on": last_quarter}).json()
    assert previous["visited"] == 1
    login(client)  # the worker: his grid only, and his list of households
    mine = client.get("/api/v1/registry/visits/coverage").json()
    assert [g["grid_id"] for g in mine["grids"]] == [world.grids[0]]
    todo = client.get("/api/v1/registry/households", params={"mine": True, "visited": False})
    assert todo.json()["total"] == 3
    assert all(not h["visited_this_quarter"] for h in todo.json()["items"])
    done = client.get("/api/v1/registry/households", params={"mine": True, "visited": True})
    assert [h["id"] for h in done.json()["items"]] == [world.households[0]]


def test_the_console_visits_page_shows_the_coverage_of_each_grid(client, world):
    login(client, "admin", "Center-Pass-2026")
    client.post(
        f"/api/v1/registry/households/{world.households[0]}/visits",
        json={"notes": "走访"},
        headers=login(client, "admin", "Center-Pass-2026"),
    )
    page = client.get("/console/visits")
    assert page.status_code == 200
    assert world.codes[0] in page.text and world.codes[1] in page.text
    assert "已走访 1 / 2" in page.text and "50.0%" in page.text
    spec = client.get("/web/api/registry/forms").json()
    assert {"people", "households", "buildings", "rooms", "organisations", "components"} <= set(
        spec
    )
    assert ["rented", "出租"] in next(f for f in spec["rooms"] if f["key"] == "use")["choices"]
