"""`wangge registry template|import|export` on a SQLite file, and records following re-divisions."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner

from tests.factories import load_territory, quarters
from tests.registry_factories import CENTER, A, centre_of, id_number
from wangge.cli import app
from wangge.db import make_engine, session_factory, unit_of_work
from wangge.dbadmin import upgrade
from wangge.grids.models import Grid
from wangge.grids.service import GridIn, add_grids, new_version
from wangge.grids.versions import activate_version
from wangge.registry import houses

runner = CliRunner()
GOOD = id_number("11010819850307123")


def _db(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with unit_of_work(session_factory(engine)) as session:
        load_territory(session)
    engine.dispose()
    return url


def _run(db: str, *args: str):
    return runner.invoke(app, ["registry", *args, "--database-url", db], catch_exceptions=False)


def test_template_import_and_export_from_the_command_line(tmp_path):
    db = _db(tmp_path)
    template = tmp_path / "people.xlsx"
    assert _run(db, "template", "people", str(template)).exit_code == 0
    wb = load_workbook(template)
    ws = wb.worksheets[0]
    ws.append([None, "张三", GOOD, "13812345678", "户籍", None, A])
    ws.append(
        [
            None,
            "李四",
            GOOD[:-1] + "0" if GOOD[-1] != "0" else GOOD[:-1] + "1",
            None,
            "户籍",
            None,
            A,
        ]
    )
    wb.save(template)
    refused = _run(db, "import", "people", str(template))
    assert refused.exit_code == 2 and "未写入" in refused.output
    partial = _run(db, "import", "people", str(template), "--valid-only")
    assert partial.exit_code == 2 and "新增 1" in partial.output
    out = tmp_path / "out.xlsx"
    assert _run(db, "export", "people", str(out)).exit_code == 0
    rows = list(
        load_workbook(io.BytesIO(out.read_bytes())).worksheets[0].iter_rows(values_only=True)
    )
    assert [r[1] for r in rows[1:]] == ["张三"] and GOOD not in str(rows)


def test_an_unknown_kind_exits_with_a_bilingual_error(tmp_path):
    result = _run(_db(tmp_path), "template", "cars", str(tmp_path / "x.xlsx"))
    assert result.exit_code == 2 and "未知的数据类别" in result.output


def test_buildings_follow_a_re_division(session):
    load_territory(session)
    v1 = new_version(session, "110108", "social", "v1")
    add_grids(session, v1, [GridIn(kind="basic", geom=g) for g in quarters(A)], width=3)
    activate_version(session, v1.id)
    lon, lat = centre_of(A)
    b = houses.save_building(
        session, CENTER, {"name": "1号楼", "community_code": A, "lon": lon, "lat": lat}
    )
    old = b.grid_id
    v2 = new_version(session, "110108", "social", "v2")
    from tests.factories import COMMUNITIES

    add_grids(session, v2, [GridIn(kind="basic", geom=COMMUNITIES[A])], width=3)
    report = activate_version(session, v2.id)
    session.refresh(b)
    new_grid = session.scalars(select(Grid).where(Grid.id == b.grid_id)).one()
    assert b.grid_id != old and new_grid.version_id == v2.id
    assert report["moved"]["buildings"]["total"] == 1
