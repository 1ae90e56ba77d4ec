"""HTTP routes of the notification routes and the dead letters under /api/v1."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from wangge.api.deps import PrincipalDep, SessionDep, SettingsDep
from wangge.cases.views import NowDep
from wangge.common.schemas import InputModel
from wangge.notifications import service

router = APIRouter(tags=["notifications 通知"])
County = Annotated[str | None, Query(min_length=6, max_length=6)]


class RouteCreate(InputModel):
    """A robot or SMS route of a county centre (no department) or of a department."""

    county_code: str = Field(min_length=6, max_length=6)
    department_code: str | None = Field(default=None, max_length=32)
    channel: str = Field(max_length=16, description="wecom | dingtalk | sms")
    name: str = Field(min_length=1, max_length=100)
    url_ref: str | None = Field(
        default=None, max_length=64, description="name of the webhook secret"
    )
    sign_ref: str | None = Field(
        default=None, max_length=64, description="name of DingTalk's signing secret"
    )
    kinds: list[str] = Field(
        default_factory=list, description="dispatch | warning | overdue | urge | return; [] all"
    )


class RouteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    county_code: str
    department_code: str | None
    channel: str
    name: str
    url_ref: str | None
    sign_ref: str | None
    kinds: list[str]
    is_active: bool


class DeadLetterRead(BaseModel):
    id: int
    county_code: str | None
    case_id: int | None
    case_code: str | None
    topic: str
    channel: str
    recipient: str
    attempts: int
    created_at: datetime
    last_error: str | None


@router.get("/notification-routes", response_model=list[RouteRead])
def get_routes(session: SessionDep, principal: PrincipalDep, county: County = None) -> Any:
    """Return the notification routes in scope."""
    return service.list_routes(session, principal, county=county)


@router.post("/notification-routes", response_model=RouteRead, status_code=status.HTTP_201_CREATED)
def post_route(
    body: RouteCreate, session: SessionDep, principal: PrincipalDep, settings: SettingsDep
) -> Any:
    """Add a route; its secret names must be configured in WANGGE_NOTIFY_SECRETS."""
    data = service.RouteIn(**body.model_dump())
    return service.create_route(session, principal, data, secrets=set(settings.notify_secrets))


@router.post("/notification-routes/{route_id}/actions/deactivate", response_model=RouteRead)
def post_route_deactivate(route_id: int, session: SessionDep, principal: PrincipalDep) -> Any:
    """Stop a route."""
    return service.deactivate_route(session, principal, route_id)


@router.get("/notifications/dead", response_model=list[DeadLetterRead])
def get_dead_letters(
    session: SessionDep,
    principal: PrincipalDep,
    county: County = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[DeadLetterRead]:
    """Return messages given up on, newest first, with the last error."""
    return [
        DeadLetterRead(
            id=d.message.id,
            county_code=d.message.county_code,
            case_id=d.message.case_id,
            case_code=d.case_code,
            topic=d.message.topic,
            channel=d.message.channel,
            recipient=d.message.recipient,
            attempts=d.message.attempts,
            created_at=d.message.created_at,
            last_error=d.message.last_error,
        )
        for d in service.dead_letters(session, principal, county=county, limit=limit)
    ]


@router.post("/notifications/{message_id}/actions/retry")
def post_retry(
    message_id: int, session: SessionDep, principal: PrincipalDep, now: NowDep
) -> dict[str, Any]:
    """Retry a dead letter: fresh attempts, due now; the delivery worker sends it."""
    message = service.retry_message(session, principal, message_id, now=now)
    return {"id": message.id, "status": message.status, "next_attempt_at": message.next_attempt_at}
