"""The evaluation SQL runs unchanged in DuckDB (the benchmark's reference engine)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from tests.evaluation_factories import (
    SCENARIO,
    T,
    generated_rows,
    payload_of,
    scenario_rows,
)
from wangge.evaluation import facts, sql, stored
from wangge.evaluation.facts import OpenClock
from wangge.evaluation.indicators import EvalConfig
from wangge.evaluation.periods import parse_period

duckdb = pytest.importorskip("duckdb")


def _connect(rows: list[facts.EventRow]):  # type: ignore[no-untyped-def]
    """Return a DuckDB connection holding the rows' events, cases and stored facts."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE TABLE case_events (id INTEGER, case_id INTEGER, county_code VARCHAR, "
        'action VARCHAR, actor_id VARCHAR, role VARCHAR, "at" TIMESTAMPTZ, from_state VARCHAR, '
        "to_state VARCHAR, part VARCHAR, payload VARCHAR, deadline TIMESTAMPTZ, "
        "part_deadline TIMESTAMPTZ)"
    )
    con.execute(
        "CREATE TABLE cases (id INTEGER, source VARCHAR, grid_id BIGINT, unit_grid_id BIGINT, "
        "reported_at TIMESTAMPTZ, community_code VARCHAR, state VARCHAR, closed_at TIMESTAMPTZ)"
    )
    for r in rows:
        con.execute(
            "INSERT INTO case_events VALUES (?, ?, '110108', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [r.id, r.case_id, r.action, r.actor_id, r.role, r.at, r.from_state, r.to_state,
             r.part, json.dumps(payload_of(r)), r.deadline, r.part_deadline],
        )  # fmt: skip
    cases: dict[int, list[facts.EventRow]] = {}
    for r in rows:
        cases.setdefault(r.case_id, []).append(r)
    for cid, events in cases.items():
        last = events[-1]
        closed = next((e.at for e in events if e.action == "close"), None)
        con.execute(
            "INSERT INTO cases VALUES (?, ?, 7, NULL, ?, '110108001001', ?, ?)",
            [cid, events[0].source, events[0].at, last.to_state, closed],
        )
    # the stored facts, as the case service keeps them
    fact_rows = [
        {**f, "county_code": "110108"} for f in facts.stored_facts(rows, stored.DEFAULT_CFG)
    ]
    clock_rows = [r for e in cases.values() for r in stored.clock_rows(e, "110108")]
    for table, columns, values in (
        ("case_event_facts", stored.COLUMNS, fact_rows),
        ("case_clock_facts", stored.CLOCK_COLUMNS, clock_rows),
    ):
        types = ", ".join(f'"{c}" {_type(c)}' for c in columns)
        con.execute(f"CREATE TABLE {table} ({types})")
        marks = ", ".join("?" for _ in columns)
        for v in values:
            con.execute(f"INSERT INTO {table} VALUES ({marks})", [v[c] for c in columns])
    return con


def _type(column: str) -> str:
    if column in ("at", "deadline", "due_at") or column.endswith("_at"):
        return "TIMESTAMPTZ"
    if column in ("seg_first", "seg_rework"):
        return "BOOLEAN"
    if column in ("gap",):
        return "DOUBLE"
    return "INTEGER" if column in ("event_id", "case_id") else "VARCHAR"


def _duck_count(con, start, end, *, stored_facts: bool) -> dict:  # type: ignore[no-untyped-def]
    query, names = sql.count_sql("duckdb", EvalConfig(), county=True, stored=stored_facts)
    params = {"p_start": start, "p_end": end, "p_county": "110108"}
    got: dict = {g: {} for g in names}
    for row in _run(con, query, params):
        got[row[0]][str(row[1])] = dict(zip(names[row[0]], (int(x) for x in row[2:]), strict=False))
    clocks = [
        OpenClock(int(c), int(e), p, bool(k), r, g, m)
        for c, e, p, k, r, g, m in _run(
            con, sql.open_sql("duckdb", county=True, stored=stored_facts), params
        )
    ]
    return facts.add_open(got, clocks)


def _run(con, query: str, params: dict) -> list:  # type: ignore[no-untyped-def]
    query = re.sub(r":(\w+)", r"$p_\1", query)
    return con.execute(query, {k: v for k, v in params.items() if f"${k}" in query}).fetchall()


def test_duckdb_gives_the_same_counts_as_the_pure_recomputation():
    rows = scenario_rows(grid="7")
    con = _connect(rows)
    nov = parse_period("2026-11")
    want = facts.as_counts(facts.count(rows, nov.start, nov.end))
    assert _duck_count(con, nov.start, nov.end, stored_facts=False) == want
    assert _duck_count(con, nov.start, nov.end, stored_facts=True) == want
    assert want["department"] and T.year == 2026 and len(SCENARIO) == 4


@pytest.fixture(scope="module")
def generated():  # type: ignore[no-untyped-def]
    rows = generated_rows(grid="7")
    return rows, _connect(rows)


@pytest.mark.parametrize("label", ["2026-10", "2026-11", "2026-12", "2026-11-15..2026-11-20"])
def test_duckdb_equals_the_pure_recomputation_on_generated_histories_with_open_clocks(
    generated, label
):
    rows, con = generated
    p = parse_period(label)
    want = facts.as_counts(facts.count(rows, p.start, p.end))
    assert _duck_count(con, p.start, p.end, stored_facts=False) == want
    assert _duck_count(con, p.start, p.end, stored_facts=True) == want
    if label == "2026-11":  # the generated month has every kind of open clock
        deps = want["department"].values()
        assert sum(d["overdue_open"] for d in deps) > 3
        assert 0 < sum(d["overdue_carried"] for d in deps) < sum(d["overdue_open"] for d in deps)
        assert want["grid"]["7"]["overdue_cases"] > 3
        assert sum(w.get("overdue_reports", 0) for w in want["supervisor"].values()) > 3
    assert p.end - p.start >= timedelta(days=5)
