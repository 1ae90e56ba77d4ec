"""Open311 /statistics: the county's published indicators, no login, on both databases.

Nothing is shown before the county publishes (as on the public evaluation page); a published
period shows the county's figures and each category's, frozen until a correction; bad
parameters are refused with a bilingual description in Open311's error shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.api.test_one_number import _checked_and_closed, _from_the_public, _last_month
from tests.api_support import serve_session
from tests.case_factories import HANDLER, build_world, do, person
from wangge.api.deps import get_principal
from wangge.auth.principal import ANONYMOUS
from wangge.auth.service import seed_roles
from wangge.common.localtime import SHANGHAI
from wangge.config import Settings
from wangge.evaluation.statistics import COUNTS
from wangge.main import create_app

COUNTY = "110108"
ADMIN = person(90, "admin")
URL = "/open311/v2/statistics"


@pytest.fixture
def app(session, tmp_path) -> Iterator[tuple[TestClient, dict]]:
    build_world(session)
    seed_roles(session)
    holder: dict = {"who": ANONYMOUS}
    application = create_app(
        Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", log_json=False)
    )
    serve_session(application, session)
    application.dependency_overrides[get_principal] = lambda: holder["who"]
    with TestClient(application) as client:
        yield client, holder


def _cases(session, label_first) -> list:  # type: ignore[no-untyped-def]
    """Two E0102 cases (one handled on time and rated, one left alone) and one E0103 case
    handled on time; all of last month."""
    start = datetime(label_first.year, label_first.month, label_first.day, 9, tzinfo=SHANGHAI)
    done = []
    for category in ("E0102", "E0103"):
        case = _from_the_public(session, start, category=category)
        case = do(session, case, "department_accept", HANDLER, start + timedelta(hours=2))
        case = do(session, case, "feed_back", HANDLER, start + timedelta(hours=3), photos=["p"])
        done.append(_checked_and_closed(session, case, start + timedelta(hours=4), "satisfied"))
    _from_the_public(session, start)
    session.commit()
    return done


def _publish(client: TestClient, holder: dict, label: str, **body: object) -> None:
    holder["who"] = ADMIN
    r = client.post("/api/v1/evaluation/publications",
                    json={"county": COUNTY, "period": label, "object_types": ["street"]} | body)  # fmt: skip
    holder["who"] = ANONYMOUS
    assert r.status_code == 201, r.text


def test_nothing_is_shown_until_the_county_publishes(app, session):
    client, holder = app
    label, first = _last_month()
    _cases(session, first)
    r = client.get(f"{URL}.json", params={"jurisdiction_id": COUNTY})
    assert r.status_code == 200 and r.json()["periods"] == []
    assert r.json()["source"] == "published"
    assert [i["name"] for i in r.json()["indicators"]] == [
        "按期处置率", "按期结案率", "结案率", "返工率", "群众满意率"]  # fmt: skip
    missing = client.get(f"{URL}.json", params={"jurisdiction_id": COUNTY, "period": label})
    assert missing.status_code == 404 and "未发布" in missing.json()[0]["description"]
    _publish(client, holder, label)
    shown = client.get(f"{URL}.json", params={"jurisdiction_id": COUNTY}).json()["periods"]
    assert [p["label"] for p in shown] == [label] and shown[0]["version"] == 1


def test_a_published_period_shows_the_county_and_each_service(app, session):
    client, holder = app
    label, first = _last_month()
    cases = _cases(session, first)
    _publish(client, holder, label)
    r = client.get(f"{URL}.json", params={"jurisdiction_id": COUNTY, "period": label})
    assert r.status_code == 200 and r.headers["cache-control"].startswith("public, max-age=")
    (period,) = r.json()["periods"]
    services = {s["service_code"]: s for s in period["services"]}
    assert set(services) == {"E0102", "E0103"} and services["E0103"]["service_name"]
    county = period["county"]
    # the categories split the county's cases: their counts add up to the county's
    for k in COUNTS:
        assert services["E0102"]["counts"][k] + services["E0103"]["counts"][k] == county["counts"][k], k  # fmt: skip
    assert services["E0103"]["rates"]["handle_on_time_rate"] == 100.0
    assert services["E0102"]["rates"]["handle_on_time_rate"] == 50.0  # one left overdue
    assert county["rates"]["satisfaction_rate"] == 100.0
    only = client.get(f"{URL}.json", params={"jurisdiction_id": COUNTY, "period": label,
                                               "service_code": "E0103"}).json()  # fmt: skip
    assert [s["service_code"] for s in only["periods"][0]["services"]] == ["E0103"]
    # no personal data: no descriptions, addresses, people or case codes
    assert cases[0].code not in r.text and cases[0].description not in r.text
    assert "user" not in r.text and "actor" not in r.text
    xml = client.get(f"{URL}.xml", params={"jurisdiction_id": COUNTY, "period": label})
    assert xml.headers["content-type"].startswith("text/xml")
    assert "<statistics>" in xml.text and "<service_code>E0103</service_code>" in xml.text


def test_published_figures_stay_frozen_until_a_correction(app, session):
    client, holder = app
    label, first = _last_month()
    _cases(session, first)
    _publish(client, holder, label)
    params = {"jurisdiction_id": COUNTY, "period": label}
    before = client.get(f"{URL}.json", params=params).json()["periods"][0]
    # the case left alone is handled late, on the last day of the month
    from sqlalchemy import select

    from wangge.cases.models import Case

    open_case = session.scalars(select(Case).where(Case.state == "dispatched")).one()
    end = datetime(first.year, first.month, first.day, 9, tzinfo=SHANGHAI) + timedelta(days=26)
    case = do(session, open_case, "department_accept", HANDLER, end)
    do(session, case, "feed_back", HANDLER, end + timedelta(hours=1), photos=["p"])
    session.commit()
    still = client.get(f"{URL}.json", params=params).json()["periods"][0]
    assert still == before
    _publish(client, holder, label, reason="补录处置反馈")
    after = client.get(f"{URL}.json", params=params).json()["periods"][0]
    assert after["version"] == 2
    assert after["county"]["counts"]["overdue_open"] == 0 != before["county"]["counts"]["overdue_open"]  # fmt: skip


def test_bad_parameters_say_what_is_wrong_in_chinese_and_english(app, session):
    client, holder = app
    label, first = _last_month()
    _cases(session, first)
    _publish(client, holder, label)

    def error(fmt: str = "json", **params: str) -> tuple[int, str]:
        r = client.get(f"{URL}.{fmt}", params={"jurisdiction_id": COUNTY} | params)
        if fmt == "xml":
            return r.status_code, r.text
        return r.status_code, r.json()[0]["description"]

    status, text = error(start_date="2026-13-01")
    assert status == 400 and "start_date 不是 ISO 8601" in text and "must be an ISO 8601" in text
    status, text = error("xml", end_date="yesterday")
    assert status == 400 and "<code>400</code>" in text and "end_date" in text
    status, text = error(start_date="2026-11-30", end_date="2026-11-01")
    assert status == 400 and "晚于" in text and "after" in text
    status, text = error(period="2026-W48")
    assert status == 400 and "期间格式有误" in text
    status, text = error(service_code="NOPE")
    assert status == 404 and "NOPE" in text
    status, text = error(jurisdiction_id="999999")
    assert status == 404 and "999999" in text
    assert client.get(f"{URL}.csv").status_code == 404
    # a window holding the month shows it; one that ends before it does not
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    inside = client.get(f"{URL}.json", params={"jurisdiction_id": COUNTY,
                                               "start_date": str(first), "end_date": str(last)})  # fmt: skip
    assert [p["label"] for p in inside.json()["periods"]] == [label]
    before = client.get(f"{URL}.json", params={"jurisdiction_id": COUNTY,
                                               "end_date": str(last - timedelta(days=1))})  # fmt: skip
    assert before.json()["periods"] == []
