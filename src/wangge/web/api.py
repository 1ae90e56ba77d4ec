"""JSON the pages need beyond /api/v1: the map layers, search, the dashboard and public routes."""

from __future__ import annotations

import gzip
import hashlib
import secrets
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

import numpy as np
import orjson
import shapely
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy import func, or_, select

from wangge.api.deps import PrincipalDep, SessionDep, SettingsDep
from wangge.auth.principal import Principal
from wangge.cases.access import visible
from wangge.cases.labels import label
from wangge.cases.models import Case, CaseEvent, CasePart, Category
from wangge.cases.vocabulary import FINAL_VALUES, Action, CaseState, Satisfaction, Source
from wangge.cases.workflow import TRANSITIONS
from wangge.common.geo import from_canonical, from_canonical_xy, parse_crs
from wangge.common.localtime import SHANGHAI
from wangge.common.models import utcnow
from wangge.common.schemas import InputModel
from wangge.divisions.models import Division
from wangge.errors import NotFound, ValidationFailed
from wangge.evaluation.headline import headline
from wangge.evaluation.periods import period_of
from wangge.grids.locating import active_versions
from wangge.grids.models import Grid
from wangge.grids.scope import MIN_MICRO_CODE
from wangge.grids.service import LAYER_OF_KIND, TILING_KINDS, version_grids
from wangge.ops.jobs import running_jobs
from wangge.web.area import page_area

router = APIRouter(prefix="/web/api", include_in_schema=False)

MAP_LIGHTS = frozenset({"red", "yellow", "green", "none"})  # the map's light filter

# Simplified layers are derived data of frozen (active) versions: cache the encoded bytes.
# (division, layer, crs, tolerance, version ids, scope prefixes or None)
_LayerKey = tuple[str, str, str, float | None, tuple[int, ...], tuple[str, ...] | None]
_CACHE: OrderedDict[_LayerKey, bytes] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 64


def _json(body: Any, request: Request, *, cache: str = "private, max-age=60") -> Response:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {"Cache-Control": cache}
    if len(data) > 2048 and "gzip" in request.headers.get("accept-encoding", ""):
        data = gzip.compress(data, compresslevel=5)
        headers["Content-Encoding"] = "gzip"
        headers["Vary"] = "Accept-Encoding"
    return Response(data, media_type="application/json", headers=headers)


def _round(geom: Any, tolerance: float, decimals: int = 6) -> Any:
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
        texts = shapely.to_geojson(_round(arr[ok], tol, decimals))
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
    return _json(hit, request)


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
    children = list(
        session.scalars(
            select(Division).where(Division.parent_code == division).order_by(Division.code)
        )
    )
    shown = [d for d in [me, *children] if principal.covers(d.code)]
    feats = _features(
        [d.geom for d in shown],
        [
            {
                "type": "division",
                "code": d.code,
                "name": d.name,
                "level": d.level,
                "self": d.code == division,
            }
            for d in shown
        ],
        crs,
        tol,
        decimals,
    )
    n_grids = 0
    # A 微网格长's map is his micro grid (一网多层); everyone else's shows the tiling grids.
    micro_post = any(len(p) >= MIN_MICRO_CODE for p in principal.scope_prefixes or ())
    for version in versions:
        kinds = list(TILING_KINDS[version.layer])
        if micro_post and version.layer == "social":
            kinds.append("micro")
        grids = version_grids(
            session,
            version.id,
            prefix=division,
            kinds=kinds,
            principal=principal,
        )
        n_grids += len(grids)
        if len(grids) > MESH_ABOVE:
            feats.append(_mesh([g.geom for g in grids], crs, tol, decimals, len(grids)))
            continue
        feats += _features(
            [g.geom for g in grids],
            [
                {"type": "grid", "id": g.id, "code": g.code, "name": g.name, "kind": g.kind}
                for g in grids
            ],
            crs,
            tol,
            decimals,
        )
    parent = me.parent_code if me.parent_code and principal.covers(me.parent_code) else None
    head = {
        "type": "FeatureCollection",
        "division": {"code": me.code, "name": me.name, "level": me.level, "parent": parent},
        "grid_count": n_grids,
    }
    return orjson.dumps(head)[:-1] + b',"features":[' + b",".join(feats) + b"]}"


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
    from wangge.cases.timing import light as light_of

    lights = set(light or ())
    if lights - MAP_LIGHTS:
        raise ValidationFailed(
            f"亮灯 light 只能是 {'、'.join(sorted(MAP_LIGHTS))}：{sorted(lights - MAP_LIGHTS)}",
            f"light must be one of {', '.join(sorted(MAP_LIGHTS))}: {sorted(lights - MAP_LIGHTS)}",
            code="invalid_choice",
            field="light",
        )
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
    return _json({"type": "FeatureCollection", "features": feats}, request, cache="no-store")


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


@router.get("/search")
def search(
    session: SessionDep,
    principal: PrincipalDep,
    q: Annotated[str, Query(min_length=1)],
    crs: str = "EPSG:4490",
) -> list[dict[str, Any]]:
    """Find divisions, grids and cases by code or name/address (at most 20 hits)."""
    out = _search(session, principal, q)
    if parse_crs(crs).name not in ("EPSG:4490", "EPSG:4326"):
        for h in out:  # the map's base map is in another CRS: move the fly-to targets too
            if h.get("lon") is not None:
                x, y = from_canonical_xy(h["lon"], h["lat"], crs)
                h["lon"], h["lat"] = float(x), float(y)
            if h.get("bounds"):
                b = h["bounds"]
                xs, ys = from_canonical_xy([b[0], b[2]], [b[1], b[3]], crs)
                h["bounds"] = [float(xs[0]), float(ys[0]), float(xs[1]), float(ys[1])]
    return out


def _search(session: SessionDep, principal: Principal, q: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    like = f"%{q.strip()}%"
    if principal.can("grids.read"):
        for d in session.scalars(
            select(Division).where(or_(Division.code.like(like), Division.name.like(like))).limit(8)
        ):
            if principal.covers(d.code):
                out.append(_hit("division", d.code, d.name, d.geom, division=d.code))
        for g in session.scalars(
            select(Grid)
            .where(or_(Grid.code.like(like), Grid.name.like(like)))
            .where(Grid.version_id.in_([v.id for v in active_versions(session)]))
            .limit(8)
        ):
            if principal.contains(g.code, LAYER_OF_KIND[g.kind]):
                out.append(_hit("grid", g.code, g.name, g.geom, division=g.community_code))
    if principal.can("cases.read"):
        for c in session.scalars(
            select(Case)
            .where(visible(principal))
            .where(or_(Case.code.like(like), Case.address.like(like)))
            .order_by(Case.id.desc())
            .limit(8)
        ):
            out.append(
                {
                    "kind": "case",
                    "code": c.code,
                    "name": c.address or c.description[:20],
                    "lon": c.lon,
                    "lat": c.lat,
                    "url": f"/console/cases/{c.id}",
                    "division": c.community_code,
                }
            )
    return out[:20]


def _hit(kind: str, code: str, name: str, geom: Any, division: str) -> dict[str, Any]:
    bounds = list(geom.bounds) if geom is not None else None
    c = geom.representative_point() if geom is not None else None
    return {
        "kind": kind,
        "code": code,
        "name": name,
        "bounds": bounds,
        "lon": c.x if c else None,
        "lat": c.y if c else None,
        "division": division,
    }


# --- dashboard ----------------------------------------------------------------------------


def _today_start(now: datetime) -> datetime:
    local = now.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    return local.astimezone(now.tzinfo)


@router.get("/dashboard")
def dashboard(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> Response:
    """Return the indicators and series of the big screen (scoped to the caller)."""
    principal.require("cases.read")
    now = utcnow()
    since = now - timedelta(days=days)
    mine = select(Case.id).where(visible(principal))
    recent = [Case.id.in_(mine), Case.reported_at >= since]

    def grouped(col: Any, *where: Any, top: int = 12) -> list[tuple[Any, int]]:
        q = (
            select(col, func.count(Case.id))
            .where(*recent, *where)
            .group_by(col)
            .order_by(func.count(Case.id).desc())
            .limit(top)
        )
        return [(k, int(n)) for k, n in session.execute(q).all()]

    today = dict(
        session.execute(
            select(Case.state, func.count(Case.id))
            .where(Case.id.in_(mine), Case.reported_at >= _today_start(now))
            .group_by(Case.state)
        ).all()
    )
    open_by_state = dict(
        session.execute(
            select(Case.state, func.count(Case.id))
            .where(Case.id.in_(mine), Case.state.not_in(FINAL_VALUES))
            .group_by(Case.state)
        ).all()
    )
    overdue = session.scalar(
        select(func.count(Case.id)).where(
            Case.id.in_(mine), Case.state.not_in(FINAL_VALUES), Case.due_at < now
        )
    )
    # The rates are the evaluation's own (one definition: `evaluation.headline`), over the
    # same local days as a custom 考核 period of the last `days` days.
    day = now.astimezone(SHANGHAI).date()
    window = period_of("custom", day - timedelta(days=days - 1), day)
    figures = headline(session, principal, window.start, window.end)
    total = session.scalar(select(func.count(Case.id)).where(*recent)) or 0
    closed = session.scalar(
        select(func.count(Case.id)).where(*recent, Case.state.in_(("closed", "rated")))
    )
    cat_names = dict(session.execute(select(Category.code, Category.name)).all())
    div_names = dict(session.execute(select(Division.code, Division.name)).all())
    from wangge.departments.models import Department

    dept_names = dict(session.execute(select(Department.code, Department.name)).all())
    by_dept = session.execute(
        select(CasePart.department_code, func.count(CasePart.case_id))
        .where(CasePart.case_id.in_(select(Case.id).where(*recent)))
        .group_by(CasePart.department_code)
        .order_by(func.count(CasePart.case_id).desc())
        .limit(12)
    ).all()
    street = func.substr(Case.community_code, 1, 9)
    pts = session.execute(select(Case.lon, Case.lat).where(*recent).limit(20000)).all()
    top = session.execute(
        select(Case.grid_id, Case.category_code, func.count(Case.id))
        .where(*recent, Case.grid_id.is_not(None))
        .group_by(Case.grid_id, Case.category_code)
        .having(func.count(Case.id) > 1)
        .order_by(func.count(Case.id).desc())
        .limit(10)
    ).all()
    # keyed like the nullable Case.grid_id of `top` (NULLs are filtered out there)
    grid_names: dict[int | None, tuple[str, str]] = {
        g.id: (g.code, g.name)
        for g in session.scalars(select(Grid).where(Grid.id.in_([t[0] for t in top])))
    }
    body = {
        "generated_at": now.isoformat(),
        "days": days,
        "total": int(total),
        "today": {
            "total": int(sum(today.values())),
            "by_state": [
                {"state": s, "name": label("state", s), "count": int(n)}
                for s, n in sorted(today.items())
            ],
        },
        "open_by_state": [
            {"state": s, "name": label("state", s), "count": int(n)}
            for s, n in sorted(open_by_state.items(), key=lambda kv: -kv[1])
        ],
        "overdue": int(overdue or 0),
        "closed": int(closed or 0),
        # Rates in %, None when nothing was due ("no data", never 0 or 100).
        "rates": figures["rates"],
        "figures": figures["counts"],
        "period": {"first": str(window.first), "last": str(window.last)},
        "by_category": [
            {"code": k, "name": cat_names.get(k, k), "count": n}
            for k, n in grouped(Case.category_code)
        ],
        "by_source": [
            {"code": k, "name": label("source", k), "count": n} for k, n in grouped(Case.source)
        ],
        "by_area": [
            {"code": k, "name": div_names.get(k, k), "count": n}
            for k, n in grouped(street, Case.community_code.is_not(None))
        ],
        "by_department": [
            {"code": k, "name": dept_names.get(k, k), "count": int(n)} for k, n in by_dept
        ],
        "heat": _bin_points(pts),
        "top_problems": [
            {
                "grid_code": grid_names.get(gid, ("", ""))[0],
                "grid_name": grid_names.get(gid, ("", ""))[1],
                "category": cat_names.get(cat, cat),
                "count": int(n),
            }
            for gid, cat, n in top
        ],
    }
    return _json(body, request, cache="no-store")


def _bin_points(pts: Sequence[Sequence[float]], n: int = 40) -> dict[str, Any]:
    """Bin points into an n×n lon/lat raster (the heat map's cells)."""
    if not pts:
        return {"cells": [], "n": n, "bounds": None}
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    dx = (x1 - x0) / n or 1e-9
    dy = (y1 - y0) / n or 1e-9
    counts: dict[tuple[int, int], int] = {}
    for x, y in zip(xs, ys, strict=True):
        key = (min(int((x - x0) / dx), n - 1), min(int((y - y0) / dy), n - 1))
        counts[key] = counts.get(key, 0) + 1
    return {
        "n": n,
        "bounds": [x0, y0, x1, y1],
        "cells": [[i, j, c] for (i, j), c in sorted(counts.items())],
    }


# --- public (no login): citizen reports, tracking, "my grid worker" -------------------------


class CitizenReport(InputModel):
    """A citizen's report from the public page."""

    category_code: str = Field(min_length=1, max_length=16)
    description: str = Field(min_length=1, max_length=2000)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    # Browser geolocation is WGS84; a native app wrapper with a GCJ-02 map SDK sends "GCJ-02".
    crs: str = Field(default="EPSG:4326", max_length=64)
    address: str | None = Field(default=None, max_length=200)
    photos: list[str] = Field(default_factory=list, max_length=9)


class CitizenAction(InputModel):
    rating: Satisfaction | None = None
    note: str | None = Field(default=None, max_length=2000)


def _citizen(secret: str) -> Principal:
    """The anonymous reporter, identified by the secret half of his tracking code.

    Events and the case carry only a hash of the secret, so staff who read the timeline
    cannot rate or reopen in the citizen's name.
    """
    digest = hashlib.sha256(f"wangge-citizen:{secret}".encode()).hexdigest()[:24]
    return Principal(
        name=f"citizen-web:{digest}",
        permissions=frozenset({"cases.report"}),
        scope_prefixes=frozenset(),
        via="anonymous",
        roles=frozenset({"citizen"}),
    )


def _split(tracking: str) -> tuple[str, str]:
    code, _, secret = tracking.strip().rpartition("-")
    if not code or len(secret) < 8:
        raise NotFound("查询编码不正确", "unknown tracking code", code="bad_tracking_code")
    return code, secret


def _tracked(session: SessionDep, tracking: str) -> tuple[Case, Principal]:
    code, secret = _split(tracking)
    who = _citizen(secret)
    case = session.scalars(select(Case).where(Case.code == code, visible(who))).first()
    if case is None:
        raise NotFound("查询编码不正确", "unknown tracking code", code="bad_tracking_code")
    return case, who


@router.post("/citizen/reports", status_code=201)
def citizen_report(
    body: CitizenReport,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(max_length=64)] = None,
) -> dict[str, Any]:
    """File a citizen's report without an account; return the tracking code.

    A resent report (a double click, a retry after a lost answer) with the same Idempotency-Key
    and body returns the first answer, tracking code included, instead of filing it again.
    """
    if not settings.public_reporting:
        raise NotFound("未开放公众上报", "public reporting is switched off", code="no_public")
    from wangge.api.idempotency import fingerprint, run_once

    def work() -> tuple[int, dict[str, Any]]:
        return 201, _file_citizen_report(session, request, body)

    # Each anonymous report has its own principal (a fresh secret), so the key cannot belong
    # to one: the page's random key with the identical body makes it the same request.
    _status, out, _replayed = run_once(
        session,
        owner="citizen-web",
        key=idempotency_key,
        fingerprint=fingerprint("POST", "/citizen/reports", body.model_dump(mode="json")),
        work=work,
    )
    return dict(out)


def _file_citizen_report(
    session: SessionDep, request: Request, body: CitizenReport
) -> dict[str, Any]:
    from wangge.api.ratelimit import hit
    from wangge.cases.service import CaseIn, create_case
    from wangge.open311.mapping import PUBLIC_KINDS
    from wangge.open311.views import IP_LIMIT_PER_HOUR

    category = session.get(Category, body.category_code)
    if category is not None and category.code.startswith("S04"):
        # 代办 is a request to the grid worker, not a problem report (wangge.resident_services).
        raise ValidationFailed(
            "代办事项请在本页「代办服务」中选择事项申请",
            "services (代办) are requested in the 'Resident services' section of this page",
            code="bad_category",
            field="category_code",
            details={"use": "/web/api/citizen/services"},
        )
    if category is None or category.kind not in PUBLIC_KINDS or not category.is_active:
        raise ValidationFailed(
            "请选择问题类别", "choose a category", code="bad_category", field="category_code"
        )
    ip = request.client.host if request.client else "unknown"
    hit(session, f"ip:{ip}", limit=IP_LIMIT_PER_HOUR, window_s=3600)
    secret = secrets.token_urlsafe(9).replace("-", "x")
    try:
        case = create_case(
            session,
            CaseIn(
                category_code=category.code,
                description=body.description,
                lon=body.lon,
                lat=body.lat,
                crs=body.crs,
                source=Source.ONLINE,
                address=body.address,
                photos=list(body.photos),  # each checked: an anonymous upload not yet used
            ),
            _citizen(secret),
            now=utcnow(),
        )
    except ValidationFailed as exc:
        if exc.code != "outside_grids":
            raise
        raise _outside_service_area(request.app.state.settings.public_hotline) from None
    from wangge.cases.response import promise_view

    return {
        "code": case.code,
        "tracking": f"{case.code}-{secret}",
        "state": case.state,
        "promise": promise_view(case),
    }


def _outside_service_area(hotline: str) -> ValidationFailed:
    """Return the "no grid here" refusal in words a citizen can act on (no county codes)."""
    return ValidationFailed(
        f"这个位置不在本区的服务范围内。请重新定位或修改位置，或拨打 {hotline} 热线反映。",
        f"This place is outside the district's service area. Move the position (or locate "
        f"yourself again), or call the {hotline} hotline.",
        code="outside_service_area",
        field="lon",
        details={"hotline": hotline},
    )


def _public_view(session: SessionDep, case: Case) -> dict[str, Any]:
    from wangge.cases.response import promise_view

    events = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
    ).all()
    return {
        "code": case.code,
        "state": case.state,
        "state_zh": label("state", case.state),
        "category": case.category_code,
        "description": case.description,
        "address": case.address,
        "reported_at": case.reported_at.isoformat(),
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "deadline": case.deadline.isoformat() if case.deadline else None,
        "promise": promise_view(case),  # 承诺 2 小时内答复 / 24 小时内办结 (response rules)
        # what the workflow lets the reporter do next (the transitions table decides)
        "can_rate": (CaseState(case.state), Action.RATE) in TRANSITIONS,
        "can_reopen": (CaseState(case.state), Action.REOPEN) in TRANSITIONS,
        # Staff names stay inside; the public sees what happened and when.
        "timeline": [
            {
                "action": e.action,
                "action_zh": label("action", e.action),
                "at": e.at.isoformat(),
                "state_zh": label("state", e.to_state),
                "photos": [
                    f"{a}/public" for a in (e.attachments or []) if a.startswith("/api/v1/uploads/")
                ]
                if e.action in ("feed_back", "check_pass", "self_handle")
                else [],
            }
            for e in events
        ],
    }


class Tracking(InputModel):
    """The tracking code travels in the body: in a URL it would land in logs and histories."""

    tracking: str = Field(min_length=10, max_length=120)


class TrackingAction(Tracking, CitizenAction):
    pass


@router.post("/citizen/track")
def citizen_track(body: Tracking, session: SessionDep) -> dict[str, Any]:
    """Return the public progress of a report by its tracking code."""
    case, _ = _tracked(session, body.tracking)
    return _public_view(session, case)


@router.post("/citizen/track/{action}")
def citizen_act(action: str, body: TrackingAction, session: SessionDep) -> dict[str, Any]:
    """Rate the result or reopen the report (within the reopening period)."""
    from wangge.cases.service import act

    if action not in ("rate", "reopen"):
        raise NotFound(f"操作 {action} 不存在", f"unknown action {action}")
    case, who = _tracked(session, body.tracking)
    payload: dict[str, Any] = {}
    if action == "rate" and body.rating is not None:
        payload["rating"] = str(body.rating)
    if body.note:
        payload["note"] = body.note
    act(
        session,
        case.id,
        action,
        who,
        expected_version=case.version,
        payload=payload,
        now=utcnow(),
    )
    session.flush()
    session.refresh(case)
    return _public_view(session, case)


@router.get("/public/my-grid")
def my_grid(
    session: SessionDep,
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    crs: str = "EPSG:4326",
) -> dict[str, Any]:
    """Return the grid at a point and its posted grid workers (上岗公示: name, work phone).

    The people assigned to the grid (and its micro grids) today; a grid without any
    assignment falls back to the supervisor/grid-leader posts scoped to it or its community.
    """
    from wangge.grids.locating import locate_point
    from wangge.web.grid_card import posted_workers  # the map's grid card shows the same people

    found = locate_point(session, lon, lat, crs=crs, micro=True)
    grid, micro = found["social"], found["micro"]
    if grid is None:
        return {"grid": None, "workers": []}
    community = session.get(Division, grid.community_code)
    workers, source = posted_workers(session, grid, micro=micro, public=True)
    target = parse_crs(crs)
    geom = from_canonical(grid.geom, target) if grid.geom is not None else None
    return {
        "grid": {
            "code": grid.code,
            "name": grid.name,
            "kind": grid.kind,
            "community": community.name if community else grid.community_code,
            "responsible_party": grid.responsible_party,
            "geometry": orjson.loads(shapely.to_geojson(_round(geom, 0.00001)))
            if geom is not None
            else None,
        },
        "micro_grid": {"code": micro.code, "name": micro.name} if micro is not None else None,
        "workers": workers,
        "source": source,
    }


@router.get("/jobs")
def jobs_in_progress(session: SessionDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """Long work still running (the demo month): the pages show it as a progress note."""
    if principal.via == "anonymous":
        return []
    return [
        {
            "kind": j.kind,
            "state": j.state,
            "done": j.done,
            "total": j.total,
            "title_zh": j.title_zh,
            "title_en": j.title_en,
            "updated_at": j.updated_at.isoformat(),
        }
        for j in running_jobs(session)
    ]
