"""Use cases of the case loop: report a case and act on it (one transaction each, never commits).

`act` loads the snapshot, lets the pure `workflow.apply` decide, then stores the outcome with a
compare-and-set on `cases.version` FIRST, so a concurrent writer blocks on the row (PostgreSQL)
or the write lock (SQLite) and then finds the version moved: exactly one winner, one Conflict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from wangge.audit.service import record
from wangge.auth.principal import Principal
from wangge.cases import notify, timing
from wangge.cases.access import actor_for, actor_id, get_visible, grid_key
from wangge.cases.admission import NonAdmitted, check_report
from wangge.cases.categories import (
    area_class_for,
    cached_category,
    time_limits,
)
from wangge.cases.codes import case_code
from wangge.cases.deadlines import ensure_aware
from wangge.cases.limits import Stage
from wangge.cases.models import Case, CaseEvent, CasePart, CaseReporter, Category, Patrol
from wangge.cases.positions import to_cgcs2000
from wangge.cases.response import channel_for
from wangge.cases.routing import no_route, route
from wangge.cases.store import add_event, parts_of, restart_clock, snapshot, sync_parts
from wangge.cases.vocabulary import Action, CaseState, Level, Source
from wangge.cases.workflow import Outcome, apply, report
from wangge.departments.service import require_active
from wangge.errors import Conflict, NotFound, ValidationFailed
from wangge.grids.locating import GridRef, locate_refs
from wangge.intake import service as intake_service
from wangge.places.service import address_at
from wangge.registry.catalogue import parse_component_code
from wangge.registry.models_components import Component
from wangge.uploads.models import Upload
from wangge.uploads.service import attach_photos, claim_photos, photo_ref

S, A = CaseState, Action
# Clients never set deadlines: they are computed here from the category's limits.
_SERVER_KEYS = frozenset({"deadline", "deadlines", "part_started"})


@dataclass(frozen=True)
class CaseIn:
    """What a reporter sends."""

    category_code: str
    description: str
    lon: float
    lat: float
    # None: the reporter's usual channel; a source his post may not use is refused (workflow).
    source: Source | None = None
    address: str | None = None
    photos: list[str] = field(default_factory=list)
    component_code: str | None = None
    county_code: str | None = None
    urgent: bool = False
    patrol_id: int | None = None
    # The position's coordinate system (None: CGCS2000); phones' map SDKs give GCJ-02/BD-09.
    crs: str | None = None
    # 受理登记 (wangge.intake.schemas.IntakeIn or its dict): channel, 工单号, caller, camera.
    intake: Any = None


def _open_patrol(session: Session, worker: str, patrol_id: int | None) -> int | None:
    q = select(Patrol.id).where(Patrol.worker_id == worker, Patrol.ended_at.is_(None))
    if patrol_id is not None:
        found = session.scalar(q.where(Patrol.id == patrol_id))
        if found is None:
            raise ValidationFailed(
                "巡查不存在或已结束", "the patrol does not exist or has ended", field="patrol_id"
            )
        return found
    return session.scalars(q.order_by(Patrol.started_at.desc())).first()


def _registered_component(session: Session, county: str, code: str | None) -> str | None:
    """Return a well-formed component code registered in the county; refuse any other.

    A code that matches no registered component cannot be routed to its owner, so it is
    refused (`unknown_component`) rather than stored as a dead reference.
    """
    if code is None:
        return None
    parsed = parse_component_code(code)  # 422 bad_component_code, naming the wrong digit
    text = code.strip()
    found = session.scalar(
        select(Component.id).where(Component.code == text, Component.county_code == county)
    )
    if found is None or parsed.county != county:
        raise ValidationFailed(
            f"部件 {text} 未在区县 {county} 的部件台账中登记",
            f"component {text} is not registered in county {county}",
            code="unknown_component",
            field="component_code",
        )
    return text


def _next_case_id(session: Session) -> int | None:
    """Take the next case id from PostgreSQL's sequence (None on SQLite: the INSERT gives it)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return int(session.execute(select(func.nextval("cases_id_seq"))).scalar_one())


@dataclass(frozen=True)
class _Place:
    """Where a report lies: canonical position, the grids holding it, county and community."""

    lon: float
    lat: float
    grid: GridRef | None
    unit: GridRef | None
    micro: GridRef | None
    county: str
    community: str | None


def _locate(session: Session, data: CaseIn) -> _Place:
    """Locate a report in the grids; a point outside them needs the county named."""
    lon, lat = to_cgcs2000(data.lon, data.lat, data.crs)
    found = locate_refs(session, lon, lat, micro=True)
    grid, unit, micro = found.get("social"), found.get("unit"), found.get("micro")
    located = grid or unit
    county = located.county_code if located is not None else data.county_code
    if county is None:
        raise ValidationFailed(
            "位置不在任何网格内，请指明区县",
            "the point lies in no grid; give the county code",
            code="outside_grids",
            field="county_code",
        )
    community = located.community_code if located is not None else None
    return _Place(lon, lat, grid, unit, micro, county, community)


def _existing_report(session: Session, reporter: str, idempotency_key: str) -> Case | None:
    """The case this reporter already filed under this idempotency key, if any."""
    return session.scalars(
        select(Case).where(Case.reporter_id == reporter, Case.idempotency_key == idempotency_key)
    ).first()


def _new_case(
    session: Session,
    data: CaseIn,
    place: _Place,
    category: Category,
    *,
    reporter: str,
    photos: list[Upload],
    idempotency_key: str | None,
    now: datetime,
) -> Case:
    """Build the case row of a report (not added yet), in `reported` at the community level."""
    grid, unit, micro = place.grid, place.unit, place.micro
    codes = [grid.code if grid else None, unit.code if unit else None, place.community]
    return Case(
        county_code=place.county,
        category_code=category.code,
        description=data.description,
        # The reporter's words win; else the district's own roads, buildings and grids say it.
        address=(data.address or "").strip()
        or address_at(session, place.lon, place.lat, grid, unit),
        lon=place.lon,
        lat=place.lat,
        grid_id=grid.id if grid else None,
        unit_grid_id=unit.id if unit else None,
        micro_grid_id=micro.id if micro else None,
        community_code=place.community,
        area_class=area_class_for(session, place.county, codes),
        component_code=_registered_component(session, place.county, data.component_code),
        photos=[photo_ref(p.id) for p in photos],
        state=S.REPORTED.value,
        level=Level.COMMUNITY.value,
        urgent=category.urgent or data.urgent,
        reporter_id=reporter,
        reporter_role="",
        idempotency_key=idempotency_key,
        patrol_id=_open_patrol(session, reporter, data.patrol_id),
        reported_at=now,
        handler_ids=[],
    )


def _start_accept_clock(session: Session, case: Case, category: Category, now: datetime) -> None:
    """Start the accept stage: its deadline, the channel's promises and the next due time."""
    limits = time_limits(category)
    channel = channel_for(session, case.county_code, case.source, case.urgent)  # response rules
    case.stage, case.stage_started_at = Stage.ACCEPT.value, now
    case.deadline = timing.stage_deadline(
        limits, category.code, case.area_class, case.urgent, Stage.ACCEPT, now, channel
    )
    timing.open_promises(case, channel, now)
    case.due_at = timing.next_due(case)


def _insert(session: Session, case: Case, idempotency_key: str | None, now: datetime) -> Case:
    """Insert the new case with its code; with a key, a concurrent twin's case if it won."""
    # On SQLite the id stays unset (None) and the INSERT gives it.
    case_id = _next_case_id(session)
    if case_id is not None:  # the code goes in with the row: no UPDATE after the INSERT
        case.id = case_id
        case.code = case_code(case.county_code, now, case.id)
    if idempotency_key:
        try:
            # A concurrent twin with the same key loses at the unique index; give it the first.
            with session.begin_nested():
                session.add(case)
                session.flush()
        except IntegrityError:
            twin = _existing_report(session, case.reporter_id, idempotency_key)
            if twin is None:
                raise
            return twin
    else:
        session.add(case)
        session.flush()
    if case.code is None:
        case.code = case_code(case.county_code, now, case.id)
    return case


def create_case(
    session: Session,
    data: CaseIn,
    principal: Principal,
    *,
    now: datetime,
    idempotency_key: str | None = None,
    non_admitted: NonAdmitted = "refuse",
) -> Case:
    """Report a problem: locate it, open the case in `reported`, start the accept clock.

    A class of a switched-off line is refused, and so is a grid worker's patrol report of a
    class outside the 准入清单 unless `non_admitted` takes it as a centre matter.
    """
    now = ensure_aware(now, "now")
    # Hotline operators (受理员) enter reports for callers with their right to act.
    if not principal.can("cases.act"):
        principal.require("cases.report")
    reporter = actor_id(principal)
    if idempotency_key:
        existing = _existing_report(session, reporter, idempotency_key)
        if existing is not None:
            return existing
    data = intake_service.prepare(session, data, principal)  # a camera gives the position
    photos = claim_photos(session, data.photos, principal, case_id=None)
    category = cached_category(session, data.category_code)
    place = _locate(session, data)
    case = _new_case(
        session, data, place, category, reporter=reporter, photos=photos,
        idempotency_key=idempotency_key, now=now,
    )  # fmt: skip
    outcome = report(
        "new",
        actor_for(session, principal, case),
        at=now,
        source=data.source,
        grid_id=grid_key(case),
        payload={"note": data.description, "photos": list(case.photos)},
    )
    outcome = check_report(
        session, county=place.county, category=category, principal=principal, outcome=outcome,
        now=now, non_admitted=non_admitted,
    )  # fmt: skip
    case.source, case.reporter_role = str(outcome.case.source), outcome.event.role.value
    _start_accept_clock(session, case, category, now)
    stored = _insert(session, case, idempotency_key, now)
    if stored is not case:
        return stored
    attach_photos(photos, case.id)
    session.add(CaseReporter(case_id=case.id, reporter_id=reporter, at=now))
    add_event(session, case, outcome.event, None)
    intake_service.store(session, case, data.intake, now=now)
    _audit(
        session, principal, case, "report", {"category": category.code, "source": case.source}, now
    )
    return case


def _audit(
    session: Session,
    principal: Principal,
    case: Case,
    action: str,
    detail: dict[str, Any],
    now: datetime,
) -> None:
    """Record a report or an action on the case in the audit log (`case.<action>`)."""
    record(
        session,
        actor=principal.name,
        actor_id=principal.user_id,
        action=f"case.{action}",
        object_type="case",
        object_id=case.id,
        county_code=case.county_code,
        detail=detail,
        at=now,
    )


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
    _audit(session, principal, case, action.value, detail, now)
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
                CaseEvent.case_id == case.id,
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
