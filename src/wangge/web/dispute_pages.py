"""矛盾纠纷 (`/console/disputes`): the disputes of the user's area with this month's counts, and
one dispute's parties (masked), sessions, outcome, follow-up and history. The forms (register,
steps) post `/api/v1/disputes` from the browser (dispute_register.js, disputes.js).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from wangge.api.deps import SessionDep
from wangge.cases.deadlines import SHANGHAI
from wangge.cases.views import NowDep
from wangge.disputes import rules, service
from wangge.errors import DomainError
from wangge.web.views import MeDep, render

router = APIRouter(include_in_schema=False)
TITLE = "矛盾纠纷"


@router.get("/console/disputes")
def disputes_page(request: Request, session: SessionDep, me: MeDep, now: NowDep) -> Response:
    if me is None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    if not me.can("cases.read"):
        message = "没有权限：cases.read / permission required: cases.read"
        return render(request, "message.html", me, title=TITLE, message=message)
    state = request.query_params.get("state") or None
    if state not in rules.STATES:
        state = None
    found = service.listing(session, me, service.Filters(state=state), limit=200, offset=0)
    month = request.query_params.get("month") or now.astimezone(SHANGHAI).strftime("%Y-%m")
    level = "grid" if request.query_params.get("level") == "grid" else "community"
    try:
        counts = service.stats(session, me, level, month)
    except DomainError as exc:  # a mistyped ?month=
        return render(request, "message.html", me, title=TITLE, message=str(exc))
    return render(
        request, "console_disputes.html", me, items=found["items"], more=found["more"],
        state=state, states=rules.STATES, counts=counts, level=level, kinds=rules.KINDS,
        can_register=me.can("cases.report"),
    )  # fmt: skip


@router.get("/console/disputes/{dispute_id}")
def dispute_page(
    dispute_id: int, request: Request, session: SessionDep, me: MeDep, now: NowDep
) -> Response:
    if me is None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    try:
        row = service.get_visible(session, dispute_id, me)
    except DomainError as exc:
        return render(request, "message.html", me, title=TITLE, message=str(exc))
    # The forms show for those the API lets act; the API checks again on every post.
    can_act = me.can("cases.act") or (me.user_id is not None and me.user_id == row.mediator_user_id)
    return render(
        request, "console_dispute.html", me, d=service.read(session, row), can_act=can_act,
        today=service.local_day(now).isoformat(),
    )  # fmt: skip
