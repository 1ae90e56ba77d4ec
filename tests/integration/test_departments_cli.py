"""`wangge department add|list|import|export|deactivate|reactivate|template` on a SQLite file and
on a PostgreSQL database: a county's departments from an empty database."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner

from tests.ops_support import fresh_database
from wangge.cli import app
from wangge.db import make_engine
from wangge.departments.models import Department

runner = CliRunner()


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def db(request, tmp_path):
    with fresh_database(request.param, tmp_path, prefix="wangge_dept") as url:
        yield url


def run(db: str, *args: str):
    return runner.invoke(app, ["department", *args, "--database-url", db], catch_exceptions=False)


def stored(db: str) -> dict[str, Department]:
    engine = make_engine(db)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Department)).all()
            return {r.code: r for r in rows}
    finally:
        engine.dispose()


def test_a_county_sets_up_its_departments_from_the_command_line(db, tmp_path):
    ok = run(
        db,
        "add",
        "--county",
        "110108",
        "--name",
        "区城管委",
        "--key",
        "CGW",
        "--phone",
        "010-62550000",
        "--contact",
        "张三",
    )
    assert ok.exit_code == 0, ok.output
    assert "110108-CGW" in ok.output
    ok = run(
        db,
        "add",
        "--county",
        "110108",
        "--name",
        "甲街道办",
        "--code",
        "110108-JD01",
        "--level",
        "街道",
        "--parent",
        "110108-CGW",
    )
    assert ok.exit_code == 0, ok.output
    city = run(
        db,
        "add",
        "--county",
        "110108",
        "--name",
        "市住建委",
        "--code",
        "110100-SZJ",
        "--level",
        "city",
    )
    assert city.exit_code == 0, city.output
    rows = stored(db)
    assert rows["110100-SZJ"].county_code == "110100"
    assert rows["110100-SZJ"].serves_counties == ["110108"]
    assert rows["110108-JD01"].parent_code == "110108-CGW" and rows["110108-JD01"].level == "street"

    taken = run(db, "add", "--county", "110108", "--name", "再来", "--code", "110108-CGW")
    assert taken.exit_code == 2
    assert "110108-CGW 已存在" in taken.output and "already exists" in taken.output
    bad = run(db, "add", "--county", "110108", "--name", "x", "--code", "X1", "--phone", "无")
    assert bad.exit_code == 2 and "值班电话" in bad.output and "duty phone" in bad.output

    listing = run(db, "list", "--county", "110108")
    assert listing.exit_code == 0 and "共 3 个部门" in listing.output
    assert "共 1 个部门" in run(db, "list", "--level", "street").output

    out = tmp_path / "部门.xlsx"
    assert run(db, "export", str(out), "--county", "110108").exit_code == 0
    wb = load_workbook(out)
    ws = wb.worksheets[0]
    assert ws.max_row == 4
    ws.append(["110108-JD02", "乙街道办", "街道", "110108-JD03", "", "", "", "", "", ""])
    ws.append(["110108-BAD", "坏行", "街道", "", "", "", "不是电话", "", "", ""])
    wb.save(out)
    refused = run(db, "import", str(out), "--county", "110108")
    assert refused.exit_code == 2, refused.output
    assert "未导入" in refused.output and "nothing imported" in refused.output
    assert "110108-JD02" not in stored(db)  # nothing written

    ws.delete_rows(6)
    ws.append(["110108-JD03", "丙街道办", "街道", "110108-CGW", "", "", "", "", "", ""])
    wb.save(out)
    done = run(db, "import", str(out), "--county", "110108")
    assert done.exit_code == 0, done.output
    assert "新建 2" in done.output
    assert stored(db)["110108-JD02"].parent_code == "110108-JD03"

    assert run(db, "deactivate", "110108-JD02").exit_code == 0
    assert stored(db)["110108-JD02"].is_active is False
    assert "共 1 个部门" in run(db, "list", "--inactive").output
    assert run(db, "reactivate", "110108-JD02").exit_code == 0
    assert stored(db)["110108-JD02"].is_active is True
    missing = run(db, "deactivate", "NOPE")
    assert missing.exit_code == 2 and "NOPE" in missing.output


def test_the_template_has_the_headers_and_an_example(tmp_path):
    out = tmp_path / "模板.xlsx"
    result = runner.invoke(app, ["department", "template", str(out)])
    assert result.exit_code == 0, result.output
    wb = load_workbook(out)
    assert wb.worksheets[0]["A1"].value == "部门编码" and wb.worksheets[0].max_row == 1
    assert wb.worksheets[1]["B2"].value == "区城管委"
