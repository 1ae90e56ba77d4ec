"""Console case list (案卷): the work queues, filters and sorting kept in the address, the
overdue view and the Excel export of the same list.

The list is `cases.queries.search` with the filters `cases.filters` reads, the same as
`GET /api/v1/cases`; the export link is `GET /api/v1/cases/export.xlsx` with the same query.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from wangge.api.deps import SessionDep
from wangge.auth.principal import Principal
from wangge.cases.access import sees_area
from wangge.cases.labels import LIGHT, SOURCE, STATE
from wangge.cases.models import Category
from wangge.cases.queries import CaseFilter, queues, search
from wangge.cases.views import FilterDep, NowDep, SortDep, read_list
from wangge.departments.models import Department
from wangge.divisions.models import Division
from wangge.grids.models import Grid, GridVersion
from wangge.web.area import page_area
from wangge.web.views import MeDep, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
# Query parameters of the list, in the order the address shows them.
PARAMS = (
    "queue", "street", "community", "grid", "category", "source", "department", "state",
    "light", "from", "to", "q", "sort",
)  # fmt: skip


def _home(me: Principal) -> str:
    """Return a user's first console page: a department handler starts on his queues."""
    if me.department_codes and not sees_area(me):
        return "/console/cases"
    if not me.can("cases.read") and me.can("audit.read"):
        return "/console/audit"  # an auditor reads the audit log only
    return "/console/map"


@router.get("/console")
def console_home(request: Request, session: SessionDep, me: MeDep) -> RedirectResponse:
    return RedirectResponse(_home(me) if me is not None else "/console/map", status_code=303)


@router.get("/console/cases")
def cases_page(
    request: Request, session: SessionDep, me: MeDep, now: NowDep, f: FilterDep, sort: SortDep
) -> Response:
    if me is None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    qs = queues(session, me, now=now)
    queue = f.queue
    if queue is None:  # the first queue with work in it, else the whole list
        queue = next((k for k, v in qs.items() if v["count"] and k != "overdue"), "all")
    if queue == "overdue" and "sort" not in request.query_params:
        sort = "overdue"  # the overdue view: the longest late first
    listed = replace(
        f,
        queue=queue if queue in qs and queue != "overdue" else None,
        overdue=True if queue == "overdue" else f.overdue,
    )
    raw = request.query_params
    offset = int(raw["offset"]) if raw.get("offset", "").isdigit() else 0
    total, rows = search(session, me, listed, now=now, limit=PAGE_SIZE, offset=offset, sort=sort)
    given = {k: raw[k].strip() for k in PARAMS if raw.get(k, "").strip()}
    given["queue"] = queue

    def href(**changes: Any) -> str:
        """The list's address with some parameters changed (None drops one)."""
        params = {**given, **changes}
        return "/console/cases?" + urlencode({k: v for k, v in params.items() if v is not None})

    return render(
        request,
        "console_cases.html",
        me,
        queues=qs,
        queue=queue,
        total=total,
        items=read_list(session, rows, now),
        offset=offset,
        page_size=PAGE_SIZE,
        given=given,
        sort=sort,
        href=href,
        export_href="/api/v1/cases/export.xlsx?" + urlencode(_export_params(given)),
        cats=dict(session.execute(select(Category.code, Category.name)).all()),
        **_choices(session, page_area(session, me), f),
    )


def _export_params(given: dict[str, str]) -> dict[str, str]:
    """The API's names for the page's query: the overdue view is `overdue=true`."""
    out = {k: v for k, v in given.items() if k != "queue"}
    queue = given.get("queue")
    if queue == "overdue":
        out["overdue"] = "true"
    elif queue and queue != "all":
        out["queue"] = queue
    return out


def _choices(session: Session, area: Principal, f: CaseFilter) -> dict[str, Any]:
    """What the filters offer: places of the user's area, classes, departments, states."""
    divisions = select(Division.code, Division.name, Division.level).order_by(Division.code)
    counties = area.county_codes()
    if counties is not None:
        divisions = divisions.where(
            or_(*(Division.code.startswith(c, autoescape=True) for c in sorted(counties)))
            if counties
            else Division.code.is_(None)
        )
    places = [(c, n, lv) for c, n, lv in session.execute(divisions) if area.covers(c)]
    streets = [(c, n) for c, n, lv in places if lv == "street"]
    communities = [
        (c, n)
        for c, n, lv in places
        if lv == "community" and (not f.street or c.startswith(f.street))
    ]
    return {
        "streets": streets,
        "communities": communities,
        "grids": _grids(session, area, f.community) if f.community else [],
        "categories": _categories(session),
        "departments": _departments(session, area),
        # Codes whose words the page takes from the label table in its own language.
        **{key: [(code, code) for code in table] for key, table in _CODED.items()},
    }


_CODED = {"sources": SOURCE, "states": STATE, "lights": LIGHT}


def _grids(session: Session, area: Principal, community: str) -> list[tuple[str, str]]:
    rows = session.execute(
        select(Grid.code, Grid.name)
        .join(GridVersion, GridVersion.id == Grid.version_id)
        .where(
            GridVersion.status == "active",
            GridVersion.layer == "social",
            Grid.community_code == community,
        )
        .order_by(Grid.code)
    )
    return [(c, f"{n} {c}") for c, n in rows if area.contains(c)]


def _categories(session: Session) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """Return (major code, major name, [(code, name)]) of the catalogue, in code order."""
    out: dict[str, tuple[str, str, list[tuple[str, str]]]] = {}
    rows = session.execute(
        select(Category.major_code, Category.major_name, Category.code, Category.name).order_by(
            Category.code
        )
    )
    for major, major_name, code, name in rows:
        out.setdefault(major, (major, major_name, []))[2].append((code, name))
    return list(out.values())


def _departments(session: Session, area: Principal) -> list[tuple[str, str]]:
    query = select(Department.code, Department.name).order_by(Department.code)
    counties = area.county_codes()
    if counties is not None:
        query = query.where(
            or_(Department.county_code.in_(sorted(counties)), Department.level == "city")
        )
    return [(c, n) for c, n in session.execute(query)]
