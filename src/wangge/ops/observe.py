"""Request ids, structured JSON logs and request metrics, in one cheap ASGI middleware."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram

from wangge.common.masking import PersonalDataFilter

REQUEST_ID_HEADER = b"x-request-id"
request_id_var: ContextVar[str | None] = ContextVar("wangge_request_id", default=None)
log = logging.getLogger("wangge.http")

# Latency buckets around what intake needs (a few ms) up to a slow export.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and extras."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialise the (already scrubbed) record."""
        body: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id_var.get()
        if rid:
            body["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in body and not key.startswith("_"):
                body[key] = value
        if record.exc_text:
            body["exc"] = record.exc_text
        elif record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(body, default=str).decode()


class _UTCFormatterMixin:
    converter: Callable[[float | None], time.struct_time] = time.gmtime


class _UTCJsonFormatter(_UTCFormatterMixin, JsonFormatter):
    pass


# Query parameters that carry secrets (robot webhooks carry `key`, `access_token` and a
# `sign`), and paths that once carried a tracking secret.
_SECRET_PARAM = re.compile(
    r"(?i)([?&](?:api_key|apikey|key|token|access_token|secret|password|tracking|sign)=)"
    r"[^&\s\"]*"
)
_SECRET_PATH = re.compile(r"(/citizen/track/)[^/?\s\"]+")


def redact_secrets(text: str) -> str:
    """Replace secrets in a request line (query values, tracking codes in paths) with ***."""
    return _SECRET_PATH.sub(r"\1***", _SECRET_PARAM.sub(r"\1***", text))


class SecretsFilter(logging.Filter):
    """On uvicorn's access logger: the request line loses its secrets before any handler.

    The API takes secrets only in headers and bodies, but a client may still put one in a URL
    (an old link, a copied example); its access-log line must not keep it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(a) for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact_secrets(record.msg)
        return True


def _redacted(arg: Any) -> Any:
    # httpx logs its URL objects, not strings: such an argument is redacted as its text.
    if isinstance(arg, str):
        return redact_secrets(arg)
    if isinstance(arg, int | float | bool) or arg is None:
        return arg
    text = str(arg)
    clean = redact_secrets(text)
    return arg if clean == text else clean


def install_secrets_filter() -> None:
    """Attach SecretsFilter to uvicorn's access logger and httpx's (robot URLs) once."""
    for name in ("uvicorn.access", "httpx"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, SecretsFilter) for f in logger.filters):
            logger.addFilter(SecretsFilter())


def configure_logging(level: str = "INFO", *, json: bool = True) -> logging.Handler:
    """Send the wangge loggers to stderr as JSON lines, personal data masked; idempotent."""
    root = logging.getLogger("wangge")
    for handler in list(root.handlers):
        if getattr(handler, "_wangge", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._wangge = True  # type: ignore[attr-defined]
    handler.setFormatter(_UTCJsonFormatter() if json else logging.Formatter())
    # On the handler, not the logger: a logger's filter misses records from its children.
    handler.addFilter(PersonalDataFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    root.propagate = False
    # uvicorn's error log carries tracebacks (SQL parameters included) and its access log
    # raw query strings: both go through the same masking handler.
    for name in ("uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.propagate = False
    return handler


class HttpMetrics:
    """The request counters and latency histogram of one app."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "wangge_http_requests",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "wangge_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            buckets=BUCKETS,
            registry=registry,
        )


def route_template(scope: dict[str, Any]) -> str:
    """Return the matched route's path template (never the raw path, which may carry data)."""
    # FastAPI keeps the prefixed template in its own scope entry; Starlette's `route` has
    # only the router-relative path.
    effective = scope.get("fastapi", {}).get("effective_route_context")
    path = getattr(effective, "path_format", None)
    if path:
        return str(path)
    route = scope.get("route")
    return str(getattr(route, "path", None) or "<unmatched>")


class ObserveMiddleware:
    """Propagate or create X-Request-ID, count and time requests, log server errors."""

    def __init__(self, app: Any, metrics: HttpMetrics, *, access_log: bool = False) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        for key, value in scope["headers"]:
            if key == REQUEST_ID_HEADER:
                # Accept a caller's id only when it is short and printable (it reaches logs).
                candidate = value.decode("latin-1")
                if 0 < len(candidate) <= 128 and candidate.isprintable():
                    rid = candidate
                break
        if rid is None:
            rid = uuid.uuid4().hex
        token = request_id_var.set(rid)
        status = 500
        raw_rid = rid.encode("latin-1")

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, raw_rid)]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            template = route_template(scope)
            method = scope["method"]
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(elapsed)
            if status >= 500 or self.access_log:
                log.log(
                    logging.ERROR if status >= 500 else logging.INFO,
                    "%s %s %s",
                    method,
                    template,
                    status,
                    extra={"status": status, "duration_ms": round(elapsed * 1000, 2)},
                )
            request_id_var.reset(token)
