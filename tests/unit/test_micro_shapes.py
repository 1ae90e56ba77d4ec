"""Micro grids drawn from buildings (grids.micro_shapes, PURE)."""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry import Point, box

from wangge.grids.micro_shapes import micro_shapes

# A 500 m × 500 m grid near Beijing (0.0058° lon × 0.0045° lat).
PARENT = box(116.300, 39.950, 116.3058, 39.9545)
M_LON, M_LAT = 1 / 85_200, 1 / 110_574  # degrees per metre here


def _at(x_m: float, y_m: float) -> Point:
    return Point(116.300 + x_m * M_LON, 39.950 + y_m * M_LAT)


def test_one_micro_grid_per_building_holds_it_and_none_overlap():
    buildings = [_at(100, 100), _at(110, 100), _at(400, 400)]  # the first two 10 m apart
    shapes = micro_shapes(PARENT, buildings, mode="building", margin_m=8)
    assert len(shapes) == 3
    for s in shapes:
        assert s.geom.covers(buildings[s.members[0]]) and PARENT.covers(s.geom)
    for i, a in enumerate(shapes):
        for b in shapes[i + 1 :]:
            assert a.geom.intersection(b.geom).area < 1e-12


def test_neighbours_closer_than_the_gap_form_one_group_with_the_lane_between():
    buildings = [_at(100, 100), _at(130, 100), _at(400, 400)]
    shapes = micro_shapes(PARENT, buildings, mode="group", margin_m=5, gap_m=50)
    assert sorted(s.members for s in shapes) == [(0, 1), (2,)]
    pair = next(s for s in shapes if s.members == (0, 1))
    assert pair.geom.covers(_at(115, 100))  # the lane between the two buildings


def test_shapes_are_clipped_to_the_parent_and_outside_buildings_are_skipped():
    shapes = micro_shapes(PARENT, [_at(2, 250), _at(-300, 250)], mode="building", margin_m=20)
    assert [s.members for s in shapes] == [(0,)]
    assert PARENT.covers(shapes[0].geom) and shapely.is_valid(shapes[0].geom)


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError):
        micro_shapes(PARENT, [], mode="lane")
    with pytest.raises(ValueError):
        micro_shapes(PARENT, [], margin_m=0)
