"""Console page of the audit log (审计日志) for auditors and administrators.

Filters (actor, action, object type and id, period, only the unmasking entries) are kept in
the address; the list is paged newest first with each entry's seal status. The chain's
verification (`audit.chain.verify_chain`, the logic of `wangge audit verify`) reads every
entry, seconds on a large log, so the page never runs it itself: it shows the newest result
kept in the `jobs` table and, when that is older than `VERIFY_MAX_AGE`, queues a new one for
the export worker. Reading the page is itself audited (`audit.view`, with the filters).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.audit import listing
from wangge.audit.labels import action_label
from wangge.audit.models import AuditEntry
from wangge.audit.service import record_for
from wangge.common.localtime import SHANGHAI
from wangge.common.models import utcnow
from wangge.errors import DomainError
from wangge.exports.jobs import QUEUED, VERIFY, aware
from wangge.ops.jobs import DONE, RUNNING, Job, start_job
from wangge.web.views import MeDep, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
VERIFY_MAX_AGE = timedelta(minutes=10)
PARAMS = ("actor", "action", "object_type", "object_id", "from", "to", "unmask")


def verification(session: Session, *, queue_if_old: bool) -> dict[str, Any]:
    """The newest verification's result, and whether a newer one is on its way."""
    newest = session.scalar(
        select(Job).where(Job.kind == VERIFY, Job.state == DONE).order_by(Job.id.desc()).limit(1)
    )
    pending = session.scalar(
        select(Job.id).where(Job.kind == VERIFY, Job.state.in_((QUEUED, RUNNING))).limit(1)
    )
    old = newest is None or utcnow() - aware(newest.finished_at) > VERIFY_MAX_AGE  # type: ignore[operator]
    if queue_if_old and old and pending is None:
        queue_verification(session)
        pending = True
    out: dict[str, Any] = {"pending": pending is not None, "result": None}
    if newest is not None:
        out["result"] = {**newest.detail, "at": aware(newest.finished_at)}
    return out


def queue_verification(session: Session) -> Job:
    job = start_job(
        session, VERIFY, "chain", total=1, title=("校验审计链", "verifying the audit chain")
    )
    job.state = QUEUED
    return job


def _refused(request: Request, me: Any) -> Response:
    response = render(
        request, "message.html", me, title="审计日志",
        message=f"没有权限查看审计日志 / permission required: {listing.READ}",
    )  # fmt: skip
    response.status_code = 403
    return response


@router.get("/console/audit")
def audit_page(request: Request, session: SessionDep, me: MeDep) -> Response:
    if me is None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    if not me.can(listing.READ):
        return _refused(request, me)
    raw = request.query_params
    try:
        f = listing.audit_filter(
            actor=raw.get("actor"),
            action=raw.get("action"),
            object_type=raw.get("object_type"),
            object_id=raw.get("object_id"),
            date_from=raw.get("from"),
            date_to=raw.get("to"),
            unmask=raw.get("unmask") in ("1", "true", "on"),
        )
    except DomainError as exc:
        response = render(
            request, "message.html", me, title="审计日志",
            message=f"{exc.message_zh} / {exc.message_en}", here="/console/audit",
        )  # fmt: skip
        response.status_code = 422
        return response
    offset = int(raw["offset"]) if raw.get("offset", "").isdigit() else 0
    # The read is audited first: on SQLite the write lock is taken before the page's reads.
    record_for(
        session, me, "audit.view", object_type="audit_log",
        detail={"filters": f.given(), "offset": offset},
    )  # fmt: skip
    total = listing.count_entries(session, me, f)
    entries = listing.page(session, me, f, limit=PAGE_SIZE, offset=offset)
    given = {k: raw[k].strip() for k in PARAMS if raw.get(k, "").strip()}

    def href(**changes: Any) -> str:
        params = {**given, **changes}
        return "/console/audit?" + urlencode({k: v for k, v in params.items() if v is not None})

    waiting = session.scalar(
        select(func.count(AuditEntry.id)).where(AuditEntry.chain_pos.is_(None))
    )
    actions = listing.actions_seen(session, f, utcnow().astimezone(SHANGHAI).date())
    query = urlencode({k: v for k, v in given.items()})
    return render(
        request,
        "console_audit.html",
        me,
        entries=entries,
        total=total,
        offset=offset,
        page_size=PAGE_SIZE,
        given=given,
        href=href,
        unmask_only=f.unmask_only,
        verify=verification(session, queue_if_old=True),
        waiting=waiting or 0,
        actions=actions,
        action_label=action_label,  # the codes' names in the page's language
        export_job="/api/v1/export-jobs/audit" + (f"?{query}" if query else ""),
    )


@router.post("/web/api/audit/verify", status_code=202)
def verify_now(session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Queue a verification of the whole chain now (the page shows the result when done)."""
    principal.require(listing.READ)
    state = verification(session, queue_if_old=False)
    if not state["pending"]:
        queue_verification(session)
    record_for(session, principal, "audit.verify", object_type="audit_log")
    return {"pending": True}
