"""Turning plain tables into monthly-partitioned ones and back (migrations 0029 and 0030).

A table is renamed aside, recreated partitioned (or plain) with the same columns and
defaults, filled, and given back its primary key, indexes, foreign keys and id sequence.
PostgreSQL wants the partition key in every unique key of a partitioned table, so the primary
key and unique indexes gain it; and a foreign key to a partitioned table must name such a
key, so the keys of other tables to it gain their own column of the same name (the facts of
a case event carry the event's `at`): `(event_id, at) REFERENCES case_events (id, at)`.
Those keys are dropped before and recreated after, or they would follow the renamed table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import Connection, text

from wangge.ops.partitions import (
    MONTHS_AHEAD,
    Partitioned,
    _create_month,
    _is_postgres,
    is_partitioned,
    local_today,
    month_start,
    next_month,
    referencing,
    spec_of,
)


def _definitions(
    conn: Connection, table: str
) -> tuple[list[str], list[tuple[str, str]], str | None, tuple[str, list[str]]]:
    """Return the table's index definitions (without its primary key), its foreign keys
    (name, definition), the sequence behind its id (if any) and its primary key (name,
    columns)."""
    indexes = [
        row[0]
        for row in conn.execute(
            text(
                "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indrelid WHERE c.relname = :t "
                "AND c.relnamespace = 'public'::regnamespace "
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
                "WHERE conrelid = CAST(:t AS regclass) AND contype = 'f' AND conparentid = 0 "
                "ORDER BY conname"
            ),
            {"t": table},
        )
    ]
    seq = conn.execute(
        text(
            "SELECT pg_get_serial_sequence(:t, 'id') FROM pg_attribute "
            "WHERE attrelid = CAST(:t AS regclass) AND attname = 'id'"
        ),
        {"t": table},
    ).scalar()
    name, cols = conn.execute(
        text(
            "SELECT k.conname, array_agg(a.attname ORDER BY u.n) FROM pg_constraint k "
            "CROSS JOIN unnest(k.conkey) WITH ORDINALITY u(attnum, n) "
            "JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum "
            "WHERE k.conrelid = CAST(:t AS regclass) AND k.contype = 'p' GROUP BY k.conname"
        ),
        {"t": table},
    ).one()
    return indexes, fks, (str(seq) if seq else None), (name, list(cols))


def _with_key(index_sql: str, key: str, *, add: bool) -> str:
    """A unique index on a partitioned table must contain the partition key."""
    if " UNIQUE " not in index_sql:
        return index_sql
    head, cols, tail = re.match(r"^(.*?USING \w+ \()([^)]*)(\).*)$", index_sql).groups()  # type: ignore[union-attr]
    names = [c.strip() for c in cols.split(",")]
    names = [*names, key] if add and key not in names else [c for c in names if c != key]
    return f"{head}{', '.join(names)}{tail}"


def _key_with(definition: str, key: str, *, add: bool) -> str:
    """`FOREIGN KEY (a) REFERENCES t(id) …` with `key` added to both sides (or removed)."""
    match = re.match(r"^FOREIGN KEY \(([^)]*)\) REFERENCES (\S+?)\(([^)]*)\)(.*)$", definition)
    if match is None:
        raise ValueError(f"unexpected foreign key: {definition}")
    cols, table, refs, tail = match.groups()
    mine = [c.strip() for c in cols.split(",")]
    theirs = [c.strip() for c in refs.split(",")]
    if add and key not in theirs:
        mine, theirs = [*mine, key], [*theirs, key]
    elif not add and key in theirs:
        i = theirs.index(key)
        mine, theirs = mine[:i] + mine[i + 1 :], theirs[:i] + theirs[i + 1 :]
    return f"FOREIGN KEY ({', '.join(mine)}) REFERENCES {table}({', '.join(theirs)}){tail}"


def _rebuild(
    conn: Connection, spec: Partitioned, *, partition: bool, months: Sequence[date]
) -> None:
    """Recreate `spec.table` partitioned (or plain again), keeping rows, ids, indexes, keys."""
    t = spec.table
    indexes, fks, seq, (pk_name, pk) = _definitions(conn, t)
    others = referencing(conn, t)
    for other, name, _ in others:
        conn.execute(text(f"ALTER TABLE {other} DROP CONSTRAINT {name}"))
    if seq:
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
    pk = [*pk, spec.key] if partition and spec.key not in pk else [c for c in pk if c != spec.key]
    conn.execute(text(f"ALTER TABLE {t} ADD CONSTRAINT {pk_name} PRIMARY KEY ({', '.join(pk)})"))
    for index_sql in indexes:
        conn.execute(text(_with_key(index_sql, spec.key, add=partition)))
    for name, definition in fks:
        conn.execute(text(f"ALTER TABLE {t} ADD CONSTRAINT {name} {definition}"))
    for other, name, definition in others:
        keyed = _key_with(definition, spec.key, add=partition)
        conn.execute(text(f"ALTER TABLE {other} ADD CONSTRAINT {name} {keyed}"))
    if seq:
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


def partition_tables(conn: Connection, tables: Iterable[str]) -> None:
    """Turn the plain `tables` into monthly-partitioned ones, in the order given (a table
    before the tables that reference it); PostgreSQL only, a no-op elsewhere."""
    if not _is_postgres(conn):
        return
    for spec in map(spec_of, tables):
        if not is_partitioned(conn, spec.table):
            _rebuild(conn, spec, partition=True, months=_months_of(conn, spec))


def unpartition_tables(conn: Connection, tables: Iterable[str]) -> None:
    """The reverse of `partition_tables` (a migration's downgrade): give the tables in the
    reverse order, the referencing ones first."""
    if not _is_postgres(conn):
        return
    for spec in map(spec_of, tables):
        if is_partitioned(conn, spec.table):
            _rebuild(conn, spec, partition=False, months=())
