"""Place indexes per county (issue 20: a province's worker keeps the counties it serves).

Two counties with grids: a user of both finds places of both through `GET /api/v1/places`; a
user whose area spans more counties than a search looks through is asked for one (both
languages), and gets that county's places only (named, or the one under the map's centre); a
county outside the area is refused; within a budget holding one county's index, the least
recently used county is dropped and its places are still found (rebuilt); a building
registered in one county rebuilds that county's index only. SQLite and PostgreSQL.
"""

from __future__ import annotations

from uuid import uuid4

import pytest
from shapely.geometry import box

from tests.case_factories import person
from tests.factories import DX, DY, X0, Y0
from wangge.divisions.service import DivisionIn, load_divisions
from wangge.grids.service import GridIn, add_grids, new_version
from wangge.grids.versions import activate_version
from wangge.places import service

OTHER = "110105"  # beside the test world's 110108, east of it
BOTH = person(30, "leader", scope={"110108", OTHER})


@pytest.fixture
def two_counties(web, session):
    x0 = X0 + 10 * DX  # clear of 110108's territory
    area = box(x0, Y0, x0 + 2 * DX, Y0 + DY)
    load_divisions(
        session,
        [
            DivisionIn(OTHER, "朝阳区", area),
            DivisionIn(f"{OTHER}001", "东风街道", area),
            DivisionIn(f"{OTHER}001001", "东风社区", area),
        ],
    )
    version = new_version(session, OTHER, "social", "v1")
    cells = [
        GridIn(kind="basic", geom=box(x0 + i * DX, Y0, x0 + (i + 1) * DX, Y0 + DY),
               community_code=f"{OTHER}001001")
        for i in range(2)
    ]  # fmt: skip
    add_grids(session, version, cells, width=3)
    activate_version(session, version.id)
    session.commit()
    service.clear_cache()
    client, holder = web
    holder["who"] = BOTH
    yield client
    service.set_budget(0)
    service.clear_cache()


def _names(client, q: str, **params) -> list[str]:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/places", params={"q": q, "limit": 50, **params})
    assert r.status_code == 200, r.text
    return [item["name"] for item in r.json()["items"]]


def test_a_user_of_two_counties_finds_the_places_of_both(two_counties):
    r = two_counties.get("/api/v1/places", params={"q": "社区", "limit": 50})
    assert r.status_code == 200, r.text
    names = {item["name"] for item in r.json()["items"]}
    assert "东风社区" in names and len(names) > 1  # 110108's communities too


def test_a_search_wider_than_its_limit_asks_for_a_county(two_counties, monkeypatch):
    monkeypatch.setattr(service, "SEARCH_COUNTIES_MAX", 1)
    r = two_counties.get("/api/v1/places", params={"q": "社区"})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "county_required" and "区县" in body["detail"]
    assert "county" in body["detail_en"]
    r = two_counties.get("/api/v1/places", params={"q": "社区", "county": OTHER})
    assert r.status_code == 200
    assert {i["name"][:4] for i in r.json()["items"]} == {"东风社区"}  # it and its grids
    r = two_counties.get("/api/v1/places", params={"q": "社区", "county": "110101"})
    assert r.status_code == 403 and r.json()["code"] == "outside_area"
    # the console map sends its centre: the county there is searched
    centre = {"near_lon": X0 + 10.5 * DX, "near_lat": Y0 + 0.5 * DY}
    r = two_counties.get("/api/v1/places", params={"q": "社区", **centre})
    assert r.status_code == 200 and {i["name"][:4] for i in r.json()["items"]} == {"东风社区"}
    centre = {"near_lon": X0 + 0.5 * DX, "near_lat": Y0 + 0.5 * DY}  # in 110108
    r = two_counties.get("/api/v1/places", params={"q": "社区", **centre})
    assert r.status_code == 200 and "东风社区" not in {i["name"] for i in r.json()["items"]}


def test_a_budget_drops_the_least_recently_used_county_and_its_places_come_back(two_counties):
    assert "东风社区" in {i["name"] for i in two_counties.get(
        "/api/v1/places", params={"q": "东风", "county": OTHER}).json()["items"]}  # fmt: skip
    one = service.cached_bytes()
    service.clear_cache()
    service.set_budget(1.5 * one / 2**20)  # room for the small county, not for both
    evicted, built = service.evictions, service.builds
    hits = set(_names(two_counties, "社区"))
    assert "东风社区" in hits and len(hits) > 1
    assert service.builds == built + 2 and service.evictions == evicted + 1
    assert service.cached_bytes() <= 1.5 * one or len(service._cache) == 1


def test_a_building_registered_in_one_county_rebuilds_that_county_s_index_only(
    two_counties, web, monkeypatch
):
    monkeypatch.setattr(service, "_CHECK_EVERY_S", 0.0)  # every search looks for changes
    holder = web[1]

    def searched() -> tuple[list[str], list[str]]:  # as the user of both counties
        holder["who"] = BOTH
        return _names(two_counties, "东风", county=OTHER), _names(
            two_counties, "新建楼", county="110108"
        )

    def written(method: str, path: str, body: dict) -> dict:  # as a registrar elsewhere
        holder["who"] = person(31, "admin")
        r = two_counties.request(method, path, json=body)
        assert r.status_code in (200, 201), r.text
        return r.json()

    assert "东风社区" in searched()[0]
    built = service.builds
    # Registered through another worker: nothing tells this process's cache.
    name = f"新建楼{uuid4().hex[:6]}"
    where = {"community_code": "110108001001", "lon": X0 + 0.5 * DX, "lat": Y0 + 0.5 * DY}
    building = written("POST", "/api/v1/registry/buildings", {"name": name, **where})
    other, mine = searched()
    assert "东风社区" in other and name in mine
    assert service.builds == built + 1  # its own county's index only
    # Renamed (a change record, no new row): the same county again, and only it.
    written("PATCH", f"/api/v1/registry/buildings/{building['id']}", {"name": name + "东座"})
    other, mine = searched()
    assert "东风社区" in other and name + "东座" in mine and name not in mine
    assert service.builds == built + 2
