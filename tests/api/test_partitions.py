"""Monthly partitions (issue 20 item 3): what users read of a month is right on both backends,
and on PostgreSQL the statements a request runs touch that month's partition only."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, event, func, select, text
from typer.testing import CliRunner

from tests.case_factories import LAT, LON, T0, person
from tests.conftest import scratch_pg
from wangge.audit.service import record
from wangge.cases.models import Patrol, PatrolPoint
from wangge.cli import app as cli
from wangge.common.localtime import SHANGHAI
from wangge.db import session_factory
from wangge.dbadmin import downgrade, upgrade
from wangge.ops import partition_convert
from wangge.ops import partitions as parts

AUDITOR = person(20, "auditor")


def _relations(plan: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(plan, dict):
        if "Relation Name" in plan:
            found.add(plan["Relation Name"])
        for value in plan.values():
            found |= _relations(value)
    elif isinstance(plan, list):
        for value in plan:
            found |= _relations(value)
    return found


@contextmanager
def scanned(conn: Connection, table: str, key: str) -> Iterator[set[str]]:
    """Collect the relations PostgreSQL plans to read for the statements on a period of
    `table` (`key` its partition column)."""
    statements: list[tuple[str, Any]] = []

    def keep(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        # the statements that read the table for a day or a period (`key = / >= ...`); a count of the
        # entries waiting for the sealer reads a tiny partial index of each partition
        if f"FROM {table}" in statement and re.search(rf"{table}\.{key} >?= ", statement):
            statements.append((statement, parameters))

    found: set[str] = set()
    event.listen(conn, "before_cursor_execute", keep)
    try:
        yield found
    finally:
        event.remove(conn, "before_cursor_execute", keep)
    assert statements, f"no statement read {table}"
    for statement, parameters in statements:
        plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).scalar()
        found |= _relations(plan)


def _postgres(session) -> bool:  # type: ignore[no-untyped-def]
    return session.connection().dialect.name == "postgresql"


def _months(session, first: date) -> None:  # type: ignore[no-untyped-def]
    """Give PostgreSQL partitions from `first` on (rows already stored move into them)."""
    if _postgres(session):
        parts.ensure(session.connection(), today=first)


def test_a_month_of_the_audit_log_is_read_from_its_partition_only(web, session):
    client, holder = web
    made = {
        month: record(
            session, actor="user3", actor_id=3, action="case.export",
            at=datetime(2026, month, 15, 10, 0, tzinfo=SHANGHAI),
        ).id
        for month in (10, 11, 12)
    }  # fmt: skip
    # the last instant of November in Beijing is still November
    edge = record(
        session, actor="user3", actor_id=3, action="case.export",
        at=datetime(2026, 11, 30, 23, 59, 59, tzinfo=SHANGHAI),
    ).id  # fmt: skip
    _months(session, date(2026, 10, 1))
    holder["who"] = AUDITOR
    query = {"from": "2026-11-01", "to": "2026-11-30", "actor": "user3"}
    if _postgres(session):
        with scanned(session.connection(), "audit_log", "at") as relations:
            page = client.get("/console/audit", params=query)
        assert relations == {"audit_log_p202611"}
    else:
        page = client.get("/console/audit", params=query)
    assert page.status_code == 200
    shown = {int(i) for i in re.findall(r'data-entry-id="(\d+)"', page.text)}
    assert shown == {made[11], edge}


def test_a_days_tracks_are_read_from_their_months_partition_only(patrol_api, session):
    client, _ = patrol_api
    pid = client.post("/api/v1/patrols", json={"lon": LON, "lat": LAT}).json()["id"]
    points = [
        {
            "lon": LON + 0.0001 * i,
            "lat": LAT,
            "at": (T0 + timedelta(minutes=60 + 10 * i)).isoformat(),
        }
        for i in range(1, 4)
    ]
    assert client.post(f"/api/v1/patrols/{pid}/points", json=points).json() == {"stored": 3}
    grid = session.scalar(select(PatrolPoint.grid_id).where(PatrolPoint.patrol_id == pid))
    _months(session, date(2026, 10, 1))
    day = T0.date().isoformat()
    if _postgres(session):
        with scanned(session.connection(), "patrol_points", "day") as relations:
            track = client.get(f"/api/v1/patrols/tracks/{grid}", params={"day": day})
        assert relations == {"patrol_points_p202611"}
        stored = session.scalar(text("SELECT count(*) FROM patrol_points_p202611"))
        assert stored == 4  # the start and its points left the default partition with their month
    else:
        track = client.get(f"/api/v1/patrols/tracks/{grid}", params={"day": day})
    line = track.json()["features"][0]["geometry"]["coordinates"]
    assert len(line) == 4  # the patrol's start and its three points, in time order
    assert [p[0] for p in line] == sorted(p[0] for p in line)


# -- PostgreSQL only: keeping partitions ahead, old rows, detaching, the migration ---------


def _count(conn: Connection, table: str) -> int:
    return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() or 0)


@pytest.mark.postgis
def test_the_coming_months_exist_and_rows_of_an_old_month_find_theirs(pg_session):
    conn = pg_session.connection()
    names = {p.name for p in parts.partitions(conn)}
    month = parts.month_start(parts.local_today())
    for table in ("audit_log", "patrol_points"):
        m = month
        for _ in range(parts.MONTHS_AHEAD + 1):
            assert parts.Partitioned(table, "x", False).name(m) in names
            m = parts.next_month(m)
    assert parts.ensure(conn) == []  # nothing to do twice
    # an imported track point of 2019 waits in the default partition, then gets its month
    patrol = Patrol(county_code="110108", worker_id="w1", day=date(2019, 5, 2),
                    started_at=datetime(2019, 5, 2, 1, 0, tzinfo=SHANGHAI))  # fmt: skip
    pg_session.add(patrol)
    pg_session.flush()
    pg_session.add(PatrolPoint(patrol_id=patrol.id, at=patrol.started_at, day=patrol.day,
                               lon=116.3, lat=39.9))  # fmt: skip
    pg_session.flush()
    assert _count(conn, "patrol_points_pdefault") == 1
    assert "patrol_points_p201905" in parts.ensure(conn)
    assert _count(conn, "patrol_points_p201905") == 1
    assert _count(conn, "patrol_points_pdefault") == 0
    total = pg_session.scalar(select(func.count()).select_from(PatrolPoint))
    # detaching keeps the rows in a plain table for the archive; the app no longer sees them
    assert parts.detach_before(conn, "patrol_points", date(2020, 1, 1)) == ["patrol_points_p201905"]
    assert pg_session.scalar(select(func.count()).select_from(PatrolPoint)) == total - 1
    assert _count(conn, "patrol_points_p201905") == 1
    with pytest.raises(ValueError, match="不是按月分区的表"):
        parts.detach_before(conn, "cases", date(2020, 1, 1))


@pytest.mark.postgis
def test_the_migration_keeps_rows_ids_and_keys_both_ways(worker_id):
    for engine in scratch_pg(worker_id, "parts"):
        upgrade(engine, "0028")
        factory = session_factory(engine)
        with factory.begin() as s:
            for i in range(3):
                record(
                    s, actor="u", action="case.view", at=datetime(2025, 3 + i, 1, tzinfo=SHANGHAI)
                )
        upgrade(engine)
        with engine.begin() as conn:
            assert parts.is_partitioned(conn, "audit_log")
            assert {"audit_log_p202503", "audit_log_p202505"} <= {
                p.name for p in parts.partitions(conn)
            }
            assert _count(conn, "audit_log_pdefault") == 0
        with factory.begin() as s:
            new = record(s, actor="u", action="case.view")
            assert new.id == 4  # the id sequence carried on
        downgrade(engine, "0028")
        with engine.begin() as conn:
            assert not parts.is_partitioned(conn, "audit_log")
            assert _count(conn, "audit_log") == 4
            assert conn.execute(
                text("SELECT count(*) FROM pg_indexes WHERE indexname = 'uq_audit_log_chain_pos'"
                     " AND indexdef LIKE '%(chain_pos)'")
            ).scalar() == 1  # fmt: skip


@pytest.mark.postgis
def test_the_partitions_command_lists_and_creates_them(pg_engine, tmp_path):
    url = pg_engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(cli, ["db", "partitions", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert f"audit_log_p{parts.local_today():%Y%m}" in result.output
    bad = CliRunner().invoke(
        cli, ["db", "detach-partitions", "--table", "audit_log", "--before", "2025/01",
              "--database-url", url],
    )  # fmt: skip
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output
    lite = CliRunner().invoke(
        cli, ["db", "partitions", "--database-url", f"sqlite:///{tmp_path / 'x.db'}"]
    )
    assert lite.exit_code == 0 and "不分区" in lite.output


def test_months_roll_over_the_year() -> None:
    assert parts.next_month(date(2026, 12, 1)) == date(2027, 1, 1)
    assert parts.next_month(date(2027, 1, 1)) == date(2027, 2, 1)
    spec = parts.Partitioned("audit_log", "at", timestamp=True)
    assert spec.bound(date(2027, 1, 1)) == "'2027-01-01 00:00:00+08'"
    made: Callable[[str], str] = lambda sql: partition_convert._with_key(sql, "at", add=True)  # noqa: E731
    assert made("CREATE UNIQUE INDEX u ON public.audit_log USING btree (chain_pos)").endswith(
        "(chain_pos, at)"
    )
    assert made("CREATE INDEX i ON public.audit_log USING btree (action)").endswith("(action)")


@pytest.mark.postgis
def test_archiving_audit_months_keeps_the_chain_verifiable_from_its_anchor(worker_id, tmp_path):
    key = "a-secret-the-database-never-sees"
    for engine in scratch_pg(worker_id, "archive"):
        upgrade(engine)
        with session_factory(engine, audit_key=key).begin() as s:
            for month in (3, 4, 5):
                for day in (1, 2):
                    at = datetime(2025, month, day, 9, tzinfo=SHANGHAI)
                    record(s, actor="u", action="case.view", at=at)
        url = engine.url.render_as_string(hide_password=False)

        def cli_(*args: str, url: str = url):  # type: ignore[no-untyped-def]
            return CliRunner().invoke(
                cli, [*args, "--database-url", url], env={"WANGGE_AUDIT_KEY": key}
            )

        refused = cli_("db", "detach-partitions", "--table", "audit_log", "--before", "2025-05")
        assert refused.exit_code == 2 and "wangge audit archive" in refused.output
        anchors = tmp_path / "anchors.jsonl"
        done = cli_("audit", "archive", "--before", "2025-05", "--checkpoint-out", str(anchors))
        assert done.exit_code == 0, done.output
        assert "audit_log_p202503" in done.output and "audit_log_p202504" in done.output
        with engine.connect() as conn:
            left = conn.execute(text("SELECT count(*) FROM audit_log WHERE at < '2025-06-01'"))
            assert left.scalar() == 2  # May is still online, March and April are not
            assert _count(conn, "audit_log_p202503") == 2  # the archive, out of the log
        # without the anchor the chain looks cut at its start; with it, it is intact
        assert cli_("audit", "verify").exit_code == 1
        verified = cli_("audit", "verify", "--checkpoints", str(anchors))
        assert verified.exit_code == 0, verified.output
        # an altered entry that stayed online is still found
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET actor = 'x' WHERE at >= '2025-05-02'"))
        assert cli_("audit", "verify", "--checkpoints", str(anchors)).exit_code == 1
