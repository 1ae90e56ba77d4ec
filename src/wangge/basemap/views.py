"""GET /tiles/{z}/{x}/{y}.png: the local MBTiles basemap, rendered on demand when the file says so.

A file made by `wangge basemap render --lazy` (the demo's) records its county in the metadata
(`wangge_render_county`): a tile it does not hold yet is drawn from the district's data in this
database, stored, and served. Any other file serves what it holds; a missing tile is 404.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import threading
import time
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from wangge.api.deps import SessionDep
from wangge.basemap.mbtiles import FORMATS, MBTiles
from wangge.basemap.render import Scene, render_tile
from wangge.basemap.sources import basemap_kind, mbtiles_path, read_zoom
from wangge.basemap.tiles import tile_bounds, valid_tile

log = logging.getLogger("wangge.basemap")
router = APIRouter(include_in_schema=False)

_NUMBER = re.compile(r"^[0-9]{1,7}$")
_NAME = re.compile(r"^([0-9]{1,7})\.([a-z]{3,4})$")
CACHE = "public, max-age=86400"
SCENE_SECONDS = 600.0  # a lazily rendered tile shows registry changes at most this late

_stores: dict[tuple[Path, bool], MBTiles] = {}
_lock = threading.Lock()
_scene_lock = threading.Lock()


def _store(path: Path, writable: bool) -> MBTiles:
    with _lock:
        store = _stores.get((path, writable))
        if store is None:
            store = _stores[(path, writable)] = MBTiles(path, writable=writable)
        return store


def _not_found() -> Response:
    return Response(status_code=404, headers={"Cache-Control": "public, max-age=300"})


@router.api_route("/tiles/{z}/{x}/{name}", methods=["GET", "HEAD"])
def tile(z: str, x: str, name: str, request: Request, session: SessionDep) -> Response:
    """Return one basemap tile of the local MBTiles file (XYZ numbering, like every source)."""
    settings = request.app.state.settings
    m = _NAME.match(name)
    if basemap_kind(settings) != "mbtiles" or not (_NUMBER.match(z) and _NUMBER.match(x) and m):
        return _not_found()
    zi, xi, yi, ext = int(z), int(x), int(m.group(1)), m.group(2)
    path = mbtiles_path(settings)
    if not valid_tile(zi, xi, yi) or not path.is_file():
        return _not_found()
    try:
        meta = _store(path, False).metadata()
        fmt = meta.get("format", "png").lower()
        if FORMATS.get(ext) != FORMATS.get(fmt) or FORMATS.get(fmt) is None:
            return _not_found()
        data = _store(path, False).get(zi, xi, yi)
        if data is None:
            data = _render_missing(request, session, path, meta, (zi, xi, yi), fmt)
    except sqlite3.Error as exc:  # a damaged or locked file: say so in the log, not a 500 page
        log.warning("basemap tile %s/%s/%s unreadable: %s", zi, xi, yi, exc)
        return Response(status_code=503, headers={"Retry-After": "5"})
    if data is None:
        return _not_found()
    etag = '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'
    headers = {"Cache-Control": CACHE, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=FORMATS[fmt], headers=headers)


def _render_missing(
    request: Request,
    session: Session,
    path: Path,
    meta: dict[str, str],
    zxy: tuple[int, int, int],
    fmt: str,
) -> bytes | None:
    """Draw a tile the lazy file does not hold yet (None: not a lazy file, or outside it)."""
    z, x, y = zxy
    county = meta.get("wangge_render_county")
    if not county or z > read_zoom(meta.get("wangge_render_maxzoom"), 18):
        return None
    scene = _scene(request, session, county, meta.get("wangge_grid_roads") == "1")
    bounds = scene.bounds
    if bounds is None:
        return None
    west, south, east, north = tile_bounds(z, x, y)
    pad_x, pad_y = (bounds[2] - bounds[0]) * 0.25, (bounds[3] - bounds[1]) * 0.25
    if east < bounds[0] - pad_x or west > bounds[2] + pad_x:
        return None
    if north < bounds[1] - pad_y or south > bounds[3] + pad_y:
        return None
    data = render_tile(scene, z, x, y, fmt=fmt)
    try:
        _store(path, True).put(z, x, y, data)
    except sqlite3.Error as exc:  # read-only file or disk full: serve it all the same
        log.warning("basemap tile %s/%s/%s not stored: %s", z, x, y, exc)
    return data


def _scene(request: Request, session: Session, county: str, grid_roads: bool) -> Scene:
    """Return the county's scene, loaded once per process (reloaded after SCENE_SECONDS)."""
    from wangge.basemap.scene import load_scene

    key = (county, grid_roads)
    with _scene_lock:
        # Per app (tests build many apps in one process, each on its own database).
        scenes: dict[tuple[str, bool], tuple[float, Scene]] | None
        scenes = getattr(request.app.state, "basemap_scenes", None)
        if scenes is None:
            scenes = request.app.state.basemap_scenes = {}
        hit = scenes.get(key)
        if hit is not None and time.monotonic() - hit[0] < SCENE_SECONDS:
            return hit[1]
        # Loading under the lock: the first tiles of a page arrive together, one load serves all.
        scene = load_scene(session, county, grid_roads=grid_roads)
        scenes[key] = (time.monotonic(), scene)
        return scene
