"""One indicator, one number: the dashboard, the API, the console page, the Excel and PDF
reports and Open311 statistics print the same figure (issue 16 item 3).

A month of cases is built through the case service (the entry point every channel calls): one
handled on time, one fed back three weeks late, one reworked after a failed check, one never
handled (overdue at the month's end); three ratings. Every surface is then read over HTTP,
on SQLite and PostgreSQL. The world has one department, and every case lies in one community
and one category, so the department's, the community's, the county's and the category's
figures are the same number, and the one grid worker who verified and checked them carries the
ratings.

To prove that each surface prints the evaluation's figure rather than one it computed itself,
the evaluation's rate function is marked for the test (+0.01): a surface dividing its own
counts would print the unmarked ratio and the comparison fails.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import openpyxl
import pypdf
import pytest
from fastapi.testclient import TestClient

from tests.api.test_evaluation_pages import parse
from tests.api_support import serve_session
from tests.case_factories import (
    ACCEPTOR,
    CGW,
    CITIZEN,
    DISPATCHER,
    HANDLER,
    LEADER,
    SHIFT,
    SUPERVISOR,
    build_world,
    do,
    person,
    report,
)
from wangge.api.deps import get_principal
from wangge.auth.service import seed_roles
from wangge.cases.vocabulary import Source
from wangge.common.localtime import SHANGHAI
from wangge.common.models import utcnow
from wangge.config import Settings
from wangge.evaluation import indicators
from wangge.evaluation.glossary import name
from wangge.main import create_app
from wangge.web.views import page_principal

COUNTY = "110108"
ADMIN = person(90, "admin")
MARK = 0.01
# rate key → the object type whose row carries it on the page, the API and the reports
COMPARED = {
    "handle_on_time_rate": "department",
    "rework_rate": "department",
    "close_rate": "community",
    "close_on_time_rate": "community",
    "satisfaction_rate": "grid_worker",
}
SHEETS = {"department": "专业部门", "community": "社区", "grid_worker": "网格员"}
SECTIONS = {"department": "专业部门评价", "community": "社区评价", "grid_worker": "网格员评价"}


def _last_month() -> tuple[str, date]:
    first_of_this = utcnow().astimezone(SHANGHAI).date().replace(day=1)
    first = (first_of_this - timedelta(days=1)).replace(day=1)
    return first.strftime("%Y-%m"), first


@pytest.fixture
def app(session, tmp_path, monkeypatch) -> Iterator[tuple[TestClient, dict]]:
    build_world(session)
    seed_roles(session)
    real = indicators.rate
    monkeypatch.setattr(
        indicators,
        "rate",
        lambda n, d: None if not d else real(n, d) + MARK,  # type: ignore[operator]
    )
    holder: dict = {"who": LEADER}
    application = create_app(
        Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", log_json=False)
    )
    serve_session(application, session)
    application.dependency_overrides[get_principal] = lambda: holder["who"]
    application.dependency_overrides[page_principal] = lambda: holder["who"]
    with TestClient(application) as client:
        yield client, holder


def _from_the_public(session, at: datetime, category: str = "E0102"):  # type: ignore[no-untyped-def]
    """A citizen's online report, verified on site, filed and dispatched to CGW."""
    case = report(session, CITIZEN, at=at, source=Source.ONLINE, category=category)
    for step, who in (("accept", ACCEPTOR), ("request_verification", ACCEPTOR),
                      ("verify_true", SUPERVISOR), ("file", SHIFT)):  # fmt: skip
        photos = {"photos": ["p"]} if step == "verify_true" else {}
        case = do(session, case, step, who, at, **photos)
    return do(session, case, "dispatch", DISPATCHER, at + timedelta(hours=1), department=CGW)


def _checked_and_closed(session, case, at: datetime, rating: str):  # type: ignore[no-untyped-def]
    for i, (step, who) in enumerate((("request_check", ACCEPTOR), ("check_pass", SUPERVISOR),
                                     ("close", SHIFT)), start=1):  # fmt: skip
        photos = {"photos": ["p"]} if step == "check_pass" else {}
        case = do(session, case, step, who, at + timedelta(minutes=10 * i), **photos)
    return do(session, case, "rate", CITIZEN, at + timedelta(hours=1), rating=rating)


def _a_month_of_cases(session, first: date) -> None:  # type: ignore[no-untyped-def]
    start = datetime(first.year, first.month, first.day, 9, 0, tzinfo=SHANGHAI)
    feed = {"photos": ["p"]}
    # on time
    case = _from_the_public(session, start)
    case = do(session, case, "department_accept", HANDLER, start + timedelta(hours=2))
    case = do(session, case, "feed_back", HANDLER, start + timedelta(hours=3), **feed)
    _checked_and_closed(session, case, start + timedelta(hours=4), "satisfied")
    # fed back three weeks after its dispatch: late on any calendar
    case = _from_the_public(session, start)
    case = do(session, case, "department_accept", HANDLER, start + timedelta(hours=2))
    late = start + timedelta(days=21)
    case = do(session, case, "feed_back", HANDLER, late, **feed)
    _checked_and_closed(session, case, late + timedelta(hours=1), "unsatisfied")
    # failed its check once: a rework, then done
    case = _from_the_public(session, start)
    case = do(session, case, "department_accept", HANDLER, start + timedelta(hours=2))
    case = do(session, case, "feed_back", HANDLER, start + timedelta(hours=3), **feed)
    case = do(session, case, "request_check", ACCEPTOR, start + timedelta(hours=4))
    case = do(session, case, "check_fail", SUPERVISOR, start + timedelta(hours=5), note="未整改")
    case = do(session, case, "feed_back", HANDLER, start + timedelta(hours=6), **feed)
    _checked_and_closed(session, case, start + timedelta(hours=7), "basically_satisfied")
    # dispatched and left alone: overdue at the month's end
    _from_the_public(session, start)
    session.commit()


def _row(rows: list[dict], key: str | None = None) -> dict:
    assert len(rows) == 1 or key is not None, rows
    return rows[0] if key is None else next(r for r in rows if r["key"] == key)


def _pdf_rows(text: str, section: str) -> list[dict[str, str]]:
    """Read the ranked table of one section of the PDF's text (one cell a line): the column
    names from 排名 to the first rank, then rows of as many cells, each starting with a rank."""
    lines = text[text.index(section) :].splitlines()
    head = lines.index("排名")
    first = next(i for i in range(head, len(lines)) if lines[i].isdigit() or lines[i] == "-")
    columns = lines[head:first]
    out = []
    while first + len(columns) <= len(lines) and (lines[first].isdigit() or lines[first] == "-"):
        out.append(dict(zip(columns, lines[first : first + len(columns)], strict=True)))
        first += len(columns)
    return out


def test_every_surface_prints_the_evaluations_number(app, session):
    client, holder = app
    label, first = _last_month()
    _a_month_of_cases(session, first)

    api = client.get(f"/api/v1/evaluation/periods/{label}", params={"county": COUNTY})
    assert api.status_code == 200, api.text
    objects = api.json()["objects"]
    reference = {k: _row(objects[kind])["rates"][k] for k, kind in COMPARED.items()}
    counts = _row(objects["department"])["counts"]
    # the story is not trivial: some on time, some not; a rework; a case overdue at the end
    assert counts["rework"] == 1 and counts["overdue_open"] == 1
    assert all(v is not None and MARK < v < 100 for v in reference.values()), reference
    # … and every figure is the evaluation's (marked), not a plain ratio of its counts
    plain = round(100 * counts["handled_on_time"] / (counts["to_handle"] + counts["overdue_carried"]), 2)  # fmt: skip
    assert reference["handle_on_time_rate"] == round(plain + MARK, 2)

    # the big screen: the last 62 days hold the whole of last month and nothing else happened
    board = client.get("/web/api/dashboard", params={"days": 62}).json()
    assert {k: board["rates"][k] for k in COMPARED} == reference

    # the console page
    page = client.get("/console/evaluation", params={"period": label, "county": COUNTY})
    assert page.status_code == 200, page.text
    tables = parse(page.text).tables
    for key, kind in COMPARED.items():
        (cells,) = tables[f"ranking-{kind}"].values()
        assert cells[key] == f"{reference[key]:.2f}", key

    # the Excel report, under the glossary's names
    xlsx = client.get(f"/api/v1/evaluation/periods/{label}/report.xlsx", params={"county": COUNTY})
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    for key, kind in COMPARED.items():
        sheet = book[SHEETS[kind]]
        header = [c.value for c in sheet[1]]
        (row,) = sheet.iter_rows(min_row=2, values_only=True)
        assert row[header.index(name(key))] == reference[key], key

    # the PDF report: the ranked table of each object type
    pdf = client.get(f"/api/v1/evaluation/periods/{label}/report.pdf", params={"county": COUNTY})
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    for key, kind in COMPARED.items():
        (cells,) = _pdf_rows(text, SECTIONS[kind])
        assert float(cells[name(key)]) == reference[key], key

    # Open311 statistics: what the county published, county-wide and for the one category
    holder["who"] = ADMIN
    published = client.post(
        "/api/v1/evaluation/publications",
        json={"county": COUNTY, "period": label, "object_types": ["department"]},
    )
    assert published.status_code == 201, published.text
    stats = client.get(
        "/open311/v2/statistics.json", params={"jurisdiction_id": COUNTY, "period": label}
    )
    assert stats.status_code == 200, stats.text
    (period,) = stats.json()["periods"]
    (service,) = period["services"]
    for key in COMPARED:
        assert period["county"]["rates"][key] == reference[key], key
        assert service["rates"][key] == reference[key], key
    xml = client.get(
        "/open311/v2/statistics.xml", params={"jurisdiction_id": COUNTY, "period": label}
    ).text
    shown = re.search(r"<county><rates>(.*?)</rates>", xml)
    assert shown and f"<handle_on_time_rate>{reference['handle_on_time_rate']}<" in shown[1]
