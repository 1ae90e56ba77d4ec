"""`wangge line …` and `wangge assignment …` end to end on a SQLite file."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.case_factories import GRID1, build_world
from wangge.assignments.models import GridAssignment
from wangge.auth.service import assign_post, create_user, seed_roles
from wangge.cli import app
from wangge.db import make_engine, session_factory
from wangge.dbadmin import upgrade
from wangge.lines.models import BusinessLine

runner = CliRunner()


def _run(db: str, *args: str):
    return runner.invoke(app, [*args, "--database-url", db], catch_exceptions=False)


@pytest.fixture
def db(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'lines.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with session_factory(engine)() as s:
        build_world(s)
        seed_roles(s)
        user = create_user(s, username="wangwu", password="Grid-Worker-2026", display_name="王五")
        assign_post(s, user, "supervisor", scope=GRID1[:12])
        s.commit()
    engine.dispose()
    return url


def _rows(db: str, model, *where):
    engine = make_engine(db)
    try:
        with session_factory(engine)() as s:
            return list(s.scalars(select(model).where(*where)))
    finally:
        engine.dispose()


def test_init_then_lines_are_listed_added_and_switched(db):
    assert _run(db, "init", "--county", "110108").exit_code == 0
    listing = _run(db, "line", "list", "--county", "110108")
    assert listing.exit_code == 0 and "urban" in listing.output and "governance" in listing.output
    added = _run(db, "line", "add", "school_safety", "校园安全", "--county", "110108",
                 "--role", "supervisor", "--category", "S0102")  # fmt: skip
    assert added.exit_code == 0, added.output
    off = _run(db, "line", "disable", "urban", "--county", "110108")
    assert off.exit_code == 0 and "停用" in off.output
    lines = {x.code: x for x in _rows(db, BusinessLine, BusinessLine.county_code == "110108")}
    assert lines["urban"].is_active is False and lines["school_safety"].roles == ["supervisor"]
    assert _run(db, "line", "enable", "urban", "--county", "110108").exit_code == 0
    missing = _run(db, "line", "disable", "nope", "--county", "110108")
    assert missing.exit_code == 2 and "nope" in missing.output


def test_assignments_are_added_listed_and_ended(db):
    added = _run(db, "assignment", "add", "wangwu", "--grid", GRID1, "--kind", "full_time",
                 "--from", "2026-11-01")  # fmt: skip
    assert added.exit_code == 0, added.output
    (row,) = _rows(db, GridAssignment)
    listing = _run(db, "assignment", "list", "--grid", GRID1, "--on", "2026-11-23")
    assert "wangwu" in listing.output and "专职网格员" in listing.output
    bad = _run(
        db, "assignment", "add", "wangwu", "--grid", "110108001001099", "--from", "2026-11-01"
    )
    assert bad.exit_code == 2 and "110108001001099" in bad.output
    dup = _run(db, "assignment", "add", "wangwu", "--grid", GRID1, "--from", "2026-11-20")
    assert dup.exit_code == 2
    early = _run(db, "assignment", "end", str(row.id), "--on", "2026-10-01")
    assert early.exit_code == 2 and "ends_on" in early.output
    assert _run(db, "assignment", "end", str(row.id), "--on", "2026-11-30").exit_code == 0
    (row,) = _rows(db, GridAssignment)
    assert str(row.ends_on) == "2026-11-30"
    assert "wangwu" not in _run(db, "assignment", "list", "--on", "2026-12-01").output
