"""Errors as RFC 9457 problem+json with a stable code and Chinese and English messages."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

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

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in e["loc"] if p not in ("body", "query", "path")),
                "location": e["loc"][0] if e["loc"] else None,
                "reason": e["msg"],
            }
            for e in exc.errors()
        ]
        fields = ", ".join(e["field"] for e in errors)
        return problem(
            422,
            "validation_failed",
            f"参数有误：{fields}",
            f"invalid parameters: {fields}",
            errors=errors,
        )
