"""Write the district's own basemap into an MBTiles file: all tiles of some zooms, or a lazy file.

A lazy file holds its metadata (and perhaps the low zooms); the server draws every other tile
the first time it is asked for and keeps it in the file (`basemap.views`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wangge.basemap.mbtiles import MBTiles
from wangge.basemap.render import Scene, render_tile
from wangge.basemap.tiles import tiles_covering

ATTRIBUTION = "© 本区基础数据 / district data (wangge)"
BATCH = 64  # tiles per transaction


@dataclass(frozen=True)
class Rendered:
    """What a render wrote."""

    tiles: int
    skipped: int
    seconds: float
    bytes: int


def describe(
    store: MBTiles,
    scene: Scene,
    *,
    county: str,
    name: str,
    zooms: range,
    lazy_max_zoom: int | None,
    grid_roads: bool,
) -> None:
    """Write the MBTiles metadata (bounds, zooms, format) and, when lazy, how to draw the rest."""
    bounds = scene.bounds or (73.0, 3.0, 136.0, 54.0)
    west, south, east, north = bounds
    meta = {
        "name": name,
        "format": "png",
        "type": "baselayer",
        "version": "1",
        "description": f"{name}：道路、水系、绿地与楼栋 / roads, water, parks and buildings",
        "attribution": ATTRIBUTION,
        "bounds": f"{west:.6f},{south:.6f},{east:.6f},{north:.6f}",
        "center": f"{(west + east) / 2:.6f},{(south + north) / 2:.6f},{zooms.start + 2}",
        "minzoom": str(zooms.start),
        "maxzoom": str(lazy_max_zoom if lazy_max_zoom is not None else zooms.stop - 1),
        "wangge_grid_roads": "1" if grid_roads else "0",
    }
    if lazy_max_zoom is not None:
        meta["wangge_render_county"] = county
        meta["wangge_render_maxzoom"] = str(lazy_max_zoom)
    store.set_metadata(meta)


def render_zooms(
    store: MBTiles,
    scene: Scene,
    zooms: range,
    *,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Rendered:
    """Render every tile of the scene's box at these zooms (kept ones unless `force`)."""
    started = time.monotonic()
    bounds = scene.bounds
    done = skipped = size = 0
    batch: list[tuple[int, int, int, bytes]] = []
    if bounds is not None:
        for z in zooms:
            for _, x, y in tiles_covering(bounds, z):
                if not force and store.has(z, x, y):
                    skipped += 1
                else:
                    data = render_tile(scene, z, x, y)
                    batch.append((z, x, y, data))
                    size += len(data)
                    done += 1
                    if len(batch) >= BATCH:
                        store.put_many(batch)
                        batch = []
                if progress:
                    progress(1)
    if batch:
        store.put_many(batch)
    return Rendered(done, skipped, time.monotonic() - started, size)


def ensure_lazy_basemap(
    scene: Scene,
    path: Path,
    *,
    county: str,
    name: str,
    up_front: range,
    max_zoom: int,
    grid_roads: bool,
) -> Rendered | None:
    """Make a lazy basemap file with the low zooms rendered, unless the file exists (None)."""
    if path.exists():
        return None
    done, _held = render_file(
        scene, path, county=county, name=name, zooms=up_front, lazy_max_zoom=max_zoom,
        grid_roads=grid_roads,
    )  # fmt: skip
    return done


def render_file(
    scene: Scene,
    path: Path,
    *,
    county: str,
    name: str,
    zooms: range,
    lazy_max_zoom: int | None,
    grid_roads: bool,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
) -> tuple[Rendered, int]:
    """Describe the MBTiles file and render the zooms into it; return the render and the
    number of tiles the file holds after it."""
    store = MBTiles(path, writable=True)
    try:
        describe(
            store, scene, county=county, name=name, zooms=zooms, lazy_max_zoom=lazy_max_zoom,
            grid_roads=grid_roads,
        )  # fmt: skip
        done = render_zooms(store, scene, zooms, force=force, progress=progress)
        return done, store.count()
    finally:
        store.close()
