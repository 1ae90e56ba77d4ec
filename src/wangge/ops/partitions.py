"""Monthly partitions of the tables that grow with time (PostgreSQL's declarative partitioning).

Track points and the audit log grow by millions of rows a month and are read a day or a
month at a time; with one partition per (Asia/Shanghai) month a query of a month touches
that month's partition only, and a month that has left the retention period is detached as a
plain table (to archive with pg_dump, then drop) instead of deleted row by row.

Each partitioned table also has a DEFAULT partition so that a row outside every month
created so far (an import of old track points, a clock far off) is stored, never refused;
`ensure` moves such rows into their month's partition when it creates it. The months ahead
are created by every server process at start and then every few hours (`PartitionWorker`),
serialised by an advisory lock, so a new month never starts without its partition.

SQLite has no partitioning: there every function here is a no-op and the tables are plain.
Case events and the evaluation facts are not partitioned yet: the facts reference
`case_events.id`, and a foreign key to a partitioned table needs the partition key in it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

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


TABLES: tuple[Partitioned, ...] = (
    Partitioned("patrol_points", "day", timestamp=False),
    Partitioned("audit_log", "at", timestamp=True),
)


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


def _create_month(conn: Connection, spec: Partitioned, month: date) -> None:
    """Create `month`'s partition, moving any of its rows out of the default partition."""
    lo, hi = spec.bound(month), spec.bound(next_month(month))
    in_default = conn.execute(
        text(f"SELECT 1 FROM {spec.default} WHERE {spec.key} >= {lo} AND {spec.key} < {hi} LIMIT 1")
    ).first()
    if in_default is None:
        conn.execute(
            text(
                f"CREATE TABLE {spec.name(month)} PARTITION OF {spec.table} "
                f"FOR VALUES FROM ({lo}) TO ({hi})"
            )
        )
        return
    # PostgreSQL refuses a new partition whose rows sit in the default one: take the
    # default out, create the month, move its rows, put the default back (one transaction).
    conn.execute(text(f"ALTER TABLE {spec.table} DETACH PARTITION {spec.default}"))
    conn.execute(
        text(
            f"CREATE TABLE {spec.name(month)} PARTITION OF {spec.table} "
            f"FOR VALUES FROM ({lo}) TO ({hi})"
        )
    )
    conn.execute(
        text(
            f"WITH moved AS (DELETE FROM {spec.default} WHERE {spec.key} >= {lo} "
            f"AND {spec.key} < {hi} RETURNING *) INSERT INTO {spec.table} SELECT * FROM moved"
        )
    )
    conn.execute(text(f"ALTER TABLE {spec.table} ATTACH PARTITION {spec.default} DEFAULT"))


def _months_in_default(conn: Connection, spec: Partitioned) -> list[date]:
    local = f"({spec.key} AT TIME ZONE 'Asia/Shanghai')" if spec.timestamp else spec.key
    rows = conn.execute(
        text(f"SELECT DISTINCT date_trunc('month', {local})::date FROM {spec.default}")
    )
    return sorted(row[0] for row in rows)


def ensure(conn: Connection, *, today: date | None = None, ahead: int = MONTHS_AHEAD) -> list[str]:
    """Create the partitions of this month, the next `ahead` months and of any month whose
    rows wait in a default partition; return the names created. Runs in the caller's
    transaction; concurrent callers wait for each other (advisory lock)."""
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
        for m in sorted({*wanted, *_months_in_default(conn, spec)}):
            if spec.name(m) not in existing:
                _create_month(conn, spec, m)
                created.append(spec.name(m))
    return created


def detach_before(conn: Connection, table: str, before: date) -> list[str]:
    """Detach the monthly partitions of `table` that end on or before `before`'s month.

    They stay in the database as plain tables named like `patrol_points_p202401` for the
    operator to archive (pg_dump -t) and drop; the application no longer reads them.
    """
    spec = next((t for t in TABLES if t.table == table), None)
    if spec is None:
        names = ", ".join(t.table for t in TABLES)
        raise ValueError(f"{table} 不是按月分区的表 is not partitioned by month ({names})")
    if not _is_postgres(conn) or not is_partitioned(conn, table):
        return []
    ensure(conn)  # rows of old months waiting in the default partition get theirs first
    cut = spec.name(month_start(before))
    pattern = re.compile(rf"^{re.escape(table)}_p(\d{{6}})$")
    detached: list[str] = []
    for part in partitions(conn):
        if part.table == table and pattern.match(part.name) and part.name < cut:
            conn.execute(text(f"ALTER TABLE {table} DETACH PARTITION {part.name}"))
            detached.append(part.name)
    return detached


# -- converting a plain table (migration 0029) --------------------------------------------


def _definitions(conn: Connection, table: str) -> tuple[list[str], list[tuple[str, str]], str]:
    """Return the table's index definitions (without its primary key), its foreign keys
    (name, definition) and the sequence behind its id."""
    indexes = [
        row[0]
        for row in conn.execute(
            text(
                "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indrelid WHERE c.relname = :t "
                "AND NOT i.indisprimary ORDER BY i.indexrelid"
            ),
            {"t": table},
        )
    ]
    fks = [
        (row[0], row[1])
        for row in conn.execute(
            text(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = CAST(:t AS regclass) AND contype = 'f' ORDER BY conname"
            ),
            {"t": table},
        )
    ]
    seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table}).scalar()
    return indexes, fks, str(seq)


def _with_key(index_sql: str, key: str, *, add: bool) -> str:
    """A unique index on a partitioned table must contain the partition key."""
    if " UNIQUE " not in index_sql:
        return index_sql
    head, cols, tail = re.match(r"^(.*?USING \w+ \()([^)]*)(\).*)$", index_sql).groups()  # type: ignore[union-attr]
    names = [c.strip() for c in cols.split(",")]
    names = [*names, key] if add and key not in names else [c for c in names if c != key]
    return f"{head}{', '.join(names)}{tail}"


def _rebuild(
    conn: Connection, spec: Partitioned, *, partition: bool, months: Sequence[date]
) -> None:
    """Recreate `spec.table` partitioned (or plain again), keeping rows, ids, indexes, keys."""
    t = spec.table
    indexes, fks, seq = _definitions(conn, t)
    conn.execute(text(f"ALTER SEQUENCE {seq} OWNED BY NONE"))
    conn.execute(text(f"ALTER TABLE {t} RENAME TO {t}__old"))
    by = f" PARTITION BY RANGE ({spec.key})" if partition else ""
    conn.execute(text(f"CREATE TABLE {t} (LIKE {t}__old INCLUDING DEFAULTS){by}"))
    if partition:
        conn.execute(text(f"CREATE TABLE {spec.default} PARTITION OF {t} DEFAULT"))
        for month in months:
            _create_month(conn, spec, month)
    conn.execute(text(f"INSERT INTO {t} SELECT * FROM {t}__old"))
    conn.execute(text(f"DROP TABLE {t}__old"))
    pk = f"id, {spec.key}" if partition else "id"
    conn.execute(text(f"ALTER TABLE {t} ADD CONSTRAINT pk_{t} PRIMARY KEY ({pk})"))
    for index_sql in indexes:
        conn.execute(text(_with_key(index_sql, spec.key, add=partition)))
    for name, definition in fks:
        conn.execute(text(f"ALTER TABLE {t} ADD CONSTRAINT {name} {definition}"))
    conn.execute(text(f"ALTER SEQUENCE {seq} OWNED BY {t}.id"))


def _months_of(conn: Connection, spec: Partitioned) -> list[date]:
    local = f"({spec.key} AT TIME ZONE 'Asia/Shanghai')" if spec.timestamp else spec.key
    first, last = conn.execute(
        text(f"SELECT min({local})::date, max({local})::date FROM {spec.table}")
    ).one()
    month = month_start(local_today())
    months = [month]
    for _ in range(MONTHS_AHEAD):
        months.append(next_month(months[-1]))
    if first is not None:
        m = month_start(first)
        while m <= last:
            months.append(m)
            m = next_month(m)
    return sorted(set(months))


def partition_tables(conn: Connection, tables: Iterable[Partitioned] = TABLES) -> None:
    """Turn the plain tables into monthly-partitioned ones (PostgreSQL; no-op elsewhere)."""
    if not _is_postgres(conn):
        return
    for spec in tables:
        if not is_partitioned(conn, spec.table):
            _rebuild(conn, spec, partition=True, months=_months_of(conn, spec))


def unpartition_tables(conn: Connection, tables: Iterable[Partitioned] = TABLES) -> None:
    """The reverse of `partition_tables` (the migration's downgrade)."""
    if not _is_postgres(conn):
        return
    for spec in tables:
        if is_partitioned(conn, spec.table):
            _rebuild(conn, spec, partition=False, months=())


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
                created = ensure(conn)
            except OperationalError:
                session.rollback()
                return []
            session.commit()
        if created:
            log.info("created partitions %s", ", ".join(created))
        return created
