"""`wangge check`: a consistent database passes; each kind of damage is found and named."""

from __future__ import annotations

import pytest
from sqlalchemy import text, update

from tests.case_factories import T0, build_world, report, to_dispatched
from tests.factories import X0, Y0
from wangge.cases.models import Case
from wangge.ops.integrity import check_database


@pytest.fixture
def world(session):
    build_world(session)
    first = to_dispatched(session, report(session))
    second = report(session, at=T0)
    session.flush()
    return session, first, second


def _checks(report):
    return {p.check for p in report.problems}


def test_a_consistent_database_passes_every_check(world):
    session, _, _ = world
    result = check_database(session)
    assert result.ok, result.problems
    assert result.counts["case_events"] >= 4 and result.counts["located:cases"] >= 2


def test_a_state_that_differs_from_the_last_event_is_reported(world):
    session, first, _ = world
    session.execute(update(Case).where(Case.id == first.id).values(state="closed"))
    result = check_database(session, only=["case_events"])
    assert _checks(result) == {"case_state"}
    assert any(f"case {first.id} is closed" in p.en for p in result.problems)
    assert all(p.zh for p in result.problems)


def test_a_case_whose_history_lost_its_report_event_is_reported(world):
    session, first, _ = world
    session.execute(
        text(
            "DELETE FROM case_events WHERE id = "
            "(SELECT min(id) FROM case_events WHERE case_id = :c)"
        ),
        {"c": first.id},
    )
    result = check_database(session, only=["case_events"])
    assert any("not report" in p.en and f"case {first.id} " in p.en for p in result.problems)


def test_a_case_without_any_event_is_reported(world):
    session, _, second = world
    session.execute(text("DELETE FROM case_events WHERE case_id = :c"), {"c": second.id})
    result = check_database(session, only=["case_events"])
    assert [p.ref for p in result.problems] == [f"case:{second.id}"]


def test_a_case_moved_out_of_its_grid_is_reported(world):
    session, first, _ = world
    session.execute(update(Case).where(Case.id == first.id).values(lon=X0 - 1.0, lat=Y0 - 1.0))
    result = check_database(session, only=["locations"])
    assert [p.ref for p in result.problems] == [f"cases:{first.id}"]


def test_a_point_on_the_edge_of_its_grid_is_inside(world):
    session, first, _ = world
    # The quarters meet at X0 + DX/2; the west quarter owns the case, the edge is shared.
    session.execute(update(Case).where(Case.id == first.id).values(lon=X0 + 0.005))
    result = check_database(session, only=["locations"])
    assert result.ok, result.problems


def test_an_altered_audit_entry_breaks_the_chain(world):
    session, _, _ = world
    session.execute(
        text("UPDATE audit_log SET reason = 'tampered' WHERE id = (SELECT max(id) FROM audit_log)")
    )
    result = check_database(session, only=["audit"])
    assert _checks(result) == {"audit"}
    assert "altered" in result.problems[0].en


@pytest.mark.postgis
def test_duplicate_case_and_grid_codes_are_reported_when_the_constraints_are_gone(pg_session):
    # The unique constraints normally make this impossible; a restore into a hand-made schema
    # or a botched migration could lose them, which is what the check is for.
    session = pg_session
    build_world(session)
    first = report(session)
    second = report(session)
    session.execute(text("ALTER TABLE cases DROP CONSTRAINT uq_cases_code"))
    session.execute(text("ALTER TABLE grids DROP CONSTRAINT uq_grids_version_id_code"))
    session.execute(update(Case).where(Case.id == second.id).values(code=first.code))
    session.execute(
        text(
            "UPDATE grids SET code = (SELECT min(code) FROM grids) "
            "WHERE id = (SELECT max(id) FROM grids)"
        )
    )
    result = check_database(session, only=["codes"])
    refs = sorted(p.ref for p in result.problems)
    assert refs == ["cases", "grids"]
    assert any(first.code in p.en and "2 times" in p.en for p in result.problems)


def test_the_check_command_exits_non_zero_and_lists_problems_in_both_languages(tmp_path):
    from typer.testing import CliRunner

    from tests.ops_support import seed_world
    from wangge.cli import app
    from wangge.db import make_engine

    url = f"sqlite:///{tmp_path / 'check.db'}"
    seed_world(url, cases=2)
    runner = CliRunner()
    assert runner.invoke(app, ["check", "--database-url", url]).exit_code == 0
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE cases SET state = 'closed' WHERE id = 1"))
    engine.dispose()
    result = runner.invoke(app, ["check", "--database-url", url])
    assert result.exit_code == 1
    assert "状态为 closed" in result.output and "case 1 is closed" in result.output
