"""Components and buildings on the map: clusters per zoom cell, or the points themselves.

The area scope is the registry's own (`access.visible`: the community prefixes, or the
grids of a grid-level post), applied to the snapshot in numpy with the same rules; points
are then read from the database by id with `visible` again, so a detail never leaves the
caller's area even if the snapshot lagged behind a move.

A view needs the counties of the caller's scope whose extent it meets (`map_summary`); each
comes from its own snapshot, loaded on first need within the memory budget. A view of
several counties at zoom 7–12 (a city, a province) loads none: it is clustered from the
counties' summaries and the snapshots already held, so a worker never loads the province.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.auth.scope import scope_clause
from wangge.common.clustering import Clusters, cluster
from wangge.grids.models import Grid
from wangge.grids.scope import micro_grid_ids
from wangge.registry.access import visible
from wangge.registry.catalogue import (
    _EXTENSION_NAMES,
    DEFAULT_SCHEME,
    EXTENSION_MAJOR,
    load_catalogue,
)
from wangge.registry.components import catalogue_for
from wangge.registry.map_snapshot import (
    KINDS,
    Kind,
    Snapshot,
    budget,
    cached_counties,
    snapshot,
)
from wangge.registry.map_summary import (
    SHIFT,
    SUMMARY_ZOOM,
    Summary,
    counties_in_view,
    inner_cells,
    summaries,
    summary_columns,
)

CELL_PX = 64
# From this zoom on (about 1:8,000, a few streets on screen) the points themselves are shown
# when there are at most `limit` of them; below it only a handful (FEW) are shown as points.
POINTS_ZOOM = 16
FEW = 200
NO_PURPOSE = "未填"
POINT_COLUMNS = {
    "components": ("id", "lon", "lat", "code", "name", "class_code", "state", "grid_id",
                   "unit_grid_id", "county_code", "scheme"),
    "buildings": ("id", "lon", "lat", "name", "address", "purpose", "floors", "grid_id",
                  "unit_grid_id"),
}  # fmt: skip


@dataclass(frozen=True)
class View:
    """What the map shows: a canonical lon/lat bbox, an integer zoom, optional class prefixes."""

    bbox: tuple[float, float, float, float]
    zoom: int
    classes: tuple[str, ...] = ()
    limit: int = 2000


def _scope_mask(
    session: Session, snap: Snapshot, idx: np.ndarray, who: Principal, model: Any = None
) -> np.ndarray | None:
    """Mirror `access.visible`: community prefixes, or (grid-level posts) the grids in scope."""
    prefixes = who.scope_prefixes
    if prefixes is None:
        return None  # the whole territory
    table = np.array(
        [c is not None and any(c.startswith(p) for p in prefixes) for c in snap.communities.values]
        + [False],
        dtype=bool,
    )
    ok: np.ndarray = table[snap.comm[idx]]
    if any(len(p) > 12 for p in prefixes):
        ids = session.scalars(select(Grid.id).where(scope_clause(Grid.code, who))).all()
        ok |= np.isin(snap.grid[idx], np.array(ids, dtype=np.int64))
        ok |= _micro_rows(session, snap, idx, prefixes, model)
    return ok


def _micro_rows(
    session: Session, snap: Snapshot, idx: np.ndarray, prefixes: frozenset[str], model: Any
) -> np.ndarray:
    """Rows of the micro grids in scope (微网格长): by id, as the snapshot has no micro column."""
    micro = [q for q in (micro_grid_ids(p) for p in prefixes if len(p) > 12) if q is not None]
    if not micro or not hasattr(model, "micro_grid_id"):
        return np.zeros(len(idx), dtype=bool)
    rows = session.scalars(
        select(model.id).where(or_(*(model.micro_grid_id.in_(q) for q in micro)))
    ).all()
    return np.isin(snap.ids[idx], np.array(rows, dtype=np.int64))


def _class_mask(snap: Snapshot, idx: np.ndarray, classes: tuple[str, ...]) -> np.ndarray | None:
    if not classes:
        return None
    table = np.array(
        [c is not None and c.startswith(classes) for c in snap.categories.values] + [False],
        dtype=bool,
    )
    mask: np.ndarray = table[snap.cat[idx]]
    return mask


@cache
def _major_names() -> dict[str, str]:
    """Major class names of both schemes (the default wins) and of the local classes (21)."""
    names = {m.code: m.name for m in load_catalogue("GB/T 47678.5").majors}
    names |= {m.code: m.name for m in load_catalogue().majors}
    names.setdefault(EXTENSION_MAJOR, _EXTENSION_NAMES[(DEFAULT_SCHEME, "component")])
    return names


def _groups(
    kind: Kind, vocabularies: list[list[str | None]]
) -> tuple[list[np.ndarray], list[dict[str, str]]]:
    """Map each county's categories to legend groups: the major class or the purpose."""
    if kind.name == "components":
        names = _major_names()
        keys = [[(c or "")[:2] for c in values] for values in vocabularies]
    else:
        names = {}
        keys = [[c or NO_PURPOSE for c in values] for values in vocabularies]
    order = sorted({k for each in keys for k in each})
    index = {k: i for i, k in enumerate(order)}
    tables = [np.array([index[k] for k in each] + [0], dtype=np.int64) for each in keys]
    return tables, [{"code": k, "name": names.get(k, k)} for k in order]


Part = tuple[Snapshot, np.ndarray]  # a county's snapshot and its rows in the view


def _rows_in_view(
    session: Session, principal: Principal, kind: Kind, snap: Snapshot, view: View
) -> np.ndarray:
    """Return the positions of a county's rows in the view, scope and classes."""
    x0, y0, x1, y1 = view.bbox
    e = snap.extent
    if x0 <= e[0] and y0 <= e[1] and e[2] <= x1 and e[3] <= y1:
        idx = np.arange(len(snap))  # the whole county in view: skip the comparisons
    else:
        inside = (snap.lon >= x0) & (snap.lon <= x1) & (snap.lat >= y0) & (snap.lat <= y1)
        idx = np.flatnonzero(inside)
    # None = keep all (no copy of a 1.4-million index for the usual unscoped, unfiltered view).
    mask = _scope_mask(session, snap, idx, principal, kind.model)
    if mask is not None:
        idx = idx[mask]
    mask = _class_mask(snap, idx, view.classes)
    return idx if mask is None else idx[mask]


def _may_summarize(principal: Principal, view: View, counties: list[str]) -> bool:
    """Whether summaries may stand for the points: coarse zoom, whole counties in scope."""
    prefixes = principal.scope_prefixes
    whole = prefixes is None or all(len(p) <= 6 for p in prefixes)
    return bool(budget()) and whole and view.zoom <= SUMMARY_ZOOM and len(counties) > 1


def select_in_view(
    session: Session, principal: Principal, kind: Kind, view: View, counties: list[str]
) -> list[Part]:
    """Return each county's snapshot and its rows in the view (counties loaded as needed)."""
    parts = []
    for county in counties:
        snap = snapshot(session, kind, county)
        parts.append((snap, _rows_in_view(session, principal, kind, snap, view)))
    return parts


def map_layer(session: Session, principal: Principal, kind_name: str, view: View) -> dict[str, Any]:
    """Return the clusters of a kind in a view, or its points when few enough are in it."""
    kind = KINDS[kind_name]
    principal.require("registry.read")
    counties = counties_in_view(session, principal, view.bbox)
    if _may_summarize(principal, view, counties):
        return _wide_layer(session, principal, kind, view, counties)
    parts = select_in_view(session, principal, kind, view, counties)
    n = sum(len(idx) for _, idx in parts)
    tables, groups = _groups(kind, [snap.categories.values for snap, _ in parts])
    if n <= view.limit and (view.zoom >= POINTS_ZOOM or n <= FEW):
        ids = [snap.ids[idx] for snap, idx in parts]
        found = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
        points = _points(session, principal, kind, found)
        return _body(kind, view, n, groups, points=points)
    cols = [_columns(snap, idx, table) for (snap, idx), table in zip(parts, tables, strict=True)]
    px, py, lon, lat, group = (
        cols[0] if len(cols) == 1 else [np.concatenate(c) for c in zip(*cols, strict=True)]
    )
    binned = cluster(px, py, lon, lat, group, zoom=view.zoom, cell_px=CELL_PX, n_groups=len(groups))
    return _body(kind, view, n, groups, clusters=_clusters(binned))


def _columns(snap: Snapshot, idx: np.ndarray, table: np.ndarray) -> list[np.ndarray]:
    # The whole county in view (the usual first screen): no copies of the columns.
    take: Callable[[np.ndarray], np.ndarray] = (
        (lambda a: a) if len(idx) == len(snap) else (lambda a: a[idx])
    )
    return [take(snap.px), take(snap.py), take(snap.lon), take(snap.lat), table[take(snap.cat)]]


Columns = dict[str, np.ndarray]  # cluster() columns of one county: px, py, lon, lat, cat, weight


def _wide_layer(
    session: Session, principal: Principal, kind: Kind, view: View, counties: list[str]
) -> dict[str, Any]:
    """Cluster a view of several counties without loading any of them.

    A county wholly in view comes from its summary (exact); one cut by the view's edge, when
    held, from its summary's cells wholly in view and its points in the other cells (exact),
    else from its summary (cells by their mean position).
    """
    held = cached_counties(str(session.get_bind().engine.url), kind)
    found = summaries(session, kind, counties)
    parts = []
    for county in counties:
        if county in held and not _whole(found[county].box, view.bbox):
            parts += _edge_columns(session, principal, kind, view, county, found[county])
        else:
            parts.append(_summary_columns(found[county], view))
    tables, groups = _groups(kind, [values for _, values in parts])
    cols = [c | {"group": table[c["cat"]]} for (c, _), table in zip(parts, tables, strict=True)]
    merged = {k: np.concatenate([c[k] for c in cols]) for k in cols[0]}
    if not len(merged["px"]):
        return _body(kind, view, 0, groups, clusters=[])
    clusters = cluster(
        merged["px"], merged["py"], merged["lon"], merged["lat"], merged["group"],
        zoom=view.zoom, cell_px=CELL_PX, n_groups=len(groups), weight=merged["weight"],
    )  # fmt: skip
    return _body(kind, view, int(merged["weight"].sum()), groups, clusters=_clusters(clusters))


def _whole(box: tuple[float, float, float, float], bbox: tuple[float, ...]) -> bool:
    return bbox[0] <= box[0] and bbox[1] <= box[1] and box[2] <= bbox[2] and box[3] <= bbox[3]


def _edge_columns(
    session: Session, principal: Principal, kind: Kind, view: View, county: str, found: Summary
) -> list[tuple[Columns, list[str | None]]]:
    """A held county cut by the view's edge: summary cells wholly in view, points in the rest."""
    snap = snapshot(session, kind, county)
    idx = _rows_in_view(session, principal, kind, snap, view)
    cx0, cx1, cy0, cy1 = inner_cells(view.bbox)
    cx, cy = snap.px[idx] >> SHIFT, snap.py[idx] >> SHIFT
    idx = idx[~((cx >= cx0) & (cx <= cx1) & (cy >= cy0) & (cy <= cy1))]
    cols = {"px": snap.px[idx], "py": snap.py[idx], "lon": snap.lon[idx], "lat": snap.lat[idx]}
    cols |= {"cat": snap.cat[idx], "weight": np.ones(len(idx), dtype=np.int32)}
    inner = (found.cx >= cx0) & (found.cx <= cx1) & (found.cy >= cy0) & (found.cy <= cy1)
    inner &= _prefix_table(found.categories, view.classes)[found.cat]
    cells = {
        "px": found.cx[inner].astype(np.int64) << SHIFT, "py": found.cy[inner].astype(np.int64) << SHIFT,
        "lon": found.lon[inner], "lat": found.lat[inner], "cat": found.cat[inner],
        "weight": found.count[inner],
    }  # fmt: skip
    return [(cols, snap.categories.values), (cells, found.categories)]


def _summary_columns(found: Summary, view: View) -> tuple[Columns, list[str | None]]:
    cols = summary_columns(found, view.bbox, view.zoom)
    keep = _prefix_table(found.categories, view.classes)[cols["cat"]]
    return {k: v[keep] for k, v in cols.items()}, found.categories


def _prefix_table(values: list[str | None], classes: tuple[str, ...]) -> np.ndarray:
    if not classes:
        return np.ones(len(values) + 1, dtype=bool)
    return np.array([c is not None and c.startswith(classes) for c in values] + [False])


def _clusters(found: Clusters) -> list[dict[str, Any]]:
    return [
        {"lon": round(x, 6), "lat": round(y, 6), "count": c, "groups": g}
        for x, y, c, g in zip(
            found.lon.tolist(),
            found.lat.tolist(),
            found.count.tolist(),
            found.groups.tolist(),
            strict=True,
        )
    ]


def _body(
    kind: Kind,
    view: View,
    total: int,
    groups: list[dict[str, str]],
    *,
    points: list[dict[str, Any]] | None = None,
    clusters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": kind.name}
    body["mode"] = "points" if points is not None else "clusters"
    body |= {"zoom": view.zoom, "total": total, "groups": groups}
    return body | ({"points": points} if points is not None else {"clusters": clusters})


def _grid_names(session: Session, ids: set[int]) -> dict[int, tuple[str, str]]:
    if not ids:
        return {}
    rows = session.execute(select(Grid.id, Grid.code, Grid.name).where(Grid.id.in_(ids))).all()
    return {r[0]: (r[1], r[2]) for r in rows}


def _points(
    session: Session, principal: Principal, kind: Kind, ids: np.ndarray
) -> list[dict[str, Any]]:
    """Read the points' details by id, inside the caller's area (checked again in SQL)."""
    if not len(ids):
        return []
    m = kind.model
    # Only the popup's columns: whole entities would also parse every geometry's WKB.
    names = POINT_COLUMNS[kind.name]
    rows = session.execute(
        select(*(getattr(m, n) for n in names))
        .where(m.id.in_(ids.tolist()), visible(m, principal))
        .order_by(m.id)
    ).all()
    grids = _grid_names(
        session, {g for r in rows for g in (r.grid_id, r.unit_grid_id) if g is not None}
    )

    def grid(gid: int | None) -> dict[str, str] | None:
        return {"code": grids[gid][0], "name": grids[gid][1]} if gid in grids else None

    if kind.name == "buildings":
        return [_building(b, grid) for b in rows]
    catalogues: dict[tuple[str, str], Any] = {}
    out = []
    for c in rows:
        cat = catalogues.get((c.county_code, c.scheme))
        if cat is None:
            cat = catalogues[(c.county_code, c.scheme)] = catalogue_for(
                session, c.county_code, c.scheme
            )
        minor = cat.get(c.class_code)
        out.append(
            {
                "id": c.id,
                "lon": c.lon,
                "lat": c.lat,
                "code": c.code,
                "name": c.name,
                "class_code": c.class_code,
                "class_name": minor.name if minor else c.class_code,
                "group": c.class_code[:2],
                "state": c.state,
                "grid": grid(c.grid_id),
                "unit_grid": grid(c.unit_grid_id),
            }
        )
    return out


def _building(b: Any, grid: Any) -> dict[str, Any]:
    return {
        "id": b.id,
        "lon": b.lon,
        "lat": b.lat,
        "name": b.name,
        "address": b.address,
        "purpose": b.purpose,
        "group": b.purpose or NO_PURPOSE,
        "floors": b.floors,
        "grid": grid(b.grid_id),
        "unit_grid": grid(b.unit_grid_id),
    }
