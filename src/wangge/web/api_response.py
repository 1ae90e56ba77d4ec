"""The JSON answer of the /web/api routes: orjson bytes, gzip when large, a cache header."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response


def json_response(body: Any, request: Request, *, cache: str = "private, max-age=60") -> Response:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {"Cache-Control": cache}
    if len(data) > 2048 and "gzip" in request.headers.get("accept-encoding", ""):
        data = gzip.compress(data, compresslevel=5)
        headers["Content-Encoding"] = "gzip"
        headers["Vary"] = "Accept-Encoding"
    return Response(data, media_type="application/json", headers=headers)
