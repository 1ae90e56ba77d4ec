"""Use cases of the intake: store a report's intake details, read them masked, reveal the caller
(audited), record a 回访 and send a reply to 12345 (outbox). One transaction each, no commits.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wangge.audit.service import record
from wangge.auth.principal import Principal
from wangge.cases.access import actor_id, get_visible
from wangge.cases.models import Case
from wangge.cases.outbox import enqueue
from wangge.common.masking import mask_name, mask_phone, scrub
from wangge.errors import Conflict, Forbidden, ValidationFailed
from wangge.intake import rules
from wangge.intake.cameras import camera_info, find_camera, require_in_area
from wangge.intake.models import CaseCallback, CaseIntake, HotlineReply
from wangge.intake.schemas import CallbackIn, IntakeIn, ReplyIn

UNMASK = "personal.unmask"
INTAKE = "cases.intake"  # the centre's intake posts (受理员, 视频监督员)
HOTLINE_TOPIC = "hotline.reply"
HOTLINE_CHANNEL = "hotline"
CLOSED_STATES = frozenset({"closed", "rated"})


def as_intake(value: Any) -> IntakeIn | None:
    """Return the intake of a report (the API hands it over as a dict)."""
    if value is None or isinstance(value, IntakeIn):
        return value
    return IntakeIn.model_validate(value)


def prepare(session: Session, data: Any, principal: Principal) -> Any:
    """Check the intake before the case is located; a camera report takes the camera's place.

    `data` is the service's `CaseIn`; returned unchanged without intake details.
    """
    intake = as_intake(getattr(data, "intake", None))
    if intake is None:
        return data
    if intake.channel == "video_ai":
        raise ValidationFailed(
            "视频智能分析事件请通过 POST /api/v1/video-events 上报（自动合并重复事件）",
            "video analytics events go to POST /api/v1/video-events (repeats are merged there)",
            code="use_video_events",
            field="channel",
        )
    rules.check_combination(
        intake.channel,
        caller=bool(intake.caller_name or intake.caller_phone),
        work_order=bool(intake.work_order_no),
        camera=bool(intake.camera_key),
        external_id=False,
    )
    if not intake.camera_key:
        return replace(data, intake=intake)
    cam = find_camera(session, intake.camera_key, data.county_code)
    require_in_area(session, principal, cam)
    # The camera's own position (CGCS2000) stands for where the problem is.
    return replace(
        data, intake=intake, lon=cam.lon, lat=cam.lat, crs=None, county_code=cam.county_code
    )


def store(
    session: Session,
    case: Case,
    intake: Any,
    *,
    now: datetime,
    external_event_id: str | None = None,
    event_at: datetime | None = None,
) -> CaseIntake | None:
    """Write the intake row of a new case (its source must match the channel)."""
    data = as_intake(intake)
    if data is None:
        return None
    rules.check_source(data.channel, case.source)
    work_order = rules.check_work_order(data.work_order_no) if data.work_order_no else None
    phone = rules.normalize_phone(data.caller_phone) if data.caller_phone else None
    name = (data.caller_name or "").strip() or None
    if work_order is not None:
        taken = session.scalar(
            select(CaseIntake.case_id).where(
                CaseIntake.county_code == case.county_code, CaseIntake.work_order_no == work_order
            )
        )
        if taken is not None:
            raise Conflict(
                f"工单号 {work_order} 已登记（案卷 {taken}）",
                f"work order {work_order} is already registered (case {taken})",
                code="work_order_taken",
                field="work_order_no",
                details={"case_id": taken},
            )
    row = CaseIntake(
        case_id=case.id,
        county_code=case.county_code,
        category_code=case.category_code,
        channel=data.channel,
        work_order_no=work_order,
        caller_name=name,
        caller_phone=phone,
        camera_key=data.camera_key,
        external_event_id=external_event_id,
        event_count=1 if data.channel in rules.VIDEO_CHANNELS else 0,
        last_event_at=event_at or (now if data.channel in rules.VIDEO_CHANNELS else None),
        created_at=now,
    )
    try:
        with session.begin_nested():  # a concurrent twin with the same work order loses here
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(
            f"工单号 {work_order} 已登记", f"work order {work_order} is already registered",
            code="work_order_taken", field="work_order_no",
        ) from None  # fmt: skip
    return row


def read(session: Session, case: Case, *, unmask: bool = False) -> dict[str, Any] | None:
    """Return a case's intake, callbacks and replies; caller and free text masked by default."""
    row = session.get(CaseIntake, case.id)
    if row is None:
        return None
    show_name = (lambda v: v) if unmask else mask_name
    show_phone = (lambda v: v) if unmask else mask_phone
    show_text = (lambda v: v) if unmask else scrub
    callbacks = session.scalars(
        select(CaseCallback).where(CaseCallback.case_id == case.id).order_by(CaseCallback.id)
    ).all()
    replies = session.scalars(
        select(HotlineReply).where(HotlineReply.case_id == case.id).order_by(HotlineReply.id)
    ).all()
    return {
        "channel": row.channel,
        "channel_zh": rules.channel_label(row.channel),
        "channel_en": rules.channel_label(row.channel, "en"),
        "work_order_no": row.work_order_no,
        "caller_name": show_name(row.caller_name),
        "caller_phone": show_phone(row.caller_phone),
        "masked": not unmask,
        "camera": camera_info(session, row.county_code, row.camera_key),
        "external_event_id": row.external_event_id,
        "event_count": row.event_count,
        "last_event_at": row.last_event_at,
        "callbacks": [
            {
                "id": c.id, "at": c.at, "actor": c.actor_name, "reached": c.reached,
                "satisfaction": c.satisfaction, "note": show_text(c.note) if c.note else None,
            }
            for c in callbacks
        ],
        "replies": [
            {
                "id": r.id, "at": r.at, "actor": r.actor_name, "kind": r.kind,
                "result": r.result, "text": show_text(r.text), "delivery": _delivery(session, r),
            }
            for r in replies
        ],
        "final_reply_sent": any(r.kind == "final" for r in replies),
    }  # fmt: skip


def _delivery(session: Session, reply: HotlineReply) -> str | None:
    from wangge.cases.models import OutboxMessage

    if reply.outbox_id is None:
        return None
    return session.scalar(select(OutboxMessage.status).where(OutboxMessage.id == reply.outbox_id))


def reveal(
    session: Session, principal: Principal, case_id: int, reason: str | None
) -> dict[str, Any]:
    """Return the caller's full name and phone (with a reason; audited).

    `personal.unmask` may, and so may the centre's intake posts (`cases.intake`): the 受理员
    who does the 回访 must dial the caller, so for the cases in his area he sees the number,
    each time with a reason in the audit log, without unmasking the whole registry.
    """
    permission = INTAKE if principal.can(INTAKE) and not principal.can(UNMASK) else UNMASK
    why = principal.require_with_reason(
        permission, reason, doing_zh="查看来电人完整信息", doing_en="see the caller's full details"
    )
    case = get_visible(session, case_id, principal)
    row = _intake_of(session, case)
    record(
        session, actor=principal.name, actor_id=principal.user_id, action=UNMASK,
        object_type="case", object_id=case.id, county_code=case.county_code, reason=why,
        detail={"fields": ["caller_name", "caller_phone"]},
    )  # fmt: skip
    return {"case_id": case.id, "caller_name": row.caller_name, "caller_phone": row.caller_phone}


def _intake_of(session: Session, case: Case) -> CaseIntake:
    row = session.get(CaseIntake, case.id)
    if row is None or row.channel not in rules.CALLER_CHANNELS:
        raise ValidationFailed(
            f"案卷 {case.code} 不是热线、窗口或来信受理的案卷",
            f"case {case.code} did not come in by hotline, counter or letter",
            code="not_hotline_case",
        )
    return row


def _require_acceptor(principal: Principal) -> None:
    if "acceptor" not in principal.roles and "*" not in principal.permissions:
        raise Forbidden(
            "只有受理员可以回访和答复热线",
            "only acceptors record callbacks and reply to the hotline",
            code="acceptor_required",
        )


def add_callback(
    session: Session, principal: Principal, case_id: int, body: CallbackIn, *, now: datetime
) -> CaseCallback:
    """Record a 回访 of a caller case (at any time)."""
    _require_acceptor(principal)
    case = get_visible(session, case_id, principal)
    _intake_of(session, case)
    rules.check_callback(body.reached, body.satisfaction)
    row = CaseCallback(
        case_id=case.id, actor_id=actor_id(principal), actor_name=principal.name, at=now,
        reached=body.reached, satisfaction=body.satisfaction,
        note=(body.note or "").strip() or None,
    )  # fmt: skip
    session.add(row)
    session.flush()
    record(
        session, actor=principal.name, actor_id=principal.user_id, action="case.callback",
        object_type="case", object_id=case.id, county_code=case.county_code,
        detail={"reached": body.reached, "satisfaction": body.satisfaction}, at=now,
    )  # fmt: skip
    return row


def hotline_payload(
    case: Case, intake: CaseIntake, reply: HotlineReply, session: Session
) -> dict[str, Any]:
    """Return the JSON the 12345 platform receives (its work order, the result, the text)."""
    last = session.scalars(
        select(CaseCallback).where(CaseCallback.case_id == case.id).order_by(CaseCallback.id.desc())
    ).first()
    return {
        "work_order_no": intake.work_order_no,
        "reply_id": reply.id,
        "kind": reply.kind,
        "result": reply.result,
        "result_zh": rules.REPLY_RESULTS[reply.result][0],
        "reply": reply.text,
        "replied_at": reply.at.isoformat(),
        "case_code": case.code,
        "case_state": case.state,
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "callback": None
        if last is None
        else {
            "at": last.at.isoformat(),
            "reached": last.reached,
            "satisfaction": last.satisfaction,
        },
        "title": f"12345工单 {intake.work_order_no} {rules.REPLY_KINDS[reply.kind][0]}",
    }


def _hotline_intake(session: Session, case: Case) -> CaseIntake:
    """Return the intake of a 12345 work order with its number; refuse any other case."""
    intake = _intake_of(session, case)
    if intake.channel != "hotline_12345":
        raise ValidationFailed(
            f"案卷 {case.code} 不是12345热线工单，无需答复热线",
            f"case {case.code} is not a 12345 hotline work order: nothing to reply to",
            code="not_hotline_case",
        )
    if not intake.work_order_no:
        raise ValidationFailed(
            f"案卷 {case.code} 没有12345工单号，无法答复热线",
            f"case {case.code} has no 12345 work-order number to reply to",
            code="no_work_order",
            field="work_order_no",
        )
    return intake


def _check_final(session: Session, case: Case) -> None:
    """A final reply (办结回复) needs a closed case and goes once."""
    if case.state not in CLOSED_STATES:
        raise Conflict(
            f"案卷 {case.code} 尚未结案，不能发送办结回复（可先发送过程反馈）",
            f"case {case.code} is not closed yet: send a progress report, not the final reply",
            code="case_not_closed",
        )
    done = session.scalar(
        select(HotlineReply.id).where(HotlineReply.case_id == case.id, HotlineReply.kind == "final")
    )
    if done is not None:
        raise Conflict(
            "办结回复已发送过", "the final reply was already sent", code="final_reply_sent"
        )


def send_reply(
    session: Session, principal: Principal, case_id: int, body: ReplyIn, *, now: datetime
) -> HotlineReply:
    """Record a reply and queue it for the 12345 platform in the same transaction."""
    _require_acceptor(principal)
    case = get_visible(session, case_id, principal)
    intake = _hotline_intake(session, case)
    result = rules.check_reply(body.kind, body.result)
    if body.kind == "final":
        _check_final(session, case)
    reply = HotlineReply(
        case_id=case.id, work_order_no=intake.work_order_no, kind=body.kind, result=result,
        text=body.text.strip(), actor_id=actor_id(principal), actor_name=principal.name, at=now,
    )  # fmt: skip
    session.add(reply)
    session.flush()
    message = enqueue(
        session,
        topic=HOTLINE_TOPIC,
        recipient=f"hotline12345:{case.county_code}",
        body=hotline_payload(case, intake, reply, session),
        now=now,
        case_id=case.id,
        county_code=case.county_code,
        channel=HOTLINE_CHANNEL,
        dedupe_key=f"{HOTLINE_TOPIC}:{reply.id}",
    )
    session.flush()
    reply.outbox_id = message.id
    record(
        session, actor=principal.name, actor_id=principal.user_id, action="case.hotline_reply",
        object_type="case", object_id=case.id, county_code=case.county_code,
        detail={"kind": body.kind, "result": result, "work_order_no": intake.work_order_no},
        at=now,
    )  # fmt: skip
    return reply
