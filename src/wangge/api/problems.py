"""Errors as RFC 9457 problem+json with a stable code and Chinese and English messages."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError

from wangge.errors import DomainError

MEDIA_TYPE = "application/problem+json"


def problem(status: int, code: str, zh: str, en: str, **extra: Any) -> JSONResponse:
    """Build a problem+json response."""
    body = {
        "type": f"urn:wangge:problem:{code}",
        "title": en,
        "status": status,
        "code": code,
        "detail": zh,
        "detail_en": en,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


def is_unavailable(exc: BaseException) -> bool:
    """Return True when a database error means the server is away, not that the query is wrong."""
    if not isinstance(exc, DBAPIError):
        return False
    # OperationalError covers refused connections, shutdowns and dropped sockets; a
    # disconnect seen mid-statement is flagged connection_invalidated by SQLAlchemy.
    return bool(exc.connection_invalidated) or isinstance(exc, OperationalError | InterfaceError)


def database_unavailable() -> JSONResponse:
    """Return the 503 that tells clients to retry once the database is back."""
    response = problem(
        503,
        "database_unavailable",
        "数据库暂时不可用，请稍后用同一幂等键（Idempotency-Key）重试",
        "the database is temporarily unavailable; retry shortly with the same Idempotency-Key",
    )
    response.headers["Retry-After"] = "2"
    return response


def out_of_range() -> JSONResponse:
    """A number the database cannot hold (an id beyond 64 bits) is a bad request, not a crash."""
    return problem(422, "value_out_of_range", "数值超出范围", "a number is out of range")


def install(app: FastAPI) -> None:
    """Register the handlers that turn errors into problem+json."""

    @app.exception_handler(DomainError)
    async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
        extra: dict[str, Any] = {}
        if exc.field:
            extra["field"] = exc.field
        if exc.details:
            extra["details"] = exc.details
        response = problem(exc.status, exc.code, exc.message_zh, exc.message_en, **extra)
        if "retry_after" in exc.details:
            response.headers["Retry-After"] = str(exc.details["retry_after"])
        return response

    @app.exception_handler(DBAPIError)
    async def _database(_request: Request, exc: DBAPIError) -> JSONResponse:
        if is_unavailable(exc):
            return database_unavailable()
        if isinstance(exc, DataError):  # e.g. an id beyond BIGINT in the path
            return out_of_range()
        raise exc

    @app.exception_handler(OverflowError)
    async def _overflow(_request: Request, _exc: OverflowError) -> JSONResponse:
        # SQLite's driver refuses integers beyond 64 bits before the query runs.
        return out_of_range()

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in e["loc"] if p not in ("body", "query", "path")),
                "location": e["loc"][0] if e["loc"] else None,
                "reason": UNKNOWN_FIELD if e["type"] == "extra_forbidden" else e["msg"],
            }
            for e in exc.errors()
        ]
        return problem(422, "validation_failed", *_messages(errors), errors=errors)


# Request bodies refuse fields they do not define (`common.schemas.InputModel`); say so plainly.
UNKNOWN_FIELD = "未知字段 / unknown field"


def _messages(errors: list[dict[str, Any]]) -> tuple[str, str]:
    unknown = [e["field"] for e in errors if e["reason"] == UNKNOWN_FIELD]
    invalid = [e["field"] for e in errors if e["reason"] != UNKNOWN_FIELD]
    zh, en = [], []
    if invalid:
        zh.append(f"参数有误：{', '.join(invalid)}")
        en.append(f"invalid parameters: {', '.join(invalid)}")
    if unknown:
        zh.append(f"不接受未知字段：{', '.join(unknown)}")
        en.append(f"unknown fields are not accepted: {', '.join(unknown)}")
    return "；".join(zh), "; ".join(en)
