"""Open311 statistics: GET /open311/v2/statistics.{json,xml}, public, no login.

GeoReport v2 defines no statistics; this endpoint follows its conventions (the `jurisdiction_id`,
`start_date`, `end_date` and `service_code` parameters of GET requests, the same errors) and
serves the headline indicators that the county PUBLISHED (`evaluation.publication`): per period,
county-wide and per service, frozen when the period was published, never computed for the
caller. Like the public evaluation page, a county that has published nothing shows nothing.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from wangge.api.deps import SessionDep
from wangge.cases.models import Category
from wangge.common.models import utcnow
from wangge.divisions.models import Division
from wangge.evaluation import publication, statistics
from wangge.evaluation.publication_models import EvaluationPublication
from wangge.evaluation.statistics import PUBLIC_KINDS
from wangge.open311 import mapping
from wangge.open311.views import Open311Error, guarded, render

router = APIRouter(prefix="/open311/v2", tags=["open311 GeoReport v2"])
DEFAULT_DAYS = 366
CACHE_SECONDS = 60
CACHE_SIZE = 256


def _day(text: str, field: str, *, end: bool) -> date:
    """Parse an ISO 8601 date or time into its day in Beijing; say what is wrong otherwise."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(
            400,
            f"{field} 不是 ISO 8601 日期或时间（如 2026-11-01）：{text} / "
            f"{field} must be an ISO 8601 date or time (e.g. 2026-11-01), got {text!r}",
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=mapping.SHANGHAI)
    local = value.astimezone(mapping.SHANGHAI)
    # an end at midnight (a bare date is one) closes the day before when it is a time
    if end and local.time() == datetime.min.time() and "T" in text:
        return local.date() - timedelta(days=1)
    return local.date()


def _county(session: SessionDep, params: dict[str, str]) -> tuple[str, str]:
    code = params.get("jurisdiction_id", "").strip()
    counties = session.execute(
        select(Division.code, Division.name).where(Division.level == "county")
    ).all()
    if not code:
        if len(counties) != 1:
            raise Open311Error(
                400, "需要 jurisdiction_id（区县编码）/ jurisdiction_id (county code) is required"
            )
        return counties[0][0], counties[0][1]
    name = dict(counties).get(code)
    if name is None:
        raise Open311Error(404, f"区县 {code} 不存在 / jurisdiction_id {code} not found")
    return code, name


def _services(session: SessionDep, params: dict[str, str]) -> set[str] | None:
    wanted = {s.strip() for s in params.get("service_code", "").split(",") if s.strip()}
    if not wanted:
        return None
    known = set(
        session.scalars(
            select(Category.code).where(Category.code.in_(wanted), Category.kind.in_(PUBLIC_KINDS))
        )
    )
    missing = sorted(wanted - known)
    if missing:
        raise Open311Error(
            404, f"服务 {'、'.join(missing)} 不存在 / service_code {','.join(missing)} not found"
        )
    return wanted


def _window(params: dict[str, str]) -> tuple[date, date]:
    today = utcnow().astimezone(mapping.SHANGHAI).date()
    last = _day(params["end_date"], "end_date", end=True) if params.get("end_date") else today
    first = (
        _day(params["start_date"], "start_date", end=False)
        if params.get("start_date")
        else last - timedelta(days=DEFAULT_DAYS)
    )
    if first > last:
        raise Open311Error(400, "start_date 晚于 end_date / start_date is after end_date")
    return first, last


def _period_row(row: EvaluationPublication, services: set[str] | None) -> dict[str, Any]:
    data = row.data["statistics"]
    shown = [s for s in data["services"] if services is None or s["service_code"] in services]
    return {
        "label": row.period, "kind": row.period_kind,
        "first": row.data["period"]["first"], "last": row.data["period"]["last"],
        "version": row.version, "published_at": mapping.iso(row.published_at),
        "county": data["county"], "services": shown,
    }  # fmt: skip


def _body(session: SessionDep, params: dict[str, str]) -> dict[str, Any]:
    county, county_name = _county(session, params)
    services = _services(session, params)
    if params.get("period"):
        label = publication.parse(params["period"]).label
        rows = publication.listing(session, county, label)
        if not rows:
            raise Open311Error(
                404, f"{county} 未发布 {label} 的考核结果 / {label} is not published for {county}"
            )
    else:
        first, last = _window(params)
        rows = [
            r for r in publication.listing(session, county)
            if first <= date.fromisoformat(r.data["period"]["first"])
            and date.fromisoformat(r.data["period"]["last"]) <= last
        ]  # fmt: skip
    latest: dict[str, EvaluationPublication] = {}
    for r in rows:  # newest version of each period (rows come newest first)
        if "statistics" in r.data:
            latest.setdefault(r.period, r)
    periods = sorted(latest.values(), key=lambda r: (r.data["period"]["first"], r.period_kind))
    return {
        "jurisdiction_id": county,
        "jurisdiction_name": county_name,
        "source": "published",
        "public_url": f"/public/evaluation/{county}",
        "indicators": statistics.indicators(),
        "periods": [_period_row(r, services) for r in periods],
    }


def _cached(fmt: str, request: Request, session: SessionDep) -> Response:
    """Serve a body kept for a minute, unless the county published something since."""
    params = dict(request.query_params)
    newest = session.scalar(select(func.max(EvaluationPublication.id)))
    key = (fmt, tuple(sorted(params.items())), newest)
    cache: dict[Any, tuple[float, Response]] = getattr(request.app.state, "open311_stats", {})
    hit = cache.get(key)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    response = render(fmt, "statistics", _body(session, params))
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    if len(cache) >= CACHE_SIZE:
        cache.clear()
    cache[key] = (time.monotonic() + CACHE_SECONDS, response)
    request.app.state.open311_stats = cache
    return response


@router.get("/statistics.{fmt}", summary="Open311 statistics: the county's published indicators")
def get_statistics(fmt: str, request: Request, session: SessionDep) -> Response:
    return guarded(fmt, lambda: _cached(fmt, request, session))
