"""矛盾纠纷 over HTTP: register in a grid, mediate, settle/fail/transfer, follow up; refused
steps, masked parties with the audited unmask, area scope, and the monthly counts."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from tests.api_support import serve_session
from tests.case_factories import (
    CITIZEN,
    FAR_SUPERVISOR,
    GRID1,
    LAT,
    LON,
    OTHER_LAT,
    OTHER_LON,
    SUPERVISOR,
    T0,
    build_world,
    person,
)
from tests.factories import DX, DY, X0, Y0
from wangge.api.deps import get_principal
from wangge.audit.models import AuditEntry
from wangge.auth.models import User
from wangge.cases.views import get_now
from wangge.config import Settings
from wangge.disputes.models import Dispute
from wangge.main import create_app
from wangge.web.views import page_principal

NOW = T0 + timedelta(hours=1)  # Monday 23 November 2026, 10:00 in Beijing
TODAY = "2026-11-23"
# The north-east grid of community 110108001001 (GRID1 is its north-west one).
NE_LON, NE_LAT = X0 + 0.75 * DX, Y0 + 0.75 * DY
COMMUNITY_LEADER = person(20, "leader", scope={"110108001001"})
UNMASKER = replace(
    person(21, "leader", scope={"110108001001"}),
    permissions=person(21, "leader").permissions | {"personal.unmask"},
)
# A 人民调解员 without cases.act: he may mediate the disputes he is named for, nothing else.
MEDIATOR = person(22, "video_supervisor", scope=set())
PHONE, ID_NUMBER = "13812345678", "110108198506123015"


class As:
    def __init__(self, client: TestClient, holder: dict) -> None:
        self.client, self.holder = client, holder

    def __call__(self, principal):
        self.holder["who"] = principal
        return self.client


@pytest.fixture
def api(session, tmp_path) -> Iterator[As]:
    build_world(session)
    session.add(User(id=22, username="mediator22", display_name="调解员老王"))
    session.flush()
    holder: dict[str, Any] = {"who": SUPERVISOR}
    app = create_app(
        Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", upload_dir=tmp_path / "up")
    )
    serve_session(app, session)
    app.dependency_overrides[get_principal] = lambda: holder["who"]
    app.dependency_overrides[page_principal] = lambda: holder["who"]
    app.dependency_overrides[get_now] = lambda: holder.get("now", NOW)
    with TestClient(app) as c:
        yield As(c, holder)


def register(api, who=SUPERVISOR, lon=LON, lat=LAT, **extra) -> dict:
    body = {
        "kind": "邻里纠纷", "summary": "楼上漏水渗到楼下，双方协商未果，电话13812345678",
        "lon": lon, "lat": lat, "address": "1号楼",
        "parties": [
            {"name": "张三丰", "phone": PHONE, "id_number": ID_NUMBER},
            {"name": "欧阳娜娜", "phone": "010-62880101"},
        ],
        **extra,
    }  # fmt: skip
    r = api(who).post("/api/v1/disputes", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def session_(api, did, who=SUPERVISOR, day=TODAY):
    body = {"held_on": day, "place": "社区调解室", "notes": "双方陈述，约定下周再谈"}
    return api(who).post(f"/api/v1/disputes/{did}/sessions", json=body)


def outcome(api, did, who=SUPERVISOR, **body):
    return api(who).post(f"/api/v1/disputes/{did}/outcome", json=body)


def follow(api, did, who=SUPERVISOR, day=TODAY):
    body = {"visited_on": day, "result": "双方按协议履行，关系缓和"}
    return api(who).post(f"/api/v1/disputes/{did}/follow-up", json=body)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 60), (240, 240, 240)).save(out, format="PNG")
    return out.getvalue()


def upload(api, did, who=SUPERVISOR, data: bytes | None = None):
    files = {"file": ("协议书.png", data if data is not None else png(), "image/png")}
    return api(who).post(f"/api/v1/disputes/{did}/agreement", files=files)


def problem(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code, body
    return body


# ---------------------------------------------------------------- the whole flow


def test_a_dispute_is_registered_mediated_settled_with_an_agreement_and_followed_up(api, session):
    d = register(api)
    assert d["state"] == "registered" and d["state_zh"] == "已登记"
    assert d["grid_code"] == GRID1 and d["community_code"] == "110108001001"
    assert d["kind"] == "neighbour" and d["kind_zh"] == "邻里纠纷"
    assert d["mediator"] == SUPERVISOR.name  # the registering worker mediates by default

    r = session_(api, d["id"])
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "mediating" and len(r.json()["sessions"]) == 1
    assert session_(api, d["id"]).json()["sessions"][1]["place"] == "社区调解室"

    r = upload(api, d["id"])
    assert r.status_code == 200, r.text
    url = r.json()["agreement"]["url"]
    doc = api(SUPERVISOR).get(url)
    assert doc.status_code == 200 and doc.headers["content-type"] == "image/png"
    Image.open(io.BytesIO(doc.content)).verify()  # the document itself comes back

    r = outcome(api, d["id"], outcome="settled", note="楼上修复防水，赔偿800元")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "settled" and r.json()["state_zh"] == "调解成功"

    api.holder["now"] = NOW + timedelta(days=7)
    r = follow(api, d["id"], day="2026-11-30")
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["state"] == "followed_up"
    assert done["follow_up"]["visited_on"] == "2026-11-30"
    assert done["follow_up"]["worker"] == SUPERVISOR.name
    steps = [(h["action"], h["from_state"], h["to_state"]) for h in done["history"]]
    assert steps == [
        ("register", None, "registered"),
        ("session", "registered", "mediating"),
        ("session", "mediating", "mediating"),
        ("agreement", "mediating", "mediating"),
        ("outcome", "mediating", "settled"),
        ("follow_up", "settled", "followed_up"),
    ]
    actions = session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.object_type == "dispute", AuditEntry.object_id == str(d["id"])
        )
    ).all()
    assert "dispute.follow_up" in actions and "dispute.outcome" in actions
    # a closed dispute takes nothing more
    problem(follow(api, d["id"]), 409, "followed_up")
    problem(session_(api, d["id"]), 409, "mediation_over")


def test_failed_and_transferred_outcomes_record_the_receiving_body(api):
    failed = register(api)
    session_(api, failed["id"])
    r = outcome(api, failed["id"], outcome="failed", note="一方拒绝调解")
    assert r.json()["state"] == "failed", r.text
    moved = register(api)
    session_(api, moved["id"])
    body = problem(outcome(api, moved["id"], outcome="transferred"), 422, "transferred_to_required")
    assert "接收单位" in body["detail"] or "接收单位" in json.dumps(body, ensure_ascii=False)
    r = outcome(api, moved["id"], outcome="transferred", transferred_to="区人民法院诉前调解中心")
    assert r.json()["state"] == "transferred" and r.json()["transferred_to"] == (
        "区人民法院诉前调解中心"
    )
    assert follow(api, moved["id"]).json()["state"] == "followed_up"


# ---------------------------------------------------------------- refused steps


def test_steps_out_of_order_are_refused_in_both_languages(api):
    d = register(api)
    body = problem(outcome(api, d["id"], outcome="failed"), 409, "session_required")
    text = json.dumps(body, ensure_ascii=False)
    assert "尚未记录调解过程" in text and "session before the outcome" in text
    problem(follow(api, d["id"]), 409, "outcome_required")
    problem(upload(api, d["id"]), 409, "agreement_not_allowed")
    session_(api, d["id"])
    problem(follow(api, d["id"]), 409, "outcome_required")
    # 调解成功 needs an agreement document or a note why there is none
    problem(outcome(api, d["id"], outcome="settled"), 422, "agreement_required")
    r = outcome(api, d["id"], outcome="settled", no_agreement_reason="口头协议，当场履行完毕")
    assert r.status_code == 200 and r.json()["no_agreement_reason"] == "口头协议，当场履行完毕"
    problem(outcome(api, d["id"], outcome="failed"), 409, "outcome_recorded")
    problem(outcome(api, d["id"], outcome="maybe"), 422, "unknown_outcome")
    # nothing of the refused steps reached the history
    history = api(SUPERVISOR).get(f"/api/v1/disputes/{d['id']}").json()["history"]
    assert [h["action"] for h in history] == ["register", "session", "outcome"]


def test_bad_input_is_named(api):
    base = {"summary": "噪音扰民", "lon": LON, "lat": LAT, "parties": [{"name": "李四"}]}
    r = api(SUPERVISOR).post("/api/v1/disputes", json={**base, "kind": "吵架"})
    problem(r, 422, "unknown_kind")
    r = api(SUPERVISOR).post(
        "/api/v1/disputes",
        json={**base, "kind": "other", "parties": [{"name": "李四", "phone": "12"}]},
    )
    assert problem(r, 422, "bad_phone")["field"] == "parties[0].phone"
    bad_id = {"name": "李四", "id_number": "110108198506123016"}  # wrong check digit
    r = api(SUPERVISOR).post(
        "/api/v1/disputes", json={**base, "kind": "other", "parties": [bad_id]}
    )
    assert r.status_code == 422 and "parties[0].id_number" in r.text
    r = api(SUPERVISOR).post(
        "/api/v1/disputes", json={**base, "kind": "other", "lon": X0 - 1, "lat": Y0 - 1}
    )
    problem(r, 422, "outside_grids")
    r = api(SUPERVISOR).post(
        "/api/v1/disputes", json={**base, "kind": "other", "mediator_user_id": 999}
    )
    problem(r, 422, "unknown_mediator")
    d = register(api)
    r = session_(api, d["id"], day="2026-11-30")
    problem(r, 422, "date_in_future")
    # the uploads module's checks hold for the agreement: a PDF or junk is not taken
    session_(api, d["id"])
    r = upload(api, d["id"], data=b"%PDF-1.4 not an image")
    assert r.status_code == 422 and r.json()["field"] == "file"
    assert api(SUPERVISOR).get(f"/api/v1/disputes/{d['id']}").json()["agreement"] is None


# ---------------------------------------------------------------- masking


def test_parties_are_masked_on_every_read_and_the_unmask_needs_a_reason_and_is_audited(
    api, session
):
    d = register(api)
    assert d["parties"][0] == {
        "id": d["parties"][0]["id"], "name": "张**", "phone": "138****5678",
        "id_number": "110108********3015",
    }  # fmt: skip
    assert d["parties"][1]["name"] == "欧阳**" and d["masked"] is True
    listing = api(COMMUNITY_LEADER).get("/api/v1/disputes").text
    one = api(UNMASKER).get(f"/api/v1/disputes/{d['id']}").text
    for text in (json.dumps(d, ensure_ascii=False), listing, one):
        assert PHONE not in text and "张三丰" not in text and ID_NUMBER not in text
    assert "138****5678" in json.loads(one)["summary"]  # free text is scrubbed too

    url = f"/api/v1/disputes/{d['id']}/personal"
    problem(api(COMMUNITY_LEADER).get(url, params={"reason": "调解需要"}), 403, "forbidden")
    problem(api(UNMASKER).get(url), 422, "reason_required")
    r = api(UNMASKER).get(url, params={"reason": "联系当事人约定调解时间"})
    assert r.status_code == 200, r.text
    full = r.json()
    assert full["masked"] is False and full["parties"][0]["phone"] == PHONE
    assert full["parties"][0]["id_number"] == ID_NUMBER and full["parties"][0]["name"] == "张三丰"
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "personal.unmask", AuditEntry.object_type == "dispute"
        )
    ).one()
    assert entry.object_id == str(d["id"]) and entry.reason == "联系当事人约定调解时间"
    assert entry.actor == UNMASKER.name


# ---------------------------------------------------------------- scope and permissions


def test_another_communitys_worker_sees_nothing_and_gets_404(api):
    d = register(api)
    assert api(FAR_SUPERVISOR).get("/api/v1/disputes").json()["items"] == []
    problem(api(FAR_SUPERVISOR).get(f"/api/v1/disputes/{d['id']}"), 404, "not_found")
    problem(session_(api, d["id"], who=FAR_SUPERVISOR), 404, "not_found")
    problem(api(FAR_SUPERVISOR).get(f"/api/v1/disputes/{d['id']}/agreement"), 404, "not_found")
    # a grid worker registers only in his own grids; a citizen not at all
    problem(
        api(SUPERVISOR).post("/api/v1/disputes", json={
            "kind": "other", "summary": "他处纠纷", "lon": OTHER_LON, "lat": OTHER_LAT,
            "parties": [{"name": "王五"}]}),
        403, "outside_area",
    )  # fmt: skip
    r = api(CITIZEN).post("/api/v1/disputes", json={
        "kind": "other", "summary": "纠纷", "lon": LON, "lat": LAT, "parties": [{"name": "王五"}]})  # fmt: skip
    assert r.status_code == 403
    assert api(CITIZEN).get("/api/v1/disputes").status_code == 403
    # the worker of GRID1 does not see a dispute of the neighbouring grid; the community
    # leader sees both
    ne = register(api, who=COMMUNITY_LEADER_REPORTER, lon=NE_LON, lat=NE_LAT)
    mine = [i["id"] for i in api(SUPERVISOR).get("/api/v1/disputes").json()["items"]]
    assert mine == [d["id"]]
    problem(api(SUPERVISOR).get(f"/api/v1/disputes/{ne['id']}"), 404, "not_found")
    both = {i["id"] for i in api(COMMUNITY_LEADER).get("/api/v1/disputes").json()["items"]}
    assert both == {d["id"], ne["id"]}


COMMUNITY_LEADER_REPORTER = person(23, "grid_leader", scope={"110108001001"})


def test_the_named_mediator_mediates_without_cases_act_and_nobody_else_without_it(api):
    d = register(api, mediator_user_id=22)
    assert d["mediator"] == "调解员老王" and d["mediator_user_id"] == 22
    other = replace(MEDIATOR, user_id=24, name="user24", scope_prefixes=frozenset({"110108"}))
    problem(session_(api, d["id"], who=other), 403, "mediator_required")
    r = session_(api, d["id"], who=MEDIATOR)  # outside any area, but named for this one
    assert r.status_code == 201, r.text
    assert api(MEDIATOR).get("/api/v1/disputes").json()["items"][0]["id"] == d["id"]


def test_list_filters(api):
    a = register(api)
    b = register(api, kind="labour")
    session_(api, b["id"])

    def ids(**q: str) -> list[int]:
        r = api(COMMUNITY_LEADER).get("/api/v1/disputes", params=q)
        return [i["id"] for i in r.json()["items"]]

    assert ids(state="mediating") == [b["id"]]
    assert ids(kind="邻里纠纷") == [a["id"]]
    assert set(ids(grid=GRID1, community="110108001001")) == {a["id"], b["id"]}
    assert ids(**{"from": "2026-11-24"}) == []
    assert set(ids(**{"from": TODAY, "to": TODAY})) == {a["id"], b["id"]}
    problem(
        api(COMMUNITY_LEADER).get("/api/v1/disputes", params={"state": "x"}), 422, "unknown_state"
    )


# ---------------------------------------------------------------- counts


def test_counts_by_grid_and_community_follow_the_month_and_the_callers_area(api, session):
    api.holder["now"] = T0 - timedelta(days=30)  # 24 October
    old = register(api)  # registered in October, settled in November
    session_(api, old["id"], day="2026-10-24")
    api.holder["now"] = NOW
    settled = outcome(api, old["id"], outcome="settled", no_agreement_reason="口头协议")
    assert settled.status_code == 200
    failed = register(api)
    session_(api, failed["id"])
    outcome(api, failed["id"], outcome="failed")
    register(api)  # open
    ne = register(api, who=COMMUNITY_LEADER_REPORTER, lon=NE_LON, lat=NE_LAT)
    session_(api, ne["id"], who=COMMUNITY_LEADER_REPORTER)
    outcome(api, ne["id"], who=COMMUNITY_LEADER_REPORTER, outcome="transferred",
            transferred_to="街道司法所")  # fmt: skip
    far = replace(FAR_SUPERVISOR, permissions=FAR_SUPERVISOR.permissions)
    register(api, who=far, lon=OTHER_LON, lat=OTHER_LAT)  # another street

    def stats(who, level, month):
        r = api(who).get("/api/v1/disputes/stats", params={"level": level, "month": month})
        assert r.status_code == 200, r.text
        return r.json()

    grids = {i["grid"]: i for i in stats(COMMUNITY_LEADER, "grid", "2026-11")["items"]}
    assert set(grids) == {GRID1, ne["grid_code"]}  # the other street is outside his area
    assert {k: grids[GRID1][k] for k in ("registered", "settled", "failed", "transferred", "open")} == {
        "registered": 2, "settled": 1, "failed": 1, "transferred": 0, "open": 1,
    }  # fmt: skip
    assert grids[ne["grid_code"]]["transferred"] == 1 and grids[ne["grid_code"]]["open"] == 0
    community = stats(COMMUNITY_LEADER, "community", "2026-11")
    assert [i["community"] for i in community["items"]] == ["110108001001"]
    assert community["items"][0]["community_name"] == "社区001"
    assert community["total"]["registered"] == 3 and community["total"]["open"] == 1
    october = stats(COMMUNITY_LEADER, "community", "2026-10")["total"]
    assert october == {"registered": 1, "settled": 0, "failed": 0, "transferred": 0, "open": 1}
    county = stats(person(25, "leader", scope={"110108"}), "community", "2026-11")
    assert {i["community"] for i in county["items"]} == {"110108001001", "110108002001"}
    assert stats(SUPERVISOR, "grid", "2026-11")["total"]["registered"] == 2  # his grid only
    url = "/api/v1/disputes/stats"
    r = api(COMMUNITY_LEADER).get(url, params={"level": "street", "month": "2026-11"})
    problem(r, 422, "unknown_level")
    problem(api(COMMUNITY_LEADER).get(url, params={"month": "11/2026"}), 422, "bad_month")
    assert session.scalar(select(Dispute.id).where(Dispute.id == old["id"])) is not None


# ---------------------------------------------------------------- the console page


def test_the_console_lists_the_areas_disputes_masked_with_the_months_counts(api):
    d = register(api)
    session_(api, d["id"])
    page = api(COMMUNITY_LEADER).get("/console/disputes")
    assert page.status_code == 200
    assert f'data-dispute-id="{d["id"]}"' in page.text and 'data-state="mediating"' in page.text
    assert 'data-community="110108001001"' in page.text  # the month's counts (November)
    assert PHONE not in page.text and "138****5678" in page.text
    detail = api(COMMUNITY_LEADER).get(f"/console/disputes/{d['id']}").text
    assert "张**" in detail and "张三丰" not in detail and ID_NUMBER not in detail
    assert "社区调解室" in detail
    english = api(COMMUNITY_LEADER).get(f"/console/disputes/{d['id']}?lang=en").text
    assert "Mediation sessions" in english and "Neighbour dispute" in english
    # another community's worker: an empty list, and no detail
    far = api(FAR_SUPERVISOR).get("/console/disputes").text
    assert f'data-dispute-id="{d["id"]}"' not in far and 'data-testid="disputes-empty"' in far
    refused = api(FAR_SUPERVISOR).get(f"/console/disputes/{d['id']}").text
    assert "社区调解室" not in refused and "不存在" in refused
