"""The pure place index on several generated layouts: nearest road and building, search."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from shapely.geometry import Point

from wangge.grids import synthetic_layouts as layouts
from wangge.places.index import (
    BUILDING_RADIUS_M,
    ROAD_RADIUS_M,
    Area,
    BuildingPlace,
    Camera,
    PlaceIndex,
    Road,
    normalize,
)
from wangge.synthetic import LocalFrame

FRAME = LocalFrame(116.30, 39.96)
STREET = "110108001"


def _index_for(layout: layouts.Layout) -> tuple[PlaceIndex, list[Road], list[BuildingPlace]]:
    """Roads = the layout's streets and main roads; buildings numbered along their road."""
    lines = [*layout.lines, *layout.barriers]
    roads_m = [ln for ln in lines if ln.length > 50]
    roads = [
        Road(f"第{k}路", FRAME.to_deg(g), (f"{STREET}{1 + k % len(layout.inputs):03d}",))
        for k, g in enumerate(roads_m)
    ]
    areas = [Area(STREET, "测试街道", "street", 116.3, 39.96)]
    buildings: list[BuildingPlace] = []
    for ci, inp in enumerate(layout.inputs, start=1):
        code = f"{STREET}{ci:03d}"
        c = FRAME.to_deg(inp.boundary).representative_point()
        areas.append(Area(code, f"第{ci}社区", "community", c.x, c.y, code, STREET))
        areas.append(Area(f"{code}001", f"第{ci}社区第1网格", "grid", c.x, c.y, code))
        for bi, b in enumerate(inp.buildings):
            p = FRAME.to_deg(b.geom).representative_point()
            buildings.append(
                BuildingPlace(len(buildings) + 1, f"{bi}号楼", f"楼{ci}-{bi}号", p.x, p.y, code)
            )
    index = PlaceIndex(roads=roads, buildings=buildings, areas=areas)
    return index, roads, buildings


def _metres(a: shapely.Geometry) -> shapely.Geometry:
    return FRAME.to_m(a)


LAYOUTS = {
    "grid_town": lambda: layouts.grid_town(seed=3, households=6000),
    "old_town": lambda: layouts.old_town(seed=2, households=4000),
    "suburb": lambda: layouts.suburb(seed=1, households=5000),
    "rural": lambda: layouts.rural(seed=4),
}


@pytest.fixture(scope="module", params=sorted(LAYOUTS))
def built(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    layout = LAYOUTS[request.param]()
    return layout, *_index_for(layout)


def _random_points(layout: layouts.Layout, n: int, seed: int) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = layout.boundary.bounds
    pts = rng.uniform((x0, y0), (x1, y1), size=(n, 2))
    return [(p.x, p.y) for p in (FRAME.to_deg(Point(x, y)) for x, y in pts)]


def test_nearest_road_is_the_closest_line_within_the_radius(built) -> None:  # type: ignore[no-untyped-def]
    layout, index, roads, _ = built
    lines_m = [_metres(r.line) for r in roads]
    for lon, lat in _random_points(layout, 120, seed=7):
        p = _metres(Point(lon, lat))
        best = min(ln.distance(p) for ln in lines_m)
        hit = index.nearest_road(lon, lat)
        if best > ROAD_RADIUS_M + 1:
            assert hit is None
        elif best < ROAD_RADIUS_M - 1:
            assert hit is not None
            assert hit[1] == pytest.approx(best, abs=0.5)
            assert _metres(hit[0].line).distance(p) == pytest.approx(best, abs=0.5)


def test_nearest_building_is_the_closest_registry_building(built) -> None:  # type: ignore[no-untyped-def]
    layout, index, _, buildings = built
    xy = np.array([FRAME.to_m(Point(b.lon, b.lat)).coords[0] for b in buildings])
    for lon, lat in _random_points(layout, 120, seed=11):
        x, y = FRAME.to_m(Point(lon, lat)).coords[0]
        d = np.hypot(xy[:, 0] - x, xy[:, 1] - y)
        hit = index.nearest_building(lon, lat)
        if d.min() > BUILDING_RADIUS_M + 1:
            assert hit is None
        elif d.min() < BUILDING_RADIUS_M - 1:
            assert hit is not None and hit[1] == pytest.approx(float(d.min()), abs=0.5)


def test_reverse_text_names_street_community_building_and_grid(built) -> None:  # type: ignore[no-untyped-def]
    _, index, _, buildings = built
    b = buildings[len(buildings) // 2]
    community = b.community_code
    parts = index.reverse(b.lon, b.lat, grid_code=f"{community}001", community_code=community)
    assert parts.building == b.address and parts.building_m == pytest.approx(0, abs=0.5)
    assert parts.community is not None and parts.community.code == community
    assert parts.street is not None and parts.street.name == "测试街道"
    assert parts.text is not None
    assert parts.text.startswith(f"测试街道{parts.community.name} ")
    assert b.address in parts.text and f"(网格 {parts.community.name}第1网格)" in parts.text
    if parts.road:
        assert parts.road in parts.text


def test_search_finds_a_building_by_its_address_and_by_part_of_it(built) -> None:  # type: ignore[no-untyped-def]
    _, index, _, buildings = built
    b = buildings[-1]
    exact = index.search(b.address or "")
    assert exact and exact[0].kind == "building" and exact[0].name == b.address
    part = (b.address or "")[:-1]  # "楼3-12" finds "楼3-12号" (and maybe "楼3-120号")
    assert any(p.name == b.address for p in index.search(part, limit=50))
    assert all(part in p.name for p in index.search(part, limit=50))


def test_search_keeps_to_the_visible_area(built) -> None:  # type: ignore[no-untyped-def]
    layout, index, _, _ = built
    if len(layout.inputs) < 2:
        pytest.skip("one community only")
    mine = f"{STREET}001"
    hits = index.search(
        "楼", limit=50, visible=lambda codes: any(c.startswith(mine) for c in codes)
    )
    assert hits and all(h.community_name == "第1社区" for h in hits)
    other = index.search(
        "楼2-", limit=50, visible=lambda codes: any(c.startswith(mine) for c in codes)
    )
    assert other == []


def test_digits_are_a_code_prefix_of_grids_and_divisions(built) -> None:  # type: ignore[no-untyped-def]
    layout, index, _, _ = built
    hits = index.search(STREET + "00", limit=50)
    expected = 2 * len(layout.inputs)  # communities and their grids
    assert len(hits) == min(50, expected)
    assert {h.kind for h in hits} <= {"community", "grid"}
    codes = [h.scope[0] for h in hits]
    assert codes == sorted(codes) and all(c.startswith(STREET + "00") for c in codes)
    street = index.search(STREET)
    assert street[0].kind == "street" and street[0].name == "测试街道"


def test_search_orders_exact_then_prefix_then_contained() -> None:
    areas = [
        Area("110108001", "七里街道", "street", 116.3, 39.9),
        Area("110108001001", "七里庄社区", "community", 116.3, 39.9, "110108001001", "110108001"),
        Area("110108001002", "新七里社区", "community", 116.3, 39.9, "110108001002", "110108001"),
    ]
    road = Road("幸福路", shapely.LineString([(116.29, 39.9), (116.31, 39.9)]), ("110108001001",))
    b = BuildingPlace(1, "1号楼", "幸福路12号", 116.3, 39.9001, "110108001001")
    cam = Camera("SP00012", "监控点12", 116.301, 39.9, "110108001001", None)
    index = PlaceIndex(roads=[road], buildings=[b], areas=areas, cameras=[cam])
    # Names first (exact, starting with, containing), then places whose address contains it.
    hits = index.search("七里")
    assert [p.name for p in hits[:3]] == ["七里街道", "七里庄社区", "新七里社区"]
    assert {p.kind for p in hits[3:]} == {"road", "building", "camera"}
    assert index.search("幸福路12")[0].name == "幸福路12号"
    assert index.search("幸福路")[0].kind == "road"
    assert index.search("ＳＰ０００１２")[0].kind == "camera"  # full-width letters and digits
    assert index.search("七里 新")[0].name == "新七里社区"  # every word must match
    assert index.search("幸福路12")[0].address == "七里街道七里庄社区 幸福路12号"
    parts = index.reverse(116.3, 39.9001, community_code="110108001001")
    assert parts.text == "七里街道七里庄社区 幸福路12号附近"
    far = index.reverse(116.3, 39.9025, community_code="110108001001")  # ~270 m north
    assert (
        far.building is None
        and far.road == "幸福路"
        and far.text == "七里街道七里庄社区 幸福路附近"
    )
    assert math.isclose(far.road_m or 0, 276.4, abs_tol=5)


def test_normalize_folds_width_case_and_spaces() -> None:
    assert normalize(" 幸福路 １２号 ") == "幸福路12号"
    assert normalize("SP00012") == "sp00012"


def test_an_empty_index_answers_nothing() -> None:
    index = PlaceIndex()
    assert index.search("幸福") == []
    assert index.reverse(116.3, 39.9).text is None
