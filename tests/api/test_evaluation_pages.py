"""The 考核 console page, publication and the public page, through the real app on both databases.

The page shows the API's numbers for the same user; a street leader sees his street only;
a publication is a frozen snapshot (a case changed later leaves it alone), a correction is a
new audited version beside the old one, and the login-free page shows only what was chosen.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import openpyxl
import pypdf
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api_support import serve_session
from tests.case_factories import LEADER, build_world, person
from tests.evaluation_factories import COMMUNITY, D1, T, store_scenario
from wangge.api.deps import get_principal
from wangge.audit.models import AuditEntry
from wangge.auth.principal import ANONYMOUS
from wangge.auth.service import assign_post, create_user, seed_roles
from wangge.cases.models import Case, CaseEvent
from wangge.config import Settings
from wangge.evaluation import auto_reports, stored
from wangge.evaluation.periods import parse_period
from wangge.grids.models import Grid
from wangge.main import create_app
from wangge.web.views import page_principal

COUNTY = "110108"
ADMIN = person(90, "admin")
STREET_LEADER = person(91, "leader", scope={"110108001"})
FAR_STREET_LEADER = person(92, "leader", scope={"110108002"})
INSIDE_PHONE = "13900001111"


class Rankings(HTMLParser):
    """Collect the ranking tables of a page: {table id: {row key or name: {column: text}}}."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, dict[str, str]]] = {}
        self.links: list[str] = []
        self._table: str | None = None
        self._row: dict[str, str] | None = None
        self._key: str | None = None
        self._col: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and "ranking" in (a.get("class") or ""):
            self._table = a.get("id") or ""
            self.tables[self._table] = {}
        elif tag == "tr" and self._table is not None:
            self._row, self._key = {}, a.get("data-key")
        elif tag == "td" and self._row is not None:
            self._col = a.get("data-col")
            if self._col:
                self._row[self._col] = ""
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")

    def handle_data(self, data: str) -> None:
        if self._row is not None and self._col:
            self._row[self._col] += data.strip()

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._col = None
        elif tag == "tr" and self._row and self._table is not None:
            self.tables[self._table][self._key or self._row.get("name", "")] = self._row
            self._row = None
        elif tag == "table":
            self._table = None


def parse(html: str) -> Rankings:
    p = Rankings()
    p.feed(html)
    return p


def _fmt(v: float | None) -> str:
    return "无数据" if v is None else f"{v:.2f}"


@pytest.fixture
def app(session, tmp_path) -> Iterator[tuple[TestClient, dict, dict]]:
    build_world(session)
    seed_roles(session)
    grid = session.scalars(select(Grid.id).order_by(Grid.id)).first()
    ids = store_scenario(session, grid)
    # two grid workers with posts: one inside street 110108001 (did cases 1–3's reports), one
    # in street 110108002 (did the checks); their ids become the actors of the events.
    inside = create_user(session, username="w-in", password="Pw-Tests-2026!",
                         display_name="街内网格员", phone=INSIDE_PHONE)  # fmt: skip
    outside = create_user(session, username="w-out", password="Pw-Tests-2026!",
                          display_name="街外网格员")  # fmt: skip
    assign_post(session, inside, "supervisor", scope=COMMUNITY)
    assign_post(session, outside, "supervisor", scope="110108002001")
    for e in session.scalars(select(CaseEvent).where(CaseEvent.actor_id.in_(("w1", "w2")))):
        e.actor_id = str(inside.id if e.actor_id == "w1" else outside.id)
    session.flush()
    for case in session.scalars(select(Case).where(Case.id.in_(ids.values()))):
        stored.refresh_case(session, case)
    holder: dict = {"who": LEADER, "inside": str(inside.id), "outside": str(outside.id)}
    application = create_app(
        Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", log_json=False)
    )
    serve_session(application, session)
    application.dependency_overrides[get_principal] = lambda: holder["who"]
    application.dependency_overrides[page_principal] = lambda: (
        None if holder["who"] is ANONYMOUS else holder["who"]
    )
    with TestClient(application) as c:
        yield c, holder, ids


def _page(client: TestClient, **params: str) -> Rankings:
    r = client.get("/console/evaluation", params={"period": "2026-11", "county": COUNTY, **params})
    assert r.status_code == 200, r.text
    return parse(r.text)


def test_the_page_shows_the_apis_scores_grades_changes_and_rates(app):
    client, _, _ = app
    api = client.get(f"/api/v1/evaluation/periods/2026-11?county={COUNTY}").json()["objects"]
    page = _page(client)
    for object_type in ("street", "community", "grid", "department", "grid_worker"):
        shown = page.tables[f"ranking-{object_type}"]
        assert set(shown) == {r["key"] for r in api[object_type]}, object_type
        for row in api[object_type]:
            cells = shown[row["key"]]
            assert cells["score"] == _fmt(row["score"]) and cells["grade"] == (row["grade"] or "—")
            assert cells["name"] == row["name"]
            for k, v in row["rates"].items():
                assert cells[k] == _fmt(v), (object_type, k)
    d1 = page.tables["ranking-department"][D1]
    assert d1["score"] == "85.00" and d1["grade"] == "B"  # the API test's hand-computed figure
    # the Excel the page exports prints the same numbers under the glossary's names
    x = client.get(f"/api/v1/evaluation/periods/2026-11/report.xlsx?county={COUNTY}")
    sheet = openpyxl.load_workbook(io.BytesIO(x.content))["专业部门"]
    header = [c.value for c in sheet[1]]
    for row in api["department"]:
        cells = next(r for r in sheet.iter_rows(min_row=2, values_only=True) if r[1] == row["key"])
        assert cells[header.index("综合指标值")] == row["score"]
        on_time = cells[header.index("按期处置率")]
        assert on_time == (row["rates"]["handle_on_time_rate"] if on_time != "无数据" else None)
    # and so does the PDF (the dashboard's figure: tests/api/test_dashboard_figures.py)
    pdf = client.get(f"/api/v1/evaluation/periods/2026-11/report.pdf?county={COUNTY}")
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    for row in api["department"]:
        assert row["name"] in text
        if row["rates"]["handle_on_time_rate"] is not None:
            assert str(row["rates"]["handle_on_time_rate"]) in text, row["key"]


def test_the_page_names_the_formula_and_weights_and_the_glossary(app):
    client, _, _ = app
    html = client.get("/console/evaluation", params={"period": "2026-11"}).text
    assert "综合指标值 = 结案率 × 30%" in html or "结案率 × 30%" in html
    for name in ("按期处置率", "按期结案率", "结案率", "返工率", "群众满意率", "巡查到位率",
                 "问题发现率", "超期未处置数", "超期未结案数"):  # fmt: skip
        assert name in html, name
    en = client.get("/console/evaluation", params={"period": "2026-11", "lang": "en"}).text
    assert "On-time handling rate" in en and "Composite score" in en
    assert 'href="/api/v1/evaluation/periods/2026-11/report.xlsx' in html
    assert 'href="/api/v1/evaluation/periods/2026-11/report.pdf' in html


def test_a_number_drills_down_to_the_cases_behind_it(app):
    client, _, _ = app
    page = _page(client)
    link = next(
        h for h in page.links if "object_type=department" in h and f"key={D1}" in h
        and "indicator=handle_on_time_rate" in h
    )  # fmt: skip
    r = client.get(link.replace("&amp;", "&"))
    assert r.status_code == 200, r.text
    api = client.get(
        "/api/v1/evaluation/periods/2026-11/drill",
        params={"object_type": "department", "key": D1, "indicator": "handle_on_time_rate",
                "county": COUNTY},
    ).json()  # fmt: skip
    shown = {int(x) for x in re.findall(r'href="/console/cases/(\d+)"', r.text)}
    assert shown == {c["id"] for c in api["denominator"]["cases"]} and shown
    assert "按期处置数" in r.text and "应处置数" in r.text


def test_a_street_leader_sees_only_his_streets_areas_and_people(app):
    client, holder, _ = app
    holder["who"] = STREET_LEADER
    page = _page(client)
    api = client.get("/api/v1/evaluation/periods/2026-11").json()["objects"]
    assert set(page.tables["ranking-community"]) == {COMMUNITY}
    assert all(k.startswith("110108001") for k in page.tables["ranking-street"])
    grids = page.tables["ranking-grid"]
    assert grids and all(c["name"].startswith("110108001") for c in grids.values())
    assert set(page.tables["ranking-grid_worker"]) == {holder["inside"]}
    assert {r["key"] for r in api["grid_worker"]} == {holder["inside"]}  # the API agrees
    assert "ranking-supervisor" in page.tables
    assert holder["outside"] not in page.tables["ranking-supervisor"]
    holder["who"] = FAR_STREET_LEADER
    far = _page(client)
    assert "ranking-community" not in far.tables and "ranking-grid" not in far.tables
    assert set(far.tables["ranking-grid_worker"]) == {holder["outside"]}  # posted there
    holder["who"] = LEADER  # the county leader sees both workers
    assert {holder["inside"], holder["outside"]} <= set(_page(client).tables["ranking-supervisor"])


def _publish(client: TestClient, **body) -> object:
    return client.post(
        "/api/v1/evaluation/publications",
        json={"county": COUNTY, "period": "2026-11", "object_types": ["department", "community"],
              "credit": True} | body,
    )  # fmt: skip


def _close_case_2(session, case_id: int) -> None:
    """Case 2 (D1's, fed back on time, never closed) is checked and closed in November."""
    for hours, action, role in ((70, "request_check", "acceptor"), (72, "check_pass",
                                "supervisor"), (73, "close", "shift_leader")):  # fmt: skip
        session.add(CaseEvent(case_id=case_id, county_code=COUNTY, action=action,
                              actor_id="late", role=role, at=T + timedelta(hours=hours),
                              from_state="x", to_state="x", part=None, attachments=[],
                              payload={}))  # fmt: skip
        session.flush()
    stored.refresh_case(session, session.get(Case, case_id))
    session.commit()


def test_publish_freezes_the_figures_and_a_correction_is_a_new_audited_version(app, session):
    client, holder, ids = app
    holder["who"] = LEADER  # a leader reads, but does not publish
    assert _publish(client).status_code == 403
    holder["who"] = ADMIN
    r = _publish(client)
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1 and r.json()["public_url"] == f"/public/evaluation/{COUNTY}"
    holder["who"] = ANONYMOUS
    v1 = client.get(f"/web/api/public/evaluation/{COUNTY}").json()["publication"]
    assert v1["version"] == 1
    assert next(r for r in v1["data"]["rankings"]["department"] if r["key"] == D1)["score"] == 85.0

    _close_case_2(session, ids[2])
    holder["who"] = ADMIN
    live = client.get("/api/v1/evaluation/periods/2026-11/objects/department",
                      params={"county": COUNTY}).json()  # fmt: skip
    live_d1 = next(r for r in live if r["key"] == D1)["score"]
    assert live_d1 != 85.0  # the change shows in the live figures …
    holder["who"] = ANONYMOUS
    still = client.get(f"/web/api/public/evaluation/{COUNTY}").json()["publication"]
    assert still["data"] == v1["data"]  # … not in the published ones

    holder["who"] = ADMIN
    again = _publish(client)
    assert again.status_code == 422 and again.json()["code"] == "reason_required"
    v2 = _publish(client, reason="案卷 2 补录结案，更正")
    assert v2.status_code == 201 and v2.json()["version"] == 2
    holder["who"] = ANONYMOUS
    view = client.get(f"/web/api/public/evaluation/{COUNTY}").json()
    assert [v["version"] for v in view["versions"]] == [2, 1]
    assert view["publication"]["reason"] == "案卷 2 补录结案，更正"
    now_d1 = next(r for r in view["publication"]["data"]["rankings"]["department"]
                  if r["key"] == D1)  # fmt: skip
    assert now_d1["score"] == live_d1
    old = client.get(f"/web/api/public/evaluation/{COUNTY}", params={"version": 1}).json()
    assert old["publication"]["data"] == v1["data"]  # version 1 is kept as it was
    html = client.get(f"/public/evaluation/{COUNTY}", params={"version": 1}).text
    assert "85.00" in html
    audit = session.scalars(
        select(AuditEntry).where(AuditEntry.action.in_(("evaluation.publish",
                                                        "evaluation.republish")))
        .order_by(AuditEntry.id)
    ).all()  # fmt: skip
    assert [a.action for a in audit] == ["evaluation.publish", "evaluation.republish"]
    assert audit[1].reason == "案卷 2 补录结案，更正" and audit[1].detail["version"] == 2


def test_the_public_page_shows_only_what_was_chosen_and_no_personal_data(app):
    client, holder, _ = app
    holder["who"] = ANONYMOUS
    assert "尚未发布" in client.get(f"/public/evaluation/{COUNTY}").text
    assert _publish(client).status_code == 401
    holder["who"] = ADMIN
    assert _publish(client, object_types=["street", "department"], credit=False).status_code == 201
    holder["who"] = ANONYMOUS
    body = client.get(f"/web/api/public/evaluation/{COUNTY}").json()["publication"]
    assert (
        set(body["data"]["rankings"]) == {"street", "department"} and body["data"]["credit"] is None
    )
    page = client.get(f"/public/evaluation/{COUNTY}")
    assert page.status_code == 200
    tables = parse(page.text).tables
    assert set(tables) == {"public-street", "public-department"}
    assert "区城管委" in page.text and "街内网格员" not in page.text
    assert "单位信用名单" not in page.text
    # people only when chosen, then by name and figures: no ids, posts or phones
    holder["who"] = ADMIN
    r = _publish(client, object_types=["grid_worker"], reason="加公开网格员排名")
    assert r.status_code == 201
    holder["who"] = ANONYMOUS
    body = client.get(f"/web/api/public/evaluation/{COUNTY}").json()["publication"]
    workers = body["data"]["rankings"]["grid_worker"]
    assert {w["name"] for w in workers} >= {"街内网格员"} and all("key" not in w for w in workers)
    html = client.get(f"/public/evaluation/{COUNTY}").text
    assert "街内网格员" in html
    assert INSIDE_PHONE not in html and INSIDE_PHONE not in str(body)


def test_bad_publications_are_refused_with_the_reason(app):
    client, holder, _ = app
    holder["who"] = ADMIN
    r = _publish(client, period="2026-13")
    assert r.status_code == 422 and "period" in r.text
    r = _publish(client, object_types=["nonsense"])
    assert r.status_code == 422 and "nonsense" in r.text
    r = _publish(client, object_types=[], credit=False)
    assert r.status_code == 422
    this_month = datetime.now(UTC).strftime("%Y-%m")
    r = _publish(client, period=this_month)
    assert r.status_code == 422 and r.json()["code"] == "period_open"
    assert client.get("/public/evaluation/999999").status_code == 404
    page = client.get("/console/evaluation", params={"period": "2026-W48"})
    assert page.status_code == 200 and "期间格式有误" in page.text  # the page says what is wrong
    drill = client.get(
        "/console/evaluation/drill",
        params={"period": "2026-11", "county": COUNTY, "object_type": "department", "key": D1,
                "indicator": "nonsense"},
    )  # fmt: skip
    assert "指标 nonsense 不能下钻" in drill.text


def test_stored_monthly_reports_are_listed_on_the_page_and_download(app, session):
    client, _, _ = app
    period = parse_period("2026-11")
    now = datetime(2026, 12, 5, tzinfo=UTC)
    assert auto_reports.due_counties(session, period) == [COUNTY]
    files = auto_reports.build(session, period, COUNTY, now)
    assert auto_reports.store(session, COUNTY, period, files, now)
    assert not auto_reports.store(session, COUNTY, period, files, now)  # once per period
    assert auto_reports.due_counties(session, period) == []
    session.commit()
    listed = client.get("/api/v1/evaluation/reports", params={"county": COUNTY}).json()
    assert {(x["period"], x["kind"]) for x in listed} == {("2026-11", "xlsx"), ("2026-11", "pdf")}
    html = client.get("/console/evaluation", params={"period": "2026-11"}).text
    pdf = next(x for x in listed if x["kind"] == "pdf")
    assert f'href="{pdf["url"]}"' in html
    got = client.get(pdf["url"])
    assert got.status_code == 200 and got.content.startswith(b"%PDF")
