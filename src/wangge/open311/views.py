"""Open311 GeoReport v2 at /open311/v2: discovery, services, requests, tokens; .json and .xml.

Follows http://wiki.open311.org/GeoReport_v2: form-encoded POST with api_key, errors as a
list of {code, description} with HTTP 400/403/404, ISO 8601 times with the time zone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import select

from wangge.api.deps import SessionDep
from wangge.api.ratelimit import TooManyRequests, hit, phone_key
from wangge.auth.service import principal_from_token
from wangge.cases.models import Case, Category
from wangge.cases.reporting import CaseIn, create_case
from wangge.cases.vocabulary import Source
from wangge.common.models import utcnow
from wangge.errors import DomainError
from wangge.open311 import mapping
from wangge.open311.public_intake import count_ip, reportable

router = APIRouter(prefix="/open311/v2", tags=["open311 GeoReport v2"])
FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
MAX_RESULTS = 1000
DEFAULT_DAYS = 90
PHONE_LIMIT_PER_DAY = 20


class Open311Error(Exception):
    """An error in the spec's shape: HTTP status plus code and description."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


# --- rendering ------------------------------------------------------------------------

_ITEM = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "periods": "period",  # statistics (open311/statistics.py)
    "indicators": "indicator",
}


def _xml(parent: ET.Element, key: str, value: Any) -> None:
    if isinstance(value, list):
        holder = ET.SubElement(parent, key)
        for item in value:
            _xml(holder, _ITEM.get(key, "item"), item)
    elif isinstance(value, dict):
        node = ET.SubElement(parent, key)
        for k, v in value.items():
            _xml(node, k, v)
    else:
        node = ET.SubElement(parent, key)
        node.text = (
            ""
            if value is None
            else ("true" if value is True else "false" if value is False else str(value))
        )


def render(fmt: str, root: str, body: Any, status: int = 200) -> Response:
    """Render a body as JSON or as the spec's XML (root element, one child per item)."""
    if fmt == "json":
        import orjson

        return Response(orjson.dumps(body), status_code=status, media_type=FORMATS["json"])
    if isinstance(body, list):
        top = ET.Element(root)
        for item in body:
            _xml(top, _ITEM.get(root, "item"), item)
    else:
        top = ET.Element(root)
        for k, v in body.items():
            _xml(top, k, v)
    xml = b'<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(top, encoding="utf-8")
    return Response(xml, status_code=status, media_type=FORMATS["xml"])


def _error(fmt: str, status: int, description: str) -> Response:
    return render(
        fmt if fmt in FORMATS else "json",
        "errors",
        [{"code": status, "description": description}],
        status,
    )


def guarded(fmt: str, fn: Callable[[], Response]) -> Response:
    """Turn our errors into Open311 errors (bilingual description)."""
    if fmt not in FORMATS:
        return _error("json", 404, f"不支持的格式 {fmt} / format must be json or xml")
    try:
        return fn()
    except Open311Error as exc:
        return _error(fmt, exc.status, exc.description)
    except TooManyRequests as exc:
        response = _error(fmt, 429, f"{exc.message_zh} / {exc.message_en}")
        response.headers["Retry-After"] = str(exc.details.get("retry_after", 60))
        return response
    except DomainError as exc:
        status = exc.status if exc.status in (400, 403, 404) else 400
        return _error(fmt, status, f"{exc.message_zh} / {exc.message_en}")


# --- discovery and services -----------------------------------------------------------


@router.get("/discovery.{fmt}", summary="Open311 discovery")
def discovery(fmt: str, request: Request) -> Response:
    base = str(request.base_url).rstrip("/") + "/open311/v2/"
    body = {
        "changeset": "2026-11-26T00:00:00+08:00",
        "contact": "网格化服务管理中心 / grid management center",
        "key_service": "向管理中心申请 API 密钥 / ask the center for an api_key",
        "endpoints": [
            {
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": base,
                "changeset": "2026-11-26T00:00:00+08:00",
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return guarded(fmt, lambda: render(fmt, "discovery", body))


def _public_categories(session: SessionDep) -> list[Category]:
    q = select(Category).where(
        Category.kind.in_(mapping.PUBLIC_KINDS), Category.is_active.is_(True)
    )
    return list(session.scalars(q.order_by(Category.code)))


@router.get("/services.{fmt}", summary="Open311 service list")
def services(fmt: str, session: SessionDep) -> Response:
    return guarded(
        fmt,
        lambda: render(fmt, "services", [mapping.service(c) for c in _public_categories(session)]),
    )


@router.get("/services/{service_code}.{fmt}", summary="Open311 service definition")
def service_definition(service_code: str, fmt: str, session: SessionDep) -> Response:
    def run() -> Response:
        category = _public_category(session, service_code)
        return render(fmt, "service_definition", mapping.definition(category))

    return guarded(fmt, run)


def _public_category(session: SessionDep, code: str) -> Category:
    category = session.get(Category, code)
    if not reportable(category):
        raise Open311Error(404, f"服务 {code} 不存在 / service_code {code} not found")
    return category


# --- requests -------------------------------------------------------------------------


@router.post("/requests.{fmt}", summary="Open311 create a service request (form-encoded, api_key)")
async def post_request(fmt: str, request: Request, session: SessionDep) -> Response:
    form = await request.form()
    values = {k: str(v) for k, v in form.items()}

    def run() -> Response:
        # Errors become Open311 responses rather than exceptions, so the request's
        # transaction would commit: keep the work in a savepoint that an error undoes.
        with session.begin_nested():
            return _create(fmt, request, session, values)

    # the report's work blocks (database, locating): in the thread pool, not on the event loop
    return await run_in_threadpool(guarded, fmt, run)


def _create(fmt: str, request: Request, session: SessionDep, form: dict[str, str]) -> Response:
    key = form.get("api_key") or request.query_params.get("api_key")
    if not key:
        raise Open311Error(403, "缺少 api_key / api_key is required")
    principal = principal_from_token(session, key)
    if principal is None or principal.via != "api_key":
        raise Open311Error(403, "api_key 无效 / invalid api_key")
    try:
        category = _public_category(session, form.get("service_code", ""))
    except Open311Error as exc:  # on POST an unknown service_code is a bad request
        raise Open311Error(400, exc.description) from None
    lat, lon = form.get("lat"), form.get("long")
    if not lat or not lon:
        raise Open311Error(400, "需要 lat 和 long（暂不支持仅地址）/ lat and long are required")
    try:
        latf, lonf = float(lat), float(lon)
    except ValueError:
        raise Open311Error(400, "lat/long 不是数字 / lat and long must be numbers") from None
    if not (-90 <= latf <= 90 and -180 <= lonf <= 180):
        raise Open311Error(400, "lat/long 超出范围 / lat or long out of range")
    _limit(session, request, form)
    description = (form.get("description") or "").strip() or category.name
    case = create_case(
        session,
        CaseIn(
            category_code=category.code,
            description=description[:4000],
            lon=lonf,
            lat=latf,
            source=Source.ONLINE,
            address=form.get("address_string") or None,
            component_code=form.get("attribute[component_code]") or None,
            urgent=form.get("attribute[urgent]") == "yes",
            # A photo this API key uploaded first (POST /api/v1/uploads with X-API-Key).
            photos=[form["media_url"]] if form.get("media_url") else [],
        ),
        principal,
        now=utcnow(),
        idempotency_key=request.headers.get("Idempotency-Key"),
    )
    body = [
        {
            "service_request_id": case.code,
            "token": case.code,
            "service_notice": "已受理登记，处理进度可按编号查询 / received; track it by its id",
            "account_id": form.get("account_id", ""),
        }
    ]
    return render(fmt, "service_requests", body, 201)


def _limit(session: SessionDep, request: Request, form: dict[str, str]) -> None:
    """Rate limits per IP (public intake's, shared with the citizen page) and per phone
    (hashed), counted in the database for every node.

    Counted in the request's transaction: a refused request rolls its count back, which
    keeps a client at the limit until the window ends.
    """
    count_ip(session, request)
    if form.get("phone"):
        hit(session, phone_key(form["phone"]), limit=PHONE_LIMIT_PER_DAY, window_s=86400)


@router.get("/requests.{fmt}", summary="Open311 query service requests")
def get_requests(fmt: str, request: Request, session: SessionDep) -> Response:
    return guarded(fmt, lambda: _query(fmt, session, dict(request.query_params)))


def _parse_time(text: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} 不是 ISO 8601 时间 / {name} must be ISO 8601") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=mapping.SHANGHAI)
    return value


def _query(fmt: str, session: SessionDep, params: dict[str, str]) -> Response:
    public = select(Category.code).where(Category.kind.in_(mapping.PUBLIC_KINDS))
    q = (
        select(Case)
        .where(Case.category_code.in_(public), Case.duplicate_of.is_(None))
        .order_by(Case.id.desc())
    )
    if params.get("service_request_id"):
        q = q.where(
            Case.code.in_([s.strip() for s in params["service_request_id"].split(",") if s.strip()])
        )
    else:
        end = _parse_time(params["end_date"], "end_date") if params.get("end_date") else utcnow()
        start = (
            _parse_time(params["start_date"], "start_date")
            if params.get("start_date")
            else end - timedelta(days=DEFAULT_DAYS)
        )
        if start > end:
            raise Open311Error(400, "start_date 晚于 end_date / start_date is after end_date")
        q = q.where(Case.reported_at >= start, Case.reported_at <= end)
        if params.get("service_code"):
            q = q.where(
                Case.category_code.in_([s.strip() for s in params["service_code"].split(",")])
            )
        if params.get("status"):
            wanted = {s.strip() for s in params["status"].split(",")}
            if not wanted <= {"open", "closed"}:
                raise Open311Error(
                    400, "status 只能为 open 或 closed / status must be open or closed"
                )
            if wanted == {"open"}:
                q = q.where(Case.state.not_in(mapping.CLOSED_STATES))
            elif wanted == {"closed"}:
                q = q.where(Case.state.in_(mapping.CLOSED_STATES))
    cases = list(session.scalars(q.limit(MAX_RESULTS)))
    return render(fmt, "service_requests", mapping.requests_for(session, cases))


@router.get("/requests/{request_id}.{fmt}", summary="Open311 one service request")
def get_request(request_id: str, fmt: str, session: SessionDep) -> Response:
    def run() -> Response:
        case = _public_case(session, request_id)
        return render(fmt, "service_requests", mapping.requests_for(session, [case]))

    return guarded(fmt, run)


def _public_case(session: SessionDep, code: str) -> Case:
    public = select(Category.code).where(Category.kind.in_(mapping.PUBLIC_KINDS))
    case = session.scalars(
        select(Case).where(Case.code == code, Case.category_code.in_(public))
    ).first()
    if case is None:
        raise Open311Error(404, f"服务请求 {code} 不存在 / service_request_id {code} not found")
    return case


@router.get("/tokens/{token}.{fmt}", summary="Open311 service request id from a token")
def get_token(token: str, fmt: str, session: SessionDep) -> Response:
    def run() -> Response:
        case = _public_case(session, token)
        return render(fmt, "service_requests", [{"service_request_id": case.code, "token": token}])

    return guarded(fmt, run)
