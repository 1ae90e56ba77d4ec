"""Grid geometry on real coordinates: generation, code order, validation, version diff.

Shapes are drawn in metres in the CGCS2000 Gauss-Krüger zone of Beijing (CM 117°E,
EPSG:4548) around 海淀 and converted to lon/lat (EPSG:4490), as the module expects.
"""

from __future__ import annotations

import json
import math
import random
import time

import numpy as np
import pyproj
import pytest
import shapely
from shapely import affinity
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from wangge.errors import ValidationFailed
from wangge.grids.diff import diff_layers
from wangge.grids.geometry import (
    LocalFrame,
    assign_codes,
    order_west_east_north_south,
    polsby_popper,
    polsby_popper_many,
)
from wangge.grids.layer_validation import validate_layer
from wangge.grids.unit_grids import generate_unit_grids

EPSG_M = 4548  # CGCS2000 3-degree GK, CM 117°E: the zone the module picks near 116.3°E
X0, Y0 = 474_000.0, 4_420_000.0  # ≈ 116.30°E, 39.93°N
_TO_LL = pyproj.Transformer.from_crs(EPSG_M, 4490, always_xy=True)
_TO_M = pyproj.Transformer.from_crs(4490, EPSG_M, always_xy=True)


def _tr(geom: BaseGeometry, t: pyproj.Transformer) -> BaseGeometry:
    return shapely.transform(geom, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


def ll(geom: BaseGeometry) -> BaseGeometry:
    """Local metres (relative to X0, Y0) to lon/lat."""
    return _tr(affinity.translate(geom, X0, Y0), _TO_LL)


def m(geom: BaseGeometry) -> BaseGeometry:
    """Lon/lat back to local metres."""
    return affinity.translate(_tr(geom, _TO_M), -X0, -Y0)


# Generation cuts in a local affine metre frame anchored at `origin`; generation tests draw
# in that same frame (FRAME.forward/back), so lattice lines fall on multiples of the cell side.
ORIGIN = tuple(ll(Point(0, 0)).coords[0])
FRAME = LocalFrame.at(*ORIGIN)


def gen(boundary_m: BaseGeometry, **kw: object) -> list[BaseGeometry]:
    """Generate cells for a boundary drawn in frame metres; cells come back in frame metres."""
    lines = kw.pop("lines", None)
    lines_ll = [FRAME.back(g) for g in lines] if lines else None  # type: ignore[attr-defined]
    out = generate_unit_grids(FRAME.back(boundary_m), lines=lines_ll, origin=ORIGIN, **kw)  # type: ignore[arg-type]
    return [FRAME.forward(c) for c in out]


def _irregular_boundary_with_hole() -> Polygon:
    """A lobed district of ~1.6 km² with a lake in it, in local metres."""
    ang = np.linspace(0, 2 * math.pi, 90, endpoint=False)
    r = 700 * (1 + 0.22 * np.sin(3 * ang) + 0.08 * np.cos(7 * ang))
    outer = np.column_stack([1.2 * r * np.cos(ang), r * np.sin(ang)])
    lake = Point(120, 80).buffer(160, 12)
    return Polygon(outer, [lake.exterior.coords])


ROAD = LineString([(-1500, -400), (-300, 30), (400, 170), (1500, 520)])


@pytest.fixture(scope="module")
def district() -> Polygon:
    return _irregular_boundary_with_hole()


@pytest.fixture(scope="module")
def cells_m(district: Polygon) -> list[BaseGeometry]:
    return gen(district, lines=[ROAD])


# --------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------


def test_generated_cells_cover_boundary_exactly(
    district: Polygon, cells_m: list[BaseGeometry]
) -> None:
    boundary = m(ll(district))
    union = shapely.union_all(cells_m)
    assert union.area == pytest.approx(boundary.area, rel=1e-6)
    assert shapely.symmetric_difference(union, boundary).area < 1e-6 * boundary.area
    # The lake stays open water: no cell reaches into it.
    lake = m(ll(Polygon(district.interiors[0])))
    assert all(c.intersection(lake).area < 0.05 for c in cells_m)  # snapped to 1 mm


def test_generated_cells_do_not_overlap(cells_m: list[BaseGeometry]) -> None:
    arr = np.asarray(cells_m, dtype=object)
    a, b = shapely.STRtree(arr).query(arr, predicate="intersects")
    keep = a < b
    overlap = shapely.area(shapely.intersection(arr[a[keep]], arr[b[keep]]))
    assert overlap.max() < 1e-3
    assert sum(c.area for c in cells_m) == pytest.approx(shapely.union_all(arr).area, rel=1e-9)


def test_generated_cells_are_simple_valid_polygons(cells_m: list[BaseGeometry]) -> None:
    assert all(isinstance(c, Polygon) and c.is_valid for c in cells_m)


def test_inner_cells_are_ten_thousand_square_metres(
    district: Polygon, cells_m: list[BaseGeometry]
) -> None:
    road_zone = ROAD.buffer(1.0)
    inner = [
        c for c in cells_m if c.distance(district.boundary) > 1 and not c.intersects(road_zone)
    ]
    assert len(inner) > 60
    # Whole lattice squares, unless a neighbouring sliver was merged into them.
    whole = [c for c in inner if c.area == pytest.approx(10_000.0, abs=0.01)]
    assert len(whole) >= 0.9 * len(inner)
    assert all(c.area >= 10_000.0 - 0.01 for c in inner)


def test_no_piece_below_the_sliver_threshold_remains(cells_m: list[BaseGeometry]) -> None:
    assert min(c.area for c in cells_m) >= 0.3 * 10_000.0


def test_cells_cut_by_a_road_never_straddle_it(cells_m: list[BaseGeometry]) -> None:
    road = m(ll(ROAD))
    crossed = [c for c in cells_m if c.buffer(-0.05).intersects(road)]
    assert crossed == []
    # …and the road really is a grid border along its whole length inside the district.
    on_borders = shapely.union_all([c.boundary for c in cells_m]).intersection(road.buffer(0.01))
    inside = road.intersection(shapely.union_all(cells_m))
    assert on_borders.length == pytest.approx(inside.length, rel=1e-3)


def test_an_isolated_islet_smaller_than_a_sliver_stays_its_own_cell() -> None:
    mainland = box(0, 0, 300, 300)
    islet = box(500, 500, 520, 520)
    cells = gen(MultiPolygon([mainland, islet]))
    assert len(cells) == 10
    assert any(c.area == pytest.approx(400.0, abs=0.1) for c in cells)


def test_slivers_clipped_by_the_boundary_join_their_longest_neighbour() -> None:
    # 320 m wide: the last column is a 20 m strip (2,000 m² < 3,000 m²) glued to column 3.
    cells = gen(box(0, 0, 320, 300))
    assert len(cells) == 9
    assert sorted(round(c.area) for c in cells) == [10_000] * 6 + [12_000] * 3


def test_pieces_on_both_banks_of_an_inlet_are_never_merged_across_it() -> None:
    # A 20 m wide inlet reaches into the district and cuts the cell (100-200, 200-300) into
    # a 7,000 m² piece west of it and a 1,000 m² sliver east of it.
    district = box(0, 0, 300, 300).difference(box(170, 150, 190, 300))
    cells = gen(district)
    assert all(isinstance(c, Polygon) for c in cells)
    assert shapely.union_all(cells).area == pytest.approx(district.area, rel=1e-6)
    east_bank = [c for c in cells if c.covers(Point(195, 250))]
    assert len(east_bank) == 1 and east_bank[0].area == pytest.approx(11_000.0, abs=0.01)
    assert east_bank[0].bounds[0] == pytest.approx(190.0, abs=1e-3)


def test_a_sliver_cut_off_by_a_road_joins_the_cell_on_its_own_side() -> None:
    # The road runs 10 m north of a lattice line: the 100 × 10 m strips south of it share
    # 100 m of border with the row below and 100 m (the road) with the pieces above.
    road = LineString([(-50, 110), (350, 110)])
    cells = gen(box(0, 0, 300, 300), lines=[road])
    assert sorted(round(c.area) for c in cells) == [9_000] * 3 + [10_000] * 3 + [11_000] * 3
    south = [c for c in cells if round(c.area) == 11_000]
    assert all(c.bounds[1] == pytest.approx(0, abs=1e-6) for c in south)
    assert all(c.bounds[3] == pytest.approx(110, abs=1e-3) for c in south)


def test_a_river_given_as_a_polygon_cuts_along_both_banks() -> None:
    river = box(-50, 140, 350, 160)
    cells = gen(box(0, 0, 300, 300), lines=[river])
    assert all(not c.buffer(-0.05).intersects(river.boundary) for c in cells)
    # Each 100 × 20 m strip of river bed is a sliver; its neighbours on the same side of the
    # bank lines are the next strips up and down the river, so the bed becomes one grid.
    bed = [c for c in cells if c.symmetric_difference(box(0, 140, 300, 160)).area < 0.01]
    assert len(bed) == 1
    assert sum(c.area for c in cells) == pytest.approx(90_000.0, rel=1e-6)


def test_generated_cells_come_back_in_code_order(cells_m: list[BaseGeometry]) -> None:
    assert order_west_east_north_south([FRAME.back(c) for c in cells_m]) == list(
        range(len(cells_m))
    )


def test_an_invalid_boundary_is_refused() -> None:
    bowtie = Polygon([(0, 0), (200, 200), (200, 0), (0, 200)])
    with pytest.raises(ValidationFailed) as exc:
        generate_unit_grids(ll(bowtie))
    assert exc.value.code == "invalid_boundary"


# --------------------------------------------------------------------------------------
# Code order and codes
# --------------------------------------------------------------------------------------


def _hand_drawn_3x3() -> dict[str, BaseGeometry]:
    """A 3×3 block of wobbly 100 m cells named by (row letter from north, column number)."""
    rnd = random.Random(7)
    xs = [[c * 100 + rnd.uniform(-12, 12) for c in range(4)] for _ in range(4)]
    ys = [[(3 - r) * 100 + rnd.uniform(-12, 12) for _ in range(4)] for r in range(4)]
    cells = {}
    for r in range(3):
        for c in range(3):
            ring = [
                (xs[r][c], ys[r][c]),
                (xs[r][c + 1], ys[r][c + 1]),
                (xs[r + 1][c + 1], ys[r + 1][c + 1]),
                (xs[r + 1][c], ys[r + 1][c]),
            ]
            cells[f"{'ABC'[r]}{c + 1}"] = ll(Polygon(ring))
    return cells


def test_order_reads_rows_north_to_south_then_west_to_east() -> None:
    cells = _hand_drawn_3x3()
    names = list(cells)
    random.Random(3).shuffle(names)
    order = order_west_east_north_south([cells[n] for n in names])
    assert [names[i] for i in order] == ["A1", "A2", "A3", "B1", "B2", "B3", "C1", "C2", "C3"]


def test_codes_are_community_code_plus_padded_sequence_in_code_order() -> None:
    cells = _hand_drawn_3x3()
    names = ["C3", "A1", "B2", "A3", "C1", "B1", "A2", "C2", "B3"]
    codes = assign_codes("110108001001", [cells[n] for n in names])
    assert dict(zip(names, codes, strict=True))["A1"] == "11010800100101"
    assert dict(zip(names, codes, strict=True))["C3"] == "11010800100109"
    assert assign_codes("110108001001", [cells["B2"]], width=3) == ["110108001001001"]


def test_codes_overflowing_the_sequence_width_are_refused() -> None:
    squares = [ll(box(i * 10, 0, i * 10 + 9, 9)) for i in range(100)]
    assert assign_codes("110108001001", squares[:99])[-1].endswith("99")
    with pytest.raises(ValidationFailed) as exc:
        assign_codes("110108001001", squares)
    assert exc.value.code == "sequence_overflow"
    assert "110108001001" in exc.value.message_zh and "99" in exc.value.message_en


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------

COMMUNITY = box(0, 0, 300, 300)


def _clean_layer() -> dict[str, BaseGeometry]:
    return {
        f"1101080010010{r * 3 + c + 1}": ll(box(c * 100, r * 100, c * 100 + 100, r * 100 + 100))
        for r in range(3)
        for c in range(3)
    }


def _near(loc: tuple[float, float] | None, x: float, y: float, tol: float = 1.0) -> bool:
    assert loc is not None
    return m(Point(loc)).distance(Point(x, y)) <= tol


def test_a_clean_layer_has_no_problems() -> None:
    assert validate_layer(ll(COMMUNITY), _clean_layer()) == []


def test_validation_finds_a_planted_gap_with_its_location_and_neighbours() -> None:
    layer = _clean_layer()
    layer["11010800100105"] = ll(box(100, 100, 200, 180))  # centre cell leaves 20 m open
    problems = validate_layer(ll(COMMUNITY), layer)
    assert [p.kind for p in problems] == ["gap"]
    gap = problems[0]
    assert gap.area_m2 == pytest.approx(2_000.0, rel=1e-4)
    assert m(Point(gap.location)).within(box(100, 180, 200, 200))
    assert {"11010800100105", "11010800100108"} <= set(gap.keys)
    assert "11010800100108" in gap.message_zh and f"{gap.area_m2:.1f} m²" in gap.message_en


def test_validation_finds_a_planted_overlap_with_its_location() -> None:
    layer = _clean_layer()
    layer["11010800100102"] = ll(box(100, 0, 230, 100))  # reaches 30 m into cell 03
    problems = validate_layer(ll(COMMUNITY), layer)
    assert [p.kind for p in problems] == ["overlap"]
    overlap = problems[0]
    assert overlap.keys == ("11010800100102", "11010800100103")
    assert overlap.area_m2 == pytest.approx(3_000.0, rel=1e-4)
    assert m(Point(overlap.location)).within(box(200, 0, 230, 100))
    assert "11010800100103" in overlap.message_zh


def test_validation_locates_a_bowtie_self_intersection_and_carries_on() -> None:
    layer = _clean_layer()
    layer["11010800100105"] = ll(Polygon([(100, 100), (200, 200), (200, 100), (100, 200)]))
    problems = validate_layer(ll(COMMUNITY), layer)
    invalid = [p for p in problems if p.kind == "invalid_geometry"]
    assert len(invalid) == 1 and invalid[0].keys == ("11010800100105",)
    assert _near(invalid[0].location, 150, 150, tol=0.01)
    assert "Self-intersection" in invalid[0].message_en
    # The bowtie is left out of the other checks, so its cell shows up as a gap.
    assert [p.kind for p in problems if p.kind != "invalid_geometry"] == ["gap"]


def test_validation_finds_a_grid_crossing_the_community_boundary() -> None:
    layer = _clean_layer()
    layer["11010800100103"] = ll(box(200, 0, 340, 100))
    problems = validate_layer(ll(COMMUNITY), layer)
    assert [p.kind for p in problems] == ["outside_parent"]
    out = problems[0]
    assert out.keys == ("11010800100103",)
    assert out.area_m2 == pytest.approx(4_000.0, rel=1e-4)
    assert m(Point(out.location)).within(box(300, 0, 340, 100))


def test_validation_finds_a_sliver() -> None:
    layer = _clean_layer()
    layer["11010800100109"] = ll(box(200, 200, 300, 298))
    layer["11010800100110"] = ll(box(200, 298, 300, 300))  # 100 m × 2 m strip
    problems = validate_layer(ll(COMMUNITY), layer)
    assert [(p.kind, p.keys) for p in problems] == [("sliver", ("11010800100110",))]
    assert problems[0].area_m2 == pytest.approx(200.0, rel=1e-3)


def test_validation_without_a_parent_checks_only_the_children() -> None:
    layer = _clean_layer()
    del layer["11010800100105"]
    assert validate_layer(None, layer) == []


# --------------------------------------------------------------------------------------
# Version diff
# --------------------------------------------------------------------------------------


def test_diff_recognises_each_kind_of_change() -> None:
    old = {
        "A": box(0, 0, 100, 100),  # kept
        "B": box(100, 0, 200, 100),  # split in two
        "C": box(200, 0, 300, 100),  # merged with D
        "D": box(300, 0, 400, 100),
        "E": box(400, 0, 500, 100),  # dropped from coverage
        "F": box(0, 100, 100, 200),  # grows by 40 %
    }
    new = {
        "A": box(0, 0, 100, 100),
        "B1": box(100, 0, 150, 100),
        "B2": box(150, 0, 200, 100),
        "CD": box(200, 0, 400, 100),
        "F": box(0, 100, 100, 240),
        "G": box(600, 0, 700, 100),  # newly covered land
    }
    diff = diff_layers({k: ll(g) for k, g in old.items()}, {k: ll(g) for k, g in new.items()})
    assert diff.unchanged == (("A", "A"),)
    assert diff.split == (("B", ("B1", "B2")),)
    assert diff.merged == ((("C", "D"), "CD"),)
    assert diff.retired == ("E",)
    assert diff.new == ("G",)
    assert diff.reshaped == (("F", "F"),)
    assert diff.redrawn == ()
    shares = {(p.old_key, p.new_key): (p.share_of_old, p.share_of_new) for p in diff.pairs}
    assert shares[("B", "B1")] == pytest.approx((0.5, 1.0), abs=1e-6)
    assert shares[("C", "CD")] == pytest.approx((1.0, 0.5), abs=1e-6)
    assert diff.to_dict()["split"] == [{"old": "B", "new": ["B1", "B2"]}]
    assert json.loads(json.dumps(diff.to_dict()))["merged"] == [{"old": ["C", "D"], "new": "CD"}]


def test_diff_sees_a_recoded_but_identical_grid_as_unchanged() -> None:
    diff = diff_layers({"01": ll(box(0, 0, 100, 100))}, {"07": ll(box(0, 0, 100, 100))})
    assert diff.unchanged == (("01", "07"),)


def test_diff_does_not_chain_neighbours_whose_shared_border_moved() -> None:
    old = {k: ll(box(i * 100, 0, i * 100 + 100, 100)) for i, k in enumerate("PQRS")}
    # Every inner border moves 20 m east: each grid gives 20 % of itself to the next.
    edges = [0, 120, 220, 320, 400]
    new = {k: ll(box(edges[i], 0, edges[i + 1], 100)) for i, k in enumerate("PQRS")}
    diff = diff_layers(old, new)
    assert diff.redrawn == ()
    assert diff.reshaped == tuple((k, k) for k in "PQRS")
    assert any(p.old_key == "Q" and p.new_key == "P" for p in diff.pairs)


def test_diff_groups_a_many_to_many_redraw() -> None:
    old = {"N": ll(box(0, 50, 100, 100)), "S": ll(box(0, 0, 100, 50))}
    new = {"W": ll(box(0, 0, 50, 100)), "E": ll(box(50, 0, 100, 100))}
    diff = diff_layers(old, new)
    assert diff.redrawn == ((("N", "S"), ("E", "W")),)


# --------------------------------------------------------------------------------------
# Compactness
# --------------------------------------------------------------------------------------


def test_polsby_popper_is_measured_in_metres() -> None:
    square = ll(box(0, 0, 100, 100))  # in degrees it is ~1.3 times wider than tall
    assert polsby_popper(square) == pytest.approx(math.pi / 4, rel=1e-4)
    strip = ll(box(0, 0, 1000, 10))
    many = polsby_popper_many([square, strip])
    assert many[0] == pytest.approx(math.pi / 4, rel=1e-4)
    assert many[1] == pytest.approx(4 * math.pi * 10_000 / 2020**2, rel=1e-4)


if __name__ == "__main__":
    # Timing (not a test): ~9,000 cells over an irregular 430 km² district, like 海淀.
    ang = np.linspace(0, 2 * math.pi, 400, endpoint=False)
    r = 1 + 0.2 * np.sin(3 * ang) + 0.08 * np.cos(11 * ang)
    shape = Polygon(np.column_stack([1.3 * r * np.cos(ang), r * np.sin(ang)]))
    k = math.sqrt(430e6 / shape.area)
    district_ll = ll(affinity.scale(shape, k, k, origin=(0, 0)))
    roads = [
        ll(LineString([(-30_000, y), (30_000, y + 2_000)])) for y in range(-16_000, 16_001, 2_000)
    ]
    for lines in (None, roads):
        t = time.perf_counter()
        out = generate_unit_grids(district_ll, cell_area_m2=48_000.0, lines=lines)
        print(f"{len(out)} cells, roads={lines is not None}: {time.perf_counter() - t:.2f} s")
