"""Patrols (巡查): start, post track points (each with its grids, computed on write), end."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.cases.access import actor_id
from wangge.cases.deadlines import SHANGHAI, ensure_aware
from wangge.cases.duplicates import distance_m
from wangge.cases.models import Case, Patrol, PatrolPoint
from wangge.errors import Forbidden, NotFound, ValidationFailed
from wangge.grids.locating import locate_many, locate_point
from wangge.grids.models import Grid, GridVersion

_PATROL_ROLES = frozenset({"supervisor", "grid_leader"})


def _worker(principal: Principal) -> str:
    principal.require("patrol.write")
    if not set(principal.roles) & _PATROL_ROLES:
        raise Forbidden(
            "只有网格员/监督员可以巡查",
            "only grid workers and supervisors patrol",
            code="role_not_allowed",
        )
    return actor_id(principal)


def get_patrol(session: Session, patrol_id: int, principal: Principal) -> Patrol:
    """Return a patrol of the principal (or any, for whole-territory posts)."""
    patrol = session.get(Patrol, patrol_id)
    if patrol is None or (
        patrol.worker_id != actor_id(principal) and principal.scope_prefixes is not None
    ):
        raise NotFound(f"巡查 {patrol_id} 不存在", f"patrol {patrol_id} does not exist")
    return patrol


def start_patrol(
    session: Session,
    principal: Principal,
    *,
    lon: float,
    lat: float,
    now: datetime,
    county_code: str | None = None,
) -> Patrol:
    """Start a patrol where the worker stands; an open patrol of his is ended first."""
    worker = _worker(principal)
    now = ensure_aware(now, "now")
    for open_patrol in session.scalars(
        select(Patrol).where(Patrol.worker_id == worker, Patrol.ended_at.is_(None))
    ):
        open_patrol.ended_at = now
    found = locate_point(session, lon, lat)
    grid = found.get("social") or found.get("unit")
    county = grid.county_code if grid is not None else county_code
    if county is None:
        raise ValidationFailed(
            "起点不在任何网格内", "the starting point lies in no grid", field="lon"
        )
    patrol = Patrol(
        county_code=county,
        worker_id=worker,
        grid_id=grid.id if grid is not None else None,
        day=now.astimezone(SHANGHAI).date(),
        started_at=now,
    )
    session.add(patrol)
    session.flush()
    add_points(session, patrol.id, principal, [(lon, lat, now)])
    return patrol


def add_points(
    session: Session,
    patrol_id: int,
    principal: Principal,
    points: Sequence[tuple[float, float, datetime]],
) -> int:
    """Append track points with their grid ids; return how many were stored."""
    patrol = get_patrol(session, patrol_id, principal)
    if patrol.ended_at is not None:
        raise ValidationFailed("巡查已结束", "the patrol has ended", code="patrol_ended")
    if not points:
        return 0
    lon = np.array([p[0] for p in points], dtype=float)
    lat = np.array([p[1] for p in points], dtype=float)
    found = locate_many(session, lon, lat, county_codes=[patrol.county_code])
    last = session.scalars(
        select(PatrolPoint)
        .where(PatrolPoint.patrol_id == patrol.id)
        .order_by(PatrolPoint.at.desc(), PatrolPoint.id.desc())
    ).first()
    prev = (last.lon, last.lat) if last is not None else None
    rows = []
    for i, (x, y, at) in enumerate(points):
        at = ensure_aware(at, "at")
        g, u = int(found["social"][i]), int(found["unit"][i])
        rows.append(
            PatrolPoint(
                patrol_id=patrol.id,
                at=at,
                day=at.astimezone(SHANGHAI).date(),
                lon=x,
                lat=y,
                grid_id=g if g >= 0 else None,
                unit_grid_id=u if u >= 0 else None,
            )
        )
        if prev is not None:
            patrol.distance_m += distance_m(prev[0], prev[1], x, y)
        prev = (x, y)
    session.add_all(rows)
    patrol.point_count += len(rows)
    session.flush()
    return len(rows)


def end_patrol(session: Session, patrol_id: int, principal: Principal, *, now: datetime) -> Patrol:
    """End a patrol; later reports are no longer linked to it."""
    patrol = get_patrol(session, patrol_id, principal)
    if patrol.ended_at is None:
        patrol.ended_at = ensure_aware(now, "now")
        session.flush()
    return patrol


def patrol_points(session: Session, patrol_id: int, principal: Principal) -> list[PatrolPoint]:
    """Return the stored track of a patrol the principal may see, in time order."""
    patrol = get_patrol(session, patrol_id, principal)
    return list(
        session.scalars(
            select(PatrolPoint)
            .where(PatrolPoint.patrol_id == patrol.id)
            .order_by(PatrolPoint.at, PatrolPoint.id)
        )
    )


def patrol_reports(session: Session, patrol_id: int) -> list[Case]:
    """Return the cases reported during a patrol."""
    return list(session.scalars(select(Case).where(Case.patrol_id == patrol_id).order_by(Case.id)))


def tracks(
    session: Session, grid_id: int, day: date, principal: Principal
) -> dict[int, list[tuple[float, float]]]:
    """Return the day's track points inside one grid, per patrol, in time order.

    Where grid workers walked is their personal data: only patrol staff and leaders (巡查到位
    is part of the evaluation) see it, and only of grids in their area.
    """
    if not principal.can("evaluation.read"):
        principal.require("patrol.read")
    found = session.execute(
        select(Grid.code, GridVersion.layer)
        .join(GridVersion, GridVersion.id == Grid.version_id)
        .where(Grid.id == grid_id)
    ).first()
    if found is None or not principal.contains(found.code, found.layer):
        raise NotFound(f"网格 {grid_id} 不存在", f"grid {grid_id} does not exist")
    rows = session.execute(
        select(PatrolPoint.patrol_id, PatrolPoint.lon, PatrolPoint.lat)
        .where(PatrolPoint.grid_id == grid_id, PatrolPoint.day == day)
        .order_by(PatrolPoint.patrol_id, PatrolPoint.at)
    ).all()
    out: dict[int, list[tuple[float, float]]] = {}
    for pid, x, y in rows:
        out.setdefault(pid, []).append((x, y))
    return out


def visits(session: Session, day: date, county_code: str) -> dict[int, int]:
    """Return, per grid, how many patrols passed through it on a day (巡查到位)."""
    rows = session.execute(
        select(PatrolPoint.grid_id, func.count(func.distinct(PatrolPoint.patrol_id)))
        .join(Patrol, Patrol.id == PatrolPoint.patrol_id)
        .where(
            PatrolPoint.day == day,
            Patrol.county_code == county_code,
            PatrolPoint.grid_id.is_not(None),
        )
        .group_by(PatrolPoint.grid_id)
    ).all()
    return {int(g): int(n) for g, n in rows if g is not None}  # (none is: the WHERE above)
