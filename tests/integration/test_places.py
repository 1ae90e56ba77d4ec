"""Addresses of cases from the district's own data, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select, update

from tests.case_factories import SUPERVISOR, build_world, report
from tests.places_support import NEAR_LAT, NEAR_LON, OTHER_LAT, OTHER_LON, add_places
from wangge.auth.principal import LOCAL_OPERATOR
from wangge.cases.models import Case
from wangge.divisions.models import Division
from wangge.grids.models import Grid
from wangge.places import service
from wangge.places.fill import count_missing, fill_addresses
from wangge.places.roads import load_roads
from wangge.registry.houses import save_building


def _names(session, case: Case) -> tuple[str, str, str]:
    grid = session.get(Grid, case.grid_id)
    community = session.get(Division, case.community_code)
    street = session.get(Division, community.parent_code)
    return street.name, community.name, grid.name


def test_a_report_without_address_stores_street_community_house_number_and_grid(session):
    build_world(session)
    add_places(session)
    case = report(session, lon=NEAR_LON, lat=NEAR_LAT)
    street, community, grid = _names(session, case)
    assert case.address == f"{street}{community} 幸福路12号附近 (网格 {grid})"
    stored = session.scalar(select(Case.address).where(Case.id == case.id))
    assert stored == case.address


def test_far_from_any_building_the_nearest_road_is_named(session):
    build_world(session)
    add_places(session)
    case = report(session, lon=NEAR_LON + 0.0015, lat=NEAR_LAT)  # ~160 m east of 幸福路
    street, community, grid = _names(session, case)
    assert case.address == f"{street}{community} 幸福路附近 (网格 {grid})"


def test_the_reporters_own_address_is_kept(session):
    build_world(session)
    add_places(session)
    case = report(session, lon=NEAR_LON, lat=NEAR_LAT, address="幸福路12号门口 垃圾桶旁")
    assert case.address == "幸福路12号门口 垃圾桶旁"


def test_without_roads_or_buildings_the_address_still_names_the_community_and_grid(session):
    build_world(session)
    case = report(session)
    street, community, grid = _names(session, case)
    assert case.address == f"{street}{community} (网格 {grid})"


def test_a_changed_building_address_is_used_once_the_index_sees_the_change(session, monkeypatch):
    build_world(session)
    ids = add_places(session)
    first = report(session, lon=NEAR_LON, lat=NEAR_LAT)
    assert "幸福路12号" in (first.address or "")
    builds = service.builds
    report(session, lon=NEAR_LON, lat=NEAR_LAT)
    assert service.builds == builds  # a warm index is reused, not rebuilt per report
    save_building(session, LOCAL_OPERATOR, {"address": "幸福路14号"}, building_id=ids["near"])
    session.flush()
    monkeypatch.setattr(service, "_CHECK_EVERY_S", 0.0)  # do not wait for the next check
    again = report(session, lon=NEAR_LON, lat=NEAR_LAT)
    assert "幸福路14号" in (again.address or "") and service.builds == builds + 1


def test_roads_are_stored_and_read_back(session):
    build_world(session)
    add_places(session)
    roads = dict(load_roads(session))
    assert set(roads) == {"幸福路", "七里街"}
    assert roads["幸福路"].geom_type == "LineString" and roads["幸福路"].length > 0.019


def test_fill_addresses_on_an_empty_database_does_nothing(session):
    assert count_missing(session) == 0
    assert list(fill_addresses(session)) == []


def test_fill_addresses_gives_old_cases_their_address_and_keeps_typed_ones(session):
    build_world(session)
    add_places(session)
    old = [
        report(session, lon=NEAR_LON, lat=NEAR_LAT),
        report(session, lon=OTHER_LON, lat=OTHER_LAT),
        report(session),
    ]
    typed = report(session, address="东门岗亭")
    ids, versions = [c.id for c in old], [c.version for c in old]
    session.execute(update(Case).where(Case.id.in_(ids)).values(address=None))
    session.execute(update(Case).where(Case.id == ids[2]).values(address="  "))
    assert count_missing(session) == 3
    chunks = list(fill_addresses(session, chunk=2))
    assert chunks == [(2, 2), (1, 1)]
    session.expire_all()
    got = dict(session.execute(select(Case.id, Case.address).where(Case.id.in_(ids))).all())
    assert "幸福路12号附近" in got[ids[0]] and "幸福路88号附近" in got[ids[1]]
    assert got[ids[2]] and count_missing(session) == 0
    assert session.get(Case, typed.id).address == "东门岗亭"
    assert [session.get(Case, i).version for i in ids] == versions  # not a step of the case


def test_search_through_the_service_keeps_to_the_users_area(session):
    build_world(session)
    add_places(session)
    assert [p.name for p in service.search(session, LOCAL_OPERATOR, "幸福路")][:1] == ["幸福路"]
    mine = service.search(session, SUPERVISOR, "幸福路")  # a grid worker of GRID1
    assert "幸福路12号" in [p.name for p in mine]
    assert "幸福路88号" not in [p.name for p in mine]
