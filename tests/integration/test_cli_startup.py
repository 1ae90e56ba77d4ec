"""`wangge grid divide` on an up-to-date database loads only what dividing needs (issue 19)."""

import json
import subprocess
import sys

import numpy as np
from shapely.geometry import Point, box, mapping
from typer.testing import CliRunner

from tests.factories import COMMUNITIES, COUNTY, DX, DY, X0, Y0
from wangge.cli import app, session_scope
from wangge.config import Settings
from wangge.db import make_engine
from wangge.dbadmin import downgrade, shipped_head, stored_revisions

runner = CliRunner()
# Needed by other commands only: the web app, Alembic (the schema is current), workbooks, plots.
UNUSED = ("fastapi", "uvicorn", "wangge.main", "alembic", "openpyxl", "reportlab", "matplotlib")


def _fc(rows) -> str:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "properties": p, "geometry": mapping(g)} for p, g in rows
            ],
        },
        ensure_ascii=False,
    )


def test_a_division_on_a_current_database_loads_no_web_migration_or_workbook_library(tmp_path):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    divisions = [({"区划代码": COUNTY, "名称": "海淀区"}, box(X0, Y0, X0 + 2 * DX, Y0 + 2 * DY))]
    divisions += [({"区划代码": c, "名称": c}, g) for c, g in COMMUNITIES.items()]
    divisions += [
        ({"区划代码": "110108001", "名称": "甲"}, box(X0, Y0, X0 + 2 * DX, Y0 + DY)),
        ({"区划代码": "110108002", "名称": "乙"}, box(X0, Y0 + DY, X0 + 2 * DX, Y0 + 2 * DY)),
    ]
    (tmp_path / "d.geojson").write_text(_fc(divisions), "utf-8")
    imported = runner.invoke(
        app, ["division", "import", str(tmp_path / "d.geojson"), "--database-url", db]
    )
    assert imported.exit_code == 0, imported.output
    rng = np.random.default_rng(1)

    def _point(rng: np.random.Generator) -> Point:
        return Point(X0 + rng.uniform(0.05, 0.95) * DX, Y0 + rng.uniform(0.05, 0.95) * DY)

    buildings = [
        ({"编号": f"B{i}", "户数": int(rng.integers(20, 40))}, _point(rng)) for i in range(40)
    ]
    (tmp_path / "b.geojson").write_text(_fc(buildings), "utf-8")
    args = ["grid", "divide", "--county", COUNTY, "--community", "110108001001"]
    args += ["--buildings", str(tmp_path / "b.geojson"), "--database-url", db]
    code = (
        "import sys\n"
        "from wangge.cli import app\n"
        "try:\n"
        f"    app({args!r}, prog_name='wangge')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        "print('MODULES', ' '.join(sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert "新版本" in done.stdout
    loaded = set(done.stdout.rpartition("MODULES ")[2].split())
    assert sorted(loaded & set(UNUSED)) == []


def test_a_command_on_a_database_behind_still_upgrades_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with session_scope(Settings(database_url=url)):
        pass
    engine = make_engine(url)
    try:
        assert stored_revisions(engine) == (shipped_head(),)
        downgrade(engine, "0015")
        assert stored_revisions(engine) == ("0015",)
        with session_scope(Settings(database_url=url)):
            pass
        assert stored_revisions(engine) == (shipped_head(),)
    finally:
        engine.dispose()
