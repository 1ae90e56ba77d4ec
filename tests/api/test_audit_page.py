"""The audit-log page (审计日志) over HTTP: filters kept in the address, newest first, seal
status, the unmasking entries with their reasons, refusals, and the read itself audited."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select

from tests.case_factories import DISPATCHER, SUPERVISOR, person
from wangge.audit.chain import seal
from wangge.audit.models import AuditEntry
from wangge.audit.service import record
from wangge.common.localtime import SHANGHAI

AUDITOR = person(20, "auditor")


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-entry-id="(\d+)"', html)]


def _log(session) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """A small log: two actors, a reveal with a reason, an unmasked export, old and new."""
    old = datetime(2026, 1, 10, 9, 0, tzinfo=SHANGHAI)
    made = {
        "old": record(session, actor="user3", actor_id=3, action="case.export", at=old,
                      object_type="case", detail={"rows": 4}).id,
        "reveal": record(session, actor="user4", actor_id=4, action="personal.unmask",
                         object_type="person", object_id=7, reason="核对低保申请").id,
        "unmasked_export": record(session, actor="user3", actor_id=3,
                                  action="registry.people.export", object_type="people",
                                  reason="民政部门核查", detail={"rows": 2, "unmasked": True}).id,
        "masked_export": record(session, actor="user3", actor_id=3,
                                action="registry.people.export", object_type="people",
                                detail={"rows": 9, "unmasked": False}).id,
    }  # fmt: skip
    seal(session)  # the ones so far are sealed; the next one waits for the sealer
    made["waiting"] = record(session, actor="user4", actor_id=4, action="case.view").id
    return made


def test_the_auditor_filters_by_actor_action_object_and_period_newest_first(web, session):
    client, holder = web
    made = _log(session)
    holder["who"] = AUDITOR
    page = client.get("/console/audit")
    assert page.status_code == 200 and "审计日志" in page.text
    ids = _ids(page.text)
    assert ids == sorted(ids, reverse=True) and made["waiting"] in ids
    assert 'data-sealed="false"' in page.text and 'data-sealed="true"' in page.text
    # each action named beside its code (the log keeps the codes)
    assert "个人信息·查看完整信息" in page.text and "基础数据·人员·导出" in page.text
    assert '<code class="muted">registry.people.export</code>' in page.text
    by_actor = _ids(client.get("/console/audit", params={"actor": "user3"}).text)
    assert set(by_actor) == {made["old"], made["unmasked_export"], made["masked_export"]}
    family = _ids(client.get("/console/audit", params={"action": "registry.*"}).text)
    assert set(family) == {made["unmasked_export"], made["masked_export"]}
    obj = _ids(
        client.get("/console/audit", params={"object_type": "person", "object_id": "7"}).text
    )
    assert obj == [made["reveal"]]
    period = client.get("/console/audit", params={"actor": "user3", "from": "2026-01-10",
                                                  "to": "2026-01-10"})  # fmt: skip
    assert _ids(period.text) == [made["old"]]
    assert 'value="2026-01-10"' in period.text  # the filters stay in the form and the address
    assert "offset=" not in period.text or "actor=user3" in period.text


def test_the_unmasking_view_lists_full_reads_with_their_reasons(web, session):
    client, holder = web
    made = _log(session)
    holder["who"] = AUDITOR
    page = client.get("/console/audit", params={"unmask": "1"})
    assert set(_ids(page.text)) >= {made["reveal"], made["unmasked_export"]}
    assert made["masked_export"] not in _ids(page.text) and made["old"] not in _ids(page.text)
    assert "核对低保申请" in page.text and "民政部门核查" in page.text


def test_reading_the_log_is_audited_with_the_filters(web, session):
    client, holder = web
    _log(session)
    holder["who"] = AUDITOR
    client.get("/console/audit", params={"actor": "user4", "action": "case.view"})
    views = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "audit.view").order_by(AuditEntry.id)
    ).all()
    assert views[-1].actor == AUDITOR.name
    assert views[-1].detail["filters"] == {"actor": "user4", "action": "case.view"}
    nav = client.get("/console/audit").text
    assert 'href="/console/audit"' in nav


def test_others_are_refused_in_both_languages_and_bad_filters_are_named(web, session):
    client, holder = web
    for who in (SUPERVISOR, DISPATCHER):
        holder["who"] = who
        page = client.get("/console/audit")
        assert page.status_code == 403
        assert (
            "没有权限查看审计日志" in page.text and "permission required: audit.read" in page.text
        )
        assert 'href="/console/audit"' not in page.text  # not in his menu either
        assert client.post("/web/api/audit/verify").status_code == 403
    holder["who"] = AUDITOR
    bad = client.get("/console/audit", params={"from": "2026-02-30"})
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.text and "日期 from" in bad.text
    holder["who"] = person(21, "admin")
    assert client.get("/console/audit").status_code == 200
    from wangge.auth.principal import ANONYMOUS

    holder["who"] = ANONYMOUS
    r = client.get("/console/audit", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_the_page_pages_a_long_log(web, session):
    client, holder = web
    base = datetime(2026, 3, 1, 9, 0, tzinfo=SHANGHAI)
    for i in range(60):
        record(session, actor="bulk", action="case.view", at=base + timedelta(minutes=i))
    holder["who"] = AUDITOR
    first = client.get("/console/audit", params={"actor": "bulk"}).text
    assert len(_ids(first)) == 50 and 'data-total="60"' in first
    second = client.get("/console/audit", params={"actor": "bulk", "offset": 50}).text
    assert len(_ids(second)) == 10 and set(_ids(first)).isdisjoint(_ids(second))


def test_the_page_speaks_english(web, session):
    client, holder = web
    _log(session)
    holder["who"] = AUDITOR
    page = client.get("/console/audit", params={"lang": "en"}).text
    for text in ("Audit log", "Personal data read in full", "Waiting", "Sealed", "Verify now"):
        assert text in page
    assert "审计日志" not in page.split("<main>")[-1]
    assert "registry·people·export" in page and "基础数据" not in page.split("<main>")[-1]
