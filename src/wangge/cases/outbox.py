"""Notifications through an outbox: written with the change, delivered after commit.

`enqueue` runs inside the use case's transaction, so a message exists exactly when the change
does. `deliver_pending` runs later (a scheduler, a worker): each message is tried through its
channel in a worker thread with a timeout, so a failing or hanging channel delays only its own
message, which is retried with exponential backoff and finally marked `dead`, never dropped.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.cases.models import Delivery, Message, OutboxMessage
from wangge.common.masking import scrub

MAX_ATTEMPTS = 6
BASE_BACKOFF = timedelta(seconds=30)


class Channel(Protocol):
    """Something that can deliver one message; raising means 'try again later'.

    The text of the exception is kept on the message and shown to administrators: it must
    never hold a secret (a webhook key, a token), so channels raise `ChannelError`s they word
    themselves rather than letting an HTTP library print the URL.
    """

    def send(self, message: OutboxMessage, session: Session) -> None:
        """Deliver the message or raise."""


class InAppChannel:
    """Store the message in the `messages` table (站内信) in the delivery's transaction."""

    def send(self, message: OutboxMessage, session: Session) -> None:
        """Insert the in-app message; the unique outbox id makes a retry harmless."""
        exists = session.scalar(select(Message.id).where(Message.outbox_id == message.id))
        if exists is None:
            session.add(
                Message(
                    recipient=message.recipient,
                    title=str(message.body.get("title", message.topic)),
                    body=message.body,
                    case_id=message.case_id,
                    outbox_id=message.id,
                    created_at=message.next_attempt_at,
                )
            )
            session.flush()


class ChannelError(Exception):
    """A send that failed, worded without secrets; the message is retried."""


class WebhookChannel:
    """POST the message as JSON to a URL with a timeout; non-2xx raises."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout

    def send(self, message: OutboxMessage, session: Session) -> None:
        """Post the JSON body; the receiver deduplicates by `id`."""
        body = {
            "id": message.id,
            "topic": message.topic,
            "recipient": message.recipient,
            "case_id": message.case_id,
            "body": message.body,
        }
        response = httpx.post(self.url, json=body, timeout=self.timeout)
        if not response.is_success:  # raise_for_status would quote the URL and its token
            raise ChannelError(f"HTTP {response.status_code}")


def enqueue(
    session: Session,
    *,
    topic: str,
    recipient: str,
    body: Mapping[str, Any],
    now: datetime,
    case_id: int | None = None,
    county_code: str | None = None,
    channel: str = "in_app",
    dedupe_key: str | None = None,
    route_id: int | None = None,
) -> OutboxMessage:
    """Write a message to the outbox inside the caller's transaction."""
    msg = OutboxMessage(
        topic=topic,
        recipient=recipient,
        body=dict(body),
        case_id=case_id,
        county_code=county_code,
        channel=channel,
        created_at=now,
        next_attempt_at=now,
        dedupe_key=dedupe_key,
        route_id=route_id,
    )
    session.add(msg)
    return msg


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.sent + other.sent, self.failed + other.failed, self.dead + other.dead
        )

    @property
    def tried(self) -> int:
        """Return how many messages were tried."""
        return self.sent + self.failed + self.dead


def _attempt(channel: Channel, msg: OutboxMessage, session: Session, timeout: float) -> str | None:
    # A fresh single-use pool per attempt: a hung send keeps its own thread, not the batch.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
    try:
        pool.submit(channel.send, msg, session).result(timeout=timeout)
        return None
    except FutureTimeout:
        return f"timeout after {timeout:.1f}s"
    except Exception as exc:  # any channel failure is retried, never fatal to the batch
        # Kept and shown to administrators: phone and ID numbers are masked.
        return scrub(f"{exc.__class__.__name__}: {exc}")[:500]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def deliver_pending(
    session: Session,
    channels: Mapping[str, Channel],
    *,
    now: datetime,
    limit: int = 100,
    timeout: float = 10.0,
    max_attempts: int = MAX_ATTEMPTS,
    backoff: timedelta = BASE_BACKOFF,
) -> DeliveryReport:
    """Deliver due messages, record each attempt, reschedule failures with backoff.

    Runs in the caller's transaction with a savepoint per message, so one bad message rolls
    back only its own channel writes; the caller commits (e.g. a scheduler's unit of work).
    """
    due = (
        select(OutboxMessage)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.id)
        .limit(limit)
        # SKIP LOCKED lets several dispatchers share the outbox on PostgreSQL.
        .with_for_update(skip_locked=True)
    )
    sent = failed = dead = 0
    for msg in list(session.scalars(due)):
        channel = channels.get(msg.channel)
        started = time.monotonic()
        savepoint = session.begin_nested()
        if channel is None:
            error: str | None = f"no channel {msg.channel!r}"
        else:
            error = _attempt(channel, msg, session, timeout)
        if error is None:
            savepoint.commit()
        else:
            savepoint.rollback()
        msg.attempts += 1
        session.add(
            Delivery(
                message_id=msg.id,
                attempt=msg.attempts,
                at=now,
                ok=error is None,
                error=error,
                duration_ms=(time.monotonic() - started) * 1000,
            )
        )
        if error is None:
            msg.status, msg.delivered_at, msg.last_error = "sent", now, None
            sent += 1
        elif msg.attempts >= max_attempts:
            msg.status, msg.last_error = "dead", error
            dead += 1
        else:
            msg.last_error = error
            msg.next_attempt_at = now + backoff * (2 ** (msg.attempts - 1))
            failed += 1
    session.flush()
    return DeliveryReport(sent, failed, dead)
