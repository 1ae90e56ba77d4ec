"""Monthly partitions of the tables that grow with time (PostgreSQL's declarative partitioning).

Track points, the audit log, case events and their facts grow by up to millions of rows a
month and are read a day or a month at a time; with one partition per (Asia/Shanghai) month a
query of a month touches that month's partition only, and a month that has left the retention period is detached as a
plain table (to archive with pg_dump, then drop) instead of deleted row by row.

Each partitioned table also has a DEFAULT partition so that a row outside every month
created so far (an import of old track points, a clock far off) is stored, never refused;
`ensure` moves such rows into their month's partition when it creates it. The months ahead
are created by every server process at start and then every few hours (`PartitionWorker`),
serialised by an advisory lock, so a new month never starts without its partition.

SQLite has no partitioning: there every function here is a no-op and the tables are plain.
The conversion of plain tables (migrations 0029, 0030) is `ops.partition_convert`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from wangge.cases.vocabulary import FINAL_VALUES
from wangge.common.localtime import SHANGHAI
from wangge.ops.periodic import PeriodicWorker

log = logging.getLogger("wangge.partitions")

# How many months after the current one always have their partition.
MONTHS_AHEAD = 3
_LOCK_KEY = 7_310_021  # pg_advisory_xact_lock key of partition maintenance


@dataclass(frozen=True)
class Partitioned:
    """A table partitioned by month on `key` (a local `date`, or a `timestamptz`)."""

    table: str
    key: str
    timestamp: bool  # True: bounds are local (+08) midnights; False: dates

    def bound(self, month: date) -> str:
        return f"'{month.isoformat()} 00:00:00+08'" if self.timestamp else f"'{month}'"

    def name(self, month: date) -> str:
        return f"{self.table}_p{month:%Y%m}"

    @property
    def default(self) -> str:
        return f"{self.table}_pdefault"


# In creation order: a table before the tables whose foreign keys reference it.
TABLES: tuple[Partitioned, ...] = (
    Partitioned("patrol_points", "day", timestamp=False),
    Partitioned("audit_log", "at", timestamp=True),
    Partitioned("case_events", "at", timestamp=True),
    Partitioned("case_event_facts", "at", timestamp=True),
)


def spec_of(table: str) -> Partitioned:
    """The partitioning of `table`; ValueError (bilingual) for a table not partitioned."""
    spec = next((t for t in TABLES if t.table == table), None)
    if spec is None:
        names = ", ".join(t.table for t in TABLES)
        raise ValueError(f"{table} 不是按月分区的表 is not partitioned by month ({names})")
    return spec


def local_today() -> date:
    return datetime.now(UTC).astimezone(SHANGHAI).date()


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def is_partitioned(conn: Connection, table: str) -> bool:
    return bool(
        conn.execute(
            text(
                "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
                "WHERE c.relname = :t AND c.relnamespace = 'public'::regnamespace"
            ),
            {"t": table},
        ).first()
    )


@dataclass(frozen=True)
class PartitionInfo:
    table: str
    name: str
    bounds: str  # PostgreSQL's own text, e.g. FOR VALUES FROM ('2026-12-01') TO ('2027-01-01')
    rows: int  # the planner's estimate (reltuples), not a count


def partitions(conn: Connection) -> list[PartitionInfo]:
    """Return every partition of the partitioned tables, in table and month order."""
    if not _is_postgres(conn):
        return []
    rows = conn.execute(
        text(
            "SELECT parent.relname, child.relname, pg_get_expr(child.relpartbound, child.oid),"
            " greatest(child.reltuples, 0)::bigint"
            " FROM pg_inherits i JOIN pg_class parent ON parent.oid = i.inhparent"
            " JOIN pg_class child ON child.oid = i.inhrelid"
            " WHERE parent.relname = ANY(:tables) ORDER BY parent.relname, child.relname"
        ),
        {"tables": [t.table for t in TABLES]},
    )
    return [PartitionInfo(*row) for row in rows]


def referencing(conn: Connection, table: str) -> list[tuple[str, str, str]]:
    """Return the foreign keys of other tables to `table`: (table, name, definition)."""
    rows = conn.execute(
        text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE confrelid = CAST(:t AS regclass) AND contype = 'f' AND conrelid <> confrelid"
            " AND conparentid = 0 ORDER BY 1, 2"
        ),
        {"t": table},
    )
    return [(r[0], r[1], r[2]) for r in rows]


def _create_month(conn: Connection, spec: Partitioned, month: date) -> None:
    """Create `month`'s partition, moving any of its rows out of the default partition."""
    lo, hi = spec.bound(month), spec.bound(next_month(month))
    create = (
        f"CREATE TABLE {spec.name(month)} PARTITION OF {spec.table} "
        f"FOR VALUES FROM ({lo}) TO ({hi})"
    )
    in_month = f"{spec.key} >= {lo} AND {spec.key} < {hi}"
    if not _waiting(conn, spec, month):
        conn.execute(text(create))
        return
    # PostgreSQL refuses a new partition whose rows sit in the default one: set them aside,
    # create the month and put them back through the parent (one transaction). The rows
    # referencing them (the facts of case events, whose keys carry the same month) are set
    # aside first, or deleting the events would cascade to them.
    keys = referencing(conn, spec.table)
    for other, name, definition in keys:
        # their rows of the month are found by their own `key` column, the one in the key
        if not re.match(rf"^FOREIGN KEY \([^)]*\b{spec.key}\)", definition):
            raise RuntimeError(f"{other}.{name} does not carry {spec.table}.{spec.key}")
    aside = [(other, f"wangge_moving_{i}") for i, (other, _, _) in enumerate(keys)]
    aside.append((spec.table, "wangge_moving"))
    for table, temp in aside:
        source = spec.default if table == spec.table else table
        conn.execute(text(f"CREATE TEMPORARY TABLE {temp} (LIKE {table})"))
        conn.execute(
            text(
                f"WITH moved AS (DELETE FROM {source} WHERE {in_month} RETURNING *) "
                f"INSERT INTO {temp} SELECT * FROM moved"
            )
        )
    conn.execute(text(create))
    for table, temp in reversed(aside):
        conn.execute(text(f"INSERT INTO {table} SELECT * FROM {temp}"))
        conn.execute(text(f"DROP TABLE {temp}"))


def create_months(conn: Connection, table: str, first: date, last: date) -> list[str]:
    """Create the missing monthly partitions of `table` from `first`'s month to `last`'s;
    return their names. Before a bulk copy: its rows then land in their months, instead of
    the default partition, out of which the next `ensure` would move them a month at a time
    in one transaction (8.4 M case events: minutes, every writer of the table waiting)."""
    if not _is_postgres(conn) or not is_partitioned(conn, table):
        return []
    spec = spec_of(table)
    existing = {p.name for p in partitions(conn)}
    created: list[str] = []
    month = month_start(first)
    while month <= last:
        if spec.name(month) not in existing:
            _create_month(conn, spec, month)
            created.append(spec.name(month))
        month = next_month(month)
    return created


def local_month_day(value: date | datetime) -> date:
    """The Beijing day of a partition key's value (a timestamp, or already a local day)."""
    return value.astimezone(SHANGHAI).date() if isinstance(value, datetime) else value


def _months_in_default(conn: Connection, spec: Partitioned) -> list[date]:
    local = f"({spec.key} AT TIME ZONE 'Asia/Shanghai')" if spec.timestamp else spec.key
    rows = conn.execute(
        text(f"SELECT DISTINCT date_trunc('month', {local})::date FROM {spec.default}")
    )
    return sorted(row[0] for row in rows)


def ensure(
    conn: Connection,
    *,
    today: date | None = None,
    ahead: int = MONTHS_AHEAD,
    move: bool = True,
) -> list[str]:
    """Create the partitions of this month, the next `ahead` months and of any month whose
    rows wait in a default partition; return the names created. Runs in the caller's
    transaction; concurrent callers wait for each other (advisory lock).

    `move=False` (the servers' periodic round) creates only months with no rows waiting in
    the default partition and logs the others: moving them holds the table's writers for as
    long as the copy takes (8.4 M case events: 22 minutes, and no report was taken meanwhile).
    `wangge db partitions` moves them, at an hour the operator chooses."""
    if not _is_postgres(conn):
        return []
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    existing = {p.name for p in partitions(conn)}
    month = month_start(today or local_today())
    wanted = [month]
    for _ in range(ahead):
        wanted.append(next_month(wanted[-1]))
    created: list[str] = []
    for spec in TABLES:
        if not is_partitioned(conn, spec.table):
            continue
        months = sorted({*wanted, *_months_in_default(conn, spec)}) if move else wanted
        for m in months:
            if spec.name(m) in existing:
                continue
            if not move and _waiting(conn, spec, m):
                log.warning(
                    "rows of %s %s wait in %s: run `wangge db partitions` at a quiet hour",
                    spec.table, f"{m:%Y-%m}", spec.default,
                )  # fmt: skip
                continue
            _create_month(conn, spec, m)
            created.append(spec.name(m))
    return created


def _waiting(conn: Connection, spec: Partitioned, month: date) -> bool:
    lo, hi = spec.bound(month), spec.bound(next_month(month))
    found = conn.execute(
        text(f"SELECT 1 FROM {spec.default} WHERE {spec.key} >= {lo} AND {spec.key} < {hi} LIMIT 1")
    )
    return found.first() is not None


def detach_before(conn: Connection, table: str, before: date) -> list[str]:
    """Detach the monthly partitions of `table` that end on or before `before`'s month.

    They stay in the database as plain tables named like `patrol_points_p202401` for the
    operator to archive (pg_dump -t) and drop; the application no longer reads them. Case
    events take their facts' months with them (`_detach_case_events`); the facts are never
    detached on their own.
    """
    spec = spec_of(table)
    if table == "case_event_facts":
        raise ValueError(
            "事件事实随其案件事件一同分离，请分离 case_events "
            "the facts are detached with their events: detach case_events"
        )
    if not _is_postgres(conn) or not is_partitioned(conn, table):
        return []
    ensure(conn)  # rows of old months waiting in the default partition get theirs first
    cut = spec.name(month_start(before))
    pattern = re.compile(rf"^{re.escape(table)}_p(\d{{6}})$")
    months = [
        p.name
        for p in partitions(conn)
        if p.table == table and pattern.match(p.name) and p.name < cut
    ]
    if table == "case_events" and months:
        _detach_case_events(conn, month_start(before), [n[-6:] for n in months])
    for name in months:
        conn.execute(text(f"ALTER TABLE {table} DETACH PARTITION {name}"))
    return months


def _detach_case_events(conn: Connection, first_kept: date, months: list[str]) -> None:
    """Make the events before `first_kept`'s month detachable, or refuse: only whole
    histories of final cases.

    Cases are records: an archived month must hold every event of each of its cases, and only
    of final cases (closed, rated, rejected or voided), so what stays online is whole too. Their facts are
    derived from the events: the event facts' months are detached with them (as plain tables
    of their own, without the key to the events), the clock facts and the evaluation rollups
    of the days before the cut deleted (only those cases' facts made them, and `wangge
    check` compares the rollups with the facts online).
    """
    cut = f"'{first_kept.isoformat()} 00:00:00+08'"
    split = (
        conn.execute(
            text(
                "SELECT DISTINCT e.case_id FROM case_events e JOIN cases c ON c.id = e.case_id "
                f"WHERE e.at < {cut} AND (c.state NOT IN :final OR EXISTS (SELECT 1 FROM "
                f"case_events l WHERE l.case_id = e.case_id AND l.at >= {cut})) "
                "ORDER BY e.case_id LIMIT 6"
            ).bindparams(bindparam("final", expanding=True)),
            {"final": list(FINAL_VALUES)},
        )
        .scalars()
        .all()
    )
    if split:
        shown = ", ".join(str(i) for i in split[:5]) + (" …" if len(split) > 5 else "")
        raise ValueError(
            f"案件 {shown} 未办结或其事件跨越分离月份，不能分离 cases {shown} are open or have "
            "events on both sides of the cut: only whole histories of final cases are archived"
        )
    conn.execute(text(f"DELETE FROM case_clock_facts WHERE at < {cut}"))
    conn.execute(text("DELETE FROM evaluation_rollups WHERE day < :d"), {"d": first_kept})
    facts = {p.name for p in partitions(conn) if p.table == "case_event_facts"}
    for name in (f"case_event_facts_p{month}" for month in months):
        if name not in facts:
            continue
        conn.execute(text(f"ALTER TABLE case_event_facts DETACH PARTITION {name}"))
        # the detached copy keeps the key to the events, which leave too
        for key in conn.execute(
            text(
                "SELECT conname FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) "
                "AND confrelid = CAST('case_events' AS regclass) AND contype = 'f'"
            ),
            {"t": name},
        ).scalars():
            conn.execute(text(f"ALTER TABLE {name} DROP CONSTRAINT {key}"))


class PartitionWorker(PeriodicWorker[list[str]]):
    """Keep the coming months' partitions created, in every server process (cheap when done)."""

    def __init__(self, factory: sessionmaker[Session], interval: float) -> None:
        super().__init__(interval, name="wangge-partitions", log=log)
        self.factory = factory

    def round(self) -> list[str]:
        with self.factory() as session:
            conn = session.connection()
            if not _is_postgres(conn):
                return []
            # Creating a partition locks the parent briefly; never queue requests behind
            # a long transaction for it: give up and try again next round.
            conn.execute(text("SET LOCAL lock_timeout = '2s'"))
            try:
                created = ensure(conn, move=False)
            except OperationalError:
                session.rollback()
                return []
            session.commit()
        if created:
            log.info("created partitions %s", ", ".join(created))
        return created
