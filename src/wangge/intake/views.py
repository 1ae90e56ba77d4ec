"""HTTP routes of the intake under /api/v1: a case's intake, 回访, 12345 replies, video events."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from wangge.api.deps import PrincipalDep, SessionDep, SettingsDep
from wangge.cases.access import get_visible
from wangge.cases.views import NowDep
from wangge.errors import NotFound, ValidationFailed
from wangge.intake import service, video
from wangge.intake.cameras import camera_info, cameras_in_box, find_camera, require_in_area
from wangge.intake.schemas import CallbackIn, ReplyIn, VideoEventIn, VideoEventRead

router = APIRouter(tags=["intake 受理"])


@router.get("/cases/{case_id}/intake")
def get_intake(case_id: int, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Return how the case came in, its 回访 and replies (caller name and phone masked)."""
    case = get_visible(session, case_id, principal)
    found = service.read(session, case)
    if found is None:
        raise NotFound(
            f"案卷 {case.code} 没有受理登记信息", f"case {case.code} has no intake details"
        )
    return found


@router.get("/cases/{case_id}/intake/personal")
def reveal_caller(
    case_id: int,
    session: SessionDep,
    principal: PrincipalDep,
    reason: Annotated[str | None, Query(max_length=200, description="why the full values")] = None,
) -> dict[str, Any]:
    """Return the caller's full name and phone (personal.unmask and a reason; audited)."""
    return service.reveal(session, principal, case_id, reason)


@router.post("/cases/{case_id}/callbacks", status_code=status.HTTP_201_CREATED)
def post_callback(
    case_id: int, body: CallbackIn, session: SessionDep, principal: PrincipalDep, now: NowDep
) -> dict[str, Any]:
    """Record a 回访 of the caller (hotline, counter and letter cases; at any time)."""
    row = service.add_callback(session, principal, case_id, body, now=now)
    return {"id": row.id, "case_id": row.case_id, "at": row.at, "reached": row.reached,
            "satisfaction": row.satisfaction}  # fmt: skip


@router.post("/cases/{case_id}/hotline-replies", status_code=status.HTTP_201_CREATED)
def post_reply(
    case_id: int, body: ReplyIn, session: SessionDep, principal: PrincipalDep, now: NowDep
) -> dict[str, Any]:
    """Send a reply to the 12345 platform (final: only once the case is closed); via the outbox."""
    row = service.send_reply(session, principal, case_id, body, now=now)
    return {"id": row.id, "case_id": row.case_id, "kind": row.kind, "result": row.result,
            "work_order_no": row.work_order_no, "at": row.at, "outbox_id": row.outbox_id}  # fmt: skip


@router.post(
    "/video-events",
    response_model=VideoEventRead,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": VideoEventRead, "description": "joined an open case, or repeated"}},
)
def post_video_event(
    body: VideoEventIn,
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
    settings: SettingsDep,
    response: Response,
) -> VideoEventRead:
    """Take an event of a video-analytics platform: a new case (201) or a repeat (200)."""
    out = video.receive(
        session, principal, body, now=now,
        window=timedelta(minutes=settings.video_dedupe_minutes),
        non_admitted=settings.non_admitted_grid_reports,
    )  # fmt: skip
    if not out.opened_case or out.repeated:
        response.status_code = status.HTTP_200_OK
    return out


def _box(bbox: str) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(v) for v in bbox.split(","))
    except ValueError:
        raise ValidationFailed(
            "bbox 应为 西,南,东,北 四个经纬度数", "bbox: four numbers west,south,east,north",
            field="bbox",
        ) from None  # fmt: skip
    if not (west < east and south < north) or (east - west) * (north - south) > 1.0:
        raise ValidationFailed(
            "bbox 范围无效或过大（至多1平方度）", "bbox is empty or too large (1 square degree at most)",
            field="bbox",
        )  # fmt: skip
    return west, south, east, north


@router.get("/cameras")
def list_cameras(
    session: SessionDep,
    principal: PrincipalDep,
    bbox: Annotated[str, Query(description="west,south,east,north (EPSG:4490)")],
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
) -> dict[str, Any]:
    """Return the cameras (视频监控 layer) inside a box that lie in the caller's area."""
    principal.require("cases.read")
    return {"items": cameras_in_box(session, principal, _box(bbox), limit)}


@router.get("/cameras/{key}")
def get_camera(
    key: str,
    session: SessionDep,
    principal: PrincipalDep,
    county_code: Annotated[str | None, Query(min_length=6, max_length=6)] = None,
) -> dict[str, Any]:
    """Return one camera by its key (refused outside the caller's area)."""
    principal.require("cases.read")
    cam = find_camera(session, key, county_code)
    require_in_area(session, principal, cam)
    return camera_info(session, cam.county_code, cam.key) or {}
