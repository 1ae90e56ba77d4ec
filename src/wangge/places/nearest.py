"""Nearest points and lines within a radius, in metres around one origin (the place index's
spatial part): a spatial hash and numpy, no tree library on the hot path."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry


class Frame:
    """lon/lat ↔ metres around one origin (affine, so lines stay lines)."""

    def __init__(self, lon0: float, lat0: float) -> None:
        self.lon0, self.lat0 = lon0, lat0
        self.kx = 111_320.0 * math.cos(math.radians(lat0))
        self.ky = 110_574.0

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky

    def geom(self, g: BaseGeometry) -> BaseGeometry:
        o, k = np.array([self.lon0, self.lat0]), np.array([self.kx, self.ky])
        return shapely.transform(g, lambda a: (a - o) * k)


class Cells:
    """Item numbers bucketed in square cells of `size` metres (a spatial hash).

    Why not shapely's STRtree on the hot path: its calls release the GIL, and getting it
    back behind busy request threads cost ~10x the lookup inside the demo month. A few dict
    lookups and numpy over a few dozen candidates keep it at tens of microseconds.
    """

    def __init__(self, size: float) -> None:
        self.size = size
        self._cells: dict[tuple[int, int], list[int]] = {}

    def add(self, i: int, x0: float, y0: float, x1: float, y1: float) -> None:
        s = self.size
        for ix in range(math.floor(x0 / s), math.floor(x1 / s) + 1):
            for iy in range(math.floor(y0 / s), math.floor(y1 / s) + 1):
                self._cells.setdefault((ix, iy), []).append(i)

    def around(self, x: float, y: float) -> list[int]:
        """Items in the 3×3 cells around (x, y): all that can lie within `size` of it."""
        ix, iy = math.floor(x / self.size), math.floor(y / self.size)
        out: list[int] = []
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                out.extend(self._cells.get((ix + dx, iy + dy), ()))
        return out


class NearestPoints:
    """The nearest of many points within a radius (metres)."""

    def __init__(self, xy: Sequence[tuple[float, float]], radius: float) -> None:
        self.radius = radius
        self._xy = np.array(xy, dtype=float).reshape(-1, 2)
        self._cells = Cells(radius)
        for i, (x, y) in enumerate(self._xy.tolist()):
            self._cells.add(i, x, y, x, y)

    def nearest(self, x: float, y: float) -> tuple[int, float] | None:
        idx = self._cells.around(x, y)
        if not idx:
            return None
        pts = self._xy[idx]
        d = np.hypot(pts[:, 0] - x, pts[:, 1] - y)
        k = int(np.argmin(d))
        return (idx[k], float(d[k])) if d[k] <= self.radius else None


class NearestLines:
    """The nearest of many (multi)lines within a radius (metres), by their segments."""

    def __init__(self, lines: Sequence[BaseGeometry], radius: float) -> None:
        self.radius = radius
        segs: list[tuple[float, float, float, float]] = []
        owner: list[int] = []
        for k, line in enumerate(lines):
            for part in shapely.get_parts(line):
                xy = shapely.get_coordinates(part)
                for (x0, y0), (x1, y1) in zip(xy[:-1].tolist(), xy[1:].tolist(), strict=True):
                    segs.append((x0, y0, x1, y1))
                    owner.append(k)
        self._segs = np.array(segs, dtype=float).reshape(-1, 4)
        self._owner = owner
        self._cells = Cells(radius)
        for i, (x0, y0, x1, y1) in enumerate(segs):
            self._cells.add(i, min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))

    def nearest(self, x: float, y: float) -> tuple[int, float] | None:
        idx = self._cells.around(x, y)
        if not idx:
            return None
        s = self._segs[idx]
        dx, dy = s[:, 2] - s[:, 0], s[:, 3] - s[:, 1]
        length2 = dx * dx + dy * dy
        t = np.divide(
            (x - s[:, 0]) * dx + (y - s[:, 1]) * dy,
            length2,
            out=np.zeros_like(length2),
            where=length2 > 0,
        ).clip(0.0, 1.0)
        d = np.hypot(s[:, 0] + t * dx - x, s[:, 1] + t * dy - y)
        k = int(np.argmin(d))
        return (self._owner[idx[k]], float(d[k])) if d[k] <= self.radius else None
