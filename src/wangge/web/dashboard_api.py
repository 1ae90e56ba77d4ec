"""The big screen (大屏): indicators and series of the caller's cases."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.auth.principal import Principal
from wangge.cases.access import visible
from wangge.cases.labels import label
from wangge.cases.models import Case, CasePart, Category
from wangge.cases.vocabulary import FINAL_VALUES
from wangge.common.localtime import SHANGHAI
from wangge.common.models import utcnow
from wangge.divisions.models import Division
from wangge.evaluation.headline import headline
from wangge.evaluation.periods import period_of
from wangge.grids.models import Grid
from wangge.web.api_response import json_response

router = APIRouter(prefix="/web/api", include_in_schema=False)


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
    cat_names = dict(session.execute(select(Category.code, Category.name)).all())
    pts = session.execute(select(Case.lon, Case.lat).where(*recent).limit(20000)).all()
    body = {
        "generated_at": now.isoformat(),
        "days": days,
        **_counts(session, mine, recent, now),
        **_evaluation_rates(session, principal, now, days),
        **_breakdowns(session, recent, cat_names),
        "heat": _bin_points(pts),
        "top_problems": _top_problems(session, recent, cat_names),
    }
    return json_response(body, request, cache="no-store")


def _counts(
    session: Session, mine: Select[Any], recent: list[Any], now: datetime
) -> dict[str, Any]:
    """The totals: in the window, reported today, open by state, overdue and closed."""
    total = session.scalar(select(func.count(Case.id)).where(*recent)) or 0
    today = _count_by_state(session, Case.id.in_(mine), Case.reported_at >= _today_start(now))
    open_by_state = _count_by_state(session, Case.id.in_(mine), Case.state.not_in(FINAL_VALUES))
    overdue = session.scalar(
        select(func.count(Case.id)).where(
            Case.id.in_(mine), Case.state.not_in(FINAL_VALUES), Case.due_at < now
        )
    )
    closed = session.scalar(
        select(func.count(Case.id)).where(*recent, Case.state.in_(("closed", "rated")))
    )
    return {
        "total": int(total),
        "today": {
            "total": int(sum(today.values())),
            "by_state": _state_rows(sorted(today.items())),
        },
        "open_by_state": _state_rows(sorted(open_by_state.items(), key=lambda kv: -kv[1])),
        "overdue": int(overdue or 0),
        "closed": int(closed or 0),
    }


def _count_by_state(session: Session, *where: Any) -> dict[str, int]:
    """Count the cases that match `where` per state."""
    q = select(Case.state, func.count(Case.id)).where(*where).group_by(Case.state)
    return {state: int(n) for state, n in session.execute(q).all()}


def _state_rows(counts: Iterable[tuple[str, int]]) -> list[dict[str, Any]]:
    return [{"state": s, "name": label("state", s), "count": n} for s, n in counts]


def _evaluation_rates(
    session: Session, principal: Principal, now: datetime, days: int
) -> dict[str, Any]:
    """The evaluation's own rates (`evaluation.headline`) over the last `days` local days."""
    # The same local days as a custom 考核 period of the last `days` days.
    day = now.astimezone(SHANGHAI).date()
    window = period_of("custom", day - timedelta(days=days - 1), day)
    figures = headline(session, principal, window.start, window.end)
    return {
        # Rates in %, None when nothing was due ("no data", never 0 or 100).
        "rates": figures["rates"],
        "figures": figures["counts"],
        "period": {"first": str(window.first), "last": str(window.last)},
    }


def _breakdowns(session: Session, recent: list[Any], cat_names: dict[str, str]) -> dict[str, Any]:
    """The window's cases per category, source, street and department (the 12 largest)."""
    from wangge.departments.models import Department

    div_names = dict(session.execute(select(Division.code, Division.name)).all())
    dept_names = dict(session.execute(select(Department.code, Department.name)).all())
    by_dept = session.execute(
        select(CasePart.department_code, func.count(CasePart.case_id))
        .where(CasePart.case_id.in_(select(Case.id).where(*recent)))
        .group_by(CasePart.department_code)
        .order_by(func.count(CasePart.case_id).desc())
        .limit(12)
    ).all()
    street = func.substr(Case.community_code, 1, 9)

    def grouped(col: Any, *where: Any) -> list[tuple[Any, int]]:
        q = (
            select(col, func.count(Case.id))
            .where(*recent, *where)
            .group_by(col)
            .order_by(func.count(Case.id).desc())
            .limit(12)
        )
        return [(k, int(n)) for k, n in session.execute(q).all()]

    return {
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
    }


def _top_problems(
    session: Session, recent: list[Any], cat_names: dict[str, str]
) -> list[dict[str, Any]]:
    """The 10 (grid, category) pairs reported most often, more than once."""
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
    return [
        {
            "grid_code": grid_names.get(gid, ("", ""))[0],
            "grid_name": grid_names.get(gid, ("", ""))[1],
            "category": cat_names.get(cat, cat),
            "count": int(n),
        }
        for gid, cat, n in top
    ]


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
