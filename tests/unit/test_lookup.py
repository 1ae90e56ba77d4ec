"""GridIndex: exact point → grid lookup."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from wangge.grids.lookup import GridIndex
from wangge.synthetic import make_district, make_grids, random_points


@pytest.fixture(scope="module")
def layer() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A few hundred synthetic grids with shuffled, non-contiguous ids, and 100k points."""
    district = make_district(seed=7, area_km2=12.0, n_streets=3, communities_per_street=4)
    grids = make_grids(district, n_grids=300, seed=8)
    geoms = np.array([g for _, g in grids], dtype=object)
    ids = np.random.default_rng(9).permutation(len(geoms)).astype(np.int64) * 7 + 100
    x, y = random_points(district, 100_000, seed=10, outside_share=0.05)
    return ids, geoms, x, y


def brute_force(ids: np.ndarray, geoms: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Test every grid against every point in its bounding box (smallest id on ties)."""
    out = np.full(len(x), -1, dtype=np.int64)
    for i in np.argsort(ids)[::-1]:  # descending, so the smallest id is written last
        xmin, ymin, xmax, ymax = geoms[i].bounds
        near = np.flatnonzero((x >= xmin) & (x <= xmax) & (y >= ymin) & (y <= ymax))
        out[near[shapely.intersects_xy(geoms[i], x[near], y[near])]] = ids[i]
    return out


def on_any_edge(geoms: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """True where a point lies on the boundary of at least one grid."""
    edges = shapely.STRtree(shapely.boundary(geoms))
    hit, _ = edges.query(shapely.points(x, y), predicate="intersects")
    return np.isin(np.arange(len(x)), hit)


def test_locate_many_equals_brute_force_shapely_for_100k_random_points(layer) -> None:
    ids, geoms, x, y = layer
    got = GridIndex(ids, geoms).locate_many(x, y)
    bad = np.flatnonzero(got != brute_force(ids, geoms, x, y))
    assert on_any_edge(geoms, x[bad], y[bad]).all()
    assert len(bad) <= 2  # random floats essentially never land on an edge
    assert (got == -1).sum() >= 4_000  # the ~5% outside points really are outside


def test_locate_many_also_equals_a_strict_contains_test_away_from_edges(layer) -> None:
    ids, geoms, x, y = layer
    got = GridIndex(ids, geoms).locate_many(x, y)
    tree = shapely.STRtree(geoms)
    pi, gi = tree.query(shapely.points(x, y), predicate="within")
    ref = np.full(len(x), -1, dtype=np.int64)
    ref[pi] = ids[gi]
    bad = np.flatnonzero(got != ref)
    assert on_any_edge(geoms, x[bad], y[bad]).all()


def test_locate_equals_locate_many_element_by_element(layer) -> None:
    ids, geoms, x, y = layer
    index = GridIndex(ids, geoms)
    many = index.locate_many(x[:3000], y[:3000])
    single = [index.locate(a, b) for a, b in zip(x[:3000], y[:3000], strict=True)]
    assert [-1 if s is None else s for s in single] == many.tolist()


def test_any_cell_size_gives_the_same_answers(layer) -> None:
    ids, geoms, x, y = layer
    x, y = x[:20_000], y[:20_000]
    default = GridIndex(ids, geoms).locate_many(x, y)
    for cell in (1e-2, 1e-3, 5e-5):
        assert np.array_equal(GridIndex(ids, geoms, cell_size=cell).locate_many(x, y), default)


def test_points_outside_the_layer_give_minus_one_and_none(layer) -> None:
    ids, geoms, _, _ = layer
    index = GridIndex(ids, geoms)
    lon = np.array([0.0, 180.0, np.nan, np.inf, -np.inf, 116.30])
    lat = np.array([0.0, 89.0, 39.96, 39.96, 39.96, np.nan])
    assert index.locate_many(lon, lat).tolist() == [-1] * 6
    assert all(index.locate(a, b) is None for a, b in zip(lon, lat, strict=True))


def squares(n: int) -> tuple[np.ndarray, np.ndarray]:
    """n×n unit squares; id = 100 - (row * n + col), so ids fall from west to east."""
    geoms = np.array([box(c, r, c + 1, r + 1) for r in range(n) for c in range(n)], dtype=object)
    return 100 - np.arange(n * n, dtype=np.int64), geoms


def test_a_point_on_a_shared_edge_goes_to_the_grid_with_the_smallest_id() -> None:
    ids, geoms = squares(2)  # ids: (0,0)=100, (1,0)=99, (0,1)=98, (1,1)=97
    for order in (slice(None), slice(None, None, -1)):  # input order must not matter
        index = GridIndex(ids[order], geoms[order], cell_size=0.5)  # cell lines on the edges
        assert index.locate(1.0, 0.5) == 99  # between 100 and 99
        assert index.locate(0.5, 1.0) == 98  # between 100 and 98
        assert index.locate(1.0, 1.0) == 97  # vertex shared by all four
        assert index.locate(0.0, 0.0) == 100  # outer corner belongs to its only grid
        assert index.locate_many(np.array([1.0, 1.0]), np.array([0.5, 1.0])).tolist() == [99, 97]


def test_grid_lines_exactly_on_cell_lines_are_handled(layer) -> None:
    ids, geoms = squares(6)
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(-1, 7, 20_000), rng.integers(0, 7, 2_000).astype(float)])
    y = np.concatenate([rng.uniform(-1, 7, 20_000), rng.uniform(-1, 7, 2_000)])
    expected = brute_force(ids, geoms, x, y)  # includes on-edge points, smallest id wins
    for cell in (1.0, 0.5, 0.25, 0.3):
        assert np.array_equal(GridIndex(ids, geoms, cell_size=cell).locate_many(x, y), expected)


def test_a_grid_with_a_hole_and_a_multipolygon_grid_are_located_exactly() -> None:
    ring = Polygon(box(0, 0, 10, 10).exterior.coords, [box(3, 3, 7, 7).exterior.coords])
    islands = MultiPolygon([box(4, 4, 6, 6), box(20, 20, 22, 22)])
    index = GridIndex(np.array([1, 2]), [ring, islands])
    assert index.locate(1, 1) == 1
    assert index.locate(5, 5) == 2  # inside the hole, inside the island
    assert index.locate(3.5, 3.5) is None  # inside the hole, outside the island
    assert index.locate(21, 21) == 2  # the second part of the MultiPolygon
    assert index.locate(15, 15) is None  # between the parts
    rng = np.random.default_rng(4)
    x, y = rng.uniform(-2, 24, 50_000), rng.uniform(-2, 24, 50_000)
    geoms = np.array([ring, islands], dtype=object)
    assert np.array_equal(index.locate_many(x, y), brute_force(np.array([1, 2]), geoms, x, y))


def test_points_a_hair_away_from_a_slanted_shared_edge_match_geos_exactly() -> None:
    # Two triangles share the diagonal (0,0)-(1,0.7): most cells along it are split by that
    # one segment alone and are answered by an orientation test, which must never guess.
    a, b = np.array([0.0, 0.0]), np.array([1.0, 0.7])
    lower = Polygon([(0, 0), (1, 0), (1, 0.7)])
    upper = Polygon([(0, 0), (1, 0.7), (0, 1)])
    ids, geoms = np.array([8, 5]), np.array([lower, upper], dtype=object)
    rng = np.random.default_rng(5)
    t = rng.uniform(0.01, 0.99, 20_000)
    normal = np.array([-0.7, 1.0]) / np.hypot(0.7, 1.0)
    offset = rng.choice([0.0, 1e-17, -1e-17, 1e-16, -1e-16, 1e-13, -1e-13, 1e-9, -1e-9], t.size)
    pts = a + t[:, None] * (b - a) + offset[:, None] * normal
    x, y = pts[:, 0], pts[:, 1]
    expected = brute_force(ids, geoms, x, y)
    for cell in (None, 0.05, 0.013):
        index = GridIndex(ids, geoms, cell_size=cell)
        assert np.array_equal(index.locate_many(x, y), expected)
        assert [index.locate(p, q) for p, q in zip(x[:500], y[:500], strict=True)] == [
            None if e < 0 else e for e in expected[:500]
        ]
    # Only points within rounding distance of the edge needed GEOS; the rest took the shortcut.
    clear = np.abs(offset) >= 1e-13
    assert index.exact_share(x[clear], y[clear]) < 0.05


def test_an_empty_layer_locates_nothing() -> None:
    index = GridIndex(np.array([], dtype=np.int64), [])
    assert index.n_grids == 0
    assert index.locate(116.3, 39.9) is None
    assert index.locate_many(np.array([116.3, 0.0]), np.array([39.9, 0.0])).tolist() == [-1, -1]
    assert index.locate_many(np.array([]), np.array([])).shape == (0,)


def test_missing_and_empty_geometries_are_skipped() -> None:
    index = GridIndex(np.array([1, 2, 3]), [None, Polygon(), box(0, 0, 1, 1)])
    assert index.n_grids == 1
    assert index.locate(0.5, 0.5) == 3
    assert GridIndex(np.array([1]), [None]).locate(0.5, 0.5) is None


def test_mismatched_inputs_are_rejected() -> None:
    with pytest.raises(ValueError):
        GridIndex(np.array([1, 2]), [box(0, 0, 1, 1)])
    with pytest.raises(ValueError):
        GridIndex(np.array([1]), [shapely.Point(0, 0)])
    index = GridIndex(np.array([1]), [box(0, 0, 1, 1)])
    with pytest.raises(ValueError):
        index.locate_many(np.zeros(2), np.zeros(3))


def test_the_index_stays_small_and_mostly_answers_from_the_raster(layer) -> None:
    ids, geoms, x, y = layer
    index = GridIndex(ids, geoms)
    assert index.nbytes < 50_000_000
    assert index.exact_share(x, y) < 0.06
