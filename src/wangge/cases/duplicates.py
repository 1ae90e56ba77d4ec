"""Duplicate candidates: same class near in space and time, or the same component."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.cases.access import get_visible, visible
from wangge.cases.models import Case
from wangge.cases.vocabulary import FINAL_VALUES

DEFAULT_RADIUS_M = 50.0
DEFAULT_WINDOW = timedelta(hours=72)
_M_PER_DEG_LAT = 111_320.0


@dataclass(frozen=True)
class Candidate:
    """A possible original of a new report, with why it matched."""

    case: Case
    distance_m: float
    same_component: bool


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Return the equirectangular distance in metres (exact enough below a kilometre)."""
    dx = (lon2 - lon1) * _M_PER_DEG_LAT * math.cos(math.radians((lat1 + lat2) / 2))
    dy = (lat2 - lat1) * _M_PER_DEG_LAT
    return math.hypot(dx, dy)


def find_duplicates(
    session: Session,
    case_id: int,
    principal: Principal,
    *,
    radius_m: float = DEFAULT_RADIUS_M,
    window: timedelta = DEFAULT_WINDOW,
    now: datetime | None = None,
) -> list[Candidate]:
    """Return open earlier cases that may report the same problem, nearest first."""
    case = get_visible(session, case_id, principal)
    dlat = radius_m / _M_PER_DEG_LAT
    dlon = dlat / max(math.cos(math.radians(case.lat)), 0.01)
    # A bounding box in the query keeps this an index-friendly range scan on both databases.
    near = (
        (Case.category_code == case.category_code)
        & Case.lon.between(case.lon - dlon, case.lon + dlon)
        & Case.lat.between(case.lat - dlat, case.lat + dlat)
    )
    same_component = Case.component_code == case.component_code if case.component_code else None
    match = or_(near, same_component) if same_component is not None else near
    rows = session.scalars(
        select(Case).where(
            Case.county_code == case.county_code,
            Case.id != case.id,
            Case.duplicate_of.is_(None),
            Case.state.not_in(FINAL_VALUES),
            Case.reported_at >= case.reported_at - window,
            Case.reported_at <= (now or case.reported_at) + timedelta(seconds=1),
            match,
            visible(principal),
        )
    ).all()
    out = []
    for other in rows:
        d = distance_m(case.lon, case.lat, other.lon, other.lat)
        component = bool(case.component_code) and other.component_code == case.component_code
        if component or d <= radius_m:
            out.append(Candidate(other, d, component))
    return sorted(out, key=lambda c: (not c.same_component, c.distance_m, c.case.id))
