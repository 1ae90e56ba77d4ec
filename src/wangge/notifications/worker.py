"""The delivery worker: every server process runs one; one process at a time delivers.

Each tick looks (read-only) for a due message; when there is one it takes the delivery lease
(`ops.leases`), delivers batch after batch until nothing is due, and gives the lease back,
so with `--workers 4` the processes take turns and never send one message twice: a message
is only ever read for sending by the lease holder (on PostgreSQL the batch's rows are also
locked `FOR UPDATE SKIP LOCKED`). A holder killed mid-batch loses the lease after
`batch × timeout + 30 s`; the message it was sending is then sent again (at least once).
`wangge jobs deliver [--loop]` runs the same code outside the server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wangge.cases.models import OutboxMessage
from wangge.cases.outbox import (
    BASE_BACKOFF,
    MAX_ATTEMPTS,
    Channel,
    DeliveryReport,
    InAppChannel,
    WebhookChannel,
    deliver_pending,
)
from wangge.common.models import utcnow
from wangge.config import Settings
from wangge.db import unit_of_work, write_lock_first
from wangge.intake.hotline import HotlineChannel
from wangge.notifications.robots import DingTalkRobot, WeComRobot
from wangge.notifications.sms import AliyunSms, SmsChannel
from wangge.ops.leases import LeaseHold, new_holder
from wangge.ops.periodic import PeriodicWorker

log = logging.getLogger("wangge.notifications")
LEASE = "outbox-delivery"


@dataclass(frozen=True)
class DeliveryPolicy:
    """How the outbox is delivered: batch size, send timeout, attempts and back-off."""

    batch: int = 1
    timeout: float = 10.0
    max_attempts: int = MAX_ATTEMPTS
    backoff: timedelta = BASE_BACKOFF

    @property
    def lease_seconds(self) -> float:
        """Return how long the lease lasts: a whole batch of timeouts, and a margin."""
        return self.batch * self.timeout + 30.0


def policy_for(
    settings: Settings, *, batch: int | None = None, timeout: float | None = None
) -> DeliveryPolicy:
    """Return the deployment's policy (a batch of 1 on SQLite: see `deliver_due`)."""
    return DeliveryPolicy(
        # SQLite has one write lock: a batch that has written one in-app message would hold
        # it while the next webhook hangs, so there every message gets its own transaction.
        batch=batch or (1 if settings.is_sqlite else 20),
        timeout=timeout or settings.outbox_timeout,
        max_attempts=settings.outbox_max_attempts,
        backoff=timedelta(seconds=settings.outbox_backoff_seconds),
    )


def build_channels(settings: Settings, *, timeout: float) -> dict[str, Channel]:
    """Return the channels the deployment can deliver on."""
    secrets = {name: value.get_secret_value() for name, value in settings.notify_secrets.items()}
    channels: dict[str, Channel] = {
        "in_app": InAppChannel(),
        "wecom": WeComRobot(secrets, timeout=timeout),
        "dingtalk": DingTalkRobot(secrets, timeout=timeout),
        # Replies to the 12345 platform (secret `hotline12345[.<county>]`).
        "hotline": HotlineChannel(secrets, timeout=timeout),
    }
    if settings.webhook_url:
        channels["webhook"] = WebhookChannel(settings.webhook_url, timeout=timeout)
    if settings.sms_gateway == "aliyun":
        gateway = AliyunSms(
            settings.sms_access_key_id,
            settings.sms_access_key_secret.get_secret_value(),
            settings.sms_sign_name,
            settings.sms_template_code,
            endpoint=settings.sms_endpoint,
            region=settings.sms_region,
            timeout=timeout,
        )
        channels["sms"] = SmsChannel(gateway)
    return channels


def _anything_due(session: Session, now: datetime, *, over_network: bool = False) -> bool:
    due = select(OutboxMessage.id).where(
        OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now
    )
    if over_network:
        due = due.where(OutboxMessage.channel != "in_app")
    return session.scalar(due.limit(1)) is not None


def deliver_due(
    factory: sessionmaker[Session],
    channels: dict[str, Channel],
    policy: DeliveryPolicy,
    *,
    holder: str,
    now: datetime | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> DeliveryReport | None:
    """Deliver everything due while holding the lease; None when another process holds it.

    `now` pins the clock (tests, `--now`); failures are rescheduled after it, so this ends.
    """

    def at() -> datetime:
        return now or utcnow()

    with factory() as session:
        if not _anything_due(session, at()):
            return DeliveryReport()
    hold = LeaseHold(factory, LEASE, holder, ttl=policy.lease_seconds)
    if not hold.take():
        return None
    total = DeliveryReport()
    try:
        while not stop():
            with unit_of_work(factory) as session:
                # The write lock may be held through the batch only when no message in it goes
                # over the network: a hanging robot or gateway must never block intake.
                if not _anything_due(session, at(), over_network=True):
                    session.rollback()
                    write_lock_first(session)
                report = deliver_pending(
                    session,
                    channels,
                    now=at(),
                    limit=policy.batch,
                    timeout=policy.timeout,
                    max_attempts=policy.max_attempts,
                    backoff=policy.backoff,
                )
            total += report
            if report.tried < policy.batch:
                break
            if not hold.take():  # renewed, or it lapsed meanwhile: stop
                break
    finally:
        hold.release()
    return total


class DeliveryWorker(PeriodicWorker[DeliveryReport]):
    """Deliver the outbox every `interval` seconds, in a daemon thread or in the foreground."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        channels: dict[str, Channel],
        policy: DeliveryPolicy,
        interval: float,
    ) -> None:
        super().__init__(interval, name=LEASE, log=log)
        self.factory, self.channels, self.policy = factory, channels, policy
        self.holder = new_holder()

    @classmethod
    def for_settings(cls, factory: sessionmaker[Session], settings: Settings) -> DeliveryWorker:
        """Return the worker of a deployment, its channels and policy from the settings."""
        policy = policy_for(settings)
        channels = build_channels(settings, timeout=policy.timeout)
        return cls(factory, channels, policy, settings.deliver_seconds)

    def join_timeout(self) -> float:
        return self.policy.timeout + 5.0

    def round(self) -> DeliveryReport | None:
        """Deliver what is due now; None when another process holds the lease."""
        report = deliver_due(
            self.factory, self.channels, self.policy, holder=self.holder, stop=self.stopping
        )
        if report is not None and report.tried:
            log.info(
                "outbox delivered: sent %d, retry %d, dead %d",
                report.sent,
                report.failed,
                report.dead,
            )
        return report
