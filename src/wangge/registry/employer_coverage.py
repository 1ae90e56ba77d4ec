"""Employer coverage (两网化 劳动保障监察): how much of the reference list the grids have found.

An employer on the list at a month's end is *registered* when an organisation with its credit
code was in the registry by then, and *verified* when that organisation had been checked on
site (`Organisation.verified_at`) by then. Coverage = verified / listed, per grid, community,
street and county, for any month since the first list; the employers not yet verified are the
grid workers' visiting list. An employer is placed where its registry record is once there is
one (checked on site), else where the list places it; one the list cannot place counts for
the county only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.common.localtime import SHANGHAI
from wangge.divisions.models import Division
from wangge.errors import ValidationFailed
from wangge.grids import locating
from wangge.grids.models import Grid
from wangge.registry.models_organisations import Organisation
from wangge.registry.models_references import EmployerReference

LEVELS = ("grid", "community", "street", "county")


@dataclass(frozen=True)
class _Org:
    created: datetime
    verified: datetime | None
    community: str | None
    grid_id: int | None


@dataclass
class Standing:
    """One listed employer at a moment: where it is and how far the registry has it."""

    ref: EmployerReference
    registered: bool
    verified: bool
    community: str | None
    grid_id: int | None


def month_end(month: str) -> datetime:
    """Return the first moment after a month ("2026-11"), Beijing time."""
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise ValidationFailed(
            f"月份 {month} 的格式应为 2026-11", f"month {month} must look like 2026-11",
            code="bad_month", field="month",
        ) from None  # fmt: skip
    nxt = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return datetime.combine(nxt, time(), SHANGHAI)


def _aware(at: datetime | None) -> datetime | None:
    return None if at is None else (at if at.tzinfo else at.replace(tzinfo=UTC))


def _orgs(session: Session, county: str) -> dict[str, _Org]:
    out: dict[str, _Org] = {}
    rows = session.execute(
        select(Organisation.credit_code, Organisation.created_at, Organisation.verified_at,
               Organisation.community_code, Organisation.grid_id)
        .where(Organisation.county_code == county, Organisation.credit_code.is_not(None))
        .order_by(Organisation.created_at)
    )  # fmt: skip
    for code, created, verified, community, grid_id in rows:
        out.setdefault(code, _Org(_aware(created), _aware(verified), community, grid_id))  # type: ignore[arg-type]
    return out


def standings(session: Session, county: str, at: datetime) -> list[Standing]:
    """Return every employer on the county's list just before `at`, with its standing."""
    day = (at - timedelta(microseconds=1)).astimezone(SHANGHAI).date()
    refs = session.scalars(
        select(EmployerReference).where(
            EmployerReference.county_code == county,
            EmployerReference.listed_on <= day,
            (EmployerReference.delisted_on.is_(None)) | (EmployerReference.delisted_on > day),
        )
    ).all()
    orgs = _orgs(session, county)
    out = []
    for ref in refs:
        org = orgs.get(ref.credit_code)
        registered = org is not None and org.created < at
        verified = registered and org.verified is not None and org.verified < at  # type: ignore[union-attr]
        if registered:  # the registry's place, checked on site; the list's grid if it has none
            community = org.community or ref.community_code  # type: ignore[union-attr]
            grid_id = org.grid_id if org.grid_id is not None else ref.grid_id  # type: ignore[union-attr]
        else:
            community, grid_id = ref.community_code, ref.grid_id
        out.append(Standing(ref, registered, verified, community, grid_id))
    return out


def _key(s: Standing, level: str, grid_codes: dict[int, str]) -> str | None:
    if level == "county":
        return s.ref.county_code
    if level == "grid":
        return grid_codes.get(s.grid_id) if s.grid_id is not None else None
    if s.community is None:
        return None
    return s.community if level == "community" else s.community[:9]


def _visible(principal: Principal, level: str, key: str) -> bool:
    return principal.contains(key) if level == "grid" else principal.covers(key)


def coverage(
    session: Session,
    principal: Principal,
    county: str,
    *,
    level: str = "community",
    month: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Return listed / registered / verified / coverage per area of a level at a month's end."""  # fmt: skip
    principal.require("registry.read")
    if level not in LEVELS:
        raise ValidationFailed(
            f"层级 level 只能是 {'、'.join(LEVELS)}", f"level must be one of {', '.join(LEVELS)}",
            code="invalid_choice", field="level",
        )  # fmt: skip
    at = month_end(month) if month else (now or datetime.now(UTC))
    found = standings(session, county, at)
    grid_ids = {s.grid_id for s in found if s.grid_id is not None}
    grid_codes = locating.grid_codes(session, grid_ids)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    unplaced = [0, 0, 0]
    for s in found:
        key = _key(s, level, grid_codes)
        bucket = unplaced if key is None else totals[key]
        bucket[0] += 1
        bucket[1] += s.registered
        bucket[2] += s.verified
    names = _names(session, level, list(totals))
    rows = [
        _figures({"code": key, "name": names.get(key, key)}, *counts)
        for key, counts in sorted(totals.items())
        if _visible(principal, level, key)
    ]
    out: dict[str, Any] = {
        "county_code": county, "level": level, "at": at.isoformat(), "month": month, "rows": rows,
    }  # fmt: skip
    if principal.contains(county) and level != "county":
        out["unplaced"] = _figures({}, *unplaced)
    return out


def _figures(head: dict[str, Any], listed: int, registered: int, verified: int) -> dict[str, Any]:
    return {
        **head, "listed": listed, "registered": registered, "verified": verified,
        "registered_rate": round(100 * registered / listed, 2) if listed else None,
        "coverage": round(100 * verified / listed, 2) if listed else None,
    }  # fmt: skip


def _names(session: Session, level: str, keys: list[str]) -> dict[str, str]:
    if not keys:
        return {}
    if level == "grid":
        return dict(session.execute(select(Grid.code, Grid.name).where(Grid.code.in_(keys))).all())
    return dict(
        session.execute(select(Division.code, Division.name).where(Division.code.in_(keys))).all()
    )


def _months(first: date, last: date) -> list[str]:
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(f"{y}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def trend(
    session: Session,
    principal: Principal,
    county: str,
    *,
    area: str | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Return the coverage of the county (or one street, community or grid) month by month
    since the first list."""  # fmt: skip
    principal.require("registry.read")
    area = area or county
    if not principal.contains(area):
        raise ValidationFailed(
            f"区域 {area} 不在您的管辖范围内", f"area {area} is outside your scope",
            code="out_of_scope", field="area",
        )  # fmt: skip
    first = session.scalar(
        select(EmployerReference.listed_on)
        .where(EmployerReference.county_code == county)
        .order_by(EmployerReference.listed_on)
        .limit(1)
    )
    if first is None:
        return []
    now = now or datetime.now(UTC)
    level = {6: "county", 9: "street", 12: "community"}.get(len(area), "grid")
    out = []
    for month in _months(first, now.astimezone(SHANGHAI).date()):
        at = min(month_end(month), now)
        by = coverage(session, principal, county, level=level, month=None, now=at)
        row = next((r for r in by["rows"] if r["code"] == area), None)
        out.append({"month": month, **(row or _figures({"code": area}, 0, 0, 0))})
    return out


def unvisited(
    session: Session,
    principal: Principal,
    county: str,
    *,
    area: str | None = None,
    limit: int = 100,
    offset: int = 0,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Return the listed employers not yet verified on site, in the user's scope: whom to visit."""  # fmt: skip
    principal.require("registry.read")
    found = standings(session, county, now or datetime.now(UTC))
    grid_ids = {s.grid_id for s in found if s.grid_id is not None}
    grid_codes = locating.grid_codes(session, grid_ids)
    todo = []
    for s in found:
        if s.verified:
            continue
        grid = grid_codes.get(s.grid_id) if s.grid_id is not None else None
        place = grid or s.community
        if place is None and not principal.contains(county):
            continue
        if place is not None and not principal.contains(place):
            continue
        if area and not (place or "").startswith(area):
            continue
        todo.append({
            "credit_code": s.ref.credit_code, "name": s.ref.name, "address": s.ref.address,
            "community_code": s.community, "grid_code": grid,
            "registered": s.registered, "listed_on": s.ref.listed_on.isoformat(),
        })  # fmt: skip
    todo.sort(key=lambda r: (r["grid_code"] or r["community_code"] or "~", r["credit_code"]))
    return {"total": len(todo), "items": todo[offset : offset + limit]}
