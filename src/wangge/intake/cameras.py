"""The cameras of the 视频监控 point layer: find one by key, check it lies in the user's area."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.errors import Forbidden, ValidationFailed
from wangge.grids.models import Grid, LocatedPoint

CAMERA_LAYER = "视频监控"


def find_camera(session: Session, key: str, county_code: str | None = None) -> LocatedPoint:
    """Return the camera with this key (in the county, when given), or raise 422."""
    query = select(LocatedPoint).where(
        LocatedPoint.layer == CAMERA_LAYER, LocatedPoint.key == key.strip()
    )
    if county_code:
        query = query.where(LocatedPoint.county_code == county_code)
    found = list(session.scalars(query.limit(2)))
    if not found:
        raise ValidationFailed(
            f"摄像头 {key} 不存在（视频监控图层中没有这个编号）",
            f"camera {key} does not exist in the video surveillance layer",
            code="unknown_camera",
            field="camera_key",
        )
    if len(found) > 1:
        raise ValidationFailed(
            f"摄像头编号 {key} 在多个区县中存在，请指明区县（county_code）",
            f"camera key {key} exists in several counties: give county_code",
            code="ambiguous_camera",
            field="county_code",
        )
    return found[0]


def _codes(session: Session, cam: LocatedPoint) -> tuple[str | None, str | None, str | None]:
    """Return the camera's social grid code, its community and its unit grid code."""
    grid = session.get(Grid, cam.grid_id) if cam.grid_id else None
    unit = session.get(Grid, cam.unit_grid_id) if cam.unit_grid_id else None
    community = grid.community_code if grid else (unit.community_code if unit else None)
    return (grid.code if grid else None), community, (unit.code if unit else None)


def in_area(session: Session, principal: Principal, cam: LocatedPoint) -> bool:
    """Return True when a case at the camera would lie in the principal's area (cases.access)."""
    if principal.scope_prefixes is None:
        return True
    grid, community, unit = _codes(session, cam)
    for p in principal.scope_prefixes:
        if len(p) <= 6 and cam.county_code.startswith(p):
            return True
        if 6 < len(p) <= 12 and community and community.startswith(p):
            return True
        if len(p) > 12 and grid and grid.startswith(p):
            return True
    return any(unit and unit.startswith(p) for p in principal.unit_grid_scopes)


def require_in_area(session: Session, principal: Principal, cam: LocatedPoint) -> None:
    """Refuse a camera outside the principal's area (403, naming the camera)."""
    if not in_area(session, principal, cam):
        raise Forbidden(
            f"摄像头 {cam.key} 不在您的管辖范围内",
            f"camera {cam.key} lies outside your area",
            code="camera_outside_area",
            field="camera_key",
        )


def camera_info(session: Session, county_code: str, key: str | None) -> dict[str, Any] | None:
    """Return a camera's key, name and position for a case page (None without a camera)."""
    if not key:
        return None
    cam = session.scalars(
        select(LocatedPoint).where(
            LocatedPoint.layer == CAMERA_LAYER,
            LocatedPoint.county_code == county_code,
            LocatedPoint.key == key,
        )
    ).first()
    if cam is None:
        return {"key": key, "name": None, "lon": None, "lat": None}
    return _info(cam)


def _info(cam: LocatedPoint) -> dict[str, Any]:
    props = cam.properties or {}
    name = props.get("名称") or props.get("name")
    return {"key": cam.key, "name": name, "lon": cam.lon, "lat": cam.lat}


def cameras_in_box(
    session: Session, principal: Principal, box: tuple[float, float, float, float], limit: int
) -> list[dict[str, Any]]:
    """Return the cameras inside a lon/lat box that lie in the principal's area."""
    west, south, east, north = box
    query = select(LocatedPoint).where(
        LocatedPoint.layer == CAMERA_LAYER,
        LocatedPoint.lon.between(west, east),
        LocatedPoint.lat.between(south, north),
    )
    counties = principal.county_codes()
    if counties is not None:
        query = query.where(LocatedPoint.county_code.in_(sorted(counties)))
    out = []
    for cam in session.scalars(query.order_by(LocatedPoint.key).limit(limit * 4)):
        if in_area(session, principal, cam):
            out.append(_info(cam))
            if len(out) >= limit:
                break
    return out
