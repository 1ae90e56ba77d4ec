"""Copy a message to the robots and SMS numbers its recipient has asked for.

Runs inside the action's transaction, right after the in-app message is written: each copy
is its own outbox row (channel, route), so each is retried and dead-lettered on its own, and
a dead robot never holds up the in-app inbox. Only the five kinds of `models.TOPIC_KIND`
leave the platform; a department's routes carry messages addressed to the department, a
county's centre routes (department empty) those addressed to its centre.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.cases.models import OutboxMessage
from wangge.cases.outbox import enqueue
from wangge.notifications.models import TOPIC_KIND, NotificationRoute
from wangge.notifications.recipients import centre_of, department_of


def routes_for(session: Session, recipient: str) -> list[NotificationRoute]:
    """Return the active routes of a department or centre recipient (none for a person)."""
    query = select(NotificationRoute).where(NotificationRoute.is_active)
    dept, county = department_of(recipient), centre_of(recipient)
    if dept is not None:
        query = query.where(NotificationRoute.department_code == dept)
    elif county is not None:
        query = query.where(
            NotificationRoute.county_code == county, NotificationRoute.department_code.is_(None)
        )
    else:
        return []
    return list(session.scalars(query.order_by(NotificationRoute.id)))


def copy_to_routes(session: Session, message: OutboxMessage) -> list[OutboxMessage]:
    """Queue one external copy of an in-app message per route that wants its kind."""
    kind = TOPIC_KIND.get(message.topic)
    if kind is None:
        return []
    return [
        enqueue(
            session,
            topic=message.topic,
            recipient=message.recipient,
            body=message.body,
            now=message.created_at,
            case_id=message.case_id,
            county_code=message.county_code,
            channel=route.channel,
            route_id=route.id,
        )
        for route in routes_for(session, message.recipient)
        if route.wants(kind)
    ]
