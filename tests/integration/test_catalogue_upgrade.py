"""The standard catalogue as versioned data: a newer release upgrades what the district left alone.

On SQLite and PostgreSQL: fields the district changed (name, limits, admission) survive an
upgrade, a field it did not change takes the release's value, new classes are added, and a
local X category is never touched, even when a release happens to carry its code.
"""

from __future__ import annotations

from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.case_factories import build_world, person
from wangge.cases.categories import create_category, update_category
from wangge.cases.models import Category
from wangge.cases.standard import CATALOGUE_RELEASE, default_categories, upgrade_catalogue
from wangge.cli import app

ADMIN = person(99, "admin")
NEWER = "2027.06"


def _newer_release() -> list[Category]:
    """The current release with changes on E0102/E0103, a new class, and a stray X0101.

    E0102 stays admitted (准入) in the release: the district took it off its list, and keeps
    it off.
    """
    rows = {c.code: c for c in default_categories()}
    e0102, e0103 = rows["E0102"], rows["E0103"]
    e0102.name = "暴露垃圾（新版）"
    e0102.closing_condition = "垃圾已清运，现场照片佐证"
    e0102.limits = {"handle": {"A": 6.0, "B": 12.0, "C": 20.0}}
    e0103.filing_condition = "新版立案条件"
    new = Category(
        code="E0120", kind="event", name="新增事件", major_code="E01", major_name="市容环境",
        limits={"handle": {"A": 8.0, "B": 16.0, "C": 24.0}}, default_department="CGW",
    )  # fmt: skip
    stray = Category(code="X0101", kind="event", name="版本里的同号类别", major_code="X01",
                     major_name="不该出现", limits={})  # fmt: skip
    return [*rows.values(), new, stray]


def test_a_newer_release_keeps_local_edits_and_updates_the_rest(session):
    build_world(session)
    assert session.get(Category, "E0102").release == CATALOGUE_RELEASE
    local_limits = {"handle": {"A": 3.0, "B": 5.0, "C": 7.0}}
    update_category(
        session,
        "E0102",
        {"name": "暴露垃圾（本区）", "limits": local_limits, "admitted_to_grid": False},
        principal=ADMIN,
    )
    create_category(
        session,
        {"code": "X0101", "kind": "event", "name": "共享单车乱停放", "major_name": "街面秩序"},
        principal=ADMIN,
    )
    before = session.scalar(select(func.count()).select_from(Category))

    preview = upgrade_catalogue(session, release=NEWER, rows=_newer_release(), dry_run=True)
    assert preview.added == ["E0120"]
    assert session.scalar(select(func.count()).select_from(Category)) == before
    assert session.get(Category, "E0102").release == CATALOGUE_RELEASE

    report = upgrade_catalogue(session, release=NEWER, rows=_newer_release(), principal=ADMIN)
    assert report.added == ["E0120"] and report.local == 1
    assert report.updated == {"E0102": ["closing_condition"], "E0103": ["filing_condition"]}
    assert report.kept == {"E0102": ["name", "limits", "admitted_to_grid"]}
    session.expire_all()
    e0102 = session.get(Category, "E0102")
    assert (e0102.name, e0102.limits, e0102.admitted_to_grid) == (
        "暴露垃圾（本区）",
        local_limits,
        False,
    )
    assert e0102.closing_condition == "垃圾已清运，现场照片佐证" and e0102.release == NEWER
    assert session.get(Category, "E0103").filing_condition == "新版立案条件"
    assert session.get(Category, "E0120").origin == "standard"
    x = session.get(Category, "X0101")
    assert (x.name, x.major_name, x.origin, x.release) == (
        "共享单车乱停放",
        "街面秩序",
        "local",
        None,
    )
    assert "新增 1" in report.summary_zh() and "1 added" in report.summary_en()

    again = upgrade_catalogue(session, release=NEWER, rows=_newer_release())
    assert not again.changed and again.kept == {}
    older = upgrade_catalogue(session)  # an older program never downgrades
    assert not older.changed and "E0102" in older.newer


def test_rows_from_before_releases_keep_what_differs_from_the_release(session):
    build_world(session)
    row = session.get(Category, "E0102")
    # As seeded and edited by a version without releases: no release, no `edited` marks.
    row.release, row.edited, row.name, row.business_line = None, [], "本区改过的名字", None
    session.flush()
    report = upgrade_catalogue(session)
    assert report.kept == {"E0102": ["name"]} and report.updated == {"E0102": ["business_line"]}
    session.expire_all()
    row = session.get(Category, "E0102")
    assert (
        row.name == "本区改过的名字" and row.edited == ["name"] and row.release == CATALOGUE_RELEASE
    )


def test_the_catalogue_upgrade_command_reports_in_both_languages(tmp_path):
    db = f"sqlite:///{tmp_path / 'cat.db'}"
    runner = CliRunner()
    first = runner.invoke(app, ["catalogue", "upgrade", "--database-url", db])
    assert first.exit_code == 0, first.output
    assert f"标准目录版本 {CATALOGUE_RELEASE}：新增 {len(default_categories())} 类" in first.output
    assert f"release {CATALOGUE_RELEASE}: {len(default_categories())} added" in first.output
    again = runner.invoke(app, ["catalogue", "upgrade", "--dry-run", "--database-url", db])
    assert "新增 0 类" in again.output and "(dry run, nothing saved)" in again.output
