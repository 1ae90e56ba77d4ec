"""Keep the channel routes and the dead letters: add, list, disable; list, retry.

Both need `notifications.manage` (administrators) inside the county scope, and every change
is audited. A route names its secrets; the secrets stay in the settings.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wangge.audit.service import record_for
from wangge.auth.principal import Principal
from wangge.cases.access import require_county
from wangge.cases.models import Case, OutboxMessage
from wangge.common.models import utcnow
from wangge.departments.models import Department
from wangge.divisions.models import Division
from wangge.errors import Conflict, NotFound, ValidationFailed
from wangge.notifications.models import KINDS, ROUTE_CHANNELS, NotificationRoute

MANAGE = "notifications.manage"
_REF = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True)
class RouteIn:
    """A new route as an administrator gives it."""

    county_code: str
    channel: str
    name: str
    department_code: str | None = None
    url_ref: str | None = None
    sign_ref: str | None = None
    kinds: Sequence[str] = ()


def _may_manage(principal: Principal, county_code: str | None) -> None:
    require_county(principal, MANAGE, county_code)


def _bad(zh: str, en: str, field: str) -> ValidationFailed:
    return ValidationFailed(zh, en, code="bad_route", field=field)


def _check_refs(data: RouteIn, secrets: Collection[str] | None) -> None:
    robot = data.channel != "sms"
    if robot and not data.url_ref:
        raise _bad("群机器人须指定 Webhook 密钥名", "a robot route needs url_ref", "url_ref")
    if not robot and (data.url_ref or data.sign_ref):
        raise _bad("短信渠道不使用密钥名", "an SMS route takes no url_ref/sign_ref", "url_ref")
    if data.sign_ref and data.channel != "dingtalk":
        raise _bad("只有钉钉机器人加签", "only DingTalk robots sign", "sign_ref")
    for field in ("url_ref", "sign_ref"):
        ref = getattr(data, field)
        if ref is None:
            continue
        if not _REF.fullmatch(ref):
            raise _bad(f"密钥名 {ref!r} 不合规", f"{field} must be a name, not a URL", field)
        if secrets is not None and ref not in secrets:
            raise _bad(
                f"WANGGE_NOTIFY_SECRETS 中没有 {ref}",
                f"{ref} is not a name in WANGGE_NOTIFY_SECRETS",
                field,
            )


def _check(session: Session, data: RouteIn, secrets: Collection[str] | None) -> None:
    if session.get(Division, data.county_code) is None:
        raise _bad(f"区县 {data.county_code} 不存在", "unknown county", "county_code")
    if data.channel not in ROUTE_CHANNELS:
        raise _bad(
            f"渠道只能是 {'/'.join(ROUTE_CHANNELS)}",
            f"channel must be one of {', '.join(ROUTE_CHANNELS)}",
            "channel",
        )
    unknown = sorted(set(data.kinds) - set(KINDS))
    if unknown:
        raise _bad(f"未知的消息类型 {unknown}", f"unknown kinds {unknown}", "kinds")
    if not data.name.strip():
        raise _bad("渠道名称不能为空", "the route needs a name", "name")
    if data.department_code is not None:
        dept = session.get(Department, data.department_code)
        serves = dept is not None and (
            dept.county_code == data.county_code or data.county_code in dept.serves_counties
        )
        if not serves:
            raise _bad(
                f"部门 {data.department_code} 不属于区县 {data.county_code}",
                f"department {data.department_code} does not serve county {data.county_code}",
                "department_code",
            )
    _check_refs(data, secrets)


def route_dict(route: NotificationRoute) -> dict[str, Any]:
    """Return a route as JSON (names of secrets only)."""
    return {
        "id": route.id,
        "county_code": route.county_code,
        "department_code": route.department_code,
        "channel": route.channel,
        "url_ref": route.url_ref,
        "sign_ref": route.sign_ref,
        "kinds": list(route.kinds),
        "name": route.name,
        "is_active": route.is_active,
    }


def _audit(session: Session, principal: Principal, action: str, route: NotificationRoute) -> None:
    record_for(
        session,
        principal,
        f"notification_route.{action}",
        object_type="notification_route",
        object_id=route.id,
        county_code=route.county_code,
        detail=route_dict(route),
    )


def create_route(
    session: Session,
    principal: Principal,
    data: RouteIn,
    *,
    secrets: Collection[str] | None = None,
) -> NotificationRoute:
    """Add an active route; `secrets` (the names configured) catches a mistyped name."""
    _may_manage(principal, data.county_code)
    _check(session, data, secrets)
    route = NotificationRoute(
        county_code=data.county_code,
        department_code=data.department_code,
        channel=data.channel,
        url_ref=data.url_ref,
        sign_ref=data.sign_ref,
        kinds=sorted(set(data.kinds)),
        name=data.name.strip(),
        is_active=True,
    )
    session.add(route)
    session.flush()
    _audit(session, principal, "create", route)
    return route


def list_routes(
    session: Session, principal: Principal, *, county: str | None = None
) -> list[NotificationRoute]:
    """Return the routes in the principal's scope (one county's when given)."""
    _may_manage(principal, county)
    query = select(NotificationRoute).order_by(NotificationRoute.county_code, NotificationRoute.id)
    if county is not None:
        query = query.where(NotificationRoute.county_code == county)
    return [r for r in session.scalars(query) if principal.contains(r.county_code)]


def deactivate_route(session: Session, principal: Principal, route_id: int) -> NotificationRoute:
    """Stop a route (kept for the messages that went through it)."""
    route = session.get(NotificationRoute, route_id)
    if route is None:
        raise NotFound(f"推送渠道 {route_id} 不存在", f"route {route_id} does not exist")
    _may_manage(principal, route.county_code)
    route.is_active = False
    session.flush()
    _audit(session, principal, "deactivate", route)
    return route


@dataclass(frozen=True)
class DeadLetter:
    """A message given up on, with what the page shows of it."""

    message: OutboxMessage
    case_code: str | None


def _in_scope(principal: Principal, county: str | None) -> Any:
    scope = principal.county_codes()
    if county is not None:
        _may_manage(principal, county)
        return OutboxMessage.county_code == county
    if scope is None:
        return OutboxMessage.id.is_not(None)
    return OutboxMessage.county_code.in_(sorted(scope))


def dead_letters(
    session: Session, principal: Principal, *, county: str | None = None, limit: int = 200
) -> list[DeadLetter]:
    """Return the dead letters in scope, newest first, with their case codes."""
    principal.require(MANAGE)
    rows = session.execute(
        select(OutboxMessage, Case.code)
        .outerjoin(Case, Case.id == OutboxMessage.case_id)
        .where(OutboxMessage.status == "dead", _in_scope(principal, county))
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    return [DeadLetter(message, code) for message, code in rows]


def outbox_counts(
    session: Session, principal: Principal, *, county: str | None = None
) -> dict[str, int]:
    """Return how many messages are pending, sent and dead in scope."""
    principal.require(MANAGE)
    rows = session.execute(
        select(OutboxMessage.status, func.count())
        .where(_in_scope(principal, county))
        .group_by(OutboxMessage.status)
    )
    return {status: n for status, n in rows}


def retry_message(
    session: Session, principal: Principal, message_id: int, *, now: datetime | None = None
) -> OutboxMessage:
    """Give a dead letter a fresh set of attempts, due at once (the worker sends it)."""
    principal.require(MANAGE)
    message = session.get(OutboxMessage, message_id)
    if message is None or not (
        message.county_code is None or principal.contains(message.county_code)
    ):
        raise NotFound(f"消息 {message_id} 不存在", f"message {message_id} does not exist")
    if message.status != "dead":
        raise Conflict(
            f"消息 {message_id} 不是投递失败的消息（{message.status}）",
            f"message {message_id} is not a dead letter ({message.status})",
            code="not_dead",
        )
    message.status, message.attempts = "pending", 0
    message.next_attempt_at = now or utcnow()
    session.flush()
    record_for(
        session,
        principal,
        "outbox.retry",
        object_type="outbox",
        object_id=message.id,
        county_code=message.county_code,
        detail={"channel": message.channel, "topic": message.topic, "error": message.last_error},
    )
    return message
