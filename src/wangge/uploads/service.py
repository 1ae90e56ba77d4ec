"""Accepting photos: check, keep the original privately, serve a location-free copy publicly.

A photo is attached once, to one case (its report or an action); after that its original
follows that case's visibility, and before that only its uploader may see or use it.
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.auth.principal import ANONYMOUS, Principal
from wangge.common.geo import parse_crs, to_canonical_xy
from wangge.errors import NotFound, ValidationFailed
from wangge.uploads.images import inspect_image, public_copy
from wangge.uploads.models import Upload
from wangge.uploads.storage import Storage

_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/heic": "heic"}
UPLOADS_PATH = "/api/v1/uploads/"
# What clients send: the page's "/api/v1/uploads/<id>", its public URL (Open311 media_url,
# possibly absolute), "upload:<id>" or the bare id.
_REF = re.compile(r"^(?:upload:|(?:https?://[^/\s]+)?/api/v1/uploads/)?([0-9a-f]{32})(?:/public)?$")
# EXIF times carry no zone and are stored as if UTC: only a photo taken before the threshold
# in every zone (UTC-12 … UTC+14) is refused by its EXIF time.
_EXIF_ZONE_SLACK = timedelta(hours=12)


def save_upload(
    session: Session,
    storage: Storage,
    data: bytes,
    *,
    principal: Principal,
    max_bytes: int,
    max_pixels: int,
) -> Upload:
    """Store a checked photo and its public copy; the row is written in the caller's transaction.

    Every check (including a full decode for the public copy) runs before anything is
    written, so a refused file leaves neither a row nor a file behind.
    """
    info = inspect_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    public = public_copy(data)
    upload_id = secrets.token_hex(16)
    key = f"{upload_id[:2]}/{upload_id}.{_EXT[info.content_type]}"
    public_key = f"{upload_id[:2]}/{upload_id}.public.jpg"
    lon = lat = None
    if info.gps is not None:
        x, y = to_canonical_xy([info.gps[0]], [info.gps[1]], parse_crs("EPSG:4326"))
        lon, lat = float(x[0]), float(y[0])
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
    try:
        storage.put(key, data)
        storage.put(public_key, public)
    except BaseException:
        storage.delete(key)  # the raised error rolls the row back; leave no half pair
        raise
    return row


def get_upload(session: Session, upload_id: str) -> Upload:
    """Return an upload or raise NotFound."""
    row = session.get(Upload, upload_id)
    if row is None:
        raise NotFound(f"照片 {upload_id} 不存在", f"upload {upload_id} does not exist")
    return row


def upload_id_of(ref: str) -> str | None:
    """Return the upload id a photo reference names, or None if it names no upload."""
    found = _REF.match(ref.strip())
    return found.group(1) if found else None


def public_url(upload_id: str) -> str:
    """Return the address of an upload's public copy (location data removed): the only form
    of a photo that citizens, Open311 clients and public pages are given."""
    return f"{UPLOADS_PATH}{upload_id}/public"


def photo_ref(upload_id: str) -> str:
    """Return the reference cases store for an upload (the original's path)."""
    return f"{UPLOADS_PATH}{upload_id}"


def is_uploader(row: Upload, principal: Principal) -> bool:
    """Return True if `principal` uploaded the photo (anonymous callers are nobody in particular)."""
    if principal.via == "anonymous":
        return False
    if row.owner_user_id is not None:
        return principal.user_id == row.owner_user_id
    return principal.user_id is None and row.owner == principal.name


def _usable_by(row: Upload, principal: Principal, case_id: int | None) -> bool:
    if row.owner_user_id is None and row.owner == ANONYMOUS.name:
        # An anonymous upload's id is an unguessable secret known only to its uploader's
        # page until the report that attaches it publishes it; so an anonymous reporter may
        # attach it once, and nobody else ever.
        return principal.via == "anonymous" and row.case_id is None
    return is_uploader(row, principal) and row.case_id in (None, case_id)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def claim_photos(
    session: Session,
    refs: Sequence[str],
    principal: Principal,
    *,
    case_id: int | None,
    not_before: datetime | None = None,
    field: str = "photos",
) -> list[Upload]:
    """Check photo references for a case's report or action; return the uploads in order.

    Each must name an existing upload of `principal`, not attached to another case, and,
    with `not_before`, one uploaded (and, by its EXIF, taken) no earlier than that moment.
    """
    if not refs:
        return []  # most reports carry no photo: no query
    ids = [upload_id_of(r) for r in refs]
    rows = {
        r.id: r for r in session.scalars(select(Upload).where(Upload.id.in_({i for i in ids if i})))
    }
    out = []
    for ref, uid in zip(refs, ids, strict=True):
        row = rows.get(uid) if uid else None
        if row is None:
            raise _bad_photo(
                field,
                ref,
                f"{field}：{ref} 不是已上传的照片，请先上传（POST /api/v1/uploads）",
                f"{field}: {ref} is not an uploaded photo; upload it first (POST /api/v1/uploads)",
                "unknown_photo",
            )
        if not _usable_by(row, principal, case_id):
            raise _bad_photo(
                field,
                ref,
                f"{field}：照片 {ref} 不是您本人上传的，或已用于其他案卷",
                f"{field}: photo {ref} was not uploaded by you or belongs to another case",
                "photo_not_yours",
            )
        if not_before is not None and (
            _aware(row.created_at) < not_before
            or (row.taken_at is not None and _aware(row.taken_at) + _EXIF_ZONE_SLACK < not_before)
        ):
            raise _bad_photo(
                field,
                ref,
                f"{field}：照片 {ref} 早于处置反馈（或上报），请上传现场新拍的照片",
                f"{field}: photo {ref} predates the handling report (or the report); "
                "upload a fresh on-site photo",
                "stale_photo",
            )
        out.append(row)
    return out


def _bad_photo(field: str, ref: str, zh: str, en: str, code: str) -> ValidationFailed:
    return ValidationFailed(zh, en, code=code, field=field, details={"photo": ref})


def attach_photos(rows: Sequence[Upload], case_id: int) -> None:
    """Tie checked photos to their case (their originals now follow its visibility)."""
    for row in rows:
        row.case_id = case_id


# --- the demo's photos ---------------------------------------------------------------------

DEMO_KEY = "demo/on-site.jpg"
DEMO_PUBLIC_KEY = "demo/on-site.public.jpg"


@cache
def _demo_jpeg() -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (160, 120), (122, 156, 198))
    ImageDraw.Draw(img).rectangle((30, 40, 110, 90), fill=(196, 68, 68))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=80)
    return out.getvalue()


def store_demo_photo(storage: Storage) -> None:
    """Write the one picture every simulated photo row shares."""
    storage.put(DEMO_KEY, _demo_jpeg())
    storage.put(DEMO_PUBLIC_KEY, _demo_jpeg())


def demo_photo(session: Session, *, principal: Principal, at: datetime) -> Upload:
    """Add a photo of `principal` taken at `at` that shares the demo picture (no decoding:
    the simulated month takes thousands)."""
    data = _demo_jpeg()
    row = Upload(
        id=secrets.token_hex(16),
        owner=principal.name,
        owner_user_id=principal.user_id,
        content_type="image/jpeg",
        size=len(data),
        width=160,
        height=120,
        sha256=hashlib.sha256(data).hexdigest(),
        key=DEMO_KEY,
        public_key=DEMO_PUBLIC_KEY,
        created_at=at.astimezone(UTC),  # SQLite keeps no zone: store UTC like utcnow()
    )
    session.add(row)
    return row
