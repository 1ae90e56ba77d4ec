"""Pipelines (line components) are located in every grid they cross, across edits and re-divisions."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import box
from sqlalchemy import select

from tests.factories import COMMUNITIES, DX, X0, Y0
from tests.registry_factories import CENTER, WORKER_A, WORKER_B, A, B, setup_grids
from wangge.errors import Forbidden, ValidationFailed
from wangge.grids.models import Grid
from wangge.grids.service import GridIn, active_version, add_grids, new_version
from wangge.grids.versions import activate_version
from wangge.registry import components as svc
from wangge.registry.bulk import bulk_load
from wangge.registry.component_grids import grid_codes
from wangge.registry.models import Component, ComponentGrid, ComponentSerial

# A drainage line running east through both communities' northern grids (4 grids).
ACROSS = f"LINESTRING ({X0 + 0.001} {Y0 + 0.0075}, {X0 + 2 * DX - 0.001} {Y0 + 0.0075})"


@pytest.fixture
def territory(session):
    setup_grids(session)
    return session


def _pipeline(session, wkt: str = ACROSS, **data):
    return svc.save_component(
        session, CENTER,
        {"class_code": "0101", "wkt": wkt, "network": "drainage", **data},
        county_code="110108",
    )  # fmt: skip


def _expected(session, geom) -> set[int]:
    """The social grids whose interior the geometry enters (computed independently)."""
    version = active_version(session, "110108", "social")
    grids = session.scalars(select(Grid).where(Grid.version_id == version.id)).all()
    return {g.id for g in grids if geom.intersects(g.geom) and not geom.touches(g.geom)}


def _located(session, comp) -> set[int]:
    return set(
        session.scalars(
            select(ComponentGrid.grid_id).where(
                ComponentGrid.component_id == comp.id, ComponentGrid.layer == "social"
            )
        )
    )


def _listed(session, grid_id: int) -> set[int]:
    return {c.id for c in session.scalars(svc.components_query(CENTER, grid_id=grid_id))}


def test_a_line_across_four_grids_is_located_and_listed_in_each(territory):
    comp = _pipeline(territory)
    crossed = _located(territory, comp)
    assert len(crossed) == 4 and crossed == _expected(territory, comp.geom)
    assert comp.grid_id in crossed  # the anchor grid is one of them
    for grid_id in crossed:
        assert comp.id in _listed(territory, grid_id)
    codes = grid_codes(territory, comp)["social"]
    assert len(codes) == 4 and {c[:12] for c in codes} == {A, B}
    # A grid the line does not cross does not list it.
    others = set(
        territory.scalars(select(Grid.id).where(Grid.version_id == _version_id(territory)))
    )
    for grid_id in others - crossed:
        assert comp.id not in _listed(territory, grid_id)


def _version_id(session) -> int:
    return active_version(session, "110108", "social").id


def test_a_changed_geometry_is_located_again(territory):
    comp = _pipeline(territory)
    # Moved to the southern grids of community A only.
    short = f"LINESTRING ({X0 + 0.001} {Y0 + 0.002}, {X0 + DX - 0.001} {Y0 + 0.002})"
    svc.save_component(territory, CENTER, {"wkt": short}, component_id=comp.id)
    crossed = _located(territory, comp)
    assert len(crossed) == 2 and crossed == _expected(territory, comp.geom)
    assert {c[:12] for c in grid_codes(territory, comp)["social"]} == {A}
    # Moved to a point: no crossing rows, its one grid remains.
    point = svc.save_component(
        territory, CENTER, {"lon": X0 + 0.002, "lat": Y0 + 0.002}, component_id=comp.id
    )
    assert _located(territory, point) == set()
    assert len(grid_codes(territory, point)["social"]) == 1


def test_a_new_division_locates_the_line_in_the_new_grids(territory):
    comp = _pipeline(territory)
    old = _located(territory, comp)
    # Re-division: each community becomes a single grid.
    version = new_version(territory, "110108", "social", "v2")
    add_grids(
        territory, version, [GridIn(kind="basic", geom=COMMUNITIES[c]) for c in (A, B)], width=3
    )
    activate_version(territory, version.id)
    new = _located(territory, comp)
    assert len(new) == 2 and not (new & old)
    assert new == _expected(territory, comp.geom)
    for grid_id in new:
        assert comp.id in _listed(territory, grid_id)


def test_a_line_leaving_the_county_is_refused_and_nothing_is_written(territory):
    serials = territory.scalars(select(ComponentSerial.last_serial)).all()
    outside = f"LINESTRING ({X0 + 0.005} {Y0 + 0.005}, {X0 - 0.01} {Y0 + 0.005})"
    with pytest.raises(ValidationFailed) as err:
        _pipeline(territory, wkt=outside)
    assert err.value.code == "outside_county" and err.value.field == "geometry"
    assert "区县" in err.value.message_zh and "county" in err.value.message_en
    assert territory.scalar(select(Component.id)) is None
    assert territory.scalars(select(ComponentSerial.last_serial)).all() == serials
    # Moving a registered line out of the county is refused the same way; it stays put.
    comp = _pipeline(territory)
    with pytest.raises(ValidationFailed):
        svc.save_component(territory, CENTER, {"wkt": outside}, component_id=comp.id)
    territory.refresh(comp)
    assert shapely.equals(comp.geom, shapely.from_wkt(ACROSS))


def test_bulk_loaded_lines_are_located_in_every_grid(territory):
    lines = [shapely.from_wkt(ACROSS), box(X0 + 0.004, Y0 + 0.004, X0 + 0.006, Y0 + 0.006).boundary]
    mids = np.array([g.interpolate(0.5, normalized=True).coords[0] for g in lines])
    bulk_load(
        territory, CENTER, county_code="110108", class_codes=np.array(["0101", "0101"]),
        lon=mids[:, 0], lat=mids[:, 1], geoms=lines,
    )  # fmt: skip
    comps = territory.scalars(select(Component).order_by(Component.id)).all()
    assert [len(_located(territory, c)) for c in comps] == [4, 4]
    for comp in comps:
        assert _located(territory, comp) == _expected(territory, comp.geom)


def test_a_worker_sees_a_line_crossing_his_community_but_may_not_change_it(territory):
    # Anchored (midpoint) in community A, reaching into community B's north-west grid.
    wkt = f"LINESTRING ({X0 + 0.001} {Y0 + 0.0075}, {X0 + DX + 0.003} {Y0 + 0.0075})"
    comp = _pipeline(territory, wkt=wkt)
    assert comp.community_code == A
    in_b = {c[:12] for c in grid_codes(territory, comp)["social"]}
    assert in_b == {A, B}
    assert comp.id in {c.id for c in territory.scalars(svc.components_query(WORKER_B))}
    assert svc.get_component(territory, WORKER_B, comp.id).id == comp.id
    with pytest.raises(Forbidden):
        svc.save_component(territory, WORKER_B, {"state": "破损"}, component_id=comp.id)
    with pytest.raises(Forbidden):
        svc.delete_component(territory, WORKER_B, comp.id)
    # A point component of community A stays invisible to B's worker.
    lon, lat = X0 + 0.002, Y0 + 0.002
    point = svc.save_component(
        territory, CENTER, {"class_code": "0101", "lon": lon, "lat": lat}, county_code="110108"
    )
    assert point.id not in {c.id for c in territory.scalars(svc.components_query(WORKER_B))}
    # A's worker may change it.
    svc.save_component(territory, WORKER_A, {"state": "破损"}, component_id=comp.id)
    assert comp.state == "破损"
