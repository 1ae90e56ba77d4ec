"""Analysis: breakdowns by source, class, area, department and time; trends; hot spots of
recurring problems; the credit list of units (门前三包, 朝阳 model)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.cases.access import area_condition
from wangge.cases.labels import label
from wangge.cases.models import Case, CasePart, Category
from wangge.cases.vocabulary import SOLVED
from wangge.evaluation.indicators import DEFAULT_GRADES, evaluate_object, grade, rate
from wangge.evaluation.periods import SHANGHAI, Period, period_of

BY = ("source", "category", "major", "grid", "community", "street", "department", "hour",
      "weekday")  # fmt: skip
_WEEKDAY_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def _cases(
    session: Session,
    start: datetime,
    end: datetime,
    county: str | None,
    principal: Principal | None,
) -> list[Any]:
    q = (
        select(Case.id, Case.code, Case.source, Case.category_code, Category.name,
               Category.major_code, Category.major_name, Case.grid_id, Case.unit_grid_id,
               Case.community_code, Case.reported_at, Case.state, Case.component_code,
               Case.lon, Case.lat, Case.address)
        .join(Category, Category.code == Case.category_code)
        .where(Case.reported_at >= start, Case.reported_at < end)
    )  # fmt: skip
    if county:
        q = q.where(Case.county_code == county)
    if principal is not None:
        q = q.where(area_condition(principal))
    return list(session.execute(q))


def breakdown(
    session: Session,
    period: Period,
    by: str,
    *,
    county: str | None = None,
    principal: Principal | None = None,
) -> list[dict[str, Any]]:
    """Return cases reported in the period grouped by one dimension: reported, closed, share."""
    if by not in BY:
        raise ValueError(f"by must be one of {BY}")
    rows = _cases(session, period.start, period.end, county, principal)
    leads: dict[int, str] = {}
    if by == "department" and rows:
        leads = dict(
            session.execute(
                select(CasePart.case_id, CasePart.department_code).where(
                    CasePart.case_id.in_([r.id for r in rows]), CasePart.lead.is_(True)
                )
            ).all()
        )
    groups: dict[str, list[Any]] = defaultdict(list)
    names: dict[str, str] = {}
    for r in rows:
        local = r.reported_at.astimezone(SHANGHAI)
        key = {
            "source": r.source,
            "category": r.category_code,
            "major": r.major_code,
            "grid": str(r.grid_id or r.unit_grid_id or ""),
            "community": r.community_code or "",
            "street": (r.community_code or "")[:9],
            "department": leads.get(r.id, ""),
            "hour": f"{local.hour:02d}",
            "weekday": str(local.isoweekday()),
        }[by]
        groups[key].append(r)
        if by == "source":
            names[key] = label("source", key)
        elif by == "category":
            names[key] = r.name
        elif by == "major":
            names[key] = r.major_name
        elif by == "weekday":
            names[key] = _WEEKDAY_ZH[int(key) - 1]
    total = len(rows)
    out = [
        {
            "key": k,
            "name": names.get(k, k),
            "reported": len(v),
            "closed": sum(r.state in SOLVED for r in v),
            "share": rate(len(v), total),
            "case_ids": [r.id for r in v],
        }
        for k, v in groups.items()
    ]
    return sorted(out, key=lambda x: (-x["reported"], x["key"]))


def trend(
    session: Session,
    period: Period,
    *,
    bucket: str = "day",
    county: str | None = None,
    principal: Principal | None = None,
) -> list[dict[str, Any]]:
    """Return per day/week/month of the period: cases reported, closed, closed on time rate."""
    from wangge.evaluation.service import count_period

    out = []
    day = period.first
    while day <= period.last:
        p = period_of(bucket, day)
        first, last = max(p.first, period.first), min(p.last, period.last)
        sub = Period("custom", first, last)
        counts = count_period(session, sub.start, sub.end, county=county)
        streets: Iterable[dict[str, int]] = counts["street"].values()
        if principal is not None and principal.scope_prefixes is not None:
            streets = [v for k, v in counts["street"].items() if principal.covers(k)]
        area: Counter[str] = Counter()
        for v in streets:
            area.update(v)
        # the area's 按期结案率 by the evaluation's own formula (indicators.RATES), rounded as
        # every evaluation figure is: the PDF's trend prints the page's number
        on_time_rate = evaluate_object("street", "", area)["rates"]["close_on_time_rate"]
        reported = len(_cases(session, sub.start, sub.end, county, principal))
        out.append(
            {"label": p.label if p.kind != "day" else str(first), "first": str(first),
             "last": str(last), "reported": reported, "filed": area["filed"],
             "closed_on_time": area["closed_on_time"], "close_on_time_rate": on_time_rate}
        )  # fmt: skip
        day = last + timedelta(days=1)
    return out


def metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Return the approximate distance in metres (equirectangular; fine below a few km)."""
    k = 111_320.0
    dx = (lon2 - lon1) * k * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(dx, (lat2 - lat1) * k)


def find_hotspots(
    points: list[dict[str, Any]], *, min_count: int, radius_m: float
) -> list[dict[str, Any]]:
    """Group problems of one class at one component, or within `radius_m` of each other.

    Pure. Each point: id, category, component (or None), lon, lat, grid. A hot spot is a group
    of at least `min_count` problems; places grow greedily from the earliest problem given.
    """
    out = []
    by_class: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in points:
        by_class[p["category"]].append(p)
    for category, pts in by_class.items():
        comps: dict[str, list[dict[str, Any]]] = defaultdict(list)
        loose: list[dict[str, Any]] = []
        for p in pts:
            (comps[p["component"]] if p.get("component") else loose).append(p)
        for comp, group in comps.items():
            if len(group) >= min_count:
                out.append(_spot("component", category, group, comp))
            else:
                loose += group
        used: set[int] = set()
        for p in loose:
            if p["id"] in used:
                continue
            group = [q for q in loose if q["id"] not in used
                     and metres(p["lon"], p["lat"], q["lon"], q["lat"]) <= radius_m]  # fmt: skip
            if len(group) >= min_count:
                used |= {q["id"] for q in group}
                out.append(_spot("place", category, group, None))
    return sorted(out, key=lambda s: (-s["count"], s["category"]))


def _spot(
    kind: str, category: str, group: list[dict[str, Any]], comp: str | None
) -> dict[str, Any]:
    return {
        "kind": kind,
        "category": category,
        "component": comp,
        "count": len(group),
        "lon": sum(p["lon"] for p in group) / len(group),
        "lat": sum(p["lat"] for p in group) / len(group),
        "case_ids": sorted(p["id"] for p in group),
        "grids": sorted({str(p["grid"]) for p in group if p.get("grid")}),
    }


def hotspots(
    session: Session,
    *,
    end: datetime,
    days: int = 30,
    min_count: int = 3,
    radius_m: float = 50.0,
    county: str | None = None,
    principal: Principal | None = None,
) -> dict[str, Any]:
    """Return places and grids where one class of problem came back ≥ min_count times in
    `days` days before `end` (rejected reports, e.g. duplicates, are left out)."""
    rows = _cases(session, end - timedelta(days=days), end, county, principal)
    rows = [r for r in rows if r.state != "rejected"]
    pts = [{"id": r.id, "category": r.category_code, "component": r.component_code,
            "lon": r.lon, "lat": r.lat, "grid": r.grid_id or r.unit_grid_id} for r in rows]  # fmt: skip
    names = {r.category_code: r.name for r in rows}
    spots = find_hotspots(pts, min_count=min_count, radius_m=radius_m)
    per_grid: Counter[tuple[str, str]] = Counter(
        (str(p["grid"]), p["category"]) for p in pts if p["grid"]
    )
    grids = [{"grid": g, "category": c, "name": names.get(c, c), "count": n}
             for (g, c), n in per_grid.most_common() if n >= min_count]  # fmt: skip
    for s in spots:
        s["name"] = names.get(s["category"], s["category"])
    return {"days": days, "min_count": min_count, "radius_m": radius_m, "places": spots,
            "grids": grids}  # fmt: skip


# 门前三包: street-order classes (街面秩序, E05) at a unit's door.
CREDIT_MAJORS = ("E05",)


def unit_credit(
    session: Session,
    period: Period,
    *,
    county: str | None = None,
    radius_m: float = 30.0,
    penalty: float = 10.0,
    open_penalty: float = 5.0,
    principal: Principal | None = None,
) -> list[dict[str, Any]]:
    """Score units by their 门前三包 cases: 100 − penalty per case − open_penalty per case not
    closed, floored at 0, graded A–E. Units are the registry's organisations (a case counts for
    an organisation at the same address or within `radius_m`); without that table, the case
    address is the unit."""
    rows = [
        r for r in _cases(session, period.start, period.end, county, principal)
        if r.major_code in CREDIT_MAJORS and r.state != "rejected"
    ]  # fmt: skip
    units: dict[str, dict[str, Any]] = {}
    orgs: list[Any] = []
    if inspect(session.connection()).has_table("organisations"):
        from wangge.registry.models_organisations import Organisation

        q = select(Organisation.id, Organisation.name, Organisation.address,
                   Organisation.credit_code, Organisation.lon, Organisation.lat)  # fmt: skip
        if county:
            q = q.where(Organisation.county_code == county)
        orgs = list(session.execute(q))
    for r in rows:
        keys = []
        for o in orgs:
            same = o.address and r.address and o.address.strip() == r.address.strip()
            near = o.lon is not None and metres(o.lon, o.lat, r.lon, r.lat) <= radius_m
            if same or near:
                keys.append((f"org:{o.id}", o.name, o.address, o.credit_code))
        if not keys and r.address:
            keys.append((f"addr:{r.address.strip()}", r.address.strip(), r.address.strip(), None))
        for key, name, address, credit in keys:
            u = units.setdefault(key, {"key": key, "name": name, "address": address,
                                       "credit_code": credit, "cases": 0, "open": 0,
                                       "case_ids": []})  # fmt: skip
            u["cases"] += 1
            u["open"] += r.state not in SOLVED
            u["case_ids"].append(r.id)
    out = []
    for u in units.values():
        u["score"] = max(0.0, 100.0 - penalty * u["cases"] - open_penalty * u["open"])
        u["grade"] = grade(u["score"], DEFAULT_GRADES)
        out.append(u)
    return sorted(out, key=lambda u: (u["score"], u["name"]))
