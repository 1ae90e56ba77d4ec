"""Micro grids through re-divisions and the lookup index, on SQLite and PostgreSQL+PostGIS."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from tests.case_factories import build_world, report
from tests.factories import COUNTY, DX, DY, X0, Y0
from wangge.auth.principal import LOCAL_OPERATOR
from wangge.cases.models import Case
from wangge.grids import locating
from wangge.grids.models import Grid
from wangge.grids.service import GridIn, active_version, add_grids, new_version, version_grids
from wangge.grids.versions import activate_version
from wangge.microgrids.service import FromBuildings, micro_from_buildings
from wangge.registry.houses import save_building, save_room
from wangge.registry.micro import move_household
from wangge.registry.models_people import Person
from wangge.registry.people import save_person

NW = "110108001001001"
A_POS = (X0 + 0.10 * DX, Y0 + 0.90 * DY)
B_POS = (X0 + 0.40 * DX, Y0 + 0.60 * DY)


def _resident(session, name: str, pos: tuple[float, float]) -> Person:
    building = save_building(
        session, LOCAL_OPERATOR,
        {"name": f"{name}楼", "community_code": "110108001001", "lon": pos[0], "lat": pos[1]},
    )  # fmt: skip
    session.flush()
    room = save_room(session, LOCAL_OPERATOR, {"building_id": building.id, "number": "101"})
    session.flush()
    person = save_person(
        session, LOCAL_OPERATOR,
        {"name": f"住户{name}", "room_id": room.id, "household_number": f"H{name}"},
    )  # fmt: skip
    session.flush()
    return person


def _code(session, grid_id: int | None) -> str | None:
    return session.scalar(select(Grid.code).where(Grid.id == grid_id)) if grid_id else None


def test_a_county_without_micro_grids_keeps_no_micro_index(session):
    build_world(session)
    locating.clear_cache()
    version = active_version(session, COUNTY, "social")
    assert version is not None
    assert locating.micro_index_for(session, version) is None
    found = locating.locate_refs(session, *A_POS, micro=True)
    assert found["social"] is not None and found["social"].code == NW
    assert found["micro"] is None
    plain = locating.locate_refs(session, *A_POS)
    assert "micro" not in plain  # callers that do not ask get the layers only


def test_micro_grids_added_in_force_place_records_at_once(session):
    build_world(session)
    a = _resident(session, "A", A_POS)
    case = report(session, lon=A_POS[0], lat=A_POS[1])
    assert a.micro_grid_id is None and case.micro_grid_id is None
    made = micro_from_buildings(session, LOCAL_OPERATOR, FromBuildings(NW, margin_m=20), width=3)
    assert [c["code"] for c in made["created"]] == [f"{NW}01"]
    assert made["moved"]["people"]["moved"] == 1 and made["moved"]["cases"]["moved"] == 1
    session.refresh(a)
    session.refresh(case)
    assert _code(session, a.micro_grid_id) == f"{NW}01"
    assert _code(session, case.micro_grid_id) == f"{NW}01"
    locating.clear_cache()
    builds = locating.builds
    lon, lat = np.array([A_POS[0], B_POS[0]]), np.array([A_POS[1], B_POS[1]])
    found = locating.locate_many(session, lon, lat, micro=True)
    assert _code(session, int(found["micro"][0])) == f"{NW}01" and found["micro"][1] == -1
    assert locating.locate_refs(session, *A_POS, micro=True)["micro"].code == f"{NW}01"
    assert locating.builds == builds + 1  # base and micro index: one build, then cached


def test_re_division_moves_records_into_the_new_versions_micro_grids(session):
    build_world(session)
    a = _resident(session, "A", A_POS)
    b = _resident(session, "B", B_POS)
    micro_from_buildings(session, LOCAL_OPERATOR, FromBuildings(NW, margin_m=20), width=3)
    case = report(session, lon=B_POS[0], lat=B_POS[1])
    assert _code(session, case.micro_grid_id) == f"{NW}02"
    # B's household is put by hand into A's micro grid (a lane household, say).
    assert b.household_id is not None
    move_household(session, LOCAL_OPERATOR, b.household_id, f"{NW}01")
    old = active_version(session, COUNTY, "social")
    assert old is not None
    draft = new_version(session, COUNTY, "social", "v2")
    add_grids(
        session, draft,
        [GridIn(kind=g.kind, geom=g.geom, code=g.code, community_code=g.community_code)
         for g in version_grids(session, old.id, kinds=["basic"])],
        width=3,
    )  # fmt: skip
    # The new division keeps micro grid …01 (drawn by hand) and drops …02.
    kept = session.scalar(select(Grid).where(Grid.version_id == old.id, Grid.code == f"{NW}01"))
    assert kept is not None
    add_grids(
        session, draft, [GridIn(kind="micro", geom=kept.geom, code=kept.code, parent_code=NW)],
        width=3,
    )  # fmt: skip
    report_ = activate_version(session, draft.id)
    assert report_["micro_moved"]["people"]["total"] == 2
    assert report_["micro_moved"]["cases"]["moved"] == 1  # out of the dropped …02
    for row in (a, b, case):
        session.refresh(row)
    new_ids = {
        g.code: g.id for g in session.scalars(select(Grid).where(Grid.version_id == draft.id))
    }
    assert a.micro_grid_id == new_ids[f"{NW}01"]  # by position
    assert case.micro_grid_id is None  # its micro grid is gone
    # B's position lies in no micro grid now: the hand placement (same code, same grid) stays.
    assert b.micro_grid_id == new_ids[f"{NW}01"]
    assert session.scalar(select(Case.grid_id).where(Case.id == case.id)) == new_ids[NW]


def test_the_cli_draws_micro_grids_from_buildings_and_names_a_bad_parent(tmp_path):
    from typer.testing import CliRunner

    from wangge.cli import app
    from wangge.db import make_engine, session_factory
    from wangge.dbadmin import upgrade

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with session_factory(engine)() as session:
        build_world(session)
        _resident(session, "A", A_POS)
        _resident(session, "B", B_POS)
        session.commit()
    engine.dispose()
    locating.clear_cache()
    runner = CliRunner()
    done = runner.invoke(
        app,
        ["grid", "micro-from-buildings", NW, "--mode", "group", "--gap", "500",
         "--database-url", url],
        catch_exceptions=False,
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert f"{NW}01" in done.output and "A楼等2栋微网格" in done.output
    assert "people: 2 / 2" in done.output
    bad = runner.invoke(
        app, ["grid", "micro-from-buildings", "110108001001009", "--database-url", url]
    )
    assert bad.exit_code != 0 and "110108001001009" in bad.output
