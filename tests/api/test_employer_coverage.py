"""Employer coverage (两网化, issue 18 item 6) through the HTTP API on SQLite and PostgreSQL.

The county imports the market-regulation register as a reference list (a GBK CSV, later an
.xlsx); coverage = employers on the list that the registry holds and has verified on site /
employers on the list, per grid, community, street and county, month by month since the first
list, with the list of employers still to visit. A list with bad rows writes nothing and
names every bad row.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook

from tests.api_support import serve_session
from tests.case_factories import (
    COUNTY,
    FAR_SUPERVISOR,
    GRID1,
    LAT,
    LON,
    SUPERVISOR,
    build_world,
    person,
)
from wangge.api.deps import get_principal
from wangge.common.ids import credit_check_char, org_code_check_char
from wangge.config import Settings
from wangge.main import create_app
from wangge.registry.models_organisations import Organisation
from wangge.registry.models_references import EmployerReference

REGISTRAR = person(20, "supervisor", scope={COUNTY})  # keeps the county's registry


def credit(n: int) -> str:
    body = f"{n:08d}"
    first17 = f"91{COUNTY}{body}{org_code_check_char(body)}"
    return first17 + credit_check_char(first17)


A, B, C, D, E = (credit(n) for n in (11, 22, 33, 44, 55))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def api(session, tmp_path) -> Iterator[tuple[TestClient, dict]]:
    build_world(session)
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}"))
    serve_session(app, session)
    who = {"principal": REGISTRAR}
    app.dependency_overrides[get_principal] = lambda: who["principal"]
    with TestClient(app) as client:
        yield client, who


def _org(session, code: str, community: str, created: str, verified: str | None) -> None:  # type: ignore[no-untyped-def]
    session.add(
        Organisation(
            county_code=COUNTY, name=f"单位{code[-4:]}", credit_code=code, community_code=community,
            created_at=at(created), verified_at=at(verified) if verified else None,
        )
    )  # fmt: skip
    session.flush()


def _csv(rows: list[list[object]], encoding: str = "gbk") -> bytes:
    text = "\n".join(",".join(str(v) for v in r) for r in rows)
    return text.encode(encoding)


def _xlsx(rows: list[list[object]]) -> bytes:
    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _import(client: TestClient, data: bytes, as_of: str, name: str = "名录.csv"):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/registry/employer-list",
        data={"county_code": COUNTY, "as_of": as_of, "source": "市场监管登记"},
        files={"file": (name, data)},
    )


HEAD = ["统一社会信用代码", "企业名称", "住所", "社区代码", "经度", "纬度"]
OCTOBER = [
    HEAD,
    [A, "甲公司", "甲街道1号", "110108001001", "", ""],
    [B, "乙公司", "幸福路2号", "", LON, LAT],  # placed by position: in GRID1 (community 001001)
    [C, "丙公司", "乙街道3号", "110108002001", "", ""],
    [D, "丁公司", "不详", "", "", ""],  # no place: counts for the county only
]


def _coverage(client: TestClient, level: str, month: str) -> dict:
    r = client.get("/api/v1/registry/employer-coverage",
                   params={"county": COUNTY, "level": level, "month": month})  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()


def _row(body: dict, code: str) -> dict:
    return next(r for r in body["rows"] if r["code"] == code)


def test_coverage_by_area_month_by_month_from_the_reference_lists(session, api):
    client, who = api
    r = _import(client, _csv(OCTOBER), "2026-10-01")
    assert r.status_code == 200, r.text
    assert r.json()["listed"] == 4 and r.json()["delisted"] == 0
    _org(session, A, "110108001001", "2026-09-01T00:00:00", "2026-10-15T00:00:00")
    _org(session, B, "110108001001", "2026-11-05T00:00:00", None)
    _org(session, C, "110108002001", "2026-11-20T00:00:00", "2026-11-25T00:00:00")

    october = _coverage(client, "county", "2026-10")
    county = _row(october, COUNTY)
    assert (county["listed"], county["registered"], county["verified"]) == (4, 1, 1)
    assert county["coverage"] == 25.0
    communities = _coverage(client, "community", "2026-10")
    west = _row(communities, "110108001001")  # A (verified) and B (placed by its position)
    assert (west["listed"], west["verified"], west["coverage"]) == (2, 1, 50.0)
    assert communities["unplaced"]["listed"] == 1  # D
    november = _row(_coverage(client, "county", "2026-11"), COUNTY)
    assert (november["registered_rate"], november["coverage"]) == (75.0, 50.0)
    streets = _coverage(client, "street", "2026-11")
    assert {r["code"]: r["coverage"] for r in streets["rows"]} == {
        "110108001": 50.0, "110108002": 100.0,
    }  # fmt: skip

    # December's list (an .xlsx) no longer has D and adds E.
    december = [HEAD[:4], [A, "甲公司", "甲街道1号", "110108001001"],
                [B, "乙公司", "幸福路2号", ""], [C, "丙公司", "乙街道3号", "110108002001"],
                [E, "戊公司", "丙路5号", "110108001002"]]  # fmt: skip
    r = _import(client, _xlsx(december), "2026-12-01", "名录.xlsx")
    assert r.status_code == 200, r.text
    assert (r.json()["listed"], r.json()["delisted"], r.json()["unchanged"]) == (1, 1, 3)
    now = _row(_coverage(client, "county", "2026-12"), COUNTY)
    assert (now["listed"], now["verified"], now["coverage"]) == (4, 2, 50.0)
    # October is still measured against October's list.
    assert _row(_coverage(client, "county", "2026-10"), COUNTY)["listed"] == 4

    trend = client.get("/api/v1/registry/employer-coverage/trend", params={"county": COUNTY})
    months = {m["month"]: m["coverage"] for m in trend.json()}
    assert months["2026-10"] == 25.0 and months["2026-11"] == 50.0 and months["2026-12"] == 50.0

    # The grid worker of GRID1 is sent to B only; the far one to nobody of his own.
    who["principal"] = SUPERVISOR
    todo = client.get("/api/v1/registry/employer-coverage/unvisited", params={"county": COUNTY})
    assert [t["credit_code"] for t in todo.json()["items"]] == [B]
    assert todo.json()["items"][0]["grid_code"] == GRID1
    who["principal"] = FAR_SUPERVISOR
    assert (
        client.get(
            "/api/v1/registry/employer-coverage/unvisited", params={"county": COUNTY}
        ).json()["total"]
        == 0
    )
    rows = _coverage(client, "community", "2026-11")
    assert [r["code"] for r in rows["rows"]] == ["110108002001"] and "unplaced" not in rows
    r = client.get("/api/v1/registry/employer-coverage/trend", params={"county": COUNTY})
    assert r.status_code == 422 and r.json()["code"] == "out_of_scope"


def test_a_list_with_bad_rows_writes_nothing_and_names_every_row(session, api):
    client, who = api
    bad = [
        HEAD,
        [A, "甲公司", "", "", "", ""],
        [A, "甲公司重复", "", "", "", ""],
        [A[:-1] + ("0" if A[-1] != "0" else "1"), "校验位错", "", "", "", ""],
        [B, "", "", "", "", ""],
        [C, "丙公司", "", "110105001001", "", ""],
        [D, "丁公司", "", "", 121.5, 31.2],  # Shanghai: outside the county
    ]
    r = _import(client, _csv(bad), "2026-10-01")
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "bad_rows" and "未导入" in body["detail"]
    found = {(e["row"], e["field"]) for e in body["details"]["errors"]}
    assert found == {(3, "credit_code"), (4, "credit_code"), (5, "name"),
                     (6, "community_code"), (7, "lon")}  # fmt: skip
    assert session.query(EmployerReference).count() == 0

    assert _import(client, _csv([["名称"], ["甲公司"]]), "2026-10-01").json()["code"] == (
        "missing_columns"
    )
    assert _import(client, b"\xff\xfe\x00garbage\x81", "2026-10-01").status_code == 422
    # UTF-8 works as well as GBK; then an older list is refused.
    assert _import(client, _csv(OCTOBER, "utf-8"), "2026-11-01").status_code == 200
    r = _import(client, _csv(OCTOBER), "2026-10-01")
    assert r.status_code == 422 and r.json()["code"] == "list_out_of_order"
    # Only someone over the whole county may import it.
    who["principal"] = SUPERVISOR
    assert _import(client, _csv(OCTOBER), "2026-12-01").status_code == 403
