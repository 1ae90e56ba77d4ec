"""The whole-database rebuild of the evaluation facts and rollups on PostgreSQL: derived into
fresh tables, by several connections at once where it can, and swapped in by the caller's
transaction.

Why fresh tables: see `common.table_swap` (indexes and keys built once, no dead rows).
Why several connections: the derivation is CPU-bound inside the database (window functions
for the facts, per-row CASE expressions for the rollups) and one statement runs on one core;
ranges of cases are independent, so `jobs` connections take about 1/jobs of the time.

Order and consistency: the caller's transaction first locks the fact and rollup tables
against writers. A case action writes its event and its facts in one transaction, so from
then on no new event can commit before the rebuild's commit (the action waits, then writes
into the new tables): the events the workers read are exactly those to count. Workers'
connections cannot see the caller's uncommitted tables, so for them the fresh tables are
created and filled in committed transactions of their own; each range's facts go into a
temporary table first, are copied into the fresh table and give the range's rollup deltas
(no index needed on the fresh table while it fills). The caller's transaction then sums the
deltas of all ranges, builds keys and indexes and swaps the tables in: readers see the old
facts until its commit. A failed or rolled-back parallel rebuild leaves `*__fresh` tables
behind; the next rebuild drops them.

When the caller's transaction has itself written (the workers would not see its rows) or
`jobs` is 1, the same statements run on the caller's connection, one range after another.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed

from sqlalchemy import Connection, Engine, Select, TextClause, select, text
from sqlalchemy.orm import Session

from wangge.cases.models import Case
from wangge.common import table_swap
from wangge.evaluation import rollups, stored_sql
from wangge.evaluation.indicators import EvalConfig
from wangge.evaluation.models import CaseClockFact, CaseEventFact
from wangge.evaluation.rollup_models import COUNT_COLUMNS, EvaluationRollup

EVENTS = CaseEventFact.__tablename__
CLOCKS = CaseClockFact.__tablename__
ROLLUPS = EvaluationRollup.__tablename__
PARTS = "evaluation_rollups__parts"  # each range's deltas, summed at the end
BATCH = "rebuild_batch_facts"  # one range's facts (temporary)
PART_COLUMNS = "county_code, day, eff_day, object_type, key, " + ", ".join(COUNT_COLUMNS)

Range = tuple[int, int, int]  # [lo, hi) of case ids, cases in it
Progress = Callable[[int], None]


def case_ranges(session: Session, ids: Select[int], batch: int) -> list[Range]:
    """Ranges [lo, hi) of the case ids `ids` selects (ordered), `batch` cases each."""
    every = session.scalars(ids).all()
    return [
        (part[0], part[-1] + 1, len(part))
        for part in (every[i : i + batch] for i in range(0, len(every), batch))
    ]


def rebuild_facts(
    session: Session, *, batch: int, jobs: int, progress: Progress | None = None
) -> int:
    """Derive every fact and rollup row from the events, `batch` cases at a time, and swap
    them in within the session's transaction; return the fact rows."""
    run = _Runner(session, jobs)
    shapes = run.lock([EVENTS, CLOCKS, ROLLUPS])
    # read after the lock: every case committed before it is in a range
    ranges = case_ranges(session, select(Case.id).order_by(Case.id), batch)
    fresh = run.create_fresh(list(shapes))
    batch_facts = (
        f"CREATE TEMPORARY TABLE {BATCH} (LIKE {fresh[EVENTS]} INCLUDING DEFAULTS)",
        stored_sql.event_facts_sql("postgresql", EvalConfig(), county=False, into=BATCH),
        f"INSERT INTO {fresh[EVENTS]} SELECT * FROM {BATCH}",
        *_hashed(f"INSERT INTO {PARTS} ({PART_COLUMNS}) {_deltas(BATCH, '1 = 1')}"),
        f"DROP TABLE {BATCH}",
        stored_sql.clock_facts_sql("postgresql", county=False, into=fresh[CLOCKS]),
    )
    counts = run.over(ranges, [text(s) for s in batch_facts], counted=1, progress=progress)
    _finish(session, shapes, fresh)
    return sum(counts)


def rebuild_rollups(session: Session, *, batch: int, jobs: int) -> int:
    """Derive every rollup row from the stored facts, `batch` cases at a time, and swap them
    in within the session's transaction; return the rows."""
    run = _Runner(session, jobs)
    table_swap.lock(session.connection(), EVENTS)  # the facts' writers write rollups too
    shapes = run.lock([ROLLUPS])
    ranges = case_ranges(session, select(Case.id).order_by(Case.id), batch)
    fresh = run.create_fresh([ROLLUPS])
    where = "x.case_id >= :lo AND x.case_id < :hi"
    deltas = _hashed(f"INSERT INTO {PARTS} ({PART_COLUMNS}) {_deltas(EVENTS, where)}")
    run.over(ranges, [text(s) for s in deltas], counted=None, progress=None)
    return _finish(session, shapes, fresh)


class _Runner:
    """Runs the statements of each range: on `jobs` connections of their own, or on the
    caller's connection when it has written or `jobs` is 1."""

    def __init__(self, session: Session, jobs: int) -> None:
        self.conn = session.connection()
        bind = session.get_bind()
        self.engine = bind if isinstance(bind, Engine) else bind.engine
        written = self.conn.execute(text("SELECT pg_current_xact_id_if_assigned()")).scalar()
        self.jobs = jobs if written is None else 1
        _tune(self.conn)

    def lock(self, tables: list[str]) -> dict[str, table_swap.TableShape]:
        for t in tables:
            table_swap.lock(self.conn, t)
        return {t: table_swap.shape(self.conn, t) for t in tables}

    def create_fresh(self, tables: list[str]) -> dict[str, str]:
        if self.jobs == 1:
            return _create(self.conn, tables)
        with self.engine.begin() as c:  # committed, for the workers to fill
            return _create(c, tables)

    def over(
        self,
        ranges: Sequence[Range],
        statements: list[TextClause],
        *,
        counted: int | None,
        progress: Progress | None,
    ) -> list[int]:
        """Run `statements` for each range; return the row counts of statement `counted`."""

        def run(conn: Connection, lo: int, hi: int) -> int:
            results = [conn.execute(s, {"lo": lo, "hi": hi}) for s in statements]
            return int(results[counted].rowcount) if counted is not None else 0

        def in_worker(lo: int, hi: int) -> int:
            with self.engine.begin() as c:  # one committed transaction per range
                _tune(c)
                return run(c, lo, hi)

        counts: list[int] = []
        if self.jobs == 1:
            for lo, hi, cases in ranges:
                counts.append(run(self.conn, lo, hi))
                if progress:
                    progress(cases)
            return counts
        with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="rebuild") as pool:
            futures = {pool.submit(in_worker, lo, hi): cases for lo, hi, cases in ranges}
            try:
                for future in as_completed(futures):
                    counts.append(future.result())
                    if progress:
                        progress(futures[future])
            except BaseException:
                for future in futures:  # the first failure ends the rebuild
                    future.cancel()
                raise
        return counts


def _create(conn: Connection, tables: list[str]) -> dict[str, str]:
    fresh = {t: table_swap.create_fresh(conn, t) for t in tables}
    conn.execute(text(f"DROP TABLE IF EXISTS {PARTS}"))
    # unlogged: scratch rows that live for one rebuild
    conn.execute(
        text(f"CREATE UNLOGGED TABLE {PARTS} AS SELECT {PART_COLUMNS} FROM {ROLLUPS} WITH NO DATA")
    )
    return fresh


def _tune(conn: Connection) -> None:
    # a range's window sorts and hash aggregates stay in memory; no JIT (compiling these
    # wide queries costs more than running them)
    conn.execute(text("SET LOCAL work_mem = '256MB'"))
    conn.execute(text("SET LOCAL jit = off"))


def _hashed(statement: str) -> tuple[str, str, str]:
    """`statement` with sorting discouraged: without statistics on a fresh table the planner
    takes the rows times their points for ~20× what they are and sorts them by five keys
    (text ones by collation) to group them, which took a third of the time; hashing them
    fits in memory."""
    return ("SET LOCAL enable_sort = off", statement, "SET LOCAL enable_sort = on")


def _deltas(source: str, where: str) -> str:
    return rollups.contribution_sql("postgresql", where, source=source)


def _finish(
    session: Session, shapes: dict[str, table_swap.TableShape], fresh: dict[str, str]
) -> int:
    """Sum the ranges' deltas into the fresh rollups with their month rows, swap every fresh
    table in; return the rollup rows."""
    conn = session.connection()
    conn.execute(text(f"ANALYZE {PARTS}"))
    # the day and month sums hashed in memory (see _hashed), the deltas of ~300 k keys per
    # range of cases being a few million rows
    conn.execute(text("SET LOCAL work_mem = '1GB'"))
    conn.execute(text("SET LOCAL enable_sort = off"))
    n = rollups.write_days_and_months(
        session, rollups.sum_parts_sql(PARTS), into=fresh[ROLLUPS], dialect="postgresql"
    )
    _tune(conn)
    conn.execute(text("SET LOCAL enable_sort = on"))
    conn.execute(text(f"DROP TABLE {PARTS}"))
    for table, table_shape in shapes.items():
        table_swap.swap_in(conn, table_shape, fresh[table])
    rollups.mark_rebuilt(session)
    return n
