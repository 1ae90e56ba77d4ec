"""The evaluation SQL runs unchanged in DuckDB (the benchmark's reference engine)."""

from __future__ import annotations

import json
import re

import pytest

from tests.evaluation_factories import SCENARIO, T, scenario_rows
from wangge.evaluation import facts, sql
from wangge.evaluation.indicators import EvalConfig
from wangge.evaluation.periods import parse_period

duckdb = pytest.importorskip("duckdb")


def test_duckdb_gives_the_same_counts_as_the_pure_recomputation():
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE TABLE case_events (id INTEGER, case_id INTEGER, county_code VARCHAR, "
        'action VARCHAR, actor_id VARCHAR, role VARCHAR, "at" TIMESTAMPTZ, from_state VARCHAR, '
        "part VARCHAR, payload VARCHAR)"
    )
    con.execute(
        "CREATE TABLE cases (id INTEGER, source VARCHAR, grid_id BIGINT, unit_grid_id BIGINT, "
        "reported_at TIMESTAMPTZ, "
        "community_code VARCHAR)"
    )
    rows = scenario_rows(grid="7")
    for r in rows:
        payload = {k: v for k, v in (("hours", r.hours), ("rating", r.rating)) if v is not None}
        con.execute(
            "INSERT INTO case_events VALUES (?, ?, '110108', ?, ?, ?, ?, ?, ?, ?)",
            [r.id, r.case_id, r.action, r.actor_id, r.role, r.at, r.from_state, r.part,
             json.dumps(payload)],
        )  # fmt: skip
    for n, (source, _) in SCENARIO.items():
        con.execute("INSERT INTO cases VALUES (?, ?, 7, NULL, ?, '110108001001')", [n, source, T])
    nov = parse_period("2026-11")
    query, names = sql.count_sql("duckdb", EvalConfig(), county=True)
    query = re.sub(r":(\w+)", r"$p_\1", query)
    params = {"p_start": nov.start, "p_end": nov.end, "p_start_epoch": nov.start.timestamp(),
              "p_county": "110108"}  # fmt: skip
    got: dict = {g: {} for g in names}
    for row in con.execute(query, params).fetchall():
        got[row[0]][str(row[1])] = dict(zip(names[row[0]], (int(x) for x in row[2:]), strict=False))
    assert got == facts.as_counts(facts.count(rows, nov.start, nov.end))
    assert got["department"] and T.year == 2026
