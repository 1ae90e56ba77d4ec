"""The ceiling of the stack for bench_intake.py: FastAPI + asyncpg, parse the JSON, one INSERT.

    BENCH_PG_DSN=postgresql://postgres@127.0.0.1:5432/wangge_bench_intake \
        uvicorn --app-dir bench bare_asyncpg:app --workers 2

The same body as POST /api/v1/cases is parsed as the project's bare endpoint parses it
(src/wangge/api/bench_views.py: a JSON object into `dict[str, Any]`) and stored the same way
(its JSON text in `payload`), but in table `bench_bare_asyncpg`, through an asyncpg pool made
in the lifespan (5 to 15 connections a worker, as the project's SQLAlchemy pool), with no
thread pool in between. The answer is 201 with the new row's id. X-Request-ID is echoed as
the project's middleware echoes it, so that the benchmark can match answers to rows. The
benchmark creates the table.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from fastapi import Body, FastAPI, Request
from fastapi.responses import Response

INSERT = "INSERT INTO bench_bare_asyncpg (payload) VALUES ($1) RETURNING id"


def _dsn() -> str:
    """asyncpg wants a libpq URL: drop a SQLAlchemy driver suffix (postgresql+psycopg://)."""
    url = os.environ["BENCH_PG_DSN"]
    scheme, sep, rest = url.partition("://")
    return scheme.split("+", 1)[0] + sep + rest


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(_dsn(), min_size=5, max_size=15)
    try:
        yield
    finally:
        await app.state.pool.close()


app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)


@app.post("/bare")
async def bare(request: Request, payload: dict[str, Any] = Body(...)) -> Response:
    row_id = await request.app.state.pool.fetchval(INSERT, orjson.dumps(payload).decode())
    rid = request.headers.get("x-request-id")
    return Response(
        orjson.dumps({"id": row_id}),
        status_code=201,
        media_type="application/json",
        headers={"x-request-id": rid} if rid else None,
    )
