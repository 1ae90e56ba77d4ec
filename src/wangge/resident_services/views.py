"""HTTP routes of 代办: /api/v1/resident-services (staff) and /web/api/citizen/services (public)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from pydantic import Field

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.cases.views import NowDep
from wangge.cases.vocabulary import Satisfaction
from wangge.common.schemas import InputModel
from wangge.resident_services import catalogue, figures, service

router = APIRouter(prefix="/resident-services", tags=["resident services 代办"])
public_router = APIRouter(prefix="/web/api/citizen/services", include_in_schema=False)


class ItemIn(InputModel):
    county_code: str = Field(min_length=6, max_length=6)
    code: str = Field(min_length=1, max_length=16)
    family: str = Field(min_length=1, max_length=24)
    name: str = Field(min_length=1, max_length=100)
    name_en: str | None = Field(default=None, max_length=200)
    materials: list[str] = Field(default_factory=list, max_length=30)
    respond_hours: float = 2.0
    answer_hours: float = 24.0
    complex_hours: float = 72.0
    around_the_clock: bool = False


class ItemPatch(InputModel):
    family: str | None = Field(default=None, max_length=24)
    name: str | None = Field(default=None, max_length=100)
    name_en: str | None = Field(default=None, max_length=200)
    materials: list[str] | None = Field(default=None, max_length=30)
    respond_hours: float | None = None
    answer_hours: float | None = None
    complex_hours: float | None = None
    around_the_clock: bool | None = None
    is_active: bool | None = None


class StepIn(InputModel):
    note: str | None = Field(default=None, max_length=2000)
    complex: bool = False
    version: int | None = None


class RequestIn(InputModel):
    """A resident's 代办 request from the citizen page (no account)."""

    service_code: str = Field(min_length=1, max_length=16)
    applicant_name: str = Field(min_length=1, max_length=50)
    phone: str = Field(min_length=1, max_length=32)
    description: str = Field(default="", max_length=2000)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    crs: str = Field(default="EPSG:4326", max_length=64)
    address: str | None = Field(default=None, max_length=200)


class TrackIn(InputModel):
    tracking: str = Field(min_length=10, max_length=120)


class RateIn(TrackIn):
    rating: Satisfaction | None = None
    note: str | None = Field(default=None, max_length=2000)


# --- staff ------------------------------------------------------------------------------


@router.get("/catalogue", summary="代办事项目录 The county's service catalogue")
def list_catalogue(
    session: SessionDep,
    principal: PrincipalDep,
    county: Annotated[str | None, Query(max_length=6)] = None,
    include_inactive: bool = False,
) -> list[dict[str, Any]]:
    principal.require("cases.read")
    items = catalogue.list_items(session, county, include_inactive=include_inactive)
    return [catalogue.item_dict(i) for i in items if principal.covers(i.county_code)]


@router.post("/catalogue", status_code=status.HTTP_201_CREATED, summary="新增代办事项 Add")
def create_item(
    body: ItemIn, session: SessionDep, principal: PrincipalDep, now: NowDep
) -> dict[str, Any]:
    item = catalogue.create_item(session, principal, body.model_dump(), now=now)
    return catalogue.item_dict(item)


@router.patch("/catalogue/{item_id}", summary="修改代办事项 Edit (materials, hours, on/off)")
def update_item(
    item_id: int, body: ItemPatch, session: SessionDep, principal: PrincipalDep, now: NowDep
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    item = catalogue.update_item(session, principal, item_id, changes, now=now)
    return catalogue.item_dict(item)


@router.post("/catalogue/seed", summary="补充默认目录 Seed the default catalogue (idempotent)")
def seed(
    session: SessionDep, principal: PrincipalDep, county: Annotated[str, Query(max_length=6)]
) -> dict[str, int]:
    catalogue.may_manage(session, principal, county)
    return {"added": catalogue.seed_catalogue(session, county)}


@router.get("/requests", summary="代办申请（本辖区）Requests of your area")
def list_requests(
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
    state: Annotated[str | None, Query(max_length=16, description="open | a state")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    return service.listing(session, principal, state=state, limit=limit, offset=offset, now=now)


@router.get("/requests/{request_id}", summary="代办详情（申请人脱敏）Read a request")
def read_request(
    request_id: int, session: SessionDep, principal: PrincipalDep, now: NowDep
) -> dict[str, Any]:
    row = service.get_visible(session, request_id, principal)
    return service.staff_view(session, row, now, history=True)


@router.get("/requests/{request_id}/contact", summary="申请人联系方式（留痕）Contact (audited)")
def contact(
    request_id: int, session: SessionDep, principal: PrincipalDep, now: NowDep
) -> dict[str, str]:
    return service.reveal_contact(session, principal, request_id, now=now)


@router.post(
    "/requests/{request_id}/actions/{action}", summary="接单/办理/办结 Take, handle, close"
)
def step(
    request_id: int,
    action: str,
    body: StepIn,
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
) -> dict[str, Any]:
    row = service.act(session, principal, request_id, action, body.model_dump(), now=now)
    return service.staff_view(session, row, now, history=True)


@router.get("/figures", summary="代办考核数字 Figures for the evaluation")
def figures_view(
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
    period: Annotated[str, Query(max_length=32, description="2026-11, 2026-Q4, a..b")],
) -> dict[str, Any]:
    return figures.figures(session, principal, figures.period_from(period), now=now)


# --- residents (no login) ---------------------------------------------------------------


@public_router.get("")
def public_catalogue(session: SessionDep) -> list[dict[str, Any]]:
    """Return the active services with their materials and promises."""
    return [catalogue.item_dict(i) for i in catalogue.list_items(session)]


@public_router.post("", status_code=status.HTTP_201_CREATED)
def public_request(
    body: RequestIn, request: Request, session: SessionDep, now: NowDep
) -> dict[str, Any]:
    """File a resident's request; return the tracking code and the promise."""
    from wangge.open311.public_intake import count_ip

    count_ip(session, request)
    row, tracking = service.create_request(session, body.model_dump(), now=now)
    return {"tracking": tracking, **service.public_view(session, row, now)}


@public_router.post("/track")
def public_track(body: TrackIn, session: SessionDep, now: NowDep) -> dict[str, Any]:
    """Return a request's progress by its tracking code (kept in the body, not the URL)."""
    return service.public_view(session, service.tracked(session, body.tracking), now)


@public_router.post("/rate")
def public_rate(body: RateIn, session: SessionDep, now: NowDep) -> dict[str, Any]:
    """Rate a closed request."""
    rating = str(body.rating) if body.rating is not None else None
    row = service.rate(session, body.tracking, rating, body.note, now=now)
    return service.public_view(session, row, now)
