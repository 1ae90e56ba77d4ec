"""HTTP routes for photos."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from wangge.api.deps import PrincipalDep, SessionDep, SettingsDep
from wangge.api.ratelimit import hit
from wangge.auth.principal import Principal
from wangge.cases.access import get_visible
from wangge.config import Settings
from wangge.errors import NotFound, ValidationFailed
from wangge.uploads.models import Upload
from wangge.uploads.service import get_upload, is_uploader, public_url, save_upload
from wangge.uploads.storage import LocalStorage, Storage

router = APIRouter(tags=["uploads 照片"])


class UploadRead(BaseModel):
    id: str
    content_type: str
    size: int
    width: int
    height: int
    exif_lon: float | None
    exif_lat: float | None
    public_url: str


def storage_for(request: Request) -> Storage:
    """The app's upload storage (a directory by default)."""
    store = getattr(request.app.state, "storage", None)
    if store is None:
        store = request.app.state.storage = LocalStorage(request.app.state.settings.upload_dir)
    return store


def _read(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "content_type": row.content_type,
        "size": row.size,
        "width": row.width,
        "height": row.height,
        "exif_lon": row.exif_lon,
        "exif_lat": row.exif_lat,
        "public_url": public_url(row.id),
    }


@router.post(
    "/uploads", response_model=UploadRead, status_code=201, summary="上传照片 Upload a photo"
)
async def upload(
    request: Request,
    file: UploadFile,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    anonymous = principal.via == "anonymous"
    if anonymous and not settings.public_reporting:
        principal.require("cases.report")
    # Read one byte past the cap so an oversized file is refused without reading it all.
    data = await file.read(settings.upload_max_bytes + 1)
    # Decoding the image and the database: in the thread pool, not on the event loop.
    return await run_in_threadpool(_store, request, session, principal, settings, data)


def _store(
    request: Request, session: Session, principal: Principal, settings: Settings, data: bytes
) -> dict[str, Any]:
    anonymous = principal.via == "anonymous"
    if anonymous:
        _limit_anonymous(session, request, settings, len(data))
    try:
        if len(data) > settings.upload_max_bytes:
            raise ValidationFailed(
                f"文件过大，上限 {settings.upload_max_bytes // 1024} KB",
                f"file too large; limit {settings.upload_max_bytes // 1024} KB",
                code="too_large",
                field="file",
            )
        row = save_upload(
            session,
            storage_for(request),
            data,
            principal=principal,
            max_bytes=settings.upload_max_bytes,
            max_pixels=settings.upload_max_pixels,
        )
    except ValidationFailed as exc:
        # A refused anonymous file still counts against its sender (nothing else was written).
        exc.keep_writes = anonymous
        raise
    return _read(row)


def _limit_anonymous(session: SessionDep, request: Request, settings: Settings, size: int) -> None:
    """Count an anonymous upload and its bytes per IP per hour (429 past either limit)."""
    ip = request.client.host if request.client else "unknown"
    hit(session, f"upload:{ip}", limit=settings.upload_anonymous_per_hour, window_s=3600)
    hit(
        session,
        f"upload-bytes:{ip}",
        limit=settings.upload_anonymous_bytes_per_hour,
        window_s=3600,
        amount=size,
    )


def _may_see_original(session: SessionDep, row: Upload, principal: Principal) -> bool:
    """The uploader, and whoever may see the case the photo is attached to."""
    if is_uploader(row, principal):
        return True
    if row.case_id is None:
        return False
    try:
        get_visible(session, row.case_id, principal)
    except NotFound:
        return False
    return True


@router.get(
    "/uploads/{upload_id}",
    summary="原图（含位置信息，仅上传人与能看到所属案卷的人）Original photo",
)
def original(
    upload_id: str, request: Request, session: SessionDep, principal: PrincipalDep
) -> Response:
    row = get_upload(session, upload_id)
    if not _may_see_original(session, row, principal):
        raise NotFound(f"照片 {upload_id} 不存在", f"upload {upload_id} does not exist")
    return Response(
        storage_for(request).get(row.key),
        media_type=row.content_type,
        headers={"Cache-Control": "private, max-age=3600"},
    )


@router.get(
    "/uploads/{upload_id}/public", summary="公开副本（已去除位置信息）Public copy without location"
)
def public(upload_id: str, request: Request, session: SessionDep) -> Response:
    row = get_upload(session, upload_id)
    return Response(
        storage_for(request).get(row.public_key),
        media_type="image/jpeg",
        headers={"Cache-Control": "public, max-age=86400"},
    )
