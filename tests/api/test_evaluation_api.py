"""The evaluation API: leaders read it, others do not; areas are scoped; figures drill down."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api_support import serve_session
from tests.case_factories import LEADER, SUPERVISOR, T0, build_world, person
from tests.evaluation_factories import COMMUNITY, D1, T, store_scenario
from wangge.api.deps import get_principal
from wangge.config import Settings
from wangge.evaluation.views import get_now
from wangge.grids.models import Grid
from wangge.main import create_app

FAR_LEADER = person(70, "leader", scope={"110108002001"})


@pytest.fixture
def api(session, tmp_path) -> Iterator[tuple[TestClient, dict, dict]]:
    build_world(session)
    grid = session.scalars(select(Grid.id).order_by(Grid.id)).first()
    ids = store_scenario(session, grid)
    holder = {"who": LEADER}
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}"))
    serve_session(app, session)
    app.dependency_overrides[get_principal] = lambda: holder["who"]
    app.dependency_overrides[get_now] = lambda: T0 + timedelta(days=30)
    with TestClient(app) as c:
        yield c, holder, ids


def test_a_leader_gets_the_month_with_scores_grades_and_comparisons(api):
    client, _, _ = api
    r = client.get("/api/v1/evaluation/periods/2026-11")
    assert r.status_code == 200, r.text
    body = r.json()
    d1 = next(x for x in body["objects"]["department"] if x["key"] == D1)
    assert d1["score"] == 85.0 and d1["grade"] == "B" and d1["name"] == "区城管委"
    assert d1["previous_score"] is None and body["previous"]["label"] == "2026-10"
    ranked = client.get("/api/v1/evaluation/periods/2026-11/objects/shift_leader").json()
    assert ranked[0]["key"] == "shift1" and ranked[0]["rank"] == 1


def test_people_without_evaluation_read_are_refused(api):
    client, holder, _ = api
    holder["who"] = SUPERVISOR
    assert client.get("/api/v1/evaluation/periods/2026-11").status_code == 403


def test_every_figure_links_to_the_cases_behind_numerator_and_denominator(api):
    client, _, ids = api
    r = client.get(
        "/api/v1/evaluation/periods/2026-11/drill",
        params={"object_type": "dispatcher", "key": "disp1", "indicator": "dispatch_accurate_rate"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert sorted(c["id"] for c in body["denominator"]["cases"]) == [ids[1], ids[2], ids[3]]
    assert sorted(c["id"] for c in body["numerator"]["cases"]) == [ids[1], ids[2]]
    assert body["numerator"]["cases"][0]["code"].startswith("EVAL-")
    bad = client.get(
        "/api/v1/evaluation/periods/2026-11/drill",
        params={"object_type": "dispatcher", "key": "disp1", "indicator": "nonsense"},
    )
    assert bad.status_code == 422


def test_area_objects_outside_the_leaders_scope_are_hidden(api):
    client, holder, _ = api
    holder["who"] = FAR_LEADER
    body = client.get("/api/v1/evaluation/periods/2026-11").json()
    assert body["objects"]["community"] == [] and body["objects"]["grid"] == []
    r = client.get(
        "/api/v1/evaluation/periods/2026-11/drill",
        params={"object_type": "community", "key": COMMUNITY, "indicator": "filed"},
    )
    assert r.status_code == 404
    holder["who"] = LEADER
    assert client.get("/api/v1/evaluation/periods/2026-11").json()["objects"]["community"]


def test_a_department_name_that_looks_like_a_formula_is_text_in_the_excel_report(api, session):
    from wangge.departments.models import Department

    client, _, _ = api
    name = '=HYPERLINK("http://evil.example","区城管委")'
    session.get(Department, D1).name = name
    session.flush()
    x = client.get("/api/v1/evaluation/periods/2026-11/report.xlsx")
    assert x.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(x.content))["专业部门"]
    header = [c.value for c in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[1].value == D1)
    cell = row[header.index("名称")]
    assert cell.data_type == "s" and cell.value == "'" + name  # shown as text, never run
    score = row[header.index("综合指标值")]
    assert score.data_type == "n" and score.value == 85.0  # numbers stay numbers


def test_reports_case_files_breakdowns_and_hot_spots_are_served(api, tmp_path):
    client, _, ids = api
    x = client.get("/api/v1/evaluation/periods/2026-11/report.xlsx")
    assert x.status_code == 200
    (tmp_path / "r.xlsx").write_bytes(x.content)
    assert "专业部门" in openpyxl.load_workbook(tmp_path / "r.xlsx").sheetnames
    p = client.get("/api/v1/evaluation/periods/2026-11/report.pdf")
    assert p.status_code == 200 and p.content.startswith(b"%PDF")
    f = client.get(f"/api/v1/evaluation/cases/{ids[3]}/file.pdf")
    assert f.status_code == 200 and f.content.startswith(b"%PDF")
    b = client.get("/api/v1/evaluation/periods/2026-11/breakdown", params={"by": "source"})
    assert {r["key"] for r in b.json()} == {"patrol", "hotline"}
    h = client.get("/api/v1/evaluation/hotspots", params={"end": str(T.date()), "min_count": 4})
    assert h.status_code == 200 and h.json()["places"][0]["count"] == 4
    assert client.get("/api/v1/evaluation/periods/2026-13").status_code == 422
