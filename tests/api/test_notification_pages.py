"""Dead letters over HTTP: a failing robot is retried with back-off, given up on, shown on the
console page with its error, and sent exactly once after a retry from the page's API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.case_factories import CGW, COUNTY, HANDLER, T0, person, report, to_dispatched
from tests.notify_support import Gateways
from wangge.audit.models import AuditEntry
from wangge.auth.principal import LOCAL_OPERATOR
from wangge.cases.models import OutboxMessage
from wangge.cases.outbox import deliver_pending
from wangge.common.models import utcnow
from wangge.config import Settings
from wangge.notifications.service import RouteIn, create_route
from wangge.notifications.worker import build_channels

ADMIN = person(99, "admin", scope={COUNTY})
BACKOFF = timedelta(seconds=30)


@pytest.fixture
def gateways():
    gw = Gateways()
    yield gw
    gw.close()


def test_a_dead_letter_shows_on_the_console_and_is_sent_once_after_retry(web, session, gateways):
    client, holder = web
    create_route(
        session,
        LOCAL_OPERATOR,
        RouteIn(COUNTY, "wecom", "城管委值班群", department_code=CGW, url_ref="cgw_wecom"),
        secrets=set(gateways.secrets()),
    )
    case = to_dispatched(session, report(session))
    channels = build_channels(Settings(notify_secrets=gateways.secrets()), timeout=5)

    def deliver(at):
        return deliver_pending(session, channels, now=at, max_attempts=3, backoff=BACKOFF)

    gateways.mode = "fail"  # the robot answers errcode 45009 (rate limit)
    at = T0 + timedelta(hours=1)
    first = deliver(at)
    assert (first.sent, first.failed) == (1, 1)  # the in-app message does not wait for it
    robot = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "wecom")).one()
    assert robot.next_attempt_at == at + BACKOFF and "errcode 45009" in robot.last_error
    assert deliver(at + BACKOFF / 2).failed == 0  # not due yet
    assert deliver(at + BACKOFF).failed == 1
    assert robot.next_attempt_at == at + BACKOFF + 2 * BACKOFF  # doubled
    assert deliver(robot.next_attempt_at).dead == 1
    assert robot.status == "dead" and robot.attempts == 3 and gateways.sent == {}

    holder["who"] = ADMIN
    page = client.get("/console/notifications")
    assert page.status_code == 200
    assert f'data-retry="{robot.id}"' in page.text and "errcode 45009" in page.text
    assert case.code in page.text and "企业微信群机器人" in page.text
    english = client.get("/console/notifications", params={"lang": "en"})
    assert "Failed messages (dead letters)" in english.text and "WeCom group robot" in english.text
    assert ">Retry<" in english.text and "Dispatch" in english.text
    dead = client.get("/api/v1/notifications/dead").json()
    assert [(d["id"], d["case_code"], d["channel"]) for d in dead] == [
        (robot.id, case.code, "wecom")
    ]

    holder["who"] = HANDLER
    assert "notifications.manage" in client.get("/console/notifications").text
    assert client.post(f"/api/v1/notifications/{robot.id}/actions/retry").status_code == 403

    holder["who"] = ADMIN
    gateways.mode = "ok"  # the endpoint is fixed
    r = client.post(f"/api/v1/notifications/{robot.id}/actions/retry")
    assert r.status_code == 200 and r.json()["status"] == "pending", r.text
    assert client.post(f"/api/v1/notifications/{robot.id}/actions/retry").status_code == 409
    assert deliver(utcnow() + timedelta(seconds=1)).sent == 1
    assert deliver(utcnow() + timedelta(days=1)).sent == 0
    assert gateways.sent == {robot.id: 1} and gateways.violations == []
    assert robot.status == "sent"
    assert 'data-testid="dead-empty"' in client.get("/console/notifications").text
    retried = session.scalars(select(AuditEntry).where(AuditEntry.action == "outbox.retry")).one()
    assert retried.object_id == str(robot.id) and retried.actor == ADMIN.name


def test_routes_are_managed_over_the_api_by_name_of_secret_only(web):
    client, holder = web
    holder["who"] = ADMIN
    robot = {"county_code": COUNTY, "channel": "wecom", "name": "群", "url_ref": "nowhere"}
    refused = client.post("/api/v1/notification-routes", json={**robot, "department_code": CGW})
    assert refused.status_code == 422 and "WANGGE_NOTIFY_SECRETS" in refused.text
    sms = {"county_code": COUNTY, "channel": "sms", "name": "值班短信", "kinds": ["overdue"]}
    created = client.post("/api/v1/notification-routes", json=sms)
    assert created.status_code == 201, created.text
    route = created.json()
    assert route["department_code"] is None and route["kinds"] == ["overdue"]
    listed = client.get("/api/v1/notification-routes", params={"county": COUNTY}).json()
    assert [r["id"] for r in listed] == [route["id"]]
    off = client.post(f"/api/v1/notification-routes/{route['id']}/actions/deactivate")
    assert off.status_code == 200 and off.json()["is_active"] is False
    page = client.get("/console/notifications")
    assert "值班短信" in page.text and "已停用" in page.text
