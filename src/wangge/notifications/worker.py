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
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
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
from wangge.db import unit_of_work
from wangge.notifications.robots import DingTalkRobot, WeComRobot
from wangge.notifications.sms import AliyunSms, SmsChannel
from wangge.ops.leases import acquire, new_holder, release

log = logging.getLogger("wangge.notifications")
# Quick retries of a tick SQLite refused as busy, and the ticks in a row refused before the
# log says so as a warning (a minute at the default interval: a busy or restarting database
# is not news before that).
_BUSY_RETRIES = 5
_QUIET_TICKS = 12
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
    with unit_of_work(factory) as session:
        _writing(session)
        if not acquire(session, LEASE, holder, ttl=policy.lease_seconds):
            return None
    total = DeliveryReport()
    try:
        while not stop():
            with unit_of_work(factory) as session:
                # The write lock may be held through the batch only when no message in it goes
                # over the network: a hanging robot or gateway must never block intake.
                if not _anything_due(session, at(), over_network=True):
                    session.rollback()
                    _writing(session)
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
            with unit_of_work(factory) as session:  # renew, or stop if it lapsed meanwhile
                _writing(session)
                if not acquire(session, LEASE, holder, ttl=policy.lease_seconds):
                    break
    finally:
        with unit_of_work(factory) as session:
            _writing(session)
            release(session, LEASE, holder)
    return total


def _writing(session: Session) -> None:
    """On SQLite, take the write lock before the first read of a transaction that writes.

    pysqlite starts a transaction at the first write; if another process (the demo month, an
    import) committed after this transaction's first read, SQLite refuses the write at once
    ("database is locked") without waiting. BEGIN IMMEDIATE waits (busy timeout) instead.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql("BEGIN IMMEDIATE")


class DeliveryWorker:
    """Deliver the outbox every `interval` seconds, in a daemon thread or in the foreground."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        channels: dict[str, Channel],
        policy: DeliveryPolicy,
        interval: float,
    ) -> None:
        self.factory, self.channels, self.policy = factory, channels, policy
        self.interval = interval
        self.holder = new_holder()
        self._failures = 0  # ticks in a row the database refused
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, daemon=True, name="outbox-delivery")

    @classmethod
    def for_settings(cls, factory: sessionmaker[Session], settings: Settings) -> DeliveryWorker:
        """Return the worker of a deployment, its channels and policy from the settings."""
        policy = policy_for(settings)
        channels = build_channels(settings, timeout=policy.timeout)
        return cls(factory, channels, policy, settings.deliver_seconds)

    def start(self) -> DeliveryWorker:
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask the loop to end after the message in hand (signal handlers call this)."""
        self._stop.set()

    def stop(self) -> None:
        """Stop after the message in hand and give the lease back."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self.policy.timeout + 5.0)

    def tick(self) -> DeliveryReport | None:
        """Deliver what is due now; a database that is busy or away is only logged."""
        report = None
        for attempt in range(_BUSY_RETRIES):
            try:
                report = deliver_due(
                    self.factory, self.channels, self.policy, holder=self.holder,
                    stop=self._stop.is_set,
                )
                break
            except OperationalError as exc:
                # SQLite answers "database is locked" at once, without waiting, when another
                # process (the demo month, an import) wrote since this transaction read; its
                # writers pause between chunks, so a short retry gets through.
                if attempt + 1 == _BUSY_RETRIES or self._stop.wait(0.2):
                    return self._deferred(exc)
            except SQLAlchemyError as exc:
                return self._deferred(exc)
        self._failures = 0
        if report is not None and report.tried:
            log.info(
                "outbox delivered: sent %d, retry %d, dead %d",
                report.sent,
                report.failed,
                report.dead,
            )
        return report

    def _deferred(self, exc: SQLAlchemyError) -> None:
        """Log a tick the database refused: quietly at first, loudly when it keeps refusing."""
        self._failures += 1
        level = logging.WARNING if self._failures >= _QUIET_TICKS else logging.INFO
        log.log(level, "outbox delivery deferred (%d in a row): %s", self._failures,
                 exc.__class__.__name__)
        return None

    def run(self) -> None:
        """Tick at once, then every `interval` seconds until stopped."""
        while True:
            self.tick()
            if self._stop.wait(self.interval):
                return
