"""Seeded synthetic territory: district → streets → communities → grids."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from wangge.synthetic import (
    SyntheticDistrict,
    gk_epsg_for,
    make_district,
    make_grids,
    random_points,
)


@pytest.fixture(scope="module")
def district() -> SyntheticDistrict:
    """A small district: 4 streets of 5 communities."""
    return make_district(seed=11, area_km2=30.0, n_streets=4, communities_per_street=5)


def assert_exact_partition(parts: list, whole, rel: float = 1e-9) -> None:
    """No overlap (areas add up to the union) and no gap (the union is the whole)."""
    union = shapely.union_all(parts)
    assert sum(p.area for p in parts) == pytest.approx(union.area, rel=rel)
    assert union.symmetric_difference(whole).area <= rel * whole.area


def test_the_same_seed_gives_the_same_territory(district: SyntheticDistrict) -> None:
    again = make_district(seed=11, area_km2=30.0, n_streets=4, communities_per_street=5)
    assert [c.code for c in again.communities] == [c.code for c in district.communities]
    assert [c.name for c in again.communities] == [c.name for c in district.communities]
    assert all(
        a.geometry.equals_exact(b.geometry, 0.0)
        for a, b in zip(again.communities, district.communities, strict=True)
    )


def test_the_outline_is_irregular_and_has_the_requested_area(district) -> None:
    assert district.area_km2 == pytest.approx(30.0, rel=1e-9)
    hull = district.outline_gk.convex_hull
    assert hull.area > 1.01 * district.outline_gk.area  # not a convex blob
    assert district.outline_m.area / 1e6 == pytest.approx(30.0, rel=0.01)  # frame is metric
    assert district.outline.is_valid


def test_streets_partition_the_district_exactly(district) -> None:
    assert len(district.streets) == 4
    assert_exact_partition([s.geometry_m for s in district.streets], district.outline_m)
    assert_exact_partition([s.geometry for s in district.streets], district.outline)


def test_communities_partition_their_street_exactly(district) -> None:
    for street in district.streets:
        assert len(street.communities) == 5
        assert_exact_partition([c.geometry_m for c in street.communities], street.geometry_m)
        # The lon/lat copies partition the lon/lat street too (same vertices, same transform).
        assert_exact_partition([c.geometry for c in street.communities], street.geometry)


def test_codes_have_the_right_prefixes_and_widths(district) -> None:
    assert [s.code for s in district.streets] == [f"110108{i:03d}" for i in range(1, 5)]
    for street in district.streets:
        codes = [c.code for c in street.communities]
        assert codes == [f"{street.code}{i:03d}" for i in range(1, 6)]
        assert all(len(c) == 12 and c.isdigit() for c in codes)
        assert all(c.street_code == street.code for c in street.communities)


def test_names_are_plausible_and_unique(district) -> None:
    for street in district.streets:
        assert street.name.endswith(("街道", "镇"))
        suffix = "村" if street.name.endswith("镇") else "社区"
        assert all(c.name.endswith(suffix) for c in street.communities)
    names = [s.name for s in district.streets] + [c.name for c in district.communities]
    assert len(set(names)) == len(names)


def test_grids_cover_every_community_exactly_in_proportion_to_area(district) -> None:
    grids = make_grids(district, n_grids=200, seed=12)
    assert len(grids) == 200
    by_comm: dict[str, list] = {}
    for code, geom in grids:
        by_comm.setdefault(code, []).append(geom)
        assert geom.is_valid and not geom.is_empty
    for comm in district.communities:
        assert_exact_partition(by_comm[comm.code], comm.geometry, rel=1e-8)
    areas = np.array([c.geometry_m.area for c in district.communities])
    counts = np.array([len(by_comm[c.code]) for c in district.communities])
    assert np.abs(counts - areas / areas.sum() * 200).max() <= 1.5


def test_random_points_are_mostly_inside_with_some_outside(district) -> None:
    x, y = random_points(district, 20_000, seed=13)
    inside = shapely.contains_xy(district.outline, x, y)
    assert len(x) == len(y) == 20_000
    assert 0.02 < 1 - inside.mean() < 0.04
    assert np.array_equal(random_points(district, 20_000, seed=13)[0], x)


def test_the_gauss_kruger_zone_is_the_nearest_3_degree_meridian() -> None:
    assert gk_epsg_for(116.30) == 4548  # CM 117°E
    assert gk_epsg_for(75.0) == 4534
    assert gk_epsg_for(135.0) == 4554
    assert gk_epsg_for(120.0) == 4549


def test_invalid_arguments_are_rejected() -> None:
    with pytest.raises(ValueError):
        make_district(seed=1, area_km2=5, n_streets=2, communities_per_street=2, county_code="11")
    with pytest.raises(ValueError):
        make_district(seed=1, area_km2=5, n_streets=0, communities_per_street=2)
