"""Accepting photos: check, keep the original privately, serve a location-free copy publicly."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC

from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.common.geo import parse_crs, to_canonical_xy
from wangge.errors import NotFound
from wangge.uploads.images import inspect_image, public_copy
from wangge.uploads.models import Upload
from wangge.uploads.storage import Storage

_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/heic": "heic"}


def save_upload(
    session: Session,
    storage: Storage,
    data: bytes,
    *,
    principal: Principal,
    max_bytes: int,
    max_pixels: int,
) -> Upload:
    """Store a checked photo and its public copy; the row is written in the caller's transaction."""
    info = inspect_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    upload_id = secrets.token_hex(16)
    key = f"{upload_id[:2]}/{upload_id}.{_EXT[info.content_type]}"
    public_key = f"{upload_id[:2]}/{upload_id}.public.jpg"
    lon = lat = None
    if info.gps is not None:
        x, y = to_canonical_xy([info.gps[0]], [info.gps[1]], parse_crs("EPSG:4326"))
        lon, lat = float(x[0]), float(y[0])
    storage.put(key, data)
    storage.put(public_key, public_copy(data))
    row = Upload(
        id=upload_id,
        owner=principal.name,
        owner_user_id=principal.user_id,
        content_type=info.content_type,
        size=len(data),
        width=info.width,
        height=info.height,
        sha256=hashlib.sha256(data).hexdigest(),
        exif_lon=lon,
        exif_lat=lat,
        taken_at=info.taken_at.replace(tzinfo=UTC) if info.taken_at else None,
        key=key,
        public_key=public_key,
    )
    session.add(row)
    session.flush()
    return row


def get_upload(session: Session, upload_id: str) -> Upload:
    """Return an upload or raise NotFound."""
    row = session.get(Upload, upload_id)
    if row is None:
        raise NotFound(f"照片 {upload_id} 不存在", f"upload {upload_id} does not exist")
    return row
