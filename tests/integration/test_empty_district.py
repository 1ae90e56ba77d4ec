"""From an empty database to the first closed case, as a new district does it (README).

Nothing from the demo: the CLI initialises the county, loads divisions, grids and departments
from files and creates one account per role; then the case runs through the HTTP API with real
logins (no dependency overrides) from report to close. A second county with its own
departments dispatches to its own. On SQLite and PostgreSQL+PostGIS.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from shapely.geometry import box, mapping
from typer.testing import CliRunner

from tests.ops_support import fresh_database
from wangge.cli import app as cli
from wangge.config import Settings
from wangge.main import create_app

PASSWORD = "First-Case-2026"
X0, Y0, D = 116.20, 39.90, 0.01


def _run(url: str, *args: str, ok: bool = True):
    result = CliRunner().invoke(cli, [*args, "--database-url", url], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, f"wangge {' '.join(args)}\n{result.output}"
    return result


def _territory(tmp: Path, county: str, name: str, x0: float) -> tuple[Path, Path]:
    """Divisions (county, one street, two communities) and four basic grids per community."""
    street = f"{county}001"
    communities = {f"{street}001": box(x0, Y0, x0 + D, Y0 + D),
                   f"{street}002": box(x0 + D, Y0, x0 + 2 * D, Y0 + D)}  # fmt: skip
    rows = [
        (county, name, box(x0, Y0, x0 + 2 * D, Y0 + D)),
        (street, "第一街道", box(x0, Y0, x0 + 2 * D, Y0 + D)),
        *[(c, f"第{c[-1]}社区", g) for c, g in communities.items()],
    ]
    divisions = tmp / f"divisions-{county}.geojson"
    divisions.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"区划代码": c, "名称": n}, "geometry": mapping(g)}
        for c, n, g in rows]}, ensure_ascii=False), "utf-8")  # fmt: skip
    grids = []
    for code, g in communities.items():
        minx, miny, maxx, maxy = g.bounds
        mx, my = (minx + maxx) / 2, (miny + maxy) / 2
        for cell in (box(minx, my, mx, maxy), box(mx, my, maxx, maxy),
                     box(minx, miny, mx, my), box(mx, miny, maxx, my)):  # fmt: skip
            grids.append({"type": "Feature", "properties": {"社区编码": code},
                          "geometry": mapping(cell)})  # fmt: skip
    grid_file = tmp / f"grids-{county}.geojson"
    grid_file.write_text(json.dumps({"type": "FeatureCollection", "features": grids}), "utf-8")
    return divisions, grid_file


def _departments(tmp: Path, county: str, url: str) -> Path:
    """The county's own list, filled into the template `wangge department template` writes."""
    path = tmp / f"departments-{county}.xlsx"
    CliRunner().invoke(cli, ["department", "template", str(path)], catch_exceptions=False)
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    headers = [c.value for c in ws[1]]
    for code, name in ((f"{county}-CG", "区城市管理委员会"), (f"{county}-SZ", "区市政市容委")):
        row = {"部门编码": code, "部门名称": name, "值班电话": "010-62550000"}
        ws.append([row.get(str(h).split("(")[0]) if h else None for h in headers])
    wb.save(path)
    return path


def _district(url: str, tmp: Path, county: str, name: str, x0: float) -> None:
    divisions, grids = _territory(tmp, county, name, x0)
    _run(url, "init", "--county", county, "--name", name)
    _run(url, "division", "import", str(divisions))
    imported = _run(url, "grid", "import", str(grids), "--county", county, "--kind", "basic")
    version = re.search(r"id=(\d+)", imported.output).group(1)
    _run(url, "grid", "activate", version)
    _run(url, "department", "import", str(_departments(tmp, county, url)), "--county", county)
    street = f"{county}001"
    for username, role, scope in (
        (f"admin{county}", "admin", county),
        (f"shouli{county}", "acceptor", county),
        (f"zhiban{county}", "shift_leader", county),
        (f"paiqian{county}", "dispatcher", county),
        (f"jiandu{county}", "supervisor", f"{street}001"),
    ):
        _run(url, "user", "create", username, "--name", username, "--role", role,
             "--scope", scope, "--password", PASSWORD)  # fmt: skip
    _run(url, "user", "create", f"bumen{county}", "--name", "处置员", "--role", "department",
         "--department", f"{county}-CG", "--password", PASSWORD)  # fmt: skip


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def district(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with fresh_database(request.param, tmp_path, "wangge_empty") as url:
        yield url, tmp_path


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), "#6a8").save(buf, "JPEG")
    return buf.getvalue()


class Desk:
    """One user's browser-less client: login, upload, act."""

    def __init__(self, client: TestClient, username: str) -> None:
        self.c, self.username = client, username

    def login(self) -> dict[str, str]:
        self.c.cookies.clear()
        r = self.c.post(
            "/api/v1/auth/login", json={"username": self.username, "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        return {"X-CSRF-Token": r.json()["csrf_token"]}

    def photo(self, h: dict[str, str]) -> str:
        r = self.c.post("/api/v1/uploads", files={"file": ("p.jpg", _jpeg(), "image/jpeg")},
                        headers=h)  # fmt: skip
        assert r.status_code == 201, r.text
        return f"/api/v1/uploads/{r.json()['id']}"

    def act(self, case_id: int, action: str, **payload) -> dict:
        h = self.login()
        if action in ("feed_back", "check_pass"):
            payload["photos"] = [self.photo(h)]
        case = self.c.get(f"/api/v1/cases/{case_id}").json()
        r = self.c.post(f"/api/v1/cases/{case_id}/actions/{action}", headers=h,
                        json={"expected_version": case["version"], "payload": payload})  # fmt: skip
        assert r.status_code == 200, f"{self.username} {action}: {r.text}"
        return r.json()


def _route(client: TestClient, county: str) -> None:
    """The district's administrator routes 暴露垃圾 to its city-management department."""
    h = Desk(client, f"admin{county}").login()
    rule = {"county_code": county, "category_code": "E0102", "department_code": f"{county}-CG"}
    r = client.put("/api/v1/case-routing-rules", json=rule, headers=h)
    assert r.status_code == 200, r.text


def _first_case(client: TestClient, county: str, x0: float, **dispatch: str) -> dict:
    worker = Desk(client, f"jiandu{county}")
    h = worker.login()
    photo = worker.photo(h)
    r = client.post("/api/v1/cases", headers=h, json={
        "category_code": "E0102", "description": "暴露垃圾", "photos": [photo],
        "lon": x0 + 0.3 * D, "lat": Y0 + 0.7 * D})  # fmt: skip
    assert r.status_code == 201, r.text
    case_id = r.json()["id"]
    Desk(client, f"shouli{county}").act(case_id, "accept")
    Desk(client, f"zhiban{county}").act(case_id, "file")
    dispatched = Desk(client, f"paiqian{county}").act(case_id, "dispatch", **dispatch)
    handler = Desk(client, f"bumen{county}")
    handler.act(case_id, "department_accept")
    handler.act(case_id, "feed_back", note="已清运")
    Desk(client, f"shouli{county}").act(case_id, "request_check")
    worker.act(case_id, "check_pass")
    closed = Desk(client, f"zhiban{county}").act(case_id, "close")
    return {"dispatched": dispatched, "closed": closed}


def test_an_empty_database_takes_a_case_from_report_to_close_in_two_counties(district):
    url, tmp = district
    _district(url, tmp, "110108", "海淀区", X0)
    _district(url, tmp, "110105", "朝阳区", X0 + 0.1)
    app = create_app(Settings(database_url=url, upload_dir=tmp / "uploads", warm_caches=False))
    with TestClient(app) as client:
        _route(client, "110108")  # routed by a rule; in 110105 the dispatcher chooses
        for county, x0, dispatch in (
            ("110108", X0, {}),
            ("110105", X0 + 0.1, {"department": "110105-CG"}),
        ):
            done = _first_case(client, county, x0, **dispatch)
            assert done["closed"]["state"] == "closed"
            Desk(client, f"shouli{county}").login()
            detail = client.get(f"/api/v1/cases/{done['closed']['id']}").json()
            lead = [p for p in detail["parts"] if p.get("lead")]
            assert lead and lead[0]["department_code"].startswith(county)  # its own department
