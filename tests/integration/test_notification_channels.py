"""Case messages reach the right people on their channels: in-app, 企业微信, 钉钉 and SMS.

The robots and the SMS gateway are the local stand-ins of `tests/notify_support.py`, which
check each request as the real services do (keys, JSON shape, DingTalk's sign, Aliyun's
signature) and answer in their formats. Both databases.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.case_factories import (
    CGW,
    COUNTY,
    DISPATCHER,
    HANDLER,
    LEADER,
    T0,
    build_world,
    do,
    report,
    to_dispatched,
)
from tests.notify_support import ALI_ID, ALI_SECRET, WECOM_KEY, Gateways
from wangge.auth import service as auth
from wangge.auth.principal import LOCAL_OPERATOR
from wangge.cases.models import CasePart, Message, OutboxMessage
from wangge.cases.outbox import deliver_pending
from wangge.cases.scheduled import sweep_overdue, sweep_warnings
from wangge.config import Settings
from wangge.departments.models import Department
from wangge.errors import Forbidden, ValidationFailed
from wangge.notifications.recipients import centre_inboxes
from wangge.notifications.service import RouteIn, create_route
from wangge.notifications.worker import build_channels
from wangge.ops.observe import install_secrets_filter

H = timedelta(hours=1)
PHONE, DUTY = "138 0013 8000", "13900139000"


@pytest.fixture
def gateways():
    gw = Gateways()
    yield gw
    gw.close()


@pytest.fixture
def world(session, gateways):
    """The case world, people with phones, and routes of CGW and of the county centre."""
    build_world(session)
    auth.seed_roles(session)
    handler = auth.create_user(
        session, username="cgw-handler", password="Pass-2026-ok", display_name="处置员", phone=PHONE
    )
    auth.assign_post(session, handler, "department", department=CGW)
    session.get(Department, CGW).duty_phone = DUTY
    names = set(gateways.secrets())
    routes = [
        RouteIn(COUNTY, "wecom", "城管委值班群", department_code=CGW, url_ref="cgw_wecom"),
        RouteIn(COUNTY, "sms", "城管委短信", department_code=CGW, kinds=("dispatch", "overdue")),
        RouteIn(
            COUNTY, "dingtalk", "指挥中心群", url_ref="centre_ding", sign_ref="centre_sign",
            kinds=("return", "warning", "overdue"),
        ),
    ]  # fmt: skip
    for route in routes:
        create_route(session, LOCAL_OPERATOR, route, secrets=names)
    settings = Settings(
        notify_secrets=gateways.secrets(),
        sms_gateway="aliyun",
        sms_access_key_id=ALI_ID,
        sms_access_key_secret=ALI_SECRET,
        sms_sign_name="网格中心",
        sms_template_code="SMS_000001",
        sms_endpoint=gateways.sms_endpoint,
    )
    return session, build_channels(settings, timeout=5)


def _outbox(session, topic):
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == topic))
    return sorted((m.recipient, m.channel) for m in rows)


def test_a_dispatch_reaches_the_departments_inbox_wecom_group_and_phones(world, gateways, caplog):
    session, channels = world
    case = to_dispatched(session, report(session))
    to = f"dept:{CGW}"
    assert _outbox(session, "case.dispatched") == [(to, "in_app"), (to, "sms"), (to, "wecom")]
    install_secrets_filter()  # as the app does: httpx logs each URL, robot keys in them
    with caplog.at_level(logging.INFO):
        result = deliver_pending(session, channels, now=T0 + H)
    assert (result.sent, result.failed, result.dead) == (3, 0, 0)
    assert gateways.violations == []
    wecom = next(r for r in gateways.received if r["kind"] == "wecom")
    assert f"【派遣】案卷 {case.code} 已派遣至贵单位（主办）" in wecom["content"]
    sms = next(r for r in gateways.received if r["kind"] == "sms")
    assert sms["phones"] == ["13800138000", DUTY]
    assert sms["params"] == {"kind": "派遣", "code": case.code}
    assert sms["fields"]["SignName"] == "网格中心" and sms["fields"]["TemplateCode"] == "SMS_000001"
    assert session.scalars(select(Message.recipient)).all() == [to]
    # Phones leave the process, never the log in full; no secret is logged at all.
    assert "138****8000" in caplog.text and "13800138000" not in caplog.text
    assert "/cgi-bin/webhook/send?key=***" in caplog.text  # httpx's line, redacted
    assert ALI_SECRET not in caplog.text and WECOM_KEY not in caplog.text


def test_a_return_reaches_the_centres_signed_dingtalk_robot_and_inbox(world, gateways):
    session, channels = world
    case = to_dispatched(session, report(session))
    deliver_pending(session, channels, now=T0 + H)
    do(session, case, "return_dispatch", HANDLER, T0 + H, note="不属于本单位职责")
    centre = f"centre:{COUNTY}"
    assert _outbox(session, "case.return_dispatch") == [(centre, "dingtalk"), (centre, "in_app")]
    assert deliver_pending(session, channels, now=T0 + 2 * H).sent == 2
    ding = [r for r in gateways.received if r["kind"] == "dingtalk"]
    assert len(ding) == 1 and f"【退回】案卷 {case.code}：{CGW} 申请退回" in ding[0]["content"]
    assert "不属于本单位职责" in ding[0]["content"] and gateways.violations == []
    # The centre's dispatchers read the centre's inbox.
    assert centre in centre_inboxes(DISPATCHER.roles, DISPATCHER.scope_prefixes)
    assert centre in session.scalars(select(Message.recipient)).all()


def test_warning_urging_and_overdue_each_reach_the_department_once(world, gateways):
    session, channels = world
    case = to_dispatched(session, report(session))
    deliver_pending(session, channels, now=T0 + H)
    part = session.scalars(select(CasePart).where(CasePart.case_id == case.id)).one()
    almost = part.deadline - timedelta(minutes=5)

    assert sweep_warnings(session, T0 + timedelta(minutes=5)) == []  # still green
    assert sweep_warnings(session, almost) == [case.id]
    assert sweep_warnings(session, almost + timedelta(minutes=1)) == []  # once per deadline
    do(session, case, "urge", LEADER, almost, note="请加快处置")
    late = part.deadline + H
    assert sweep_overdue(session, late).escalated == [case.id]
    result = deliver_pending(session, channels, now=late + H, limit=1000)
    assert result.failed == result.dead == 0 and gateways.violations == []

    heads = [r["content"].split("\n")[0] for r in gateways.received if r["kind"] == "wecom"]
    kinds = [h[h.index("【") + 1 : h.index("】")] for h in heads]
    assert sorted(kinds) == ["派遣", "督办", "超期", "预警"]
    sms = [r["params"]["kind"] for r in gateways.received if r["kind"] == "sms"]
    assert sorted(sms) == ["派遣", "超期"]  # the SMS route carries only these kinds
    # The case waited on CGW, not on the centre: the centre's robot heard nothing of it.
    assert not [r for r in gateways.received if r["kind"] == "dingtalk"]
    warning = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "case.warning"))
    assert {m.recipient for m in warning} == {f"dept:{CGW}"}


def test_a_failed_send_keeps_no_secret_in_its_error(world, gateways):
    session, _ = world
    wrong = Settings(
        notify_secrets={"cgw_wecom": f"{gateways.base}/cgi-bin/webhook/send?key=S3CRET-KEY"}
    )
    to_dispatched(session, report(session))
    deliver_pending(session, build_channels(wrong, timeout=5), now=T0 + H)
    failed = {
        m.channel: m.last_error
        for m in session.scalars(select(OutboxMessage).where(OutboxMessage.status == "pending"))
    }
    assert "errcode 93000" in failed["wecom"] and "S3CRET" not in failed["wecom"]
    assert failed["sms"] == "no channel 'sms'"  # this deployment has no SMS gateway


def test_routes_are_checked_and_need_the_right(world):
    session, _ = world
    names = {"cgw_wecom"}
    bad = [
        RouteIn(COUNTY, "wecom", "x", department_code=CGW, url_ref="not_configured"),
        RouteIn(COUNTY, "wecom", "x", department_code=CGW),  # a robot without its secret
        RouteIn(COUNTY, "sms", "x", department_code=CGW, url_ref="cgw_wecom"),
        RouteIn(COUNTY, "wecom", "x", url_ref="https://qyapi.weixin.qq.com/cgi-bin/webhook/send"),
        RouteIn(COUNTY, "wecom", "x", url_ref="cgw_wecom", kinds=("everything",)),
        RouteIn(COUNTY, "fax", "x"),
        RouteIn("110109", "sms", "x", department_code=CGW),
    ]
    for data in bad:
        with pytest.raises(ValidationFailed):
            create_route(session, LOCAL_OPERATOR, data, secrets=names)
    with pytest.raises(Forbidden):
        create_route(session, DISPATCHER, RouteIn(COUNTY, "sms", "x"), secrets=names)
