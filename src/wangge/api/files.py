"""Files in and out: uploads an import reads from disk (a size limit, a safe temporary copy)
and the Excel files the exports send."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import Response, UploadFile

from wangge.errors import ValidationFailed

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A district's grid or division file is a few MB; this bounds what one request may make us parse.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def safe_name(filename: str | None) -> str:
    """Only the base name, so the upload cannot point anywhere but our temporary folder."""
    name = Path((filename or "upload").replace("\\", "/")).name
    return re.sub(r"[^\w.\-\u4e00-\u9fff]", "_", name)[:120] or "upload"


def read_upload(file: UploadFile, limit: int | None = None) -> bytes:
    """The whole upload, or 422 `too_large` when it is over `limit` (MAX_UPLOAD_BYTES) bytes."""
    limit = MAX_UPLOAD_BYTES if limit is None else limit
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise ValidationFailed(
            f"文件过大，上限 {limit // 2**20} MB",
            f"file too large; limit {limit // 2**20} MB",
            code="too_large",
            field="file",
        )
    return data


@contextmanager
def saved_upload(file: UploadFile, *, prefix: str, limit: int | None = None) -> Iterator[Path]:
    """Yield the upload written under its safe name in a temporary folder, removed afterwards.

    The file keeps its name (the importers pick the reader by the extension and name the file
    in their errors); the folder is private to this request.
    """
    data = read_upload(file, limit)
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        path = Path(tmp) / safe_name(file.filename)
        path.write_bytes(data)
        yield path


def xlsx_response(body: bytes, name: str) -> Response:
    """Send a workbook as a download named `name` (RFC 5987, so Chinese names survive)."""
    return Response(
        body,
        media_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )
