"""The console's search box: divisions, grids and cases by code or name/address."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import or_, select

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.auth.principal import Principal
from wangge.cases.access import visible
from wangge.cases.models import Case
from wangge.common.geo import from_canonical_xy, parse_crs
from wangge.divisions.models import Division
from wangge.grids.locating import active_versions
from wangge.grids.models import Grid
from wangge.grids.service import LAYER_OF_KIND

router = APIRouter(prefix="/web/api", include_in_schema=False)


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
