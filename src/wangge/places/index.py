"""PURE place index: reverse geocoding and place search over the district's own data.

No database, web or clock imports: the service (`places.service`) loads roads, buildings,
divisions, grids and cameras once per process and hands them to `PlaceIndex`. Distances are
measured in a local affine metre frame around the district (x = Δlon·cos φ₀, y = Δlat), which
is exact enough for "nearest within 100 m" over a county.
"""

from __future__ import annotations

import bisect
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from shapely.geometry.base import BaseGeometry

from wangge.places.nearest import Frame, NearestLines, NearestPoints

BUILDING_RADIUS_M = 80.0  # a building farther than this is not "the place" of a report
ROAD_RADIUS_M = 300.0  # about half a block in a city; beyond it no road is named
ADDRESS_MAX = 200  # cases.address is String(200)
MIN_QUERY = 2
KINDS = ("building", "road", "community", "street", "grid", "unit_grid", "camera")
_MAX_SCANNED = 20_000  # a very common text ("路") stops being scanned here


@dataclass(frozen=True)
class Road:
    """A named road: its line (EPSG:4490 lon/lat) and the communities it runs through."""

    name: str
    line: BaseGeometry
    community_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuildingPlace:
    """A building of the registry with its address (门牌) and where it lies."""

    id: int
    name: str
    address: str | None
    lon: float
    lat: float
    community_code: str
    grid_code: str | None = None


@dataclass(frozen=True)
class Area:
    """A division (street, community) or grid (social or unit layer) with a label point."""

    code: str
    name: str
    kind: str  # street | community | grid | unit_grid
    lon: float
    lat: float
    community_code: str | None = None  # grids: their community; communities: themselves
    parent_code: str | None = None  # divisions: the street of a community


@dataclass(frozen=True)
class Camera:
    """A camera point (视频监控) with its key."""

    key: str
    name: str
    lon: float
    lat: float
    community_code: str | None
    grid_code: str | None


@dataclass(frozen=True)
class Ref:
    """A code and name (community, grid …) in a reverse answer."""

    code: str
    name: str


@dataclass(frozen=True)
class Reverse:
    """The parts of the address of a position; `text` is what a case stores."""

    road: str | None = None
    road_m: float | None = None
    building: str | None = None
    building_m: float | None = None
    street: Ref | None = None
    community: Ref | None = None
    grid: Ref | None = None
    unit_grid: Ref | None = None
    text: str | None = None


@dataclass(frozen=True)
class Place:
    """One search hit (the `/api/v1/places` item)."""

    name: str
    kind: str
    address: str
    lon: float
    lat: float
    grid_code: str | None
    community_name: str | None
    scope: tuple[str, ...] = field(default=(), compare=False)  # codes the hit lies in


def normalize(text: str) -> str:
    """Fold what people type differently: full-width digits/letters, case, spaces."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in folded if not ch.isspace())


class PlaceIndex:
    """Reverse geocoding and text search over one snapshot of the district's places."""

    def __init__(
        self,
        *,
        roads: Sequence[Road] = (),
        buildings: Sequence[BuildingPlace] = (),
        areas: Sequence[Area] = (),
        cameras: Sequence[Camera] = (),
    ) -> None:
        self.roads = list(roads)
        self.buildings = list(buildings)
        self.areas = {(a.kind, a.code): a for a in areas}
        self.cameras = list(cameras)
        pts = [(b.lon, b.lat) for b in self.buildings] + [(a.lon, a.lat) for a in areas]
        lon0, lat0 = np.mean(pts, axis=0).tolist() if pts else (116.3, 39.9)
        self._frame = Frame(lon0, lat0)
        self._buildings_near = NearestPoints(
            [self._frame.xy(b.lon, b.lat) for b in self.buildings], BUILDING_RADIUS_M
        )
        self._roads_near = NearestLines(
            [self._frame.geom(r.line) for r in self.roads], ROAD_RADIUS_M
        )
        self._places = self._build_places()
        self._blob, self._starts = self._build_blob()
        self._codes = sorted(
            (p.scope[0], i) for i, p in enumerate(self._places) if p.kind in _CODED
        )

    # ------------------------------------------------------------------ reverse geocoding
    def nearest_road(self, lon: float, lat: float) -> tuple[Road, float] | None:
        """The nearest named road within ROAD_RADIUS_M, with its distance in metres."""
        hit = self._roads_near.nearest(*self._frame.xy(lon, lat))
        return (self.roads[hit[0]], hit[1]) if hit else None

    def nearest_building(self, lon: float, lat: float) -> tuple[BuildingPlace, float] | None:
        """The nearest registry building within BUILDING_RADIUS_M, with its distance."""
        hit = self._buildings_near.nearest(*self._frame.xy(lon, lat))
        return (self.buildings[hit[0]], hit[1]) if hit else None

    def reverse(
        self,
        lon: float,
        lat: float,
        *,
        grid_code: str | None = None,
        unit_grid_code: str | None = None,
        community_code: str | None = None,
    ) -> Reverse:
        """Return the address parts of a position; grids come from the grid index (located)."""
        road = self.nearest_road(lon, lat)
        building = self.nearest_building(lon, lat)
        if community_code is None and building is not None:
            community_code = building[0].community_code
        community = self.areas.get(("community", community_code or ""))
        street = self.areas.get(("street", community.parent_code or "")) if community else None
        grid = self.areas.get(("grid", grid_code or ""))
        unit = self.areas.get(("unit_grid", unit_grid_code or ""))
        parts = Reverse(
            road=road[0].name if road else None,
            road_m=round(road[1], 1) if road else None,
            building=(building[0].address or building[0].name) if building else None,
            building_m=round(building[1], 1) if building else None,
            street=Ref(street.code, street.name) if street else None,
            community=Ref(community.code, community.name) if community else None,
            grid=Ref(grid.code, grid.name) if grid else Ref(grid_code, "") if grid_code else None,
            unit_grid=Ref(unit.code, unit.name)
            if unit
            else Ref(unit_grid_code, "")
            if unit_grid_code
            else None,
        )
        return _with_text(parts)

    # ------------------------------------------------------------------ search
    @property
    def size(self) -> int:
        """How many places the index holds (its memory grows with it)."""
        return len(self._places)

    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        visible: Callable[[tuple[str, ...]], bool] | None = None,
    ) -> list[Place]:
        """Places whose name, address, code or key contains every word of `query`, best first
        (see `ranked`)."""
        return [hit[2] for hit in self.ranked(query, limit=limit, visible=visible)]

    def ranked(
        self,
        query: str,
        *,
        limit: int = 10,
        visible: Callable[[tuple[str, ...]], bool] | None = None,
    ) -> list[tuple[int, int, Place]]:
        """(rank, order, place) of the best `limit` places whose name, address, code or key
        contains every word of `query` (the sort key merges several counties' hits).

        Ranking: exact name, then name starting with the text, then name containing it, then
        address or code containing it; shorter names first within a rank. A text of digits
        only is a code prefix (grids, communities, streets), answered in code order.
        """
        words = [normalize(w) for w in query.split()]
        words = [w for w in words if w]
        if not words:
            return []
        first, whole = max(words, key=len), "".join(words)
        scored: list[tuple[int, int, int, Place]] = []
        seen: set[int] = set()

        def take(candidates: Iterable[int], cap: int) -> None:
            for n, i in enumerate(candidates):
                if n >= cap:
                    return
                seen.add(i)
                place, key, name = self._places[i], self._keys[i], self._names[i]
                if any(w not in key for w in words):
                    continue
                if visible is not None and not visible(place.scope):
                    continue
                rank = (
                    0
                    if name == whole
                    else 1
                    if name.startswith(whole)
                    else 2
                    if whole in name
                    else 3
                )
                # A code prefix comes in code order (the street before its communities).
                scored.append((rank, n if by_code else len(name), i, place))

        by_code = first.isdigit()
        if by_code:
            take(self._code_prefix(first), _MAX_SCANNED)
        else:
            # Names first: a common word ("社区") is in thousands of addresses but the best hits
            # are those whose name holds it, so addresses are scanned only to fill the list.
            take(self._containing(self._name_blob, self._name_starts, first), _MAX_SCANNED)
            if len(scored) < limit:
                rest = self._containing(self._blob, self._starts, first)
                take((i for i in rest if i not in seen), _MAX_SCANNED)
        # heapq would avoid sorting everything, but the lists here are a few thousand at most.
        scored.sort(key=lambda s: s[:3])
        return [(s[0], s[1], s[3]) for s in scored[: max(limit, 0)]]

    def _code_prefix(self, digits: str) -> Iterable[int]:
        lo = bisect.bisect_left(self._codes, (digits, -1))
        for code, i in self._codes[lo:]:
            if not code.startswith(digits):
                break
            yield i

    @staticmethod
    def _containing(blob: str, starts: list[int], word: str) -> Iterable[int]:
        pos = blob.find(word)
        while pos >= 0:
            i = bisect.bisect_right(starts, pos) - 1
            yield i
            # Jump to the next item: one hit per item is enough.
            pos = blob.find(word, starts[i + 1] if i + 1 < len(starts) else len(blob))

    def _build_blob(self) -> tuple[str, list[int]]:
        # One text of every item's keys (separated by a newline, never typed in a query), so a
        # search is one C-level str.find per hit instead of a Python loop over every place.
        self._keys = [
            normalize(" ".join(k for k in (p.name, p.address, *p.scope) if k)) for p in self._places
        ]
        self._names = [normalize(p.name) for p in self._places]
        self._name_blob, self._name_starts = _joined(self._names)
        return _joined(self._keys)

    def _build_places(self) -> list[Place]:
        return [
            *self._area_places(),
            *self._building_places(),
            *self._road_places(),
            *self._camera_places(),
        ]

    def _area_places(self) -> Iterator[Place]:
        for a in self.areas.values():
            community = self._area("community", a.community_code or a.parent_code)
            yield Place(
                name=a.name,
                kind=a.kind,
                address=self._area_prefix(a),
                lon=a.lon,
                lat=a.lat,
                grid_code=a.code if a.kind in ("grid", "unit_grid") else None,
                community_name=a.name
                if a.kind == "community"
                else community.name
                if community and a.kind != "street"
                else None,
                scope=(a.code,),
            )

    def _building_places(self) -> Iterator[Place]:
        grid_codes = {a.code for a in self.areas.values() if a.kind == "grid"}
        for b in self.buildings:
            yield Place(
                name=b.address or b.name,
                kind="building",
                address=self._prefix(b.community_code) + (b.address or b.name),
                lon=b.lon,
                lat=b.lat,
                grid_code=b.grid_code if b.grid_code in grid_codes else None,
                community_name=self._community_name(b.community_code),
                scope=(b.grid_code or b.community_code,),
            )

    def _road_places(self) -> Iterator[Place]:
        for r in self.roads:
            mid = r.line.interpolate(0.5, normalized=True)
            first = r.community_codes[0] if r.community_codes else None
            yield Place(
                name=r.name,
                kind="road",
                address=self._prefix(first) + r.name,
                lon=float(mid.x),
                lat=float(mid.y),
                grid_code=None,
                community_name=self._community_name(first),
                scope=r.community_codes,
            )

    def _camera_places(self) -> Iterator[Place]:
        for c in self.cameras:
            yield Place(
                name=f"{c.name} {c.key}",
                kind="camera",
                address=self._prefix(c.community_code) + c.name,
                lon=c.lon,
                lat=c.lat,
                grid_code=c.grid_code,
                community_name=self._community_name(c.community_code),
                scope=(c.grid_code or c.community_code or "",),
            )

    def _community_name(self, code: str | None) -> str | None:
        community = self._area("community", code)
        return community.name if community else None

    def _area(self, kind: str, code: str | None) -> Area | None:
        return self.areas.get((kind, code)) if code else None

    def _prefix(self, community_code: str | None) -> str:
        community = self._area("community", community_code)
        if community is None:
            return ""
        street = self._area("street", community.parent_code)
        return f"{street.name if street else ''}{community.name} "

    def _area_prefix(self, a: Area) -> str:
        if a.kind == "street":
            return a.name
        if a.kind == "community":
            street = self._area("street", a.parent_code)
            return f"{street.name if street else ''}{a.name}"
        return (self._prefix(a.community_code) + a.name).strip()


_CODED = frozenset({"grid", "unit_grid", "community", "street"})


def _joined(texts: list[str]) -> tuple[str, list[int]]:
    """The texts joined by newlines (never typed in a query) and where each one starts."""
    starts, offset = [], 0
    for text in texts:
        starts.append(offset)
        offset += len(text) + 1
    return "\n".join(texts), starts


def _with_text(p: Reverse) -> Reverse:
    """Compose the address text: 街道社区 门牌/道路附近 (网格 名称)."""
    head = f"{p.street.name if p.street else ''}{p.community.name if p.community else ''}"
    if p.building:
        # A building address that already names its road ("幸福路12号") stands alone.
        spot = p.building if not p.road or p.road in p.building else f"{p.road}，{p.building}"
    else:
        spot = p.road or ""
    text = " ".join(x for x in (head, f"{spot}附近" if spot else "") if x)
    if p.grid and p.grid.name:
        text += f" (网格 {p.grid.name})"
    elif p.grid:
        text += f" (网格 {p.grid.code})"
    return Reverse(**{**p.__dict__, "text": text[:ADDRESS_MAX] or None})
