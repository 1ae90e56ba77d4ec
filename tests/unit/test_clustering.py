"""Grid clustering per zoom: counts, means, class breakdowns, cells that stay put when panning."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wangge.common.clustering import (
    BASE_ZOOM,
    base_pixels,
    cell_count,
    cluster,
    mercator_x,
    mercator_y,
)


def _leaflet_pixel(lon: float, lat: float, zoom: int) -> tuple[float, float]:
    # L.CRS.EPSG3857 as Leaflet computes it (SphericalMercator + its transformation).
    r = 6378137
    x = r * math.radians(lon)
    y = r * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    scale = 256 * 2**zoom
    k = 0.5 / (math.pi * r)
    return scale * (k * x + 0.5), scale * (-k * y + 0.5)


def _points(n: int = 5000, seed: int = 3) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    lon = rng.uniform(116.20, 116.45, n)
    lat = rng.uniform(39.85, 40.05, n)
    group = rng.integers(0, 6, n)
    px, py = base_pixels(lon, lat)
    return lon, lat, px, py, group


def test_pixels_are_leaflets_web_mercator_pixels():
    for lon, lat in ((116.3, 39.9), (0.0, 0.0), (-73.98, 40.75), (151.2, -33.87)):
        x, y = _leaflet_pixel(lon, lat, BASE_ZOOM)
        px, py = base_pixels(np.array([lon]), np.array([lat]))
        assert abs(px[0] - x) <= 1 and abs(py[0] - y) <= 1
    assert mercator_x(np.array([0.0]))[0] == 0.5
    assert abs(mercator_y(np.array([0.0]))[0] - 0.5) < 1e-12


def test_counts_means_and_groups_add_up():
    lon, lat, px, py, group = _points()
    for zoom in (10, 12, 14, 16):
        c = cluster(px, py, lon, lat, group, zoom=zoom, cell_px=64, n_groups=6)
        assert c.count.sum() == len(lon)
        assert (c.groups.sum(axis=1) == c.count).all()
        assert (c.groups.sum(axis=0) == np.bincount(group, minlength=6)).all()
        # Means are means of members: the count-weighted mean of means is the overall mean.
        assert abs((c.lon * c.count).sum() / len(lon) - lon.mean()) < 1e-9
        assert abs((c.lat * c.count).sum() / len(lat) - lat.mean()) < 1e-9
    coarse = cluster(px, py, lon, lat, group, zoom=10, cell_px=64, n_groups=6)
    fine = cluster(px, py, lon, lat, group, zoom=14, cell_px=64, n_groups=6)
    assert len(coarse) < len(fine)


def test_cells_stay_put_when_the_view_pans():
    lon, lat, px, py, group = _points()
    zoom, cell = 13, 64
    whole = cluster(px, py, lon, lat, group, zoom=zoom, cell_px=cell, n_groups=6)
    # A "view" made of whole cells east of a cell boundary: same clusters as in the whole set.
    shift = BASE_ZOOM - zoom + 6
    cx = px >> shift
    east = cx >= np.median(cx)
    part = cluster(
        px[east], py[east], lon[east], lat[east], group[east], zoom=zoom, cell_px=cell, n_groups=6
    )
    whole_cells = {
        (round(x, 9), round(y, 9), n)
        for x, y, n in zip(whole.lon, whole.lat, whole.count, strict=True)
    }
    part_cells = {
        (round(x, 9), round(y, 9), n)
        for x, y, n in zip(part.lon, part.lat, part.count, strict=True)
    }
    assert part_cells <= whole_cells and len(part_cells) > 10


def test_cell_count_and_limits():
    district = (116.13, 39.85, 116.47, 40.09)
    assert (
        cell_count(district, 11, 64) < cell_count(district, 13, 64) < cell_count(district, 15, 64)
    )
    assert cell_count((116.3, 39.9, 116.300001, 39.900001), 12, 64) in (1, 2, 4)
    with pytest.raises(ValueError):
        cell_count(district, 12, 60)  # not a power of two
    empty = cluster(
        *(np.zeros(0),) * 4, np.zeros(0, dtype=np.int64), zoom=12, cell_px=64, n_groups=3
    )
    assert len(empty) == 0 and empty.groups.shape == (0, 3)
