"""Video-analytics events: one case per camera and category while it is open (or recent).

A repeated event of the same camera and category joins the case it opened while that case is
still open, or closed less than the window ago (`WANGGE_VIDEO_DEDUPE_MINUTES`): counted, with
its latest time, instead of a new case. The platform's own event id is unique, so an event
sent twice (a retry after a lost answer) is answered with what became of it the first time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.cases.access import actor_id
from wangge.cases.categories import cached_category
from wangge.cases.deadlines import ensure_aware
from wangge.cases.models import Case, Category
from wangge.cases.vocabulary import FINAL_VALUES, Source
from wangge.errors import Forbidden, ValidationFailed
from wangge.grids.models import LocatedPoint
from wangge.intake.cameras import find_camera, require_in_area
from wangge.intake.models import CaseIntake, VideoEvent
from wangge.intake.schemas import IntakeIn, VideoEventIn, VideoEventRead

VIDEO_ROLES = frozenset({"video_supervisor", "supervisor"})
FUTURE_SLACK = timedelta(minutes=10)  # camera clocks drift


def _require_video_post(principal: Principal) -> None:
    if not (set(principal.roles) & VIDEO_ROLES):
        raise Forbidden(
            "只有视频监督员（或监督员）可以上报视频事件",
            "only video supervisors (or supervisors) may post video events",
            code="video_post_required",
        )


def _answer(event: VideoEvent, session: Session, *, repeated: bool) -> VideoEventRead:
    case = session.get(Case, event.case_id) if event.case_id else None
    intake = session.get(CaseIntake, event.case_id) if event.case_id else None
    return VideoEventRead(
        event_id=event.id,
        external_id=event.external_id,
        case_id=event.case_id,
        case_code=case.code if case else None,
        opened_case=event.opened_case,
        event_count=intake.event_count if intake else 0,
        last_event_at=intake.last_event_at if intake else None,
        repeated=repeated,
    )


def _known(session: Session, external_id: str) -> VideoEvent | None:
    return session.scalars(select(VideoEvent).where(VideoEvent.external_id == external_id)).first()


def _category(session: Session, code: str) -> Category:
    if session.get(Category, code) is None:
        raise ValidationFailed(
            f"案件类别 {code} 不存在",
            f"category_code {code} is not a known case category",
            code="unknown_category",
            field="category_code",
        )
    return cached_category(session, code)  # also refuses a deactivated one


def _open_case(
    session: Session, county: str, camera: str, category: str, since: datetime
) -> CaseIntake | None:
    """Return the intake of the latest case of this camera and category still open (or recent)."""
    query = (
        select(CaseIntake)
        .join(Case, Case.id == CaseIntake.case_id)
        .where(
            CaseIntake.county_code == county,
            CaseIntake.camera_key == camera,
            CaseIntake.category_code == category,
            or_(Case.state.not_in(FINAL_VALUES), CaseIntake.last_event_at >= since),
        )
        .order_by(Case.reported_at.desc(), Case.id.desc())
        .with_for_update()
    )
    return session.scalars(query).first()


def _open_video_case(
    session: Session,
    principal: Principal,
    body: VideoEventIn,
    cam: LocatedPoint,
    category: Category,
    *,
    event_at: datetime,
    now: datetime,
    non_admitted: str,
) -> int:
    """Open a case for the camera's event (channel video_ai, its external id); return its id."""
    from wangge.cases.reporting import CaseIn, create_case

    text = body.description or f"视频智能分析发现：{category.name}（摄像头 {cam.key}）"
    data = CaseIn(
        category_code=category.code,
        description=text,
        lon=cam.lon,
        lat=cam.lat,
        source=Source.VIDEO,
        photos=[body.snapshot] if body.snapshot else [],
        county_code=cam.county_code,
        intake=IntakeIn(channel="video", camera_key=cam.key),
    )
    case = create_case(session, data, principal, now=now, non_admitted=non_admitted)  # type: ignore[arg-type]
    intake = session.get(CaseIntake, case.id)
    if intake is not None:  # written by create_case through intake.service.store
        intake.channel, intake.external_event_id = "video_ai", body.external_id
        intake.last_event_at = event_at
    return case.id


def _store_event(session: Session, event: VideoEvent, external_id: str) -> VideoEventRead:
    """Store the event; a concurrent twin with the same external id answers as a repeat."""
    try:
        with session.begin_nested():  # a concurrent twin with the same id loses here
            session.add(event)
            session.flush()
    except IntegrityError:
        twin = _known(session, external_id)
        if twin is None:
            raise
        return _answer(twin, session, repeated=True)
    return _answer(event, session, repeated=False)


def receive(
    session: Session,
    principal: Principal,
    body: VideoEventIn,
    *,
    now: datetime,
    window: timedelta,
    non_admitted: str = "refuse",
) -> VideoEventRead:
    """Turn an event into a case, or count it on the open case of its camera and category."""
    _require_video_post(principal)
    event_at = ensure_aware(body.event_at, "event_at")
    if event_at > now + FUTURE_SLACK:  # a camera clock far ahead would pin the case's window
        raise ValidationFailed(
            "事件时间晚于当前时间", "event_at lies in the future", code="event_in_future",
            field="event_at",
        )  # fmt: skip
    known = _known(session, body.external_id)
    if known is not None:
        return _answer(known, session, repeated=True)
    category = _category(session, body.category_code)
    cam = find_camera(session, body.camera_key, body.county_code)
    require_in_area(session, principal, cam)
    event = VideoEvent(
        external_id=body.external_id, county_code=cam.county_code, camera_key=cam.key,
        category_code=category.code, event_at=event_at, snapshot=body.snapshot,
        reporter_id=actor_id(principal), received_at=now,
    )  # fmt: skip
    existing = _open_case(session, cam.county_code, cam.key, category.code, now - window)
    if existing is not None:
        existing.event_count += 1
        if existing.last_event_at is None or event_at > existing.last_event_at:
            existing.last_event_at = event_at
        event.case_id = existing.case_id
    else:
        event.case_id = _open_video_case(
            session, principal, body, cam, category, event_at=event_at, now=now,
            non_admitted=non_admitted,
        )  # fmt: skip
        event.opened_case = True
    return _store_event(session, event, body.external_id)
