"""Invariants of the generated layout families (wangge.grids.synthetic_layouts).

Only the generator is checked here (shapes, counts, determinism), not division quality.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely import Point, Polygon

from wangge.grids import synthetic_layouts as sl

SMALL = {
    "grid_town_0.3": lambda s: sl.grid_town(s, block_factor=0.3, households=6000),
    "grid_town_1": lambda s: sl.grid_town(s, block_factor=1.0, households=6000),
    "grid_town_5": lambda s: sl.grid_town(s, block_factor=5.0, households=9000),
    "county_town": lambda s: sl.county_town(s),
    "old_town": lambda s: sl.old_town(s, households=3000),
    "suburb": lambda s: sl.suburb(s, households=6000),
    "rural": lambda s: sl.rural(s, households=3000),
    "tiled": lambda s: sl.tiled(s, n=2, households=2500),
}


@pytest.fixture(scope="module", params=sorted(SMALL))
def layout(request: pytest.FixtureRequest) -> sl.Layout:
    """One small layout of each family (seed 1)."""
    return SMALL[request.param](1)


def _spot(b: sl.Building) -> Point:
    return b.geom if isinstance(b.geom, Point) else b.geom.representative_point()


def _fingerprint(lay: sl.Layout) -> list:
    return [
        (
            inp.community_key,
            inp.boundary.wkb,
            len(inp.lines),
            len(inp.barriers),
            len(inp.lanes),
            [(b.key, b.geom.wkb, b.households, b.residents) for b in inp.buildings],
        )
        for inp in lay.inputs
    ]


@pytest.mark.parametrize("family", ["grid_town_1", "old_town", "suburb", "rural"])
def test_the_same_seed_gives_the_same_layout_and_another_seed_another(family: str) -> None:
    make = SMALL[family]
    assert _fingerprint(make(4)) == _fingerprint(make(4))
    assert _fingerprint(make(4)) != _fingerprint(make(5))


def test_every_barrier_has_a_kind(layout) -> None:
    assert len(layout.barrier_kinds) == len(layout.barriers)
    assert set(layout.barrier_kinds) <= {
        "main road",
        "river",
        "canal",
        "railway",
        "administrative line",
    }


def test_community_boundaries_are_valid_polygons_that_tile_the_layout(layout) -> None:
    polys = [inp.boundary for inp in layout.inputs]
    assert len(polys) >= 2
    assert all(isinstance(p, Polygon) and p.is_valid and p.area > 0 for p in polys)
    union = shapely.union_all(polys)
    assert sum(p.area for p in polys) == pytest.approx(union.area, rel=1e-6)  # no overlap
    assert union.symmetric_difference(layout.boundary).area <= 1e-6 * layout.boundary.area


def test_keys_are_unique(layout) -> None:
    comm = [inp.community_key for inp in layout.inputs]
    assert len(set(comm)) == len(comm)
    for inp in layout.inputs:
        keys = [b.key for b in inp.buildings]
        assert len(set(keys)) == len(keys)
    every = [b.key for b in layout.buildings]
    assert len(set(every)) == len(every)


def test_buildings_lie_strictly_inside_their_community_and_off_every_line(layout) -> None:
    spots = set()
    for inp in layout.inputs:
        inner = inp.boundary.buffer(-1.0)
        roads = shapely.union_all([*inp.lines, *inp.barriers])
        lanes = shapely.union_all(inp.lanes)
        for b in inp.buildings:
            p = _spot(b)
            assert inner.contains(b.geom), b.key
            assert roads.is_empty or b.geom.distance(roads) >= sl.STREET_GAP_M - 1e-6, b.key
            assert lanes.is_empty or b.geom.distance(lanes) >= sl.LANE_GAP_M - 1e-6, b.key
            assert b.households >= 0 and b.residents >= 0
            spots.add((round(p.x, 3), round(p.y, 3)))
    assert len(spots) == len(layout.buildings)  # no two buildings at one spot


def test_lines_cross_their_community_fully(layout) -> None:
    """Every line, barrier and lane of a community ends outside it or on another line."""
    for inp in layout.inputs:
        inner = inp.boundary.buffer(-0.5)
        cutting = [*inp.lines, *inp.barriers]
        for ln in [*cutting, *inp.lanes]:
            assert ln.length > 1.0
            others = shapely.union_all([o for o in cutting if o is not ln])
            for end in (Point(ln.coords[0]), Point(ln.coords[-1])):
                assert not inner.contains(end) or end.distance(others) <= 1.0, inp.community_key


def test_exclusive_sites_lie_off_the_lines_in_one_community_with_their_own_buildings(
    layout,
) -> None:
    assert layout.sites
    held = [s for inp in layout.inputs for s in inp.exclusive_sites]
    assert len(held) == len(layout.sites)
    for inp in layout.inputs:
        for site in inp.exclusive_sites:
            assert inp.boundary.contains(site)
            assert not any(site.intersects(ln) for ln in [*inp.lines, *inp.barriers, *inp.lanes])
            inside = [b for b in inp.buildings if site.intersects(b.geom)]
            assert 1 <= len(inside) <= 3
            assert all(b.households == 0 for b in inside)


@pytest.mark.parametrize("factor", [0.3, 0.5, 1.0, 2.0, 5.0])
def test_grid_town_blocks_hold_the_requested_factor_of_the_target(factor: float) -> None:
    lay = sl.grid_town(2, block_factor=factor, households=8000)
    blocks = sl.block_households(lay.inputs)
    assert blocks.mean() == pytest.approx(factor * 300, rel=0.10)
    assert lay.households == pytest.approx(8000, rel=0.5)
    assert lay.households == pytest.approx(blocks.sum(), rel=1e-9)


def test_grid_town_density_varies_between_blocks() -> None:
    blocks = sl.block_households(sl.grid_town(3, block_factor=1.0, households=20000).inputs)
    assert blocks.std() / blocks.mean() > 0.5
    assert (blocks < 0.1 * blocks.mean()).sum() >= 2  # some blocks nearly empty
    assert (blocks > 2 * blocks.mean()).sum() >= 2  # some dense


def test_grid_town_has_main_roads_apartments_and_houses() -> None:
    lay = sl.grid_town(0, block_factor=0.5, households=20000)
    assert lay.barriers and lay.lines and not lay.lanes
    assert any(inp.barriers for inp in lay.inputs)  # a main road runs through a community
    hh = np.array([b.households for b in lay.buildings])
    assert hh.max() <= 190
    assert ((hh >= 10) & (hh <= 190)).sum() > 0 and ((hh >= 1) & (hh <= 3)).sum() > 0


def test_grid_town_river_is_a_barrier_when_asked() -> None:
    dry = sl.grid_town(0, block_factor=1.0, households=6000, river=False)
    wet = sl.grid_town(0, block_factor=1.0, households=6000, river=True)
    assert "river" not in dry.barrier_kinds
    assert wet.barrier_kinds.count("river") == 1
    river = wet.barriers[wet.barrier_kinds.index("river")]
    assert river.crosses(wet.boundary)
    assert any(river.intersects(inp.boundary.buffer(-10)) for inp in wet.inputs)
    kinds = [sl.grid_town(s, households=6000).barrier_kinds for s in range(6)]
    assert 0 < sum("river" in k for k in kinds) < 6  # present in some seeds only


def test_county_town_replicates_the_held_out_town() -> None:
    lay = sl.county_town(0)
    blocks = sl.block_households(lay.inputs)
    assert len(lay.inputs) == 11
    assert len(blocks) == pytest.approx(195, abs=10)
    assert lay.households == pytest.approx(28659, rel=0.03)
    assert len(lay.buildings) == pytest.approx(600, rel=0.15)
    assert blocks.mean() == pytest.approx(147, rel=0.05)


def test_old_town_has_lanes_small_houses_and_courtyards() -> None:
    lay = sl.old_town(0, households=4000)
    assert lay.households == 4000
    assert len(lay.lanes) >= len(sl.block_households(lay.inputs))  # about two a block
    assert sum(len(inp.lanes) for inp in lay.inputs) >= len(lay.lanes)
    houses = [b for b in lay.buildings if isinstance(b.geom, Point) and b.households]
    courts = [b for b in lay.buildings if isinstance(b.geom, Polygon)]
    assert all(1 <= b.households <= 4 for b in houses)
    assert courts and all(15 <= b.households <= 60 and b.geom.interiors for b in courts)
    assert lay.barriers  # a main street at least


def test_suburb_has_estates_villas_and_main_roads() -> None:
    lay = sl.suburb(0, households=15000)
    assert lay.barriers and lay.lines
    hh = np.array([b.households for b in lay.buildings])
    assert ((hh >= 10) & (hh <= 190)).sum() >= 8  # towers
    assert ((hh >= 1) & (hh <= 2)).sum() > 0  # villas
    assert sl.block_households(lay.inputs).min() == 0  # empty land


def test_rural_villages_are_far_apart_in_large_communities() -> None:
    lay = sl.rural(0, households=5000)
    assert all(inp.boundary.area > 2e6 for inp in lay.inputs)  # several km² each
    assert "river" in lay.barrier_kinds and "administrative line" in lay.barrier_kinds
    assert any(inp.barriers for inp in lay.inputs)  # river, railway or administrative lines
    hh = [b.households for b in lay.buildings if b.households]
    assert min(hh) >= 1 and max(hh) <= 4
    assert lay.households == pytest.approx(5000, rel=0.35)


def test_large_reaches_about_27000_buildings() -> None:
    lay = sl.large(0)
    assert 24000 <= len(lay.buildings) <= 30000
    assert len({inp.community_key for inp in lay.inputs}) == len(lay.inputs)
