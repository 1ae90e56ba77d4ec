"""The rollup SQL runs unchanged in DuckDB (the benchmark's reference engine): rollups built
by `rollups.contribution_sql` and read by `rollups.days_sql` give the pure recomputation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.evaluation_factories import generated_rows
from tests.unit.test_evaluation_duckdb import _connect, _run
from wangge.evaluation import facts, rollups, sql
from wangge.evaluation.facts import OpenClock
from wangge.evaluation.periods import parse_period
from wangge.evaluation.rollup_models import COUNT_COLUMNS

duckdb = pytest.importorskip("duckdb")


@pytest.fixture(scope="module")
def built():  # type: ignore[no-untyped-def]
    rows = generated_rows(grid="7")
    con = _connect(rows)
    days = rollups.contribution_sql("duckdb", "1 = 1")
    con.execute(
        "CREATE TABLE evaluation_rollups AS SELECT county_code, 'd' AS span, day, eff_day, "
        f"object_type, key, {', '.join(COUNT_COLUMNS)} FROM ({days})"
    )
    con.execute("INSERT INTO evaluation_rollups " + rollups.month_sql("duckdb"))
    return rows, con


@pytest.mark.parametrize(
    "label", ["2026-10", "2026-11", "2026-12", "2026-11-15..2026-11-20", "2026-10-20..2026-12-05"]
)
def test_duckdb_rollups_equal_the_pure_recomputation(built, label):  # type: ignore[no-untyped-def]
    rows, con = built
    p = parse_period(label)
    last = p.last + timedelta(days=1)
    m0, m1 = rollups.month_bounds(p.first, last)
    params = {"p_first": p.first, "p_last": last, "p_m0": m0, "p_m1": m1, "p_county": "110108",
              "p_start": p.start, "p_end": p.end}  # fmt: skip
    got = rollups.as_counts(_run(con, rollups.days_sql(county=True), params))
    clocks = [
        OpenClock(int(c), int(e), k_part, bool(k), r, g, m)
        for c, e, k_part, k, r, g, m in _run(
            con, sql.open_sql("duckdb", county=True, stored=True), params
        )
    ]
    want = facts.as_counts(facts.count(rows, p.start, p.end))
    assert facts.add_open(got, clocks) == want
    assert sum(c["to_handle"] for c in want["department"].values()) > 0
