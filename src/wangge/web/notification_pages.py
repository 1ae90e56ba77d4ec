"""Console page of notifications (通知投递): dead letters with a retry button, and the routes.

The page only shows; the retry button calls `POST /api/v1/notifications/{id}/actions/retry`,
where rights, checks and the audit log are enforced.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.api.deps import SessionDep
from wangge.departments.models import Department
from wangge.errors import DomainError
from wangge.notifications import service
from wangge.notifications.models import CHANNELS, KINDS, STATUSES, TOPIC_KIND, NotificationRoute
from wangge.notifications.recipients import (
    centre_of,
    centre_recipient,
    department_of,
    department_recipient,
)
from wangge.notifications.service import DeadLetter
from wangge.web.area import counties_in_scope
from wangge.web.i18n import LANG_COOKIE, pick_language
from wangge.web.views import MeDep, refuse, render

router = APIRouter(include_in_schema=False)


def _names(session: Session, codes: set[str]) -> dict[str, str]:
    rows = session.execute(
        select(Department.code, Department.name).where(Department.code.in_(codes))
    )
    return {code: name for code, name in rows}


def _recipient(to: str, names: dict[str, str], en: bool) -> str:
    dept, county = department_of(to), centre_of(to)
    if dept is not None:
        return f"{names.get(dept, dept)} ({dept})"
    if county is not None:
        return f"{'Centre' if en else '指挥中心'} {county}"
    return f"{'User' if en else '用户'} {to}"


@router.get("/console/notifications")
def notifications_page(request: Request, session: SessionDep, me: MeDep) -> Response:
    if me is None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    if not me.can(service.MANAGE):
        return refuse(request, me, service.MANAGE, "通知投递")
    county = request.query_params.get("county") or None
    try:
        dead = service.dead_letters(session, me, county=county)
        counts = service.outbox_counts(session, me, county=county)
        routes = service.list_routes(session, me, county=county)
    except DomainError as exc:
        return render(request, "message.html", me, title="通知投递", message=exc.message_zh)
    lang = pick_language(
        request.cookies.get(LANG_COOKIE),
        request.query_params.get("lang"),
        request.app.state.settings.default_language,
    )
    en = lang == "en"
    codes = {department_of(d.message.recipient) for d in dead}
    names = _names(
        session, {c for c in codes if c} | {r.department_code for r in routes if r.department_code}
    )
    return render(
        request,
        "console_notifications.html",
        me,
        county=county or "",
        counties=counties_in_scope(session, me),
        rows=[_dead_letter_row(d, names, en) for d in dead],
        counts=[(STATUSES[s][1 if en else 0], counts.get(s, 0)) for s in STATUSES],
        routes=[_route_row(r, names, en) for r in routes],
    )


def _dead_letter_row(d: DeadLetter, names: dict[str, str], en: bool) -> dict[str, Any]:
    """One dead letter as the page shows it, in the page's language."""
    pick = 1 if en else 0
    return {
        "id": d.message.id,
        "at": d.message.created_at,
        "kind": KINDS.get(TOPIC_KIND.get(d.message.topic, ""), (d.message.topic,) * 2)[pick],
        "channel": CHANNELS.get(d.message.channel, (d.message.channel,) * 2)[pick],
        "recipient": _recipient(d.message.recipient, names, en),
        "case_id": d.message.case_id,
        "case_code": d.case_code,
        "attempts": d.message.attempts,
        "error": d.message.last_error or "",
    }


def _route_row(r: NotificationRoute, names: dict[str, str], en: bool) -> dict[str, Any]:
    """One notification route as the page shows it, in the page's language."""
    pick = 1 if en else 0
    owner = (
        department_recipient(r.department_code)
        if r.department_code
        else centre_recipient(r.county_code)
    )
    return {
        "county": r.county_code,
        "owner": _recipient(owner, names, en),
        "channel": CHANNELS[r.channel][pick],
        "name": r.name,
        "kinds": (", " if en else "、").join(KINDS[k][pick] for k in r.kinds),
        "active": r.is_active,
    }
