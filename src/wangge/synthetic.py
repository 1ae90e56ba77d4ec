"""Seeded synthetic territory (区 → 街道 → 社区 → 网格) for demos, tests and benchmarks.

The outline is drawn in a metric CGCS2000 3° Gauss-Krüger projection (so its area is
exact in m²) and transformed to EPSG:4490 with pyproj.  The partitions are then cut in a
local *affine* metre frame around the centre (equirectangular: x = Δlon·cos φ₀, y = Δlat):
Voronoi cells are not stretched by the lon/lat aspect, and because the map to lon/lat is
affine, straight edges and T-junctions (a community corner lying on a street edge) survive
the transform — a non-linear projection would bend them and open gaps between levels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias, TypeVar

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPoint, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

Areal: TypeAlias = Polygon | MultiPolygon
# Any geometry: the frame maps lines (roads) as well as areas, and keeps the geometry type.
_G = TypeVar("_G", bound=BaseGeometry)

# Seeded syllable pools for plausible (fictional) place names.
_STREET_SYLLABLES = tuple(
    "清河海淀学院中关北太平燕园紫竹万寿羊坊甘家田四季青香温泉西旺苏上地马连曙光永定花东升"
)
_COMMUNITY_SYLLABLES = tuple(
    "育新安宁华景和兴盛康乐林翠友谊双榆树南沙滩知春静怡明珠桃李锦绣阳光蓝靛厂"
)
_OUTLINE_VERTICES = 256
_LLOYD_ITERATIONS = 2  # relaxation rounds: cells look like city blocks, not slivers


@dataclass(frozen=True, eq=False)
class Community:
    """A 社区/村 with its 12-digit statistical code."""

    code: str
    name: str
    street_code: str
    geometry: Areal  # EPSG:4490 lon/lat
    geometry_m: Areal  # local affine metre frame (see module docstring)


@dataclass(frozen=True, eq=False)
class Street:
    """A 街道/乡镇 with its 9-digit code and its communities (an exact partition of it)."""

    code: str
    name: str
    geometry: Areal
    geometry_m: Areal
    communities: tuple[Community, ...]


@dataclass(frozen=True, eq=False)
class SyntheticDistrict:
    """A 区/县 outline, its streets and communities, and the frames used to build them."""

    county_code: str
    county_name: str
    gk_epsg: int
    outline: Areal
    outline_gk: Areal
    outline_m: Areal
    frame: LocalFrame
    streets: tuple[Street, ...]

    @property
    def communities(self) -> list[Community]:
        """All communities, street by street."""
        return [c for s in self.streets for c in s.communities]

    @property
    def area_km2(self) -> float:
        """Area of the outline in km²."""
        return float(self.outline_gk.area) / 1e6


@dataclass(frozen=True)
class LocalFrame:
    """Affine lon/lat ↔ metre frame: x = (lon − lon0)·kx, y = (lat − lat0)·ky."""

    lon0: float
    lat0: float

    @property
    def kx(self) -> float:
        """Metres per degree of longitude at lat0."""
        return 111_320.0 * float(np.cos(np.radians(self.lat0)))

    @property
    def ky(self) -> float:
        """Metres per degree of latitude (mean)."""
        return 110_574.0

    def to_m(self, geom: _G) -> _G:
        """lon/lat geometry → metre frame."""
        k = np.array([self.kx, self.ky])
        o = np.array([self.lon0, self.lat0])
        return shapely.transform(geom, lambda xy: (xy - o) * k)

    def to_deg(self, geom: _G) -> _G:
        """Metre-frame geometry → lon/lat (EPSG:4490)."""
        k = np.array([self.kx, self.ky])
        o = np.array([self.lon0, self.lat0])
        return shapely.transform(geom, lambda xy: xy / k + o)


def gk_epsg_for(lon: float) -> int:
    """EPSG code of the CGCS2000 3° Gauss-Krüger zone (no zone prefix) nearest to lon."""
    cm = int(min(max(3 * round(lon / 3.0), 75), 135))
    return 4534 + (cm - 75) // 3


def make_district(
    *,
    seed: int,
    area_km2: float,
    n_streets: int,
    communities_per_street: int,
    center: tuple[float, float] = (116.30, 39.96),
    county_code: str = "110108",
    county_name: str = "海淀区",
) -> SyntheticDistrict:
    """Irregular district of about area_km2 split into streets and communities."""
    if len(county_code) != 6 or not county_code.isdigit():
        raise ValueError("county_code must be 6 digits")
    if not (1 <= n_streets <= 999 and 1 <= communities_per_street <= 999):
        raise ValueError("need 1..999 streets and 1..999 communities per street (3-digit codes)")
    rng = np.random.default_rng(seed)
    epsg = gk_epsg_for(center[0])
    to_gk = Transformer.from_crs(4490, epsg, always_xy=True)
    cx, cy = to_gk.transform(*center)
    outline_gk = _irregular_outline(rng, cx, cy, area_km2 * 1e6)
    frame = LocalFrame(*center)
    outline_m = frame.to_m(_gk_to_4490(epsg)(outline_gk))
    # Round-trip through the frame so the outline has bit-identical vertices to its streets.
    outline = frame.to_deg(outline_m)
    names = _NamePool(rng)
    streets = []
    for si, street_m in enumerate(_partition(outline_m, n_streets, rng), start=1):
        street_code = f"{county_code}{si:03d}"
        is_town = rng.random() < 0.2
        street_name = names.take(_STREET_SYLLABLES, "镇" if is_town else "街道")
        communities = tuple(
            Community(
                code=f"{street_code}{ci:03d}",
                name=names.take(_COMMUNITY_SYLLABLES, "村" if is_town else "社区"),
                street_code=street_code,
                geometry=frame.to_deg(comm_m),
                geometry_m=comm_m,
            )
            for ci, comm_m in enumerate(_partition(street_m, communities_per_street, rng), 1)
        )
        streets.append(
            Street(street_code, street_name, frame.to_deg(street_m), street_m, communities)
        )
    return SyntheticDistrict(
        county_code, county_name, epsg, outline, outline_gk, outline_m, frame, tuple(streets)
    )


def make_grids(district: SyntheticDistrict, *, n_grids: int, seed: int) -> list[tuple[str, Areal]]:
    """About n_grids irregular grids (EPSG:4490) partitioning every community exactly."""
    rng = np.random.default_rng(seed)
    comms = district.communities
    areas = np.array([c.geometry_m.area for c in comms])
    counts = _apportion(areas, max(n_grids, len(comms)))
    to_deg = district.frame.to_deg
    grids: list[tuple[str, Areal]] = []
    for comm, k in zip(comms, counts, strict=True):
        grids.extend((comm.code, to_deg(g)) for g in _partition(comm.geometry_m, int(k), rng))
    return grids


def random_points(
    district: SyntheticDistrict, n: int, seed: int, *, outside_share: float = 0.03
) -> tuple[np.ndarray, np.ndarray]:
    """n seeded lon/lat points, uniform inside the district except ~3% just outside it."""
    rng = np.random.default_rng(seed)
    n_out = round(n * outside_share)
    shapely.prepare(district.outline)
    xmin, ymin, xmax, ymax = district.outline.bounds
    pad_x, pad_y = 0.05 * (xmax - xmin), 0.05 * (ymax - ymin)
    box = (xmin - pad_x, ymin - pad_y, xmax + pad_x, ymax + pad_y)
    xin, yin = _sample(district.outline, n - n_out, rng, box, want_inside=True)
    xout, yout = _sample(district.outline, n_out, rng, box, want_inside=False)
    perm = rng.permutation(n)
    return np.concatenate([xin, xout])[perm], np.concatenate([yin, yout])[perm]


# ---------------------------------------------------------------------- helpers
class _NamePool:
    """Draws unique two-syllable names from seeded syllable pools."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def take(self, syllables: tuple[str, ...], suffix: str) -> str:
        """A fresh name; adds a third syllable once two-syllable names run short."""
        for attempt in range(1000):
            k = 2 if attempt < 50 else 3
            picks = self._rng.choice(len(syllables), size=k, replace=False)
            name = "".join(syllables[i] for i in picks) + suffix
            if name not in self._used:
                self._used.add(name)
                return name
        raise RuntimeError("name pool exhausted")


def _gk_to_4490(epsg: int) -> Callable[[Areal], Areal]:
    """Function mapping a GK geometry to EPSG:4490 (lon, lat order)."""
    tr = Transformer.from_crs(epsg, 4490, always_xy=True)

    def back(geom: Areal) -> Areal:
        return shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))

    return back


def _irregular_outline(rng: np.random.Generator, cx: float, cy: float, area_m2: float) -> Polygon:
    """Star-shaped polygon with a few random harmonics, scaled to the requested area."""
    theta = np.linspace(0.0, 2 * np.pi, _OUTLINE_VERTICES, endpoint=False)
    r = np.ones_like(theta)
    for k in range(2, 8):
        r += rng.uniform(0.02, 0.25) / k * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    r *= 1 + rng.normal(0.0, 0.01, size=len(theta))  # ragged, like a real boundary
    r = np.maximum(r, 0.3)  # stays star-shaped, hence simple and valid
    unit = Polygon(np.column_stack([r * np.cos(theta), r * np.sin(theta)]))
    scale = np.sqrt(area_m2 / unit.area)
    return Polygon(
        np.column_stack([cx + scale * r * np.cos(theta), cy + scale * r * np.sin(theta)])
    )


def _sample(
    region: Areal,
    n: int,
    rng: np.random.Generator,
    box: tuple[float, float, float, float],
    *,
    want_inside: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """n uniform points in box that are (or are not) inside region, by rejection."""
    shapely.prepare(region)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    have = 0
    while have < n:
        m = max(2 * (n - have), 64)
        x = rng.uniform(box[0], box[2], m)
        y = rng.uniform(box[1], box[3], m)
        keep = shapely.contains_xy(region, x, y) == want_inside
        xs.append(x[keep])
        ys.append(y[keep])
        have += int(keep.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def _polygonal(geom: BaseGeometry) -> Areal:
    """Keep only the areal parts of an overlay result."""
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and not p.is_empty]
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def _partition(region: Areal, n: int, rng: np.random.Generator) -> list[Areal]:
    """Exact partition of region into n Lloyd-relaxed Voronoi cells, numbered N→S, W→E."""
    if n <= 1:
        return [region]
    seeds = np.column_stack(_sample(region, n, rng, region.bounds, want_inside=True))
    cells = _voronoi_clip(region, seeds)
    for _ in range(_LLOYD_ITERATIONS):
        centres = shapely.centroid(cells)
        off = ~shapely.contains(region, centres)
        centres[off] = shapely.point_on_surface(cells[off])
        cells = _voronoi_clip(region, shapely.get_coordinates(centres))
    out = [_polygonal(c) for c in cells]
    out = [c for c in out if not c.is_empty]
    return _reading_order(out, region)


def _voronoi_clip(region: Areal, seeds: np.ndarray) -> np.ndarray:
    """Voronoi cells of seeds, clipped to region (covers region exactly)."""
    diagram = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=region, ordered=True)
    return shapely.intersection(shapely.get_parts(diagram), region)


def _reading_order(cells: list[Areal], region: Areal) -> list[Areal]:
    """Sort cells north→south in bands, then west→east (the usual grid numbering)."""
    pts = shapely.get_coordinates(shapely.point_on_surface(np.asarray(cells, dtype=object)))
    band = np.sqrt(region.area / len(cells))
    top = region.bounds[3]
    order = np.lexsort((pts[:, 0], np.floor((top - pts[:, 1]) / band)))
    return [cells[i] for i in order]


def _apportion(weights: np.ndarray, total: int) -> np.ndarray:
    """Integer shares of total proportional to weights, at least 1 each (largest remainder)."""
    n = len(weights)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    extra = total - n
    raw = weights / weights.sum() * extra
    base: np.ndarray = np.floor(raw).astype(np.int64)
    rest = extra - int(base.sum())
    base[np.argsort(-(raw - base), kind="stable")[:rest]] += 1
    return base + 1
