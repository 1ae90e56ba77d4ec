"""HTTP routes of the case loop under /api/v1; every query is scoped by the principal."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response, status
from sqlalchemy import select

from wangge.api.deps import PrincipalDep, SessionDep, SettingsDep
from wangge.api.files import xlsx_response
from wangge.api.idempotency import fingerprint, run_once
from wangge.auth.principal import Principal
from wangge.cases import patrol as patrols
from wangge.cases.access import actor_for, actor_id, get_visible
from wangge.cases.category_views import router as category_router
from wangge.cases.duplicates import find_duplicates
from wangge.cases.export import export_workbook
from wangge.cases.filters import case_filter, case_sort
from wangge.cases.models import Case, CaseEvent, Message, events_of
from wangge.cases.notify import department_recipient
from wangge.cases.positions import to_cgcs2000
from wangge.cases.queries import CaseFilter, departments_of, queues, search
from wangge.cases.reporting import CaseIn, create_case
from wangge.cases.schemas import (
    ActionIn,
    CaseCreate,
    CaseDetail,
    CasePage,
    CaseRead,
    EventRead,
    PartRead,
    PatrolRead,
    PatrolStart,
    TrackPoint,
    TrackPointRead,
)
from wangge.cases.service import act
from wangge.cases.store import parts_of, snapshot
from wangge.cases.timing import light, lights, overdue_hours
from wangge.cases.vocabulary import ACTION_ZH, STATE_ZH, Action, CaseState
from wangge.cases.workflow import allowed_actions
from wangge.common.localtime import SHANGHAI
from wangge.common.models import utcnow
from wangge.errors import Forbidden
from wangge.intake.service import read as intake_read
from wangge.notifications.recipients import centre_inboxes

router = APIRouter(tags=["cases 案卷"])
# Categories and routing rules have their own module; their routes sit under the same prefix.
router.include_router(category_router)


async def get_now() -> datetime:
    """Return the current time (tests override this to freeze the clock)."""
    return utcnow()


NowDep = Annotated[datetime, Depends(get_now)]


def _read(case: Case, now: datetime) -> CaseRead:
    out = CaseRead.model_validate(case)
    out.state_zh = STATE_ZH.get(CaseState(case.state))
    out.lights = {k: v.value for k, v in lights(case, now).items()}
    lamp = light(case, now)
    out.light = lamp.value if lamp else None
    return out


def _require_admin(principal: Principal) -> None:
    if "admin" not in principal.roles and "*" not in principal.permissions:
        raise Forbidden(
            "只有管理员可以修改配置",
            "only administrators may change configuration",
            code="admin_required",
        )


@router.post("/cases", response_model=CaseRead, status_code=status.HTTP_201_CREATED)
def post_case(
    body: CaseCreate,
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(max_length=64)] = None,
) -> CaseRead:
    """Report a problem (上报); the same Idempotency-Key returns the first case again."""
    data = CaseIn(**body.model_dump())
    case = create_case(
        session, data, principal, now=now, idempotency_key=idempotency_key,
        non_admitted=settings.non_admitted_grid_reports,
    )  # fmt: skip
    return _read(case, now)


LineQ = Annotated[str | None, Query(description="business line code (业务条线)")]
AssignedQ = Annotated[
    bool, Query(description="only cases in the grids assigned to the caller today (网格员配置)")
]


def _assigned(
    session: SessionDep, principal: Principal, now: datetime, assigned: bool
) -> tuple[tuple[str, str], ...] | None:
    if not assigned:
        return None
    from wangge.assignments.service import assigned_grids

    return tuple(assigned_grids(session, principal.user_id, now.astimezone(SHANGHAI).date()))


@router.get("/cases/queues")
def get_queues(
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
    line: LineQ = None,
    assigned: AssignedQ = False,
) -> dict[str, Any]:
    """Return the caller's work queues with counts (待受理 … 待结案, 超期)."""
    grids = _assigned(session, principal, now, assigned)
    return queues(session, principal, now=now, line=line, grids=grids)


FilterDep = Annotated[CaseFilter, Depends(case_filter)]
SortDep = Annotated[str, Depends(case_sort)]


@router.get("/cases", response_model=CasePage)
def list_cases(
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
    f: FilterDep,
    sort: SortDep,
    assigned: AssignedQ = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CasePage:
    """Search the cases the caller may see (filters combined; `sort`: reported, deadline, overdue)."""
    if assigned:
        f = replace(f, grids=_assigned(session, principal, now, assigned))
    total, rows = search(session, principal, f, now=now, limit=limit, offset=offset, sort=sort)
    return CasePage(total=total, items=read_list(session, rows, now))


def read_list(session: SessionDep, rows: list[Case], now: datetime) -> list[CaseRead]:
    """Return list rows with their departments (lead first) and hours overdue."""
    departments = departments_of(session, (c.id for c in rows))
    out = []
    for case in rows:
        item = _read(case, now)
        item.departments = departments.get(case.id, [])
        item.overdue_hours = overdue_hours(case, now)
        out.append(item)
    return out


@router.get("/cases/export.xlsx", summary="导出案卷 Export the filtered case list to Excel")
def export_cases(
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
    f: FilterDep,
    sort: SortDep,
    lang: Annotated[str, Query(pattern="^(zh|en)$", description="表头与标签的语言")] = "zh",
    unmask: bool = False,
    reason: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Export the list with the same filters and order (numbers masked unless unmasked, audited)."""
    principal.require("cases.read")
    body = export_workbook(
        session, principal, f, now=now, sort=sort, lang=lang, unmask=unmask, reason=reason
    )
    stamp = now.astimezone(SHANGHAI).strftime("%Y%m%d-%H%M")
    return xlsx_response(body, f"{'cases' if lang == 'en' else '案卷'}-{stamp}.xlsx")


@router.get("/cases/{case_id}", response_model=CaseDetail)
def get_case(case_id: int, session: SessionDep, principal: PrincipalDep, now: NowDep) -> CaseDetail:
    """Return a case with its parts, timeline and the actions the caller may take now."""
    case = get_visible(session, case_id, principal)
    parts = parts_of(session, case.id)
    events = session.scalars(select(CaseEvent).where(*events_of(case)).order_by(CaseEvent.id)).all()
    actor = actor_for(session, principal, case, parts)
    allowed = allowed_actions(snapshot(case, parts), actor, at=now)
    timeline = []
    for ev in events:
        item = EventRead.model_validate(ev)
        item.action_zh = ACTION_ZH.get(Action(ev.action))
        timeline.append(item)
    return CaseDetail(
        **_read(case, now).model_dump(),
        parts=[PartRead.model_validate(p) for p in parts],
        timeline=timeline,
        allowed_actions=[a.value for a in allowed],
        intake=intake_read(session, case),  # caller masked; full values: /intake/personal
    )


@router.post("/cases/{case_id}/actions/{action}", response_model=CaseRead)
def post_action(
    case_id: int,
    action: str,
    body: ActionIn,
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> Any:
    """Perform one action (受理, 立案, 派遣 …); 409 when the version moved or the state forbids it.

    The same Idempotency-Key returns the first answer again: a phone resends an action queued
    offline whose answer it never saw, and must not get a version conflict for its own write.
    """
    payload = dict(body.payload)
    if body.note is not None:
        payload["note"] = body.note
    if body.photos:
        payload["photos"] = list(body.photos)

    def work() -> tuple[int, Any]:
        case = act(
            session,
            case_id,
            action,
            principal,
            expected_version=body.expected_version,
            payload=payload,
            now=now,
        )
        return 200, _read(case, now).model_dump(mode="json")

    _status, out, _replayed = run_once(
        session,
        owner=actor_id(principal),
        key=idempotency_key,
        fingerprint=fingerprint(
            "POST", f"/cases/{case_id}/actions/{action}", body.model_dump(mode="json")
        ),
        work=work,
    )
    return out


@router.get("/cases/{case_id}/duplicates", response_model=list[CaseRead])
def get_duplicates(
    case_id: int,
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
    radius_m: Annotated[float, Query(gt=0, le=1000)] = 50.0,
) -> list[CaseRead]:
    """Return duplicate candidates of a case (same class nearby, or the same component)."""
    return [
        _read(c.case, now) for c in find_duplicates(session, case_id, principal, radius_m=radius_m)
    ]


@router.get("/messages")
def get_messages(
    session: SessionDep, principal: PrincipalDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[dict[str, Any]]:
    """Return the caller's in-app messages (站内信): his own, his departments', his centre's."""
    to = [
        actor_id(principal),
        *(department_recipient(d) for d in principal.department_codes),
        *centre_inboxes(principal.roles, principal.scope_prefixes),
    ]
    rows = session.scalars(
        select(Message).where(Message.recipient.in_(to)).order_by(Message.id.desc()).limit(limit)
    )
    return [
        {
            "id": m.id,
            "recipient": m.recipient,
            "title": m.title,
            "case_id": m.case_id,
            "created_at": m.created_at,
            "read_at": m.read_at,
        }
        for m in rows
    ]


@router.post("/patrols", response_model=PatrolRead, status_code=status.HTTP_201_CREATED)
def post_patrol(
    body: PatrolStart, session: SessionDep, principal: PrincipalDep, now: NowDep
) -> Any:
    """Start a patrol where the worker stands."""
    lon, lat = to_cgcs2000(body.lon, body.lat, body.crs)
    return patrols.start_patrol(session, principal, lon=lon, lat=lat, now=now)


@router.post("/patrols/{patrol_id}/points")
def post_points(
    patrol_id: int,
    body: list[TrackPoint],
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> dict[str, int]:
    """Append track points to a running patrol (a batch resent with its key is stored once)."""
    # Phones queue points while offline and resend a batch whose answer they never saw.
    points = [
        (*to_cgcs2000(p.lon, p.lat, p.crs, field=f"{i}.crs"), p.at) for i, p in enumerate(body)
    ]

    def work() -> tuple[int, dict[str, int]]:
        return 200, {"stored": patrols.add_points(session, patrol_id, principal, points)}

    _status, out, _replayed = run_once(
        session,
        owner=actor_id(principal),
        key=idempotency_key,
        fingerprint=fingerprint(
            "POST", f"/patrols/{patrol_id}/points", [p.model_dump(mode="json") for p in body]
        ),
        work=work,
    )
    return dict(out)


@router.get("/patrols/{patrol_id}/points", response_model=list[TrackPointRead])
def get_points(patrol_id: int, session: SessionDep, principal: PrincipalDep) -> list[Any]:
    """Return a patrol's stored track points in time order (CGCS2000)."""
    return patrols.patrol_points(session, patrol_id, principal)


@router.post("/patrols/{patrol_id}/end", response_model=PatrolRead)
def post_end(patrol_id: int, session: SessionDep, principal: PrincipalDep, now: NowDep) -> Any:
    """End a patrol."""
    return patrols.end_patrol(session, patrol_id, principal, now=now)


@router.get("/patrols/{patrol_id}")
def get_patrol(patrol_id: int, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Return a patrol with the ids of the cases reported during it."""
    p = patrols.get_patrol(session, patrol_id, principal)
    return {
        **PatrolRead.model_validate(p).model_dump(mode="json"),
        "case_ids": [c.id for c in patrols.patrol_reports(session, p.id)],
    }


@router.get("/patrols/tracks/{grid_id}")
def get_tracks(
    grid_id: int, day: date, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Return the day's track lines inside one grid as GeoJSON (one feature per patrol).

    Patrol staff and leaders, of grids in their area only (a worker's route is personal)."""
    lines = patrols.tracks(session, grid_id, day, principal)
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"patrol_id": pid},
                "geometry": {"type": "LineString", "coordinates": [list(p) for p in pts]},
            }
            for pid, pts in lines.items()
        ],
    }
