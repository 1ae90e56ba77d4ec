"""HTTP routes of the disputes under /api/v1/disputes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from wangge.api.deps import PrincipalDep, SessionDep, SettingsDep
from wangge.auth.principal import Principal
from wangge.cases.views import NowDep
from wangge.config import Settings
from wangge.disputes import service
from wangge.disputes.agreement_pdf import agreement_pdf
from wangge.disputes.documents import is_pdf, save_pdf
from wangge.disputes.schemas import DisputeIn, FollowUpIn, OutcomeIn, SessionIn
from wangge.divisions.models import Division
from wangge.errors import NotFound, ValidationFailed
from wangge.uploads.service import get_upload, save_upload
from wangge.uploads.views import storage_for

router = APIRouter(prefix="/disputes", tags=["disputes 矛盾纠纷"])


@router.post("", status_code=status.HTTP_201_CREATED, summary="登记纠纷 Register a dispute")
def create(
    body: DisputeIn, session: SessionDep, principal: PrincipalDep, now: NowDep
) -> dict[str, Any]:
    row = service.create(session, principal, body, now=now)
    return service.read(session, row)


@router.get("", summary="纠纷列表 List disputes in your area")
def list_disputes(
    session: SessionDep,
    principal: PrincipalDep,
    state: Annotated[str | None, Query(max_length=16)] = None,
    kind: Annotated[str | None, Query(max_length=16)] = None,
    grid: Annotated[str | None, Query(max_length=32, description="grid code")] = None,
    community: Annotated[str | None, Query(max_length=12)] = None,
    since: Annotated[date | None, Query(alias="from", description="registered on or after")] = None,
    until: Annotated[date | None, Query(alias="to", description="registered on or before")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    filters = service.Filters(state, kind, grid, community, since, until)
    return service.listing(session, principal, filters, limit=limit, offset=offset)


@router.get("/stats", summary="按网格/社区统计 Counts by grid or community")
def stats(
    session: SessionDep,
    principal: PrincipalDep,
    month: Annotated[str, Query(max_length=7, description="YYYY-MM (Beijing time)")],
    level: Annotated[str, Query(max_length=16, description="grid | community")] = "grid",
) -> dict[str, Any]:
    return service.stats(session, principal, level, month)


@router.get("/{dispute_id}", summary="纠纷详情（当事人信息脱敏）Read a dispute (masked)")
def read(dispute_id: int, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    return service.read(session, service.get_visible(session, dispute_id, principal))


@router.get(
    "/{dispute_id}/personal",
    summary="当事人完整信息（须说明理由，留痕）Parties in full (reason, audited)",
)
def reveal(
    dispute_id: int,
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
    reason: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    return service.reveal(session, principal, dispute_id, reason, now=now)


@router.post(
    "/{dispute_id}/sessions", status_code=status.HTTP_201_CREATED, summary="记录调解 Add a session"
)
def add_session(
    dispute_id: int, body: SessionIn, session: SessionDep, principal: PrincipalDep, now: NowDep
) -> dict[str, Any]:
    service.add_session(session, principal, dispute_id, body, now=now)
    return service.read(session, service.get_visible(session, dispute_id, principal))


@router.post("/{dispute_id}/outcome", summary="调解结果 Set the outcome")
def set_outcome(
    dispute_id: int, body: OutcomeIn, session: SessionDep, principal: PrincipalDep, now: NowDep
) -> dict[str, Any]:
    return service.read(session, service.set_outcome(session, principal, dispute_id, body, now=now))


@router.post(
    "/{dispute_id}/agreement",
    summary="上传调解协议书（照片或扫描件：JPEG、PNG、WebP、HEIC、PDF）Upload the agreement",
)
async def upload_agreement(
    dispute_id: int,
    file: UploadFile,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    now: NowDep,
) -> dict[str, Any]:
    # Refuse a wrong state or person before reading and storing the file. The database work
    # and the image decoding run in the thread pool, not on the event loop.
    dispute = await run_in_threadpool(
        service.check_agreement_allowed, session, principal, dispute_id
    )
    data = await file.read(settings.upload_max_bytes + 1)
    if len(data) > settings.upload_max_bytes:
        raise ValidationFailed(
            f"文件过大，上限 {settings.upload_max_bytes // 1024} KB",
            f"file too large; limit {settings.upload_max_bytes // 1024} KB",
            code="too_large", field="file",
        )  # fmt: skip
    return await run_in_threadpool(
        _store_agreement, request, session, principal, settings, dispute, data, now
    )


def _store_agreement(
    request: Request,
    session: Session,
    principal: Principal,
    settings: Settings,
    dispute: Any,
    data: bytes,
    now: datetime,
) -> dict[str, Any]:
    if is_pdf(data):
        row = save_pdf(session, storage_for(request), data, principal=principal)
    else:
        row = save_upload(
            session, storage_for(request), data, principal=principal,
            max_bytes=settings.upload_max_bytes, max_pixels=settings.upload_max_pixels,
        )  # fmt: skip
    service.attach_agreement(session, principal, dispute, row.id, now=now)
    return service.read(session, dispute)


@router.get("/{dispute_id}/agreement", summary="调解协议书原件 The agreement document")
def agreement(
    dispute_id: int, request: Request, session: SessionDep, principal: PrincipalDep
) -> Response:
    dispute = service.get_visible(session, dispute_id, principal)
    if dispute.agreement_upload_id is None:
        raise NotFound(
            f"纠纷 {dispute_id} 没有上传调解协议书",
            f"dispute {dispute_id} has no agreement document",
        )
    row = get_upload(session, dispute.agreement_upload_id)
    return Response(
        storage_for(request).get(row.key),
        media_type=row.content_type,
        headers={"Cache-Control": "private, no-store"},
    )


@router.get(
    "/{dispute_id}/agreement.pdf",
    summary="生成调解协议书 PDF（当事人脱敏；reason 与 personal.unmask 时完整，留痕）",
)
def agreement_document(
    dispute_id: int,
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
    reason: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The 人民调解协议书 generated from the dispute's record, ready to print and sign."""
    if reason:
        data = service.reveal(session, principal, dispute_id, reason, now=now)
    else:
        data = service.read(session, service.get_visible(session, dispute_id, principal))
    county = session.get(Division, data["county_code"])
    pdf = agreement_pdf(data, county_name=county.name if county else None)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Cache-Control": "private, no-store",
            "Content-Disposition": f'inline; filename="agreement-{dispute_id}.pdf"',
        },
    )


@router.post("/{dispute_id}/follow-up", summary="回访 Record the follow-up visit")
def follow_up(
    dispute_id: int, body: FollowUpIn, session: SessionDep, principal: PrincipalDep, now: NowDep
) -> dict[str, Any]:
    return service.read(session, service.follow_up(session, principal, dispute_id, body, now=now))
