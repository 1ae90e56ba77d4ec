"""Outbox: messages are written with the change and delivered after it, whatever the channel."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.case_factories import T0, build_world, report, to_dispatched
from wangge.cases.models import Delivery, Message, OutboxMessage
from wangge.cases.outbox import (
    BASE_BACKOFF,
    MAX_ATTEMPTS,
    InAppChannel,
    WebhookChannel,
    deliver_pending,
    enqueue,
)

H = timedelta(hours=1)


class Failing:
    def send(self, message, session):
        raise ConnectionError("channel down")


class Hanging:
    def __init__(self):
        self.release = threading.Event()

    def send(self, message, session):
        self.release.wait(5)


@pytest.fixture
def world(session):
    build_world(session)
    case = to_dispatched(session, report(session))
    return session, case


def test_a_dispatch_writes_its_message_in_the_same_transaction(world):
    session, case = world
    msg = session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case.id)).one()
    assert msg.status == "pending" and msg.topic == "case.dispatched"


def test_the_in_app_channel_stores_a_message_and_records_the_delivery(world):
    session, case = world
    result = deliver_pending(session, {"in_app": InAppChannel()}, now=T0 + H)
    assert result.sent == 1
    msg = session.scalars(select(Message)).one()
    assert msg.recipient == "dept:110108-CGW" and "已派遣" in msg.title and msg.case_id == case.id
    out = session.scalars(select(OutboxMessage)).one()
    assert out.status == "sent" and out.attempts == 1
    assert session.scalars(select(Delivery)).one().ok is True
    assert deliver_pending(session, {"in_app": InAppChannel()}, now=T0 + 2 * H).sent == 0


def test_a_failing_channel_is_retried_with_backoff_and_finally_kept_as_dead(world):
    session, case = world
    now = T0 + H
    first = deliver_pending(session, {"in_app": Failing()}, now=now)
    out = session.scalars(select(OutboxMessage)).one()
    assert first.failed == 1 and out.status == "pending" and "channel down" in out.last_error
    assert out.next_attempt_at == now + BASE_BACKOFF
    assert deliver_pending(session, {"in_app": Failing()}, now=now).failed == 0  # not yet due
    for _ in range(MAX_ATTEMPTS - 1):
        deliver_pending(session, {"in_app": Failing()}, now=out.next_attempt_at)
    assert out.status == "dead" and out.attempts == MAX_ATTEMPTS
    assert len(session.scalars(select(Delivery)).all()) == MAX_ATTEMPTS
    assert case.state == "dispatched"  # the case never depended on the message


def test_a_hanging_channel_times_out_without_blocking_the_other_messages(world):
    session, _ = world
    hanging = Hanging()
    enqueue(session, topic="t", recipient="x", body={"title": "另一条"}, now=T0, channel="other")
    session.flush()
    started = time.monotonic()
    result = deliver_pending(
        session, {"in_app": hanging, "other": InAppChannel()}, now=T0 + H, timeout=0.3
    )
    hanging.release.set()
    assert time.monotonic() - started < 3
    assert result.failed == 1 and result.sent == 1
    stuck = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "in_app")).one()
    assert stuck.status == "pending" and "timeout" in stuck.last_error


def test_a_webhook_to_nowhere_fails_and_is_retried(world):
    session, _ = world
    channel = WebhookChannel("http://127.0.0.1:9/hook", timeout=0.5)
    result = deliver_pending(session, {"in_app": channel}, now=T0 + H, timeout=2)
    assert result.failed == 1
    assert session.scalars(select(OutboxMessage)).one().status == "pending"


def test_a_message_for_an_unconfigured_channel_is_not_lost(world):
    session, _ = world
    result = deliver_pending(session, {}, now=T0 + H)
    assert result.failed == 1
    assert "no channel" in session.scalars(select(OutboxMessage)).one().last_error
