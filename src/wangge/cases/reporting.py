"""Report a case (上报): locate it, open it in `reported`, start the accept clock.

One transaction, never commits; `cases.service` acts on the case afterwards. A report with an
idempotency key is filed once, even by two concurrent twins (the unique index decides).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wangge.audit.service import record
from wangge.auth.principal import Principal
from wangge.cases import timing
from wangge.cases.access import actor_for, actor_id, grid_key
from wangge.cases.admission import NonAdmitted, check_report
from wangge.cases.categories import (
    area_class_for,
    cached_category,
    time_limits,
)
from wangge.cases.codes import case_code
from wangge.cases.deadlines import ensure_aware
from wangge.cases.limits import Stage
from wangge.cases.models import Case, CaseReporter, Category, Patrol
from wangge.cases.positions import to_cgcs2000
from wangge.cases.response import channel_for
from wangge.cases.store import add_event
from wangge.cases.vocabulary import CaseState, Level, Source
from wangge.cases.workflow import report
from wangge.errors import ValidationFailed
from wangge.grids.locating import GridRef, locate_refs
from wangge.intake import service as intake_service
from wangge.places.service import address_at
from wangge.registry.component_codes import parse_component_code
from wangge.registry.models_components import Component
from wangge.uploads.models import Upload
from wangge.uploads.service import attach_photos, claim_photos, photo_ref

S = CaseState


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
    audit_case(
        session, principal, case, "report", {"category": category.code, "source": case.source}, now
    )
    return case


def audit_case(
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
