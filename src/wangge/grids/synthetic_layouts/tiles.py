"""Layouts side by side (``tiled``, ``large``) and ``FAMILIES``, every family by name (the
tiles pick their families from it)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TypeVar, cast

import numpy as np
import shapely
from shapely import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from wangge.grids.synthetic_layouts.layout import Layout
from wangge.grids.synthetic_layouts.old_towns import old_town
from wangge.grids.synthetic_layouts.suburbs import suburb
from wangge.grids.synthetic_layouts.towns import county_town, grid_town
from wangge.grids.synthetic_layouts.villages import rural

_G = TypeVar("_G", bound=BaseGeometry)


def _translated(layout: Layout, dx: float, dy: float, prefix: str) -> Layout:
    """The layout moved by (dx, dy), with its community and building keys prefixed."""

    def move(g: _G) -> _G:
        return shapely.transform(g, lambda xy: xy + np.array([dx, dy]))

    def moved(gs: Sequence[_G]) -> list[_G]:
        if not len(gs):
            return []
        arr = np.array(list(gs), dtype=object)
        return list(shapely.transform(arr, lambda xy: xy + np.array([dx, dy])))

    inputs = []
    for inp in layout.inputs:
        geoms = moved([b.geom for b in inp.buildings])
        inputs.append(
            dataclasses.replace(
                inp,
                community_key=prefix + inp.community_key,
                boundary=move(inp.boundary),
                buildings=[
                    dataclasses.replace(b, key=prefix + b.key, geom=g)
                    for b, g in zip(inp.buildings, geoms, strict=True)
                ],
                lines=moved(inp.lines),
                exclusive_sites=moved(inp.exclusive_sites),
                barriers=moved(inp.barriers),
                lanes=moved(inp.lanes),
            )
        )
    return Layout(
        layout.name,
        inputs,
        move(layout.boundary),
        moved(layout.lines),
        moved(layout.barriers),
        moved(layout.lanes),
        moved(layout.sites),
        list(layout.barrier_kinds),
    )


def tiled(
    seed: int = 0,
    target: float = 300,
    *,
    n: int = 3,
    families: Sequence[str] = ("grid_town", "old_town"),
    households: int | None = None,
    gap: float = 400.0,
    name: str | None = None,
) -> Layout:
    """n×n layouts side by side (families in turn, each with its own seed), keys prefixed by
    the tile (``T01-``…); ``households`` is passed to every tile when given."""
    tiles = []
    for i in range(n):
        for j in range(n):
            fam = FAMILIES[families[(i * n + j) % len(families)]]
            size = {} if households is None else {"households": households}
            tiles.append(fam(seed * 100 + i * n + j, target, **size))
    cell = (
        max(
            max(
                t.boundary.bounds[2] - t.boundary.bounds[0],
                t.boundary.bounds[3] - t.boundary.bounds[1],
            )
            for t in tiles
        )
        + gap
    )
    moved = []
    for t, tile in enumerate(tiles):
        x0, y0, x1, y1 = tile.boundary.bounds
        i, j = divmod(t, n)
        moved.append(
            _translated(tile, i * cell - (x0 + x1) / 2, j * cell - (y0 + y1) / 2, f"T{i}{j}-")
        )
    return Layout(
        name or f"tiled {n}×{n} ({', '.join(families)})",
        [inp for t in moved for inp in t.inputs],
        # The union of polygonal tiles is polygonal.
        cast(Polygon | MultiPolygon, shapely.union_all([t.boundary for t in moved])),
        [x for t in moved for x in t.lines],
        [x for t in moved for x in t.barriers],
        [x for t in moved for x in t.lanes],
        [x for t in moved for x in t.sites],
        [x for t in moved for x in t.barrier_kinds],
    )


def large(seed: int = 0, target: float = 300) -> Layout:
    """About 27,000 buildings: 3×3 tiles, five grid towns and four old towns."""
    return tiled(
        seed,
        target,
        n=3,
        families=("grid_town", "old_town"),
        households=14000,
        name="large: 3×3 tiles of grid_town and old_town",
    )


FAMILIES: dict[str, Callable[..., Layout]] = {
    "grid_town": grid_town,
    "county_town": county_town,
    "old_town": old_town,
    "suburb": suburb,
    "rural": rural,
    "tiled": tiled,
    "large": large,
}
