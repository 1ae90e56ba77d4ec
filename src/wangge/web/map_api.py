"""The console map's base layers: division outlines and grids, case points, a case's grid.

The 部件/房屋 points, pipelines, cameras and the grid card have their own modules
(`api_map_points`, `api_map_lines`, `map_cameras`, `grid_card`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

import numpy as np
import orjson
import shapely
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.auth.principal import Principal
from wangge.cases.access import visible
from wangge.cases.labels import label
from wangge.cases.models import Case
from wangge.cases.timing import light as light_of
from wangge.cases.vocabulary import FINAL_VALUES
from wangge.common.geo import from_canonical, from_canonical_xy, parse_crs
from wangge.common.models import utcnow
from wangge.divisions.models import Division
from wangge.errors import NotFound, ValidationFailed
from wangge.grids.locating import active_versions
from wangge.grids.models import Grid
from wangge.grids.scope import MIN_MICRO_CODE
from wangge.grids.service import TILING_KINDS, version_grids
from wangge.web.api_response import json_response
from wangge.web.area import page_area

router = APIRouter(prefix="/web/api", include_in_schema=False)

MAP_LIGHTS = frozenset({"red", "yellow", "green", "none"})  # the map's light filter

# Simplified layers are derived data of frozen (active) versions: cache the encoded bytes.
# (division, layer, crs, tolerance, version ids, scope prefixes or None)
_LayerKey = tuple[str, str, str, float | None, tuple[int, ...], tuple[str, ...] | None]
_CACHE: OrderedDict[_LayerKey, bytes] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 64


def rounded(geom: Any, tolerance: float, decimals: int = 6) -> Any:
    """Simplify (topology kept per polygon) and round coordinates; vectorised over arrays."""
    if tolerance > 0:
        geom = shapely.simplify(geom, tolerance, preserve_topology=True)
    return shapely.transform(geom, lambda xy: np.round(xy, decimals))


def _geometries(geoms: list[Any], crs: str, tol: float, decimals: int) -> list[str | None]:
    """Return each geometry as a GeoJSON string in the target CRS (None stays None)."""
    target = parse_crs(crs)
    if target.name not in ("EPSG:4490", "EPSG:4326"):
        geoms = [from_canonical(g, target) if g is not None else None for g in geoms]
    arr = np.array(geoms, dtype=object)
    ok = np.array([g is not None for g in geoms], dtype=bool)
    out: list[str | None] = [None] * len(geoms)
    if ok.any():
        texts = shapely.to_geojson(rounded(arr[ok], tol, decimals))
        for i, t in zip(np.flatnonzero(ok), texts, strict=True):
            out[int(i)] = str(t)
    return out


def _features(
    geoms: list[Any], props: list[dict[str, Any]], crs: str, tol: float, decimals: int = 6
) -> list[bytes]:
    """Encode features as JSON fragments (geometry text from GEOS, never parsed again)."""
    out = []
    for g, p in zip(_geometries(geoms, crs, tol, decimals), props, strict=True):
        if g is not None:
            out.append(
                b'{"type":"Feature","properties":'
                + orjson.dumps(p)
                + b',"geometry":'
                + g.encode()
                + b"}"
            )
    return out


def _mesh(geoms: list[Any], crs: str, tol: float, decimals: int, count: int) -> bytes:
    """All grids as one MultiPolygon feature: one map layer instead of thousands."""
    parts = []
    for g in _geometries(geoms, crs, tol, decimals):
        if g is None:
            continue
        coords = g[g.index('"coordinates":') + 14 : g.rindex("}")]
        if g.startswith('{"type":"Polygon"'):
            parts.append(coords)
        else:  # MultiPolygon: drop the outer brackets
            parts.append(coords.strip()[1:-1])
    geometry = '{"type":"MultiPolygon","coordinates":[' + ",".join(parts) + "]}"
    props = orjson.dumps({"type": "grid-mesh", "count": count})
    return b'{"type":"Feature","properties":' + props + b',"geometry":' + geometry.encode() + b"}"


# Levels: county (6 digits), street (9), community (12). Coarser levels draw more grids on
# fewer pixels, so they take a coarser tolerance (≈ 8 m, 3 m, 1 m) and fewer decimals.
LEVEL_TOLERANCE = {6: (0.00008, 5), 9: (0.00003, 6), 12: (0.00001, 6)}
# Above this many grids the layer comes as one non-interactive mesh; drilling down to a
# street or community gives clickable grids again.
MESH_ABOVE = 2000


@router.get("/map/layer")
def map_layer(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    division: str,
    layer: Annotated[str, Query(pattern="^(social|unit|none)$")] = "social",
    crs: str = "EPSG:4490",
    tolerance: Annotated[float | None, Query(ge=0, le=0.01)] = None,
) -> Response:
    """Return one division's child divisions and its active grids, simplified, as GeoJSON."""
    principal.require("grids.read")
    principal = page_area(session, principal)  # a department handler: his departments' counties
    if not principal.covers(division):
        raise NotFound(f"区划 {division} 不存在", f"division {division} does not exist")
    versions = [v for v in active_versions(session, [division[:6]]) if v.layer == layer]
    scope = None if principal.scope_prefixes is None else tuple(sorted(principal.scope_prefixes))
    key: _LayerKey = (division, layer, crs, tolerance, tuple(v.id for v in versions), scope)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
    if hit is None:
        hit = _build_layer(session, principal, division, versions, crs, tolerance)
        with _CACHE_LOCK:
            _CACHE[key] = hit
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    return json_response(hit, request)


def _build_layer(
    session: SessionDep,
    principal: Principal,
    division: str,
    versions: list[Any],
    crs: str,
    tolerance: float | None,
) -> bytes:
    me = session.get(Division, division)
    if me is None:
        raise NotFound(f"区划 {division} 不存在", f"division {division} does not exist")
    default_tol, decimals = LEVEL_TOLERANCE.get(len(division), (0.00001, 6))
    tol = default_tol if tolerance is None else tolerance
    feats = _division_features(session, principal, me, crs, tol, decimals)
    n_grids = 0
    for version in versions:
        n_grids += _add_grid_features(feats, session, principal, me, version, crs, tol, decimals)
    parent = me.parent_code if me.parent_code and principal.covers(me.parent_code) else None
    head = {
        "type": "FeatureCollection",
        "division": {"code": me.code, "name": me.name, "level": me.level, "parent": parent},
        "grid_count": n_grids,
    }
    return orjson.dumps(head)[:-1] + b',"features":[' + b",".join(feats) + b"]}"


def _division_features(
    session: SessionDep, principal: Principal, me: Division, crs: str, tol: float, decimals: int
) -> list[bytes]:
    """The division itself and its children that the caller covers."""
    children = list(
        session.scalars(
            select(Division).where(Division.parent_code == me.code).order_by(Division.code)
        )
    )
    shown = [d for d in [me, *children] if principal.covers(d.code)]
    props = [
        {
            "type": "division",
            "code": d.code,
            "name": d.name,
            "level": d.level,
            "self": d.code == me.code,
        }
        for d in shown
    ]
    return _features([d.geom for d in shown], props, crs, tol, decimals)


def _add_grid_features(
    feats: list[bytes],
    session: SessionDep,
    principal: Principal,
    me: Division,
    version: Any,
    crs: str,
    tol: float,
    decimals: int,
) -> int:
    """Append one version's grids in the division (one mesh when many); return their count."""
    kinds = list(TILING_KINDS[version.layer])
    # A 微网格长's map is his micro grid (一网多层); everyone else's shows the tiling grids.
    micro_post = any(len(p) >= MIN_MICRO_CODE for p in principal.scope_prefixes or ())
    if micro_post and version.layer == "social":
        kinds.append("micro")
    grids = version_grids(session, version.id, prefix=me.code, kinds=kinds, principal=principal)
    if len(grids) > MESH_ABOVE:
        feats.append(_mesh([g.geom for g in grids], crs, tol, decimals, len(grids)))
        return len(grids)
    props = [
        {"type": "grid", "id": g.id, "code": g.code, "name": g.name, "kind": g.kind} for g in grids
    ]
    feats += _features([g.geom for g in grids], props, crs, tol, decimals)
    return len(grids)


@router.get("/map/cases")
def map_cases(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    division: str | None = None,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    crs: str = "EPSG:4490",
    limit: Annotated[int, Query(ge=1, le=20000)] = 5000,
    status: Annotated[str, Query(pattern="^(open|closed|all)$")] = "all",
    light: Annotated[list[str] | None, Query(description="red | yellow | green | none")] = None,
) -> Response:
    """Return recent cases as points with their state and deadline light.

    `status` keeps open or closed cases; `light` (repeatable) keeps the open cases of those
    lights (`none`: no running clock). The map sends both from its filters.
    """
    principal.require("cases.read")
    lights = _map_lights(light)
    now = utcnow()
    q = select(Case).where(visible(principal), Case.reported_at >= now - timedelta(days=days))
    if division:
        q = q.where(Case.community_code.startswith(division[:12]))
    if status == "open" or lights:
        q = q.where(Case.state.not_in(FINAL_VALUES))
    elif status == "closed":
        q = q.where(Case.state.in_(FINAL_VALUES))
    rows = session.scalars(q.order_by(Case.id.desc()).limit(limit)).all()
    if lights:  # the light needs each case's working-day clock: measured here, not in SQL
        rows = [c for c in rows if (getattr(light_of(c, now), "value", None) or "none") in lights]
    return json_response(
        {"type": "FeatureCollection", "features": _case_points(rows, crs, now)},
        request,
        cache="no-store",
    )


def _map_lights(light: list[str] | None) -> set[str]:
    """The lights asked for, each one of `MAP_LIGHTS`."""
    lights = set(light or ())
    if lights - MAP_LIGHTS:
        raise ValidationFailed(
            f"亮灯 light 只能是 {'、'.join(sorted(MAP_LIGHTS))}：{sorted(lights - MAP_LIGHTS)}",
            f"light must be one of {', '.join(sorted(MAP_LIGHTS))}: {sorted(lights - MAP_LIGHTS)}",
            code="invalid_choice",
            field="light",
        )
    return lights


def _case_points(rows: Sequence[Case], crs: str, now: datetime) -> list[dict[str, Any]]:
    """The cases as GeoJSON points in `crs`, with their state and light."""
    lon = [c.lon for c in rows]
    lat = [c.lat for c in rows]
    if rows and parse_crs(crs).name not in ("EPSG:4490", "EPSG:4326"):
        lon, lat = from_canonical_xy(lon, lat, crs)
    feats = []
    for i, c in enumerate(rows):
        lamp = light_of(c, now)
        feats.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [float(lon[i]), float(lat[i])]},
                "properties": {
                    "id": c.id,
                    "code": c.code,
                    "state": c.state,
                    "state_zh": label("state", c.state),
                    "light": "closed"
                    if c.state in FINAL_VALUES
                    else (lamp.value if lamp else None),
                    "category": c.category_code,
                    "address": c.address,
                },
            }
        )
    return feats


@router.get("/cases/{case_id}/grid")
def case_grid(
    case_id: int, session: SessionDep, principal: PrincipalDep, crs: str = "EPSG:4490"
) -> dict[str, Any]:
    """Return the outline of a case's grid (social, else unit) to whoever may see the case.

    A department handler has no area of his own, so `/api/v1/grids/{id}` does not show him
    the grid; the case he works on does.
    """
    from wangge.cases.access import get_visible
    from wangge.common.geojson import feature

    case = get_visible(session, case_id, principal)
    grid_id = case.grid_id if case.grid_id is not None else case.unit_grid_id
    grid = session.get(Grid, grid_id) if grid_id is not None else None
    if grid is None:
        raise NotFound(f"案卷 {case_id} 不在任何网格内", f"case {case_id} lies in no grid")
    props = {"id": grid.id, "code": grid.code, "name": grid.name, "kind": grid.kind}
    return feature(grid.geom, props, parse_crs(crs))
