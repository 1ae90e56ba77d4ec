"""Migration 0030 (monthly partitions of case events and facts) on a large event log.

    .venv/bin/python bench/bench_event_partitions.py --events 1000000 \\
        --admin-url postgresql://postgres@127.0.0.1:5432/postgres

Creates the database `wangge_bench_events` (dropped at the end), migrates it to 0029, stores
the evaluation scenario's four cases, N / 10 copies of one of them and N more events (10 a
case, consecutive) spread over 24 months with one fact each (and a clock fact for one event
in 20), then times the upgrade to 0030 and the downgrade, and EXPLAIN ANALYZEs (warm, the
last of 5 runs) a month's GROUP BY over the facts, a case's events (by its id alone, and
since its report as the application reads them) and a fact by its event id (alone, and with
its time), partitioned and plain.
"""

from __future__ import annotations

import argparse
import time

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.engine import make_url
from tests.case_factories import build_world
from tests.evaluation_factories import store_scenario

from wangge.db import make_engine, session_factory
from wangge.dbadmin import downgrade, upgrade
from wangge.wiring import wire

NAME = "wangge_bench_events"
EVENTS_PER_CASE = 10  # consecutive events of the log belong to one case (~10 a case)
# {case}, {since}, {at}: the case of event 500000, its first event's time, that event's time
QUERIES = {
    "a month's facts by action": "SELECT action, count(*) FROM case_event_facts x "
    "WHERE x.at >= '2025-11-01 00:00+08' AND x.at < '2025-12-01 00:00+08' GROUP BY action",
    "a case's events": "SELECT * FROM case_events WHERE case_id = {case} ORDER BY id",
    # as the application reads a case since stop 31 (`cases.models.events_of`)
    "a case's events since its report": "SELECT * FROM case_events WHERE case_id = {case} "
    "AND at >= '{since}' ORDER BY id",
    "a fact by event id": "SELECT * FROM case_event_facts WHERE event_id = 500000",
    # as a report's rollup delta reads its fact (`rollups.add_event`)
    "a fact by event id and time": "SELECT * FROM case_event_facts WHERE event_id = 500000 "
    "AND at = '{at}'",
}


def _fill(engine: Engine, n: int) -> None:
    with session_factory(engine).begin() as s:
        build_world(s)
        store_scenario(s, None)
    with engine.begin() as c:
        # n / EVENTS_PER_CASE copies of the scenario's first case (other codes), so the by-case
        # reads are measured on cases of realistic length
        skip = {"id", "code", "idempotency_key"}
        cols = [col["name"] for col in inspect(c).get_columns("cases") if col["name"] not in skip]
        names = ", ".join(cols)
        first = c.execute(text("SELECT max(id) + 1 FROM cases")).scalar_one()
        c.execute(
            text(
                f"INSERT INTO cases ({names}, code) SELECT {names}, 'BENCH-' || g "
                "FROM cases, generate_series(1, :k) g WHERE cases.id = (SELECT min(id) FROM cases)"
            ),
            {"k": n // EVENTS_PER_CASE + 1},
        )
        c.execute(
            text(
                "INSERT INTO case_events (case_id, county_code, action, actor_id, role, at, "
                "to_state, attachments, payload) SELECT :first + i / :per, '110108', 'urge', "
                "'x', 'leader', timestamptz '2025-01-01 00:00+08' + i * (interval '24 months' / :n),"
                " 'x', '[]', '{}' FROM generate_series(1, :n) i"
            ),
            {"n": n, "first": first, "per": EVENTS_PER_CASE},
        )
        c.execute(
            text(
                "INSERT INTO case_event_facts (event_id, case_id, county_code, at, action, "
                "actor_id, role, source, seg_first, seg_rework) SELECT id, case_id, county_code,"
                " at, action, actor_id, role, 'patrol', false, false FROM case_events "
                "WHERE id NOT IN (SELECT event_id FROM case_event_facts)"
            )
        )
        c.execute(
            text(
                "INSERT INTO case_clock_facts (event_id, case_id, county_code, at, deadline) "
                "SELECT id, case_id, county_code, at, at FROM case_events WHERE id % 20 = 0"
            )
        )
        c.execute(text("ANALYZE"))


def _explain(conn: Connection, label: str) -> None:
    # literals, as the application binds them (plan-time pruning)
    case, at = conn.execute(text("SELECT case_id, at FROM case_events WHERE id = 500000")).one()
    since = conn.execute(text("SELECT min(at) FROM case_events WHERE case_id = :c"), {"c": case})
    values = {"{case}": str(case), "{since}": str(since.scalar_one()), "{at}": str(at)}
    for what, query in QUERIES.items():
        for name, value in values.items():
            query = query.replace(name, value)
        for _ in range(5):
            plan = conn.execute(text("EXPLAIN (ANALYZE, SUMMARY) " + query)).scalars().all()
        print(f"{label:12} {what:34} {plan[-2].strip()}, {plan[-1].strip()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    wire()
    admin = make_engine(args.admin_url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)"))
        c.execute(text(f"CREATE DATABASE {NAME}"))
    engine = make_engine(
        make_url(args.admin_url).set(database=NAME).render_as_string(hide_password=False)
    )
    try:
        with engine.begin() as c:
            c.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        upgrade(engine, "0029")
        _fill(engine, args.events)
        with engine.connect() as c:
            rows = [
                c.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                for t in ("case_events", "case_event_facts", "case_clock_facts")
            ]
        print("events, facts, clock facts:", rows)
        t = time.perf_counter()
        upgrade(engine, "0030")
        print(f"upgrade 0029 -> 0030: {time.perf_counter() - t:.1f} s")
        with engine.connect() as c:
            _explain(c, "partitioned")
        t = time.perf_counter()
        downgrade(engine, "0029")
        print(f"downgrade 0030 -> 0029: {time.perf_counter() - t:.1f} s")
        with engine.connect() as c:
            _explain(c, "plain")
    finally:
        engine.dispose()
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)"))
        admin.dispose()


if __name__ == "__main__":
    main()
