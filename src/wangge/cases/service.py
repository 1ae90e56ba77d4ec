"""Use cases of the case loop: act on a case (one transaction each, never commits).

Reporting a case is `cases.reporting`. `act` loads the snapshot, lets the pure `workflow.apply`
decide, then stores the outcome with a compare-and-set on `cases.version` FIRST, so a concurrent
writer blocks on the row (PostgreSQL) or the write lock (SQLite) and then finds the version
moved: exactly one winner, one Conflict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from wangge.auth.principal import Principal
from wangge.cases import notify
from wangge.cases.access import actor_for, get_visible
from wangge.cases.deadlines import ensure_aware
from wangge.cases.models import Case, CaseEvent, CasePart, CaseReporter, Category, events_of
from wangge.cases.reporting import audit_case
from wangge.cases.routing import no_route, route
from wangge.cases.store import add_event, parts_of, restart_clock, snapshot, sync_parts
from wangge.cases.vocabulary import Action, CaseState
from wangge.cases.workflow import Outcome, apply
from wangge.departments.service import require_active
from wangge.errors import Conflict, NotFound, ValidationFailed
from wangge.uploads.models import Upload
from wangge.uploads.service import attach_photos, claim_photos, photo_ref

S, A = CaseState, Action
# Clients never set deadlines: they are computed here from the category's limits.
_SERVER_KEYS = frozenset({"deadline", "deadlines", "part_started"})


_STR_KEYS = ("note", "department", "part", "rating", "to_level")
_LIST_KEYS = ("assisting", "departments", "photos")


def _check_types(payload: dict[str, Any]) -> None:
    """Refuse payload values of the wrong shape before the pure core hashes or unpacks them."""
    bad = [k for k in _STR_KEYS if k in payload and not isinstance(payload[k], str | None)]
    bad += [
        k
        for k in _LIST_KEYS
        if k in payload
        and not (
            payload[k] is None
            or (isinstance(payload[k], list) and all(isinstance(x, str) for x in payload[k]))
        )
    ]
    if bad:
        raise ValidationFailed(
            f"参数类型有误：{bad}",
            f"wrong type for {bad}: texts, or lists of texts, expected",
            code="bad_payload",
            field=bad[0],
        )


def _prepare(
    session: Session, case: Case, action: Action, payload: dict[str, Any], parts: list[CasePart]
) -> dict[str, Any]:
    """Fill what the server decides: automatic routing, departments' existence, and which
    departments a rework sends back (all by default), so the event names every clock it starts.
    """
    payload = {k: v for k, v in payload.items() if k not in _SERVER_KEYS}
    _check_types(payload)
    if action is A.CHECK_FAIL and not payload.get("departments") and parts:
        payload["departments"] = [p.department_code for p in parts]
    if action is A.DISPATCH:
        if not payload.get("department"):
            # A deactivated class still routes the cases filed under it before.
            category = session.get(Category, case.category_code)
            lead, assisting = (
                route(
                    session,
                    case.county_code,
                    category,
                    case.area_class,
                    community_code=case.community_code,
                    component_code=case.component_code,
                )
                if category is not None
                else (None, [])
            )
            if lead is not None:
                payload["department"] = lead
                payload.setdefault("assisting", assisting)
                payload["auto_routed"] = True
        wanted = [payload.get("department"), *(payload.get("assisting") or ())]
        wanted = [d for d in wanted if isinstance(d, str) and d]
        require_active(session, case.county_code, wanted, field="department")
    if action is A.REJECT_DUPLICATE and payload.get("duplicate_of") is not None:
        payload["duplicate_of"] = str(payload["duplicate_of"])
    return payload


def _claim_action_photos(
    session: Session, case: Case, action: Action, payload: dict[str, Any], principal: Principal
) -> list[Upload]:
    """Claim the action's photos for the case and put their references into the payload."""
    if not payload.get("photos"):
        return []
    photos = claim_photos(
        session,
        payload["photos"],
        principal,
        case_id=case.id,
        not_before=_on_site_since(session, case, action),
    )
    payload["photos"] = [photo_ref(p.id) for p in photos]
    return photos


def _decide(
    session: Session,
    case: Case,
    parts: list[CasePart],
    action: Action,
    principal: Principal,
    *,
    payload: dict[str, Any],
    now: datetime,
) -> Outcome:
    """Let the pure workflow decide the action's outcome on the case's snapshot."""
    try:
        return apply(
            snapshot(case, parts),
            action,
            actor_for(session, principal, case, parts),
            at=now,
            payload=payload,
        )
    except ValidationFailed as exc:
        # No department named and none found by routing: say why in plain words.
        if action is A.DISPATCH and exc.code == "department_required":
            category = session.get(Category, case.category_code)
            if category is not None:
                raise no_route(category) from None
        raise


def _new_values(
    session: Session,
    case: Case,
    action: Action,
    outcome: Outcome,
    principal: Principal,
    *,
    payload: dict[str, Any],
    version: int,
    now: datetime,
) -> dict[str, Any]:
    """The case row's columns after the action (the compare-and-set writes them)."""
    new = outcome.case
    values: dict[str, Any] = {
        "state": new.state.value,
        "level": new.level.value,
        "handler_ids": sorted(new.handler_ids),
        "closed_at": new.closed_at,
        "reopen_count": new.reopen_count,
        "version": version,
        "updated_at": now,
    }
    if action is A.RATE:
        values["rating"] = payload.get("rating")
    if action is A.REJECT_DUPLICATE:
        values["duplicate_of"] = _merge_target(session, case, payload["duplicate_of"], principal)
    return values


def act(
    session: Session,
    case_id: int,
    action: Action | str,
    principal: Principal,
    *,
    expected_version: int,
    payload: dict[str, Any] | None = None,
    now: datetime,
) -> Case:
    """Perform one action on a case the principal can see; Conflict if the version moved."""
    now = ensure_aware(now, "now")
    action = _action(action)
    # Citizens hold no general right to act; rating and reopening their report is theirs.
    if not (action in (A.RATE, A.REOPEN) and principal.can("cases.report")):
        principal.require("cases.act")
    case = get_visible(session, case_id, principal)
    if case.version != expected_version:
        raise _conflict(case_id, expected_version, case.version)
    parts = parts_of(session, case.id)
    payload = _prepare(session, case, action, dict(payload or {}), parts)
    photos = _claim_action_photos(session, case, action, payload, principal)
    outcome = _decide(session, case, parts, action, principal, payload=payload, now=now)
    values = _new_values(
        session, case, action, outcome, principal, payload=payload,
        version=expected_version + 1, now=now,
    )  # fmt: skip
    _compare_and_set(session, case_id, expected_version, values)
    # The row now holds these values; record them as loaded instead of reading the row back.
    for key, value in values.items():
        set_committed_value(case, key, value)
    attach_photos(photos, case.id)
    stored = sync_parts(session, case, parts, outcome.case, action, now)
    # clocks first: the event records the deadlines the case shows after it (evaluation)
    restart_clock(session, case, stored, S(outcome.event.from_state or S.REPORTED), now)
    add_event(session, case, outcome.event, None, stored)
    if action is A.REJECT_DUPLICATE:
        _merge_reporters(session, case, now)
    # Only the duty system's sweep reports a case overdue; a person's payload cannot.
    overdue = bool(payload.get("overdue")) and principal.name.startswith("system:")
    notify.after_action(
        session, case, action, stored, now=now, note=payload.get("note"), overdue=overdue
    )
    event = outcome.event
    detail = {"from": str(event.from_state), "to": outcome.case.state.value, "part": event.part}
    audit_case(session, principal, case, action.value, detail, now)
    return case


def _on_site_since(session: Session, case: Case, action: Action) -> datetime | None:
    """Return when an on-site photo for this action must be newer than, if it must.

    Checking (核查) shows the place after the latest handling report; verifying (核实) after
    the report: an older picture proves nothing about either.
    """
    if action is A.VERIFY_TRUE:
        return ensure_aware(case.reported_at, "reported_at")
    if action is A.CHECK_PASS:
        return session.scalar(
            select(func.max(CaseEvent.at)).where(
                *events_of(case),
                CaseEvent.action.in_([A.FEED_BACK.value, A.SELF_HANDLE.value]),
            )
        )
    return None


def _action(action: Action | str) -> Action:
    try:
        return Action(action)
    except ValueError:
        raise NotFound(
            f"未知的操作 {action}", f"unknown action {action}", code="unknown_action"
        ) from None


def _conflict(case_id: int, expected: int, actual: int | None) -> Conflict:
    return Conflict(
        f"案卷 {case_id} 已被他人修改（期望版本 {expected}，当前 {actual}），请刷新后重试",
        f"case {case_id} was changed by someone else (expected version {expected}, "
        f"now {actual}); reload and retry",
        code="version_conflict",
        details={"expected_version": expected, "version": actual},
    )


def _compare_and_set(session: Session, case_id: int, expected: int, values: dict[str, Any]) -> None:
    try:
        result = session.execute(
            update(Case)
            .where(Case.id == case_id, Case.version == expected)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    except OperationalError as exc:
        # SQLite: a writer that lost the race for the database lock. Same meaning as 0 rows.
        if "locked" not in str(exc).lower() and "busy" not in str(exc).lower():
            raise
        raise _conflict(case_id, expected, None) from exc
    if result.rowcount != 1:  # type: ignore[attr-defined]
        actual = session.scalar(select(Case.version).where(Case.id == case_id))
        raise _conflict(case_id, expected, actual)


def _merge_target(session: Session, case: Case, ref: str, principal: Principal) -> int:
    target = session.scalars(
        select(Case).where(
            # Case codes are all digits too; only short numbers are row ids.
            (Case.code == ref) | (Case.id == (int(ref) if ref.isdigit() and len(ref) < 12 else -1)),
            Case.county_code == case.county_code,
        )
    ).first()
    if target is None or target.id == case.id:
        raise ValidationFailed(
            f"重复的案卷 {ref} 不存在",
            f"the original case {ref} does not exist",
            field="duplicate_of",
        )
    get_visible(session, target.id, principal)
    return target.id


def _merge_reporters(session: Session, case: Case, now: datetime) -> None:
    """Keep every reporter on the surviving case so all are informed at closure."""
    target = case.duplicate_of
    have = set(
        session.scalars(select(CaseReporter.reporter_id).where(CaseReporter.case_id == target))
    )
    for rid in session.scalars(
        select(CaseReporter.reporter_id).where(CaseReporter.case_id == case.id)
    ):
        if rid not in have:
            session.add(CaseReporter(case_id=target, reporter_id=rid, via_case_id=case.id, at=now))
    session.flush()
