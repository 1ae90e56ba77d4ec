"""A bare endpoint for the intake benchmark: parse the JSON, one INSERT, nothing else.

Only served when WANGGE_BENCH_ENDPOINTS is true; the benchmark creates the table itself.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Body
from fastapi.responses import Response
from sqlalchemy import text

from wangge.api.deps import SessionDep

router = APIRouter(include_in_schema=False)


@router.post("/api/v1/_bench/bare")
def bare(session: SessionDep, payload: dict[str, Any] = Body(...)) -> Response:
    session.execute(
        text("INSERT INTO bench_bare (payload) VALUES (:p)"), {"p": orjson.dumps(payload).decode()}
    )
    return Response(b'{"ok":true}', status_code=201, media_type="application/json")
