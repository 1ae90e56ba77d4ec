"""Monthly partitions (issue 20 item 3): what users read of a month is right on both backends,
and on PostgreSQL the statements a request runs touch that month's partition only."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, func, select, text, update
from typer.testing import CliRunner

from tests.case_factories import ACCEPTOR, LAT, LEADER, LON, T0, build_world, person
from tests.conftest import scratch_pg
from tests.evaluation_factories import D1, store_scenario
from wangge.audit.service import record
from wangge.cases.models import Case, CaseEvent, Patrol, PatrolPoint, events_of
from wangge.cases.views import get_now as case_now
from wangge.cli import app as cli
from wangge.common.localtime import SHANGHAI
from wangge.db import make_engine, session_factory
from wangge.dbadmin import downgrade, upgrade
from wangge.evaluation import rollups, stored
from wangge.evaluation.models import CaseClockFact, CaseEventFact
from wangge.evaluation.views import get_now
from wangge.grids.models import Grid
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


def _plans(conn: Connection, statements: list[tuple[str, Any]]) -> list[set[str]]:
    return [
        _relations(conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {s}", p).scalar())
        for s, p in statements
    ]


@contextmanager
def reading(conn: Connection, *tables: str) -> Iterator[list[tuple[str, Any]]]:
    """Collect the statements run meanwhile that read any of `tables`."""
    statements: list[tuple[str, Any]] = []

    def keep(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if any(f"FROM {t}" in statement for t in tables):
            statements.append((statement, parameters))

    event.listen(conn, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        event.remove(conn, "before_cursor_execute", keep)


def _scenario(session) -> dict[int, int]:  # type: ignore[no-untyped-def]
    """The evaluation scenario of November 2026 (tests.evaluation_factories), with case 2's
    stage clock recorded as overdue from its first event on, so it has clock facts too."""
    grid = session.scalars(select(Grid.id).order_by(Grid.id)).first()
    ids = store_scenario(session, grid)
    session.execute(
        update(CaseEvent).where(CaseEvent.case_id == ids[2]).values(deadline=CaseEvent.at)
    )
    stored.refresh_case(session, session.get(Case, ids[2]))
    session.flush()
    assert session.scalar(select(func.count()).select_from(CaseClockFact)) > 0
    return ids


def test_a_months_evaluation_reads_the_facts_of_its_month_and_never_later_ones(web, session):
    """The figures behind a month's indicator (the drill-down) are read from that month's
    partition of `case_event_facts` only. The month's page itself reads its counts from the
    per-day rollups; what it still reads of the facts legitimately reaches back before the
    month, never after it: the grid workers who worked on a case rated in the month (at any
    time before its end), and the clocks still running at its end (`case_clock_facts`, a
    plain table: started in any month). A case's own reads are bounded by its report (see
    the next test)."""
    client, holder = web
    ids = _scenario(session)
    _months(session, date(2026, 9, 1))
    client.app.dependency_overrides[get_now] = lambda: T0 + timedelta(days=30)
    holder["who"] = LEADER
    drill = {"object_type": "dispatcher", "key": "disp1", "indicator": "dispatch_accurate_rate"}
    conn = session.connection()
    with reading(conn, "case_event_facts", "case_events") as drilled:
        r = client.get("/api/v1/evaluation/periods/2026-11/drill", params=drill)
    assert r.status_code == 200, r.text
    assert sorted(c["id"] for c in r.json()["denominator"]["cases"]) == [ids[1], ids[2], ids[3]]
    with reading(conn, "case_event_facts", "case_events") as paged:
        page = client.get("/api/v1/evaluation/periods/2026-11")
    assert page.status_code == 200
    d1 = next(x for x in page.json()["objects"]["department"] if x["key"] == D1)
    assert d1["score"] == 85.0  # the month's figures, as without partitions
    if _postgres(session):
        assert drilled and all(p == {"case_event_facts_p202611"} for p in _plans(conn, drilled))
        read = set().union(*_plans(conn, paged))
        assert "case_event_facts_p202611" in read
        assert not read & {"case_event_facts_p202612", "case_event_facts_p202701"}


def test_a_case_and_its_next_step_read_the_months_since_its_report_only(patrol_api, session):
    """A case is read by its id — its page, and every workflow step that brings its facts and
    rollups in step — with its report's time as a bound (`cases.models.events_of`): on
    PostgreSQL the months before the report are never read (unbounded, each read probed every
    month's partition: 28 months, ~1 ms instead of 0.06)."""
    client, holder = patrol_api
    _months(session, date(2026, 9, 1))
    body = {"category_code": "E0102", "description": "暴露垃圾", "lon": LON, "lat": LAT}
    r = client.post("/api/v1/cases", json=body)
    assert r.status_code == 201, r.text
    case_id = r.json()["id"]
    conn = session.connection()
    holder["who"] = ACCEPTOR
    with reading(conn, "case_events", "case_event_facts") as stepped:
        r = client.post(f"/api/v1/cases/{case_id}/actions/accept", json={"expected_version": 1})
    assert r.status_code == 200, r.text
    with reading(conn, "case_events", "case_event_facts") as shown:
        detail = client.get(f"/api/v1/cases/{case_id}")
    assert [e["action"] for e in detail.json()["timeline"]] == ["report", "accept"]
    if _postgres(session):
        read = set().union(*_plans(conn, [*stepped, *shown]))
        assert {"case_events_p202611", "case_event_facts_p202611"} <= read
        before = {
            f"{t}_p2026{m}" for t in ("case_events", "case_event_facts") for m in ("09", "10")
        }
        assert not read & before, read


def test_a_step_taken_on_a_server_whose_clock_is_behind_is_still_on_the_case(patrol_api):
    """Reads of a case start at its report: a step stamped before it (another server's clock
    two seconds behind) is stored at the report's time, not hidden from the case page."""
    client, holder = patrol_api
    body = {"category_code": "E0102", "description": "暴露垃圾", "lon": LON, "lat": LAT}
    r = client.post("/api/v1/cases", json=body)
    assert r.status_code == 201, r.text
    case_id = r.json()["id"]
    holder["who"] = ACCEPTOR
    client.app.dependency_overrides[case_now] = lambda: T0 + timedelta(hours=1, seconds=-2)
    r = client.post(f"/api/v1/cases/{case_id}/actions/accept", json={"expected_version": 1})
    assert r.status_code == 200, r.text
    timeline = client.get(f"/api/v1/cases/{case_id}").json()["timeline"]
    assert [e["action"] for e in timeline] == ["report", "accept"]
    assert timeline[1]["at"] == timeline[0]["at"]


# -- PostgreSQL only: keeping partitions ahead, old rows, detaching, the migration ---------


def _count(conn: Connection, table: str) -> int:
    return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() or 0)


@pytest.mark.postgis
def _track_point_of_may_2019(session) -> None:  # type: ignore[no-untyped-def]
    """An imported track point of a month that has no partition (it waits in the default)."""
    patrol = Patrol(county_code="110108", worker_id="w1", day=date(2019, 5, 2),
                    started_at=datetime(2019, 5, 2, 1, 0, tzinfo=SHANGHAI))  # fmt: skip
    session.add(patrol)
    session.flush()
    session.add(PatrolPoint(patrol_id=patrol.id, at=patrol.started_at, day=patrol.day,
                            lon=116.3, lat=39.9))  # fmt: skip
    session.flush()


def test_the_coming_months_exist_and_rows_of_an_old_month_find_theirs(pg_session):
    conn = pg_session.connection()
    names = {p.name for p in parts.partitions(conn)}
    month = parts.month_start(parts.local_today())
    for table in ("audit_log", "patrol_points", "case_events", "case_event_facts"):
        m = month
        for _ in range(parts.MONTHS_AHEAD + 1):
            assert parts.Partitioned(table, "x", False).name(m) in names
            m = parts.next_month(m)
    assert parts.ensure(conn) == []  # nothing to do twice
    # an imported track point of 2019 waits in the default partition, then gets its month
    _track_point_of_may_2019(pg_session)
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


def test_the_servers_round_leaves_waiting_rows_to_the_operator(pg_session, caplog):
    """A server's periodic round creates the months ahead but never moves rows out of the
    default partition (it held every report for the 22 minutes 8.4 M events took to move);
    it says which months wait, and `wangge db partitions` (`ensure`) moves them."""
    conn = pg_session.connection()
    _track_point_of_may_2019(pg_session)
    with caplog.at_level("WARNING", logger="wangge.partitions"):
        created = parts.ensure(conn, today=date(2019, 5, 1), move=False)  # as the round runs
    assert "patrol_points_p201905" not in created and "patrol_points_p201906" in created
    assert _count(conn, "patrol_points_pdefault") == 1
    assert "patrol_points 2019-05" in caplog.text and "wangge db partitions" in caplog.text
    assert "patrol_points_p201905" in parts.ensure(conn)  # the operator's command moves them
    assert _count(conn, "patrol_points_pdefault") == 0


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


def _keys_to_events(conn: Connection) -> set[str]:
    """The foreign keys of the facts to the events, as PostgreSQL shows them."""
    return set(
        conn.execute(
            text(
                "SELECT conrelid::regclass || ': ' || pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE confrelid = CAST('case_events' AS regclass) AND conparentid = 0"
            )
        ).scalars()
    )


def _engines(kind: str, worker_id: str, tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    if kind == "postgis":
        yield from scratch_pg(worker_id, "skew")
        return
    engine = make_engine(f"sqlite:///{tmp_path / 'skew.db'}")
    yield engine
    engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def test_the_migration_moves_a_step_stamped_before_its_report_onto_the_case(
    kind, worker_id, tmp_path
):
    """Data of servers whose clocks were apart: a case's later step (and its facts, clock
    facts too) stamped before the report. Reads of a case start at its report now, so the
    migration moves such a step to the report's time instead of hiding it."""
    for engine in _engines(kind, worker_id, tmp_path):
        upgrade(engine, "0029")
        factory = session_factory(engine)
        with factory.begin() as s:
            build_world(s)
            case_id = _scenario(s)[2]  # the case with clock facts
            case = s.get(Case, case_id)
            report = min(s.scalars(select(CaseEvent.id).where(CaseEvent.case_id == case_id)))
            step = s.scalar(
                select(func.min(CaseClockFact.event_id)).where(
                    CaseClockFact.event_id.in_(
                        select(CaseEvent.id).where(
                            CaseEvent.case_id == case_id, CaseEvent.id != report
                        )
                    )
                )
            )
            assert step is not None
            early = case.reported_at - timedelta(seconds=2)
            for model, key in ((CaseEvent, CaseEvent.id), (CaseEventFact, CaseEventFact.event_id),
                               (CaseClockFact, CaseClockFact.event_id)):  # fmt: skip
                s.execute(update(model).where(key == step).values(at=early))
            assert step not in s.scalars(select(CaseEvent.id).where(*events_of(case))).all()
        upgrade(engine)
        with factory() as s:
            case = s.get(Case, case_id)
            assert step in s.scalars(select(CaseEvent.id).where(*events_of(case))).all()
            for model in (CaseEventFact, CaseClockFact):
                ats = set(s.scalars(select(model.at).where(model.event_id == step)))
                assert ats <= {case.reported_at}, model
            assert s.scalar(select(func.count()).where(CaseClockFact.event_id == step))


@pytest.mark.postgis
def test_the_migration_partitions_case_events_and_facts_keeping_rows_ids_and_keys(worker_id):
    for engine in scratch_pg(worker_id, "events"):
        upgrade(engine, "0029")
        factory = session_factory(engine)
        with factory.begin() as s:
            build_world(s)
            ids = _scenario(s)
        with engine.connect() as conn:
            before = {
                t: conn.execute(text(f"SELECT * FROM {t} ORDER BY 1, 2")).all()
                for t in ("case_events", "case_event_facts", "case_clock_facts")
            }
        upgrade(engine)
        with engine.begin() as conn:
            assert parts.is_partitioned(conn, "case_events")
            assert parts.is_partitioned(conn, "case_event_facts")
            assert not parts.is_partitioned(conn, "case_clock_facts")  # small; see the docs
            for t, rows in before.items():
                assert conn.execute(text(f"SELECT * FROM {t} ORDER BY 1, 2")).all() == rows
            assert _count(conn, "case_events_p202611") == len(before["case_events"])
            assert _count(conn, "case_event_facts_p202611") == len(before["case_event_facts"])
            assert _keys_to_events(conn) == {
                "case_event_facts: FOREIGN KEY (event_id, at) REFERENCES case_events(id, at) "
                "ON DELETE CASCADE",
                "case_clock_facts: FOREIGN KEY (event_id, at) REFERENCES case_events(id, at) "
                "ON DELETE CASCADE",
            }
        with factory.begin() as s:
            at = datetime(2026, 11, 12, 9, tzinfo=SHANGHAI)
            new = CaseEvent(case_id=ids[2], county_code="110108", action="urge", actor_id="l1",
                            role="leader", at=at, to_state="x", attachments=[], payload={})  # fmt: skip
            s.add(new)
            s.flush()
            assert new.id == max(r[0] for r in before["case_events"]) + 1  # the sequence went on
            stored.refresh_case(s, s.get(Case, ids[2]))
            # a fact without its event is refused, and deleting a case still takes its facts
            s.delete(s.get(Case, ids[4]))
        with engine.begin() as conn:
            assert _count(conn, "case_event_facts") == len(before["case_event_facts"]) + 1 - sum(
                1 for r in before["case_event_facts"] if r.case_id == ids[4]
            )
            with pytest.raises(Exception, match="foreign key"), conn.begin_nested():
                conn.execute(
                    text(
                        "UPDATE case_event_facts SET at = at + interval '1 second' WHERE case_id = :c"
                    ),
                    {"c": ids[1]},
                )
        downgrade(engine, "0029")
        with engine.begin() as conn:
            assert not parts.is_partitioned(conn, "case_events")
            assert not parts.is_partitioned(conn, "case_event_facts")
            assert _count(conn, "case_events") == len(before["case_events"]) + 1 - 6
            assert _keys_to_events(conn) == {
                "case_event_facts: FOREIGN KEY (event_id) REFERENCES case_events(id) "
                "ON DELETE CASCADE",
                "case_clock_facts: FOREIGN KEY (event_id) REFERENCES case_events(id) "
                "ON DELETE CASCADE",
            }
            pk = conn.execute(
                text(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'pk_case_event_facts'"
                )
            ).scalar()
            assert pk == "PRIMARY KEY (event_id)"


@pytest.mark.postgis
def test_events_of_a_month_without_partition_wait_in_the_default_and_move_with_their_facts(
    pg_session,
):
    build_world(pg_session)
    _scenario(pg_session)  # November 2026: before the months the migration created
    conn = pg_session.connection()
    events, facts = _count(conn, "case_events"), _count(conn, "case_event_facts")
    clocks = _count(conn, "case_clock_facts")
    assert _count(conn, "case_events_pdefault") == events > 0
    assert _count(conn, "case_event_facts_pdefault") == facts > 0
    created = parts.ensure(conn)
    assert {"case_events_p202611", "case_event_facts_p202611"} <= set(created)
    assert _count(conn, "case_events_p202611") == events
    assert _count(conn, "case_event_facts_p202611") == facts
    assert _count(conn, "case_events_pdefault") == _count(conn, "case_event_facts_pdefault") == 0
    assert _count(conn, "case_clock_facts") == clocks  # set aside and back, not cascaded away
    assert stored.stale_cases(pg_session) == []  # the facts still match their events


@pytest.mark.postgis
def test_detaching_case_event_months_takes_whole_closed_cases_and_their_facts(worker_id):
    for engine in scratch_pg(worker_id, "eventarchive"):
        upgrade(engine)
        factory = session_factory(engine)
        with factory.begin() as s:
            build_world(s)
            ids = _scenario(s)
            for n in (1, 3):
                s.get(Case, ids[n]).state = "closed"
            s.get(Case, ids[4]).state = "voided"
            later = CaseEvent(case_id=ids[1], county_code="110108", action="urge", actor_id="l1",
                              role="leader", at=datetime(2026, 12, 2, 9, tzinfo=SHANGHAI),
                              to_state="x", attachments=[], payload={})  # fmt: skip
            s.add(later)
        url = engine.url.render_as_string(hide_password=False)

        def detach(table: str, before: str = "2026-12", url: str = url):  # type: ignore[no-untyped-def]
            return CliRunner().invoke(
                cli, ["db", "detach-partitions", "--table", table, "--before", before,
                      "--database-url", url],
            )  # fmt: skip

        alone = detach("case_event_facts")
        assert alone.exit_code == 2 and "detach case_events" in alone.output
        # case 2 is still open, case 1 has an event in December: neither may be cut
        refused = detach("case_events")
        assert refused.exit_code == 2, refused.output
        assert f"{ids[1]}, {ids[2]}" in refused.output and "未办结" in refused.output
        with factory.begin() as s:
            s.get(Case, ids[2]).state = "closed"
            s.execute(text("DELETE FROM case_events WHERE id = :i"), {"i": later.id})
            rollups.rebuild(s)  # the per-day rollups are built: `wangge check` compares them
        with engine.connect() as conn:
            facts = _count(conn, "case_event_facts")
            events = _count(conn, "case_events")
        done = detach("case_events")
        assert done.exit_code == 0, done.output
        assert "case_events_p202611" in done.output
        with engine.connect() as conn:
            assert _count(conn, "case_events") == _count(conn, "case_event_facts") == 0
            assert _count(conn, "case_clock_facts") == 0  # derived, of archived events
            assert _count(conn, "case_events_p202611") == events  # plain tables, to archive
            assert _count(conn, "case_event_facts_p202611") == facts
            assert _keys_to_events(conn) == {
                "case_event_facts: FOREIGN KEY (event_id, at) REFERENCES case_events(id, at) "
                "ON DELETE CASCADE",
                "case_clock_facts: FOREIGN KEY (event_id, at) REFERENCES case_events(id, at) "
                "ON DELETE CASCADE",
            }
            assert _count(conn, "cases") >= 4  # the cases themselves stay online
        with factory() as s:  # what stays online is consistent
            assert rollups.built(s) and rollups.stale_days(s) == []
            assert stored.stale_cases(s) == []
