"""Agreement documents that are PDFs (a scanned 调解协议书): checked and kept like photos.

Photos go through `uploads.save_upload` (decoded, location stripped); a PDF cannot be decoded
that way, so it gets its own light check here and is stored as an `Upload` row without a
separate public copy (its id is never shown, see `service.read`).
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.errors import ValidationFailed
from wangge.uploads.models import Upload
from wangge.uploads.storage import Storage

PDF = "application/pdf"


def is_pdf(data: bytes) -> bool:
    """Return True if the bytes claim to be a PDF (its header)."""
    return data[:1024].lstrip().startswith(b"%PDF-")


def save_pdf(session: Session, storage: Storage, data: bytes, *, principal: Principal) -> Upload:
    """Store a PDF agreement document; refuse one that is cut short or holds no page."""
    if b"%%EOF" not in data[-2048:] or b"/Page" not in data:
        raise ValidationFailed(
            "PDF 文件不完整或没有页面，请重新扫描或导出后上传",
            "the PDF is truncated or has no page; scan or export it again",
            code="bad_pdf", field="file",
        )  # fmt: skip
    upload_id = secrets.token_hex(16)
    key = f"{upload_id[:2]}/{upload_id}.pdf"
    row = Upload(
        id=upload_id, owner=principal.name, owner_user_id=principal.user_id, content_type=PDF,
        size=len(data), width=0, height=0, sha256=hashlib.sha256(data).hexdigest(),
        key=key, public_key=key,
    )  # fmt: skip
    session.add(row)
    session.flush()
    storage.put(key, data)  # a later error rolls the row back; the orphan file is harmless
    return row
