"""The department handler's phone page (/m/department): his work queue and his part's actions.

The page is a shell; the queue comes from `/web/api/m/department/worklist`, built on the same
queue conditions as the console (`cases.queries`, `cases.worklist`), and every action is a
POST of `/api/v1/cases/{id}/actions/{action}` (offline: queued in `static/outbox.js`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.auth.principal import Principal
from wangge.cases.access import visible
from wangge.cases.models import Case, CasePart, Category
from wangge.cases.queries import CaseFilter, search
from wangge.cases.timing import light
from wangge.cases.views import NowDep
from wangge.cases.vocabulary import CaseState
from wangge.errors import Forbidden
from wangge.web.i18n import N_
from wangge.web.views import MeDep, render

router = APIRouter(include_in_schema=False)

PAGE = "/m/department"
# Posts of the grid-worker page: a user holding one of them keeps /m even with a department.
GRID_ROLES = frozenset({"supervisor", "grid_leader"})
# Parts waiting for the dispatcher's answer to his request (延期 / 挂账 / 回退), or suspended:
# not his move now, but his case; listed so that he sees it is not lost.
PENDING = (
    CaseState.EXTENSION_REQUESTED,
    CaseState.SUSPENSION_REQUESTED,
    CaseState.RETURN_REQUESTED,
    CaseState.SUSPENDED,
)
LIMIT = 100  # per section: a handler's phone lists what he works today, not the archive


def is_handler(principal: Principal | None) -> bool:
    """Return True for a department handler (专业部门处置人员 post with a department)."""
    return (
        principal is not None
        and "department" in principal.roles
        and bool(principal.department_codes)
    )


def phone_link(principal: Principal | None) -> tuple[str, str]:
    """Return the console header's link to the user's phone page and its text."""
    if is_handler(principal) and not (principal.roles & GRID_ROLES):  # type: ignore[union-attr]
        return PAGE, N_("部门手机端")
    return "/m", N_("网格员")


@router.get(PAGE)
def department_phone_page(request: Request, session: SessionDep, me: MeDep) -> Response:
    if me is None:
        return RedirectResponse(f"/login?next={PAGE}", status_code=303)
    if not is_handler(me):
        if me.roles & GRID_ROLES:  # a grid worker who followed a link: his own page
            return RedirectResponse("/m", status_code=303)
        response = render(
            request,
            "message.html",
            me,
            title="部门手机端",
            message="只有专业部门处置人员可以使用此页面 / only department handlers can use this page",
        )
        response.status_code = 403
        return response
    return render(request, "mobile_department.html", me)


def _refuse_others(principal: Principal) -> None:
    principal.require("cases.read")
    if not is_handler(principal):
        raise Forbidden(
            "只有专业部门处置人员有部门待办",
            "only department handlers have a department work queue",
            code="not_a_department_handler",
        )


@router.get("/web/api/m/department/worklist")
def worklist(session: SessionDep, principal: PrincipalDep, now: NowDep) -> dict[str, Any]:
    """Return the handler's cases: 待签收 (返工 included), 处置中, and those waiting on a request."""
    _refuse_others(principal)
    sections: dict[str, dict[str, Any]] = {}
    for key in ("to_sign", "in_progress"):
        f = CaseFilter(queue=key)
        total, rows = search(session, principal, f, now=now, limit=LIMIT, sort="deadline")
        sections[key] = {"count": total, "items": rows}
    mine = sorted(principal.department_codes)
    pending_ids = select(CasePart.case_id).where(
        CasePart.department_code.in_(mine), CasePart.state.in_([s.value for s in PENDING])
    )
    q = (
        select(Case)
        .where(visible(principal), Case.id.in_(pending_ids))
        .order_by(Case.due_at.is_(None), Case.due_at, Case.id)
    )
    count = session.scalar(select(func.count()).select_from(q.order_by(None).subquery()))
    sections["pending"] = {"count": int(count or 0), "items": list(session.scalars(q.limit(LIMIT)))}
    return {
        key: _section(session, mine, s["count"], s["items"], now) for key, s in sections.items()
    }


def _section(
    session: SessionDep, mine: list[str], count: int, rows: list[Case], now: datetime
) -> dict[str, Any]:
    ids = [c.id for c in rows]
    parts: dict[int, CasePart] = {}
    if ids:  # his department's part of each case (the lead one wins when he has two)
        found = session.scalars(
            select(CasePart)
            .where(CasePart.case_id.in_(ids), CasePart.department_code.in_(mine))
            .order_by(CasePart.lead, CasePart.id)
        )
        parts = {p.case_id: p for p in found}
    codes = {c.category_code for c in rows}
    names = dict(
        session.execute(select(Category.code, Category.name).where(Category.code.in_(codes))).all()
    )
    items = []
    for case in rows:
        part = parts.get(case.id)
        lamp = light(case, now)
        items.append(
            {
                "id": case.id,
                "code": case.code,
                "version": case.version,
                "state": case.state,
                "part_state": part.state if part else None,
                "category_code": case.category_code,
                "category_name": names.get(case.category_code, case.category_code),
                "address": case.address,
                "description": case.description,
                "deadline": (part.deadline if part and part.deadline else case.due_at),
                "light": lamp.value if lamp else None,
            }
        )
    return {"count": count, "items": items}
