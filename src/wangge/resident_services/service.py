"""Use cases of a 代办 request: ask (resident), take, handle, close (grid worker), rate.

One transaction each (the request's); every step writes a `ServiceRequestEvent` and an audit
entry. The clocks are the cases' own (`cases.timing.CLOCK`: the official calendar with its
调休 days, working hours unless the service runs around the clock) and so are the lights and
the satisfaction scale (`cases.vocabulary.Satisfaction`).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true, update
from sqlalchemy.orm import Session

from wangge.audit.service import record
from wangge.auth.principal import Principal
from wangge.cases.access import actor_id
from wangge.cases.deadlines import SHANGHAI
from wangge.cases.labels import label
from wangge.cases.limits import RESPOND, SOLVE, ChannelRule, promise_text
from wangge.cases.positions import to_cgcs2000
from wangge.cases.timing import CLOCK
from wangge.cases.vocabulary import Satisfaction
from wangge.common.masking import mask_name, mask_phone
from wangge.errors import Conflict, Forbidden, NotFound, ValidationFailed
from wangge.grids.locating import locate_refs
from wangge.intake.rules import normalize_phone
from wangge.resident_services.codes import request_code
from wangge.resident_services.models import ServiceItem, ServiceRequest, ServiceRequestEvent

REQUESTED, IN_PROGRESS, CLOSED, RATED = "requested", "in_progress", "closed", "rated"
STATES: dict[str, tuple[str, str]] = {
    REQUESTED: ("待接单", "Waiting"),
    IN_PROGRESS: ("办理中", "In progress"),
    CLOSED: ("已办结", "Done"),
    RATED: ("已评价", "Rated"),
}
ACTIONS: dict[str, tuple[str, str]] = {
    "request": ("申请代办", "Requested"),
    "take": ("接单", "Taken"),
    "handle": ("办理进展", "Progress"),
    "close": ("办结", "Done"),
    "rate": ("评价", "Rated"),
}
OPEN = (REQUESTED, IN_PROGRESS)
# The posts that serve the residents of their grid (网格员, 网格长).
WORKER_ROLES = frozenset({"supervisor", "grid_leader"})


# ----------------------------------------------------------------------------- scope


def area_condition(principal: Principal) -> ColumnElement[bool]:
    """Requests in the principal's area: county, street/community prefix or his grids."""
    if principal.scope_prefixes is None:
        return true()
    conds: list[ColumnElement[bool]] = []
    for p in principal.scope_prefixes:
        if len(p) <= 6:
            conds.append(ServiceRequest.county_code.startswith(p, autoescape=True))
        elif len(p) <= 12:
            conds.append(ServiceRequest.community_code.startswith(p, autoescape=True))
        else:  # a social grid post
            conds.append(ServiceRequest.grid_code.startswith(p, autoescape=True))
    return or_(*conds) if conds else false()


def get_visible(session: Session, request_id: int, principal: Principal) -> ServiceRequest:
    """Return the request if it lies in the principal's area; 404 otherwise (no leak)."""
    principal.require("cases.read")
    row = session.scalars(
        select(ServiceRequest).where(ServiceRequest.id == request_id, area_condition(principal))
    ).first()
    if row is None:
        raise NotFound(f"代办申请 {request_id} 不存在", f"service request {request_id} not found")
    return row


def _require_worker(principal: Principal) -> None:
    principal.require("cases.act")
    if "*" in principal.permissions or principal.roles & WORKER_ROLES:
        return
    raise Forbidden(
        "只有本网格的网格员或网格长可以办理代办",
        "only the grid workers of the resident's grid handle a service request",
        code="role_not_allowed",
    )


# ----------------------------------------------------------------------------- clocks


def _due(start: datetime, hours: float, around_the_clock: bool) -> datetime:
    return CLOCK.deadline(start, hours, urgent=around_the_clock)


def lights(row: ServiceRequest, now: datetime) -> dict[str, str]:
    """Return the running clocks' lights: answer (until taken) and settle (until closed)."""
    out: dict[str, str] = {}
    wall = row.around_the_clock
    if row.state == REQUESTED:
        out[RESPOND] = CLOCK.light(now, row.requested_at, row.respond_due, urgent=wall).value
    if row.state in OPEN:
        out[SOLVE] = CLOCK.light(now, row.requested_at, row.answer_due, urgent=wall).value
    return out


def promise(row: ServiceRequest) -> dict[str, Any]:
    """Return what the resident was promised, in both languages, with the due times."""
    rules = {
        RESPOND: ChannelRule(
            source="online", stage=RESPOND, hours=row.respond_hours,
            around_the_clock=row.around_the_clock,
        ),
        SOLVE: ChannelRule(
            source="online", stage=SOLVE, hours=row.answer_hours,
            around_the_clock=row.around_the_clock,
        ),
    }  # fmt: skip
    zh, en = promise_text(rules) or ("", "")
    return {
        "text_zh": zh, "text_en": en, "respond_due": row.respond_due.isoformat(),
        "responded_at": row.taken_at.isoformat() if row.taken_at else None,
        "solve_due": row.answer_due.isoformat(),
    }  # fmt: skip


# ----------------------------------------------------------------------------- helpers


def secret_hash(secret: str) -> str:
    """Return the stored hash of a tracking secret."""
    return hashlib.sha256(f"wangge-service:{secret}".encode()).hexdigest()


def _event(
    session: Session, row: ServiceRequest, action: str, old: str | None, now: datetime, *,
    who: str, name: str, user_id: int | None = None, note: str | None = None, **detail: Any,
) -> None:  # fmt: skip
    session.add(
        ServiceRequestEvent(
            request_id=row.id, at=now, actor_id=who, actor_name=name, action=action,
            from_state=old, to_state=row.state, note=note, detail=detail,
        )
    )  # fmt: skip
    record(
        session, actor=name, actor_id=user_id, action=f"resident_service.{action}",
        object_type="resident_service_request", object_id=row.id, county_code=row.county_code,
        detail={"from": old, "to": row.state, **detail}, at=now,
    )  # fmt: skip


def _bump(session: Session, row: ServiceRequest, version: int | None) -> None:
    """Compare-and-set on the version: a second worker acting on a stale view gets 409."""
    expected = row.version if version is None else version
    result = session.execute(
        update(ServiceRequest)
        .where(ServiceRequest.id == row.id, ServiceRequest.version == expected)
        .values(version=expected + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            "该代办已被他人更新，请刷新后重试", "the request changed meanwhile: reload and retry",
            code="version_conflict",
        )  # fmt: skip
    session.expire(row, ["version"])


def _refuse(row: ServiceRequest, action: str) -> Conflict:
    zh, en = STATES[row.state]
    a_zh, a_en = ACTIONS[action]
    return Conflict(
        f"代办申请处于「{zh}」状态，不能{a_zh}", f"a request that is '{en}' cannot be {a_en.lower()}",
        code="invalid_transition", details={"state": row.state, "action": action},
    )  # fmt: skip


def _text(value: str | None, field: str, zh: str, en: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationFailed(f"请填写{zh}", f"{en} is required", code="required", field=field)
    return text


# ----------------------------------------------------------------------------- steps


def create_request(
    session: Session, data: dict[str, Any], *, now: datetime
) -> tuple[ServiceRequest, str]:
    """File a resident's request in the grid of his position; return it and the tracking code."""
    name = _text(data.get("applicant_name"), "applicant_name", "申请人姓名", "applicant_name")
    phone = normalize_phone(_text(data.get("phone"), "phone", "联系电话", "phone"))
    code = _text(data.get("service_code"), "service_code", "代办事项", "service_code").upper()
    lon, lat = to_cgcs2000(float(data["lon"]), float(data["lat"]), data.get("crs"))
    grid = locate_refs(session, lon, lat).get("social")
    if grid is None:
        raise ValidationFailed(
            "这个位置不在本区的服务范围内，请重新定位或修改位置",
            "this place is outside the district's service area: move the position",
            code="outside_service_area", field="lon",
        )  # fmt: skip
    item = session.scalar(
        select(ServiceItem).where(ServiceItem.county_code == grid.county_code, ServiceItem.code == code)
    )  # fmt: skip
    if item is None or not item.is_active:
        elsewhere = session.scalar(select(ServiceItem.county_code).where(ServiceItem.code == code))
        if item is None and elsewhere is not None:
            raise ValidationFailed(
                f"代办事项 {code} 不在您所在的区县（{grid.county_code}）办理",
                f"service {code} is not offered in your county ({grid.county_code})",
                code="service_outside_county", field="service_code",
            )  # fmt: skip
        raise ValidationFailed(
            f"未知的代办事项 {code}，请从目录中选择", f"unknown service {code}: pick one from the list",
            code="unknown_service", field="service_code",
        )  # fmt: skip
    wall = item.around_the_clock
    secret = secrets.token_urlsafe(9).replace("-", "x")
    row = ServiceRequest(
        county_code=grid.county_code, community_code=grid.community_code, grid_id=grid.id,
        grid_code=grid.code, lon=lon, lat=lat,
        address=(data.get("address") or "").strip() or None, service_id=item.id,
        service_code=item.code, service_name=item.name,
        description=(data.get("description") or "").strip(), applicant_name=name,
        applicant_phone=phone, secret_hash=secret_hash(secret), state=REQUESTED,
        requested_at=now, around_the_clock=wall, respond_hours=item.respond_hours,
        answer_hours=item.answer_hours, respond_due=_due(now, item.respond_hours, wall),
        answer_due=_due(now, item.answer_hours, wall), complex=False, version=1,
    )  # fmt: skip
    session.add(row)
    session.flush()
    row.code = request_code(now, row.id)
    _event(session, row, "request", None, now, who="resident", name="居民 resident")
    _tell_grid_workers(session, row, now)
    session.flush()
    return row, f"{row.code}-{secret}"


def _tell_grid_workers(session: Session, row: ServiceRequest, now: datetime) -> None:
    """Queue an in-app message (站内信) to each person serving the grid today (网格员配置)."""
    from wangge.assignments.service import people_of_grid
    from wangge.cases.outbox import enqueue

    due = now.astimezone(SHANGHAI)
    for user_id in dict.fromkeys(
        s.assignment.user_id for s in people_of_grid(session, row.grid_code, due.date())
    ):
        enqueue(
            session, topic="resident_service.requested", recipient=str(user_id),
            body={"title": f"新的代办申请 {row.code}：{row.service_name}", "request_id": row.id,
                  "answer_due": row.respond_due.isoformat()},
            now=now, county_code=row.county_code,
            dedupe_key=f"resident_service:{row.id}:{user_id}",
        )  # fmt: skip


def act(
    session: Session, principal: Principal, request_id: int, action: str, body: dict[str, Any],
    *, now: datetime,
) -> ServiceRequest:  # fmt: skip
    """Take, record progress on, or close a request of the worker's area."""
    if action not in ("take", "handle", "close"):
        raise NotFound(f"操作 {action} 不存在", f"unknown action {action}")
    _require_worker(principal)
    row = get_visible(session, request_id, principal)
    old, detail = row.state, {}
    note = (body.get("note") or "").strip() or None
    if action == "take":
        if row.state != REQUESTED:
            raise _refuse(row, action)
        row.state, row.taken_at = IN_PROGRESS, now
        row.taken_by, row.taken_by_name = actor_id(principal), principal.name
    elif action == "handle":
        if row.state != IN_PROGRESS:
            raise _refuse(row, action)
        note = _text(note, "note", "办理情况", "note")
        if body.get("complex") and not row.complex:
            # 复杂事项: the settle clock runs to the longer limit, and the resident sees why.
            item = session.get(ServiceItem, row.service_id)
            hours = item.complex_hours if item is not None else 72.0
            row.complex, row.complex_reason, row.answer_hours = True, note, hours
            row.answer_due = _due(row.requested_at, hours, row.around_the_clock)
            detail = {"complex": True, "answer_due": row.answer_due.isoformat()}
    else:
        if row.state != IN_PROGRESS:
            raise _refuse(row, action)
        row.result = _text(note, "note", "办结结果", "note")
        row.state, row.closed_at = CLOSED, now
    _bump(session, row, body.get("version"))
    _event(
        session, row, action, old, now, who=actor_id(principal), name=principal.name,
        user_id=principal.user_id, note=note, **detail,
    )  # fmt: skip
    session.flush()
    return row


def tracked(session: Session, tracking: str) -> ServiceRequest:
    """Return the request a tracking code names (404 for any wrong half)."""
    code, _, secret = tracking.strip().rpartition("-")
    row = None
    if code and len(secret) >= 8:
        row = session.scalar(
            select(ServiceRequest).where(
                ServiceRequest.code == code, ServiceRequest.secret_hash == secret_hash(secret)
            )
        )
    if row is None:
        raise NotFound("查询编码不正确", "unknown tracking code", code="bad_tracking_code")
    return row


def rate(
    session: Session, tracking: str, rating: str | None, note: str | None, *, now: datetime
) -> ServiceRequest:
    """Record the resident's satisfaction with a closed request (once)."""
    row = tracked(session, tracking)
    if rating not in set(Satisfaction):
        raise ValidationFailed(
            "请选择满意度：满意、基本满意或不满意",
            "choose a rating: satisfied, basically_satisfied or unsatisfied",
            code="rating_required", field="rating",
        )  # fmt: skip
    if row.state != CLOSED:
        raise _refuse(row, "rate")
    old = row.state
    row.state, row.rating, row.rated_at = RATED, rating, now
    _bump(session, row, None)
    _event(session, row, "rate", old, now, who="resident", name="居民 resident",
           note=(note or "").strip() or None, rating=rating)  # fmt: skip
    session.flush()
    return row


# ----------------------------------------------------------------------------- views


def _events(session: Session, row: ServiceRequest) -> list[ServiceRequestEvent]:
    return list(
        session.scalars(
            select(ServiceRequestEvent)
            .where(ServiceRequestEvent.request_id == row.id)
            .order_by(ServiceRequestEvent.id)
        )
    )


def public_view(session: Session, row: ServiceRequest, now: datetime) -> dict[str, Any]:
    """Return what the resident sees: state, promise, timeline (no staff names)."""
    item = session.get(ServiceItem, row.service_id)
    return {
        "code": row.code, "state": row.state, "state_zh": STATES[row.state][0],
        "state_en": STATES[row.state][1], "service_code": row.service_code,
        "service_name": row.service_name, "service_name_en": item.name_en if item else "",
        "materials": list(item.materials or []) if item else [],
        "requested_at": row.requested_at.isoformat(), "promise": promise(row),
        "complex": row.complex, "complex_reason": row.complex_reason, "result": row.result,
        "closed_at": row.closed_at.isoformat() if row.closed_at else None,
        "rating": row.rating, "can_rate": row.state == CLOSED, "lights": lights(row, now),
        "timeline": [
            {"action": e.action, "action_zh": ACTIONS[e.action][0],
             "action_en": ACTIONS[e.action][1], "at": e.at.isoformat(), "note": e.note}
            for e in _events(session, row)
        ],
    }  # fmt: skip


def staff_view(
    session: Session, row: ServiceRequest, now: datetime, *, history: bool = False
) -> dict[str, Any]:
    """Return a request for the grid worker (applicant masked) with its clocks and lights."""
    out: dict[str, Any] = {
        "id": row.id, "code": row.code, "state": row.state, "state_zh": STATES[row.state][0],
        "state_en": STATES[row.state][1], "grid_code": row.grid_code,
        "community_code": row.community_code, "service_code": row.service_code,
        "service_name": row.service_name, "description": row.description,
        "address": row.address, "applicant_name": mask_name(row.applicant_name),
        "applicant_phone": mask_phone(row.applicant_phone),
        "requested_at": row.requested_at.isoformat(), "respond_due": row.respond_due.isoformat(),
        "answer_due": row.answer_due.isoformat(), "complex": row.complex,
        "complex_reason": row.complex_reason, "taken_by_name": row.taken_by_name,
        "taken_at": row.taken_at.isoformat() if row.taken_at else None,
        "closed_at": row.closed_at.isoformat() if row.closed_at else None,
        "result": row.result, "rating": row.rating,
        "rating_zh": label("satisfaction", row.rating) if row.rating else None,
        "lights": lights(row, now), "version": row.version,
    }  # fmt: skip
    if history:
        out["timeline"] = [
            {"action": e.action, "action_zh": ACTIONS[e.action][0], "at": e.at.isoformat(),
             "actor": e.actor_name, "note": e.note, "to_state": e.to_state}
            for e in _events(session, row)
        ]  # fmt: skip
    return out


def listing(
    session: Session, principal: Principal, *, state: str | None, limit: int, offset: int,
    now: datetime,
) -> dict[str, Any]:  # fmt: skip
    """Return the requests of the principal's area: open ones by due time, else newest first."""
    principal.require("cases.read")
    q = select(ServiceRequest).where(area_condition(principal))
    order: list[Any] = [ServiceRequest.requested_at.desc(), ServiceRequest.id.desc()]
    if state == "open":
        q = q.where(ServiceRequest.state.in_(OPEN))
        order = [ServiceRequest.answer_due, ServiceRequest.id]
    elif state is not None:
        if state not in STATES:
            raise ValidationFailed(
                f"未知的状态 {state}", f"unknown state {state!r}", code="bad_state", field="state"
            )
        q = q.where(ServiceRequest.state == state)
    rows = list(session.scalars(q.order_by(*order).limit(limit + 1).offset(offset)))
    return {
        "items": [staff_view(session, r, now) for r in rows[:limit]],
        "more": len(rows) > limit,
    }


def reveal_contact(
    session: Session, principal: Principal, request_id: int, *, now: datetime
) -> dict[str, str]:
    """Return the applicant's name and phone in full to a worker of the area (audited)."""
    _require_worker(principal)
    row = get_visible(session, request_id, principal)
    record(
        session, actor=principal.name, actor_id=principal.user_id,
        action="resident_service.reveal_contact", object_type="resident_service_request",
        object_id=row.id, county_code=row.county_code, detail={"fields": ["name", "phone"]}, at=now,
    )  # fmt: skip
    return {"applicant_name": row.applicant_name, "applicant_phone": row.applicant_phone}
