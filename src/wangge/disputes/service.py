"""Use cases of the disputes: register, read masked, reveal (audited), mediate, close, count.

One transaction each (the request's); every step writes a `DisputeEvent` and an audit entry.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from wangge.audit.service import record
from wangge.auth.models import User
from wangge.auth.principal import Principal
from wangge.cases.access import actor_id
from wangge.cases.deadlines import SHANGHAI
from wangge.cases.positions import to_cgcs2000
from wangge.common.ids import parse_id_number
from wangge.common.masking import mask_id_number, mask_name, mask_phone, scrub
from wangge.disputes import rules
from wangge.disputes.models import Dispute, DisputeEvent, DisputeParty, DisputeSession
from wangge.disputes.schemas import DisputeIn, FollowUpIn, OutcomeIn, PartyIn, SessionIn
from wangge.divisions.models import Division
from wangge.errors import Forbidden, NotFound, ValidationFailed
from wangge.grids.locating import locate_refs
from wangge.intake.rules import normalize_phone

UNMASK = "personal.unmask"


# ----------------------------------------------------------------------------- scope


def area_condition(principal: Principal) -> ColumnElement[bool]:
    """Disputes in the principal's area: county, street/community prefix or his grids."""
    if principal.scope_prefixes is None:
        return true()
    conds: list[ColumnElement[bool]] = []
    for p in principal.scope_prefixes:
        if len(p) <= 6:
            conds.append(Dispute.county_code.startswith(p, autoescape=True))
        elif len(p) <= 12:
            conds.append(Dispute.community_code.startswith(p, autoescape=True))
        else:  # a social grid post: disputes are located in the social layer only
            conds.append(Dispute.grid_code.startswith(p, autoescape=True))
    return or_(*conds) if conds else false()


def visible(principal: Principal) -> ColumnElement[bool]:
    """The disputes a principal may read: his area, and those he mediates."""
    principal.require("cases.read")  # citizens report problems but never see disputes
    conds = [area_condition(principal)]
    if principal.user_id is not None:
        conds.append(Dispute.mediator_user_id == principal.user_id)
    return or_(*conds)


def get_visible(
    session: Session, dispute_id: int, principal: Principal, *, lock: bool = False
) -> Dispute:
    """Return the dispute if the principal may see it; 404 otherwise (no existence leak).

    `lock` holds the row until the transaction ends: two mediators posting an outcome at
    once are serialised, and the second sees the first one's state (PostgreSQL; SQLite
    serialises writers anyway).
    """
    query = select(Dispute).where(Dispute.id == dispute_id, visible(principal))
    row = session.scalars(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"纠纷 {dispute_id} 不存在", f"dispute {dispute_id} does not exist")
    return row


def _require_mediator(principal: Principal, dispute: Dispute) -> None:
    """Sessions, outcome and agreement: `cases.act` or the dispute's own mediator."""
    if principal.can("cases.act"):
        return
    if principal.user_id is not None and principal.user_id == dispute.mediator_user_id:
        return
    raise Forbidden(
        "只有调解员或有处置权限（cases.act）的人员可以记录调解",
        "only the mediator or a user with cases.act records the mediation",
        code="mediator_required",
    )


# ----------------------------------------------------------------------------- helpers


def _event(
    session: Session, principal: Principal, dispute: Dispute, action: str, old: str | None,
    now: datetime, **detail: Any,
) -> None:  # fmt: skip
    session.add(
        DisputeEvent(
            dispute_id=dispute.id, at=now, actor_id=actor_id(principal),
            actor_name=principal.name, action=action, from_state=old, to_state=dispute.state,
            detail=detail,
        )
    )  # fmt: skip
    record(
        session, actor=principal.name, actor_id=principal.user_id, action=f"dispute.{action}",
        object_type="dispute", object_id=dispute.id, county_code=dispute.county_code,
        detail={"from": old, "to": dispute.state, **detail}, at=now,
    )  # fmt: skip


def local_day(at: datetime) -> date:
    """The Beijing calendar day of an instant."""
    return at.astimezone(SHANGHAI).date()


def _party(p: PartyIn, i: int, today: date) -> DisputeParty:
    name = p.name.strip()
    if not name:
        raise ValidationFailed(
            f"第{i + 1}位当事人缺少姓名", f"parties[{i}].name is empty",
            code="party_name_required", field=f"parties[{i}].name",
        )  # fmt: skip
    phone = None
    if p.phone and p.phone.strip():
        try:
            phone = normalize_phone(p.phone)
        except ValidationFailed:
            raise ValidationFailed(
                f"第{i + 1}位当事人的电话格式不正确：应为11位手机号或带区号的固定电话",
                f"parties[{i}].phone: expected an 11-digit mobile or a landline with area code",
                code="bad_phone", field=f"parties[{i}].phone",
            ) from None  # fmt: skip
    id_number = None
    if p.id_number and p.id_number.strip():
        parsed = parse_id_number(p.id_number, today=today, field=f"parties[{i}].id_number")
        id_number = parsed.number
    return DisputeParty(name=name, phone=phone, id_number=id_number)


def _mediator(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise ValidationFailed(
            f"调解员（用户 {user_id}）不存在或已停用",
            f"mediator_user_id: user {user_id} does not exist or is disabled",
            code="unknown_mediator", field="mediator_user_id",
        )  # fmt: skip
    return user


def _check_day(day: date, *, not_before: date, today: date, field: str, what: str) -> None:
    if day > today:
        raise ValidationFailed(
            f"{what}不能晚于今天（{today}）", f"{field}: {day} lies in the future",
            code="date_in_future", field=field,
        )  # fmt: skip
    if day < not_before:
        raise ValidationFailed(
            f"{what}不能早于 {not_before}", f"{field}: {day} is before {not_before}",
            code="date_too_early", field=field,
        )  # fmt: skip


# ----------------------------------------------------------------------------- steps


def create(session: Session, principal: Principal, body: DisputeIn, *, now: datetime) -> Dispute:
    """Register a dispute in the grid containing its position (inside the worker's area)."""
    principal.require("cases.report")
    principal.require("cases.read")
    kind = rules.check_kind(body.kind)
    today = local_day(now)
    parties = [_party(p, i, today) for i, p in enumerate(body.parties)]
    lon, lat = to_cgcs2000(body.lon, body.lat, body.crs)
    grid = locate_refs(session, lon, lat).get("social")
    if grid is None:
        raise ValidationFailed(
            "位置不在任何网格内：纠纷须登记在网格中",
            "the position lies in no grid: a dispute is registered in a grid",
            code="outside_grids", field="lon",
        )  # fmt: skip
    if not principal.contains(grid.code):
        raise Forbidden(
            f"网格 {grid.code} 不在您的管辖范围内", f"grid {grid.code} lies outside your area",
            code="outside_area", field="lon",
        )  # fmt: skip
    mediator_id: int | None
    if body.mediator_user_id is not None:
        user = _mediator(session, body.mediator_user_id)
        mediator_id, mediator_name = user.id, user.display_name
    else:
        mediator_id, mediator_name = principal.user_id, principal.name
    dispute = Dispute(
        county_code=grid.county_code, community_code=grid.community_code, grid_id=grid.id,
        grid_code=grid.code, lon=lon, lat=lat, address=(body.address or "").strip() or None,
        kind=kind, summary=body.summary.strip(), state="registered",
        reporter_id=actor_id(principal), reporter_name=principal.name, registered_at=now,
        mediator_user_id=mediator_id, mediator_name=mediator_name,
    )  # fmt: skip
    session.add(dispute)
    session.flush()
    for p in parties:
        p.dispute_id = dispute.id
        session.add(p)
    _event(session, principal, dispute, "register", None, now, kind=kind, parties=len(parties))
    session.flush()
    return dispute


def add_session(
    session: Session, principal: Principal, dispute_id: int, body: SessionIn, *, now: datetime
) -> DisputeSession:
    """Record a mediation session; the first one starts the mediation."""
    dispute = get_visible(session, dispute_id, principal, lock=True)
    _require_mediator(principal, dispute)
    new_state = rules.check_session(dispute.state)
    _check_day(
        body.held_on, not_before=local_day(dispute.registered_at), today=local_day(now),
        field="held_on", what="调解日期",
    )  # fmt: skip
    row = DisputeSession(
        dispute_id=dispute.id, held_on=body.held_on, place=body.place.strip(),
        notes=body.notes.strip(), recorded_by=principal.name, recorded_at=now,
    )  # fmt: skip
    session.add(row)
    old, dispute.state = dispute.state, new_state
    session.flush()
    _event(session, principal, dispute, "session", old, now, session_id=row.id)
    return row


def set_outcome(
    session: Session, principal: Principal, dispute_id: int, body: OutcomeIn, *, now: datetime
) -> Dispute:
    """Record the outcome: settled (with an agreement or a reason), failed or transferred."""
    dispute = get_visible(session, dispute_id, principal, lock=True)
    _require_mediator(principal, dispute)
    outcome = rules.check_outcome(
        dispute.state, body.outcome, transferred_to=body.transferred_to,
        agreement=dispute.agreement_upload_id is not None, reason=body.no_agreement_reason,
    )  # fmt: skip
    old = dispute.state
    dispute.state = dispute.outcome = outcome
    dispute.outcome_note = (body.note or "").strip() or None
    dispute.transferred_to = (body.transferred_to or "").strip() or None
    if outcome == "settled" and dispute.agreement_upload_id is None:
        dispute.no_agreement_reason = (body.no_agreement_reason or "").strip()
    dispute.outcome_at = now
    session.flush()
    _event(
        session, principal, dispute, "outcome", old, now, outcome=outcome,
        transferred_to=dispute.transferred_to,
    )  # fmt: skip
    return dispute


def attach_agreement(
    session: Session, principal: Principal, dispute: Dispute, upload_id: str, *, now: datetime
) -> Dispute:
    """Keep an uploaded agreement document on the dispute (replacing an earlier one)."""
    old = dispute.state
    replaced = dispute.agreement_upload_id
    dispute.agreement_upload_id = upload_id
    session.flush()
    _event(session, principal, dispute, "agreement", old, now, upload=upload_id, replaced=replaced)
    return dispute


def check_agreement_allowed(session: Session, principal: Principal, dispute_id: int) -> Dispute:
    """Check before the file is stored: visible, mediator, and the state allows it."""
    dispute = get_visible(session, dispute_id, principal, lock=True)
    _require_mediator(principal, dispute)
    rules.check_agreement_upload(dispute.state)
    return dispute


def follow_up(
    session: Session, principal: Principal, dispute_id: int, body: FollowUpIn, *, now: datetime
) -> Dispute:
    """Record the follow-up visit (回访) that closes the dispute."""
    dispute = get_visible(session, dispute_id, principal, lock=True)
    if not (principal.can("cases.act") or principal.can("cases.report")):
        _require_mediator(principal, dispute)
    new_state = rules.check_follow_up(dispute.state)
    assert dispute.outcome_at is not None  # every outcome state carries its time
    _check_day(
        body.visited_on, not_before=local_day(dispute.outcome_at), today=local_day(now),
        field="visited_on", what="回访日期",
    )  # fmt: skip
    old = dispute.state
    dispute.state = new_state
    dispute.follow_up_on = body.visited_on
    dispute.follow_up_worker = (body.worker or "").strip() or principal.name
    dispute.follow_up_result = body.result.strip()
    dispute.followed_up_at = now
    session.flush()
    _event(session, principal, dispute, "follow_up", old, now)
    return dispute


# ----------------------------------------------------------------------------- reads


def _parties(session: Session, dispute: Dispute) -> list[DisputeParty]:
    return list(
        session.scalars(
            select(DisputeParty)
            .where(DisputeParty.dispute_id == dispute.id)
            .order_by(DisputeParty.id)
        )
    )


def summary(d: Dispute, *, unmask: bool = False) -> dict[str, Any]:
    """The list form of a dispute (free text scrubbed of phone and ID numbers)."""
    text = d.summary if unmask else scrub(d.summary)
    return {
        "id": d.id, "county_code": d.county_code, "community_code": d.community_code,
        "grid_id": d.grid_id, "grid_code": d.grid_code, "lon": d.lon, "lat": d.lat,
        "address": d.address, "kind": d.kind, "kind_zh": rules.label(rules.KINDS, d.kind),
        "kind_en": rules.label(rules.KINDS, d.kind, "en"), "summary": text, "state": d.state,
        "state_zh": rules.label(rules.STATES, d.state),
        "state_en": rules.label(rules.STATES, d.state, "en"),
        "registered_at": d.registered_at, "reporter": d.reporter_name,
        "mediator_user_id": d.mediator_user_id, "mediator": d.mediator_name,
        "outcome": d.outcome, "outcome_at": d.outcome_at,
    }  # fmt: skip


def _party_rows(parties: list[DisputeParty], *, unmask: bool) -> list[dict[str, Any]]:
    """The parties' names, phones and ID numbers, masked unless `unmask`."""
    return [
        {
            "id": p.id,
            "name": p.name if unmask else mask_name(p.name),
            "phone": p.phone if unmask else mask_phone(p.phone),
            "id_number": p.id_number if unmask else mask_id_number(p.id_number),
        }
        for p in parties
    ]


def _session_rows(session: Session, dispute: Dispute, clean: Callable[[str], str]) -> list[Any]:
    """The mediation sessions in the order they were held (notes through `clean`)."""
    sessions = session.scalars(
        select(DisputeSession)
        .where(DisputeSession.dispute_id == dispute.id)
        .order_by(DisputeSession.held_on, DisputeSession.id)
    ).all()
    return [
        {
            "id": s.id,
            "held_on": s.held_on,
            "place": s.place,
            "notes": clean(s.notes),
            "recorded_by": s.recorded_by,
            "recorded_at": s.recorded_at,
        }
        for s in sessions
    ]


def _history(session: Session, dispute: Dispute) -> list[dict[str, Any]]:
    """Who moved the dispute from which state to which, and when."""
    events = session.scalars(
        select(DisputeEvent).where(DisputeEvent.dispute_id == dispute.id).order_by(DisputeEvent.id)
    ).all()
    return [
        {
            "at": e.at,
            "actor": e.actor_name,
            "action": e.action,
            "from_state": e.from_state,
            "to_state": e.to_state,
        }
        for e in events
    ]


def read(session: Session, dispute: Dispute, *, unmask: bool = False) -> dict[str, Any]:
    """The whole dispute: parties (masked unless `unmask`), sessions, outcome, follow-up, history."""
    clean: Callable[[str], str] = (lambda v: v) if unmask else scrub
    return {
        **summary(dispute, unmask=unmask),
        "masked": not unmask,
        "parties": _party_rows(_parties(session, dispute), unmask=unmask),
        "sessions": _session_rows(session, dispute, clean),
        "outcome_note": clean(dispute.outcome_note) if dispute.outcome_note else None,
        "transferred_to": dispute.transferred_to,
        "no_agreement_reason": dispute.no_agreement_reason,
        "agreement": None
        if dispute.agreement_upload_id is None
        # The upload id stays hidden: /uploads/<id>/public would serve it to anyone.
        else {"url": f"/api/v1/disputes/{dispute.id}/agreement"},
        # The printable 人民调解协议书 generated from this record (agreement_pdf.py).
        "agreement_pdf_url": f"/api/v1/disputes/{dispute.id}/agreement.pdf",
        "follow_up": None
        if dispute.follow_up_on is None
        else {
            "visited_on": dispute.follow_up_on,
            "worker": dispute.follow_up_worker,
            "result": clean(dispute.follow_up_result or ""),
            "at": dispute.followed_up_at,
        },
        "history": _history(session, dispute),
    }


def reveal(
    session: Session, principal: Principal, dispute_id: int, reason: str | None, *, now: datetime
) -> dict[str, Any]:
    """The dispute with its parties in full: `personal.unmask` and a reason, audited."""
    why = principal.require_with_reason(
        UNMASK, reason, doing_zh="查看当事人完整信息", doing_en="see the parties' full details"
    )
    dispute = get_visible(session, dispute_id, principal)
    record(
        session, actor=principal.name, actor_id=principal.user_id, action=UNMASK,
        object_type="dispute", object_id=dispute.id, county_code=dispute.county_code,
        reason=why, detail={"fields": ["name", "phone", "id_number"]}, at=now,
    )  # fmt: skip
    return read(session, dispute, unmask=True)


@dataclass(frozen=True)
class Filters:
    state: str | None = None
    kind: str | None = None
    grid_code: str | None = None
    community_code: str | None = None
    since: date | None = None  # registered on or after (Beijing day)
    until: date | None = None  # registered on or before


def _start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI).astimezone(UTC)


def listing(
    session: Session, principal: Principal, f: Filters, *, limit: int, offset: int
) -> dict[str, Any]:
    """Disputes in the caller's area, newest first, filtered."""
    q = select(Dispute).where(visible(principal))
    if f.state:
        if f.state not in rules.STATES:
            raise ValidationFailed(
                f"状态 {f.state!r} 不存在，可用：{'、'.join(rules.STATES)}",
                f"state {f.state!r} is unknown; allowed: {', '.join(rules.STATES)}",
                code="unknown_state", field="state",
            )  # fmt: skip
        q = q.where(Dispute.state == f.state)
    if f.kind:
        q = q.where(Dispute.kind == rules.check_kind(f.kind))
    if f.grid_code:
        q = q.where(Dispute.grid_code == f.grid_code)
    if f.community_code:
        q = q.where(Dispute.community_code == f.community_code)
    if f.since and f.until and f.since > f.until:
        raise ValidationFailed(
            "起始日期晚于截止日期", "from is after to", code="bad_period", field="from"
        )
    if f.since:
        q = q.where(Dispute.registered_at >= _start_of(f.since))
    if f.until:
        q = q.where(Dispute.registered_at < _start_of(f.until + timedelta(days=1)))
    rows = session.scalars(
        q.order_by(Dispute.registered_at.desc(), Dispute.id.desc()).limit(limit + 1).offset(offset)
    ).all()
    return {
        "items": [summary(d) for d in rows[:limit]],
        "limit": limit,
        "offset": offset,
        "more": len(rows) > limit,
    }


def parse_month(text: str) -> tuple[datetime, datetime]:
    """Return the UTC bounds of a Beijing calendar month given as YYYY-MM (422 otherwise)."""
    try:
        year, month = (int(v) for v in text.split("-"))
        start = date(year, month, 1)
    except ValueError:
        raise ValidationFailed(
            f"月份 {text!r} 格式不正确，应为 YYYY-MM（如 2026-12）",
            f"month {text!r}: expected YYYY-MM (e.g. 2026-12)",
            code="bad_month", field="month",
        ) from None  # fmt: skip
    end = date(year + (month == 12), month % 12 + 1, 1)
    return _start_of(start), _start_of(end)


def stats(session: Session, principal: Principal, level: str, month: str) -> dict[str, Any]:
    """Counts per grid or community for one month, in the caller's area.

    registered: registered in the month; settled/failed/transferred: outcome in the month;
    open: registered before the month's end and without an outcome at its end.
    """
    if level not in ("grid", "community"):
        raise ValidationFailed(
            f"统计层级 {level!r} 不存在，可用：grid（网格）、community（社区）",
            f"level {level!r} is unknown; allowed: grid, community",
            code="unknown_level", field="level",
        )  # fmt: skip
    start, end = parse_month(month)
    rows = session.scalars(
        select(Dispute).where(visible(principal), Dispute.registered_at < end)
    ).all()
    zero = {"registered": 0, "settled": 0, "failed": 0, "transferred": 0, "open": 0}
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict(zero))
    for d in rows:
        key = d.grid_code if level == "grid" else d.community_code
        c = counts[key]
        registered = _aware(d.registered_at)
        outcome_at = _aware(d.outcome_at) if d.outcome_at else None
        if registered >= start:
            c["registered"] += 1
        if outcome_at is not None and start <= outcome_at < end and d.outcome:
            c[d.outcome] += 1
        if outcome_at is None or outcome_at >= end:
            c["open"] += 1
    names = _community_names(session, {d.community_code for d in rows})
    items: list[dict[str, Any]] = []
    for key in sorted(counts):
        c = counts[key]
        if not any(c.values()):
            continue  # only outcomes of earlier months: nothing happened here this month
        community = key if level == "community" else key[:12]
        items.append({level: key, "community_name": names.get(community), **c})
    total = {k: sum(i[k] for i in items) for k in zero}
    return {"level": level, "month": month, "items": items, "total": total}


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _community_names(session: Session, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = session.execute(
        select(Division.code, Division.name).where(Division.code.in_(sorted(codes)))
    )
    return {code: name for code, name in rows}
