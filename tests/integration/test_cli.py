"""The `wangge` command end to end on a SQLite file: import, generate, export, re-import, locate."""

import csv
import json
from pathlib import Path

import pytest
from shapely.geometry import mapping
from typer.testing import CliRunner

from tests.factories import COMMUNITIES, DX, DY, X0, Y0
from wangge.cli import app

runner = CliRunner()


def _divisions_geojson(path: Path, *, bad_code: bool = False) -> Path:
    from shapely.geometry import box

    feats = [
        ("110108", "海淀区", box(X0, Y0, X0 + 2 * DX, Y0 + 2 * DY)),
        ("110108001", "甲街道", box(X0, Y0, X0 + 2 * DX, Y0 + DY)),
        ("110108002", "乙街道", box(X0, Y0 + DY, X0 + 2 * DX, Y0 + 2 * DY)),
        *[(c, f"社区{c[-3:]}", g) for c, g in COMMUNITIES.items()],
    ]
    if bad_code:
        feats[4] = ("11010800100", "坏社区", feats[4][2])
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"区划代码": c, "名称": n}, "geometry": mapping(g)}
            for c, n, g in feats
        ],
    }
    path.write_text(json.dumps(fc, ensure_ascii=False), "utf-8")
    return path


def _run(db: str, *args: str):
    return runner.invoke(app, [*args, "--database-url", db], catch_exceptions=False)


@pytest.fixture
def db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_a_bad_division_code_fails_with_file_feature_and_reason(tmp_path, db):
    result = _run(
        db, "division", "import", str(_divisions_geojson(tmp_path / "d.geojson", bad_code=True))
    )
    assert result.exit_code == 2
    assert "d.geojson" in result.output and "长度为 11" in result.output
    listing = _run(db, "division", "list")
    assert "110108" not in listing.output  # nothing was written


def test_a_self_intersecting_grid_file_is_refused_and_no_version_is_created(tmp_path, db):
    _run(db, "division", "import", str(_divisions_geojson(tmp_path / "d.geojson")))
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[X0, Y0], [X0 + DX / 2, Y0 + DY / 2], [X0 + DX / 2, Y0], [X0, Y0 + DY / 2], [X0, Y0]]
        ],
    }
    good = {
        "type": "Polygon",
        "coordinates": [[[X0, Y0], [X0 + DX, Y0], [X0 + DX, Y0 + DY], [X0, Y0]]],
    }
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {}, "geometry": good},
            {"type": "Feature", "properties": {}, "geometry": bowtie},
        ],
    }
    (tmp_path / "g.geojson").write_text(json.dumps(fc), "utf-8")
    result = _run(db, "grid", "import", str(tmp_path / "g.geojson"), "--county", "110108")
    assert result.exit_code == 2
    assert (
        "g.geojson" in result.output
        and "2" in result.output
        and "Self-intersection" in result.output
    )
    assert "social" not in _run(db, "grid", "versions").output


def test_generate_export_reimport_validate_and_locate_round_trip(tmp_path, db):
    assert (
        _run(db, "division", "import", str(_divisions_geojson(tmp_path / "d.geojson"))).exit_code
        == 0
    )
    gen = _run(db, "grid", "generate", "--county", "110108", "--cell-area", "40000", "--activate")
    assert gen.exit_code == 0, gen.output
    assert _run(db, "grid", "validate", "1").exit_code == 0

    shp = tmp_path / "grids.zip"
    exported = _run(db, "grid", "export", str(shp), "--version", "1", "--encoding", "GBK")
    assert exported.exit_code == 0, exported.output
    reimport = _run(
        db, "grid", "import", str(shp), "--county", "110108", "--kind", "unit", "--name", "重导入"
    )
    assert reimport.exit_code == 0, reimport.output
    diff = _run(db, "grid", "diff", "1", "2")
    report = json.loads(diff.output)
    assert report["new"] == [] and report["retired"] == [] and len(report["unchanged"]) > 50

    points = tmp_path / "pts.csv"
    with points.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["编号", "经度", "纬度"])
        w.writerow(["A", X0 + 0.5 * DX, Y0 + 0.5 * DY])
        w.writerow(["B", X0 + 10, Y0])
    located = _run(db, "locate", str(points), str(tmp_path / "out.csv"))
    assert located.exit_code == 0, located.output
    rows = list(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8-sig")))
    assert rows[0]["单元网格编码"].startswith("110108001001") and len(rows[0]["单元网格编码"]) == 15
    assert rows[1]["单元网格编码"] == ""


def test_locating_a_single_point_outside_every_grid_exits_non_zero(tmp_path, db):
    _run(db, "division", "import", str(_divisions_geojson(tmp_path / "d.geojson")))
    _run(db, "grid", "generate", "--county", "110108", "--cell-area", "40000", "--activate")
    inside = _run(db, "grid", "locate", "--lon", str(X0 + 0.5 * DX), "--lat", str(Y0 + 0.5 * DY))
    assert inside.exit_code == 0 and "110108001001" in inside.output
    outside = _run(db, "grid", "locate", "--lon", "100.0", "--lat", "30.0")
    assert outside.exit_code == 1


def test_an_edited_attribute_table_updates_grids_all_or_nothing(tmp_path, db):
    import openpyxl

    _run(db, "division", "import", str(_divisions_geojson(tmp_path / "d.geojson")))
    _run(db, "grid", "generate", "--county", "110108", "--cell-area", "40000")
    assert _run(db, "grid", "export", str(tmp_path / "g.xlsx"), "--version", "1").exit_code == 0
    book = openpyxl.load_workbook(tmp_path / "g.xlsx")
    sheet = book.active
    header = [c.value for c in sheet[1]]
    col = header.index("户数") + 1
    sheet.cell(row=2, column=col, value=321)
    book.save(tmp_path / "edited.xlsx")
    sheet.cell(row=3, column=header.index("网格编码") + 1, value="110108001001999")
    book.save(tmp_path / "bad.xlsx")

    bad = _run(db, "grid", "attributes", str(tmp_path / "bad.xlsx"), "--version", "1")
    assert bad.exit_code == 2 and "110108001001999" in bad.output and "2" in bad.output
    ok = _run(db, "grid", "attributes", str(tmp_path / "edited.xlsx"), "--version", "1")
    assert ok.exit_code == 0, ok.output
    _run(db, "grid", "export", str(tmp_path / "after.csv"), "--version", "1")
    rows = list(csv.DictReader((tmp_path / "after.csv").open(encoding="utf-8-sig")))
    assert rows[0]["户数"] in ("321", "321.0")
    assert sum(1 for r in rows if r["户数"] not in ("", None)) == 1


FORMULA = '=HYPERLINK("http://evil.example","点击")'


def test_grid_exports_and_located_tables_write_formulas_as_text_and_numbers_as_numbers(
    tmp_path, db
):
    import openpyxl

    _run(db, "division", "import", str(_divisions_geojson(tmp_path / "d.geojson")))
    _run(db, "grid", "generate", "--county", "110108", "--cell-area", "40000", "--activate")
    _run(db, "grid", "export", str(tmp_path / "g.csv"), "--version", "1")
    rows = list(csv.DictReader((tmp_path / "g.csv").open(encoding="utf-8-sig")))
    edited = tmp_path / "edited.csv"
    with edited.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["网格编码", "网格名称", "责任主体"])
        w.writerow([rows[0]["网格编码"], FORMULA, "@SUM(A1:A9)"])
    assert _run(db, "grid", "attributes", str(edited), "--version", "1").exit_code == 0

    _run(db, "grid", "export", str(tmp_path / "out.csv"), "--version", "1")
    first = next(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8-sig")))
    assert first["网格名称"] == "'" + FORMULA and first["责任主体"] == "'@SUM(A1:A9)"
    _run(db, "grid", "export", str(tmp_path / "out.xlsx"), "--version", "1")
    sheet = openpyxl.load_workbook(tmp_path / "out.xlsx").active
    header = [c.value for c in sheet[1]]
    name, area = sheet[2][header.index("网格名称")], sheet[2][header.index("面积")]
    assert name.data_type == "s" and name.value == "'" + FORMULA
    assert area.data_type == "n" and area.value > 0
    # The exported file edited and read back keeps the name as it was (the guard comes off).
    assert (
        _run(db, "grid", "attributes", str(tmp_path / "out.xlsx"), "--version", "1").exit_code == 0
    )
    _run(db, "grid", "export", str(tmp_path / "again.csv"), "--version", "1")
    again = next(csv.DictReader((tmp_path / "again.csv").open(encoding="utf-8-sig")))
    assert again["网格名称"] == "'" + FORMULA

    points = tmp_path / "pts.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["备注", "高差", "经度", "纬度"])
    book.active.append(["-1+2", -12.5, X0 + 0.5 * DX, Y0 + 0.5 * DY])
    book.save(points)
    for out in ("located.csv", "located.xlsx"):
        assert _run(db, "locate", str(points), str(tmp_path / out)).exit_code == 0
    located = next(csv.DictReader((tmp_path / "located.csv").open(encoding="utf-8-sig")))
    assert located["备注"] == "'-1+2" and located["高差"] == "-12.5"
    cells = openpyxl.load_workbook(tmp_path / "located.xlsx").active[2]
    assert cells[0].value == "'-1+2" and cells[1].value == -12.5 and cells[1].data_type == "n"


def test_users_are_created_from_the_cli_and_the_audit_chain_verifies(tmp_path, db):
    import sqlite3

    _run(db, "division", "import", str(_divisions_geojson(tmp_path / "d.geojson")))
    weak = _run(
        db,
        "user",
        "create",
        "li4",
        "--name",
        "李四",
        "--role",
        "supervisor",
        "--scope",
        "110108001001",
        "--password",
        "123",
    )
    assert weak.exit_code == 2 and "密码不符合要求" in weak.output
    ok = _run(
        db,
        "user",
        "create",
        "li4",
        "--name",
        "李四",
        "--role",
        "supervisor",
        "--scope",
        "110108001001",
        "--password",
        "Patrol-Route-88",
    )
    assert ok.exit_code == 0, ok.output
    assert "supervisor@110108001001" in _run(db, "user", "list").output
    assert _run(db, "audit", "verify").exit_code == 0
    con = sqlite3.connect(db.removeprefix("sqlite:///"))
    con.execute("UPDATE audit_log SET actor = 'someone-else' WHERE id = 1")
    con.commit()
    con.close()
    broken = _run(db, "audit", "verify")
    assert broken.exit_code == 1 and "第 1 条" in broken.output


def test_grid_divide_draws_a_plot_and_reports_quality(tmp_path, db):
    import numpy as np

    _run(db, "division", "import", str(_divisions_geojson(tmp_path / "d.geojson")))
    rng = np.random.default_rng(3)
    feats = [
        {
            "type": "Feature",
            "properties": {"编号": f"L{i}", "户数": int(rng.integers(20, 40))},
            "geometry": {
                "type": "Point",
                "coordinates": [
                    X0 + rng.uniform(0.05, 0.95) * DX,
                    Y0 + rng.uniform(0.05, 0.95) * DY,
                ],
            },
        }
        for i in range(40)
    ]
    (tmp_path / "b.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8"
    )
    result = _run(
        db,
        "grid",
        "divide",
        "--county",
        "110108",
        "--community",
        "110108001001",
        "--buildings",
        str(tmp_path / "b.geojson"),
        "--target",
        "300",
        "--plot",
        str(tmp_path / "d.png"),
        "--report",
        str(tmp_path / "r.json"),
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "d.png").read_bytes()[:4] == b"\x89PNG"
    report = json.loads((tmp_path / "r.json").read_text("utf-8"))
    assert report["totals"]["households"] == sum(f["properties"]["户数"] for f in feats)

    feats[5]["properties"]["户数"] = -3
    (tmp_path / "bad.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8"
    )
    bad = _run(
        db, "grid", "divide", "--county", "110108", "--buildings", str(tmp_path / "bad.geojson")
    )
    assert bad.exit_code == 2 and "bad.geojson" in bad.output and "6" in bad.output


def test_every_command_that_writes_leaves_an_audit_entry(tmp_path, db):
    import sqlite3

    _run(db, "division", "import", str(_divisions_geojson(tmp_path / "d.geojson")))
    _run(db, "division", "list")
    con = sqlite3.connect(db.removeprefix("sqlite:///"))
    actions = [r[0] for r in con.execute("SELECT action FROM audit_log ORDER BY id")]
    con.close()
    assert any(a.endswith("division.import") for a in actions)
    assert not any(a.endswith("division.list") for a in actions)


def test_grid_activate_refuses_a_draft_with_a_gap_unless_given_a_reason(tmp_path, db):
    from sqlalchemy import select

    from tests.factories import quarters
    from wangge.audit.models import AuditEntry
    from wangge.db import make_engine, session_factory
    from wangge.grids.models import GridVersion

    _run(db, "division", "import", str(_divisions_geojson(tmp_path / "d.geojson")))
    half = [
        {"type": "Feature", "properties": {}, "geometry": mapping(g)}
        for g in quarters("110108001001")[:2]
    ]
    path = tmp_path / "half.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": half}), "utf-8")
    assert _run(db, "grid", "import", str(path), "--county", "110108").exit_code == 0

    refused = _run(db, "grid", "activate", "1")
    assert refused.exit_code == 2
    assert "未被任何网格覆盖" in refused.output and "--override-reason" in refused.output
    assert "draft" in _run(db, "grid", "versions").output

    done = _run(db, "grid", "activate", "1", "--override-reason", "河道，待补划")
    assert done.exit_code == 0, done.output
    engine = make_engine(db)
    with session_factory(engine)() as s:
        assert s.scalars(select(GridVersion.status)).one() == "active"
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "grid_version.activate")
        ).one()
        assert entry.reason == "河道，待补划" and entry.detail["override"]["problems"] == 1
    engine.dispose()
