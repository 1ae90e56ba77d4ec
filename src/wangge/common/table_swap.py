"""Rebuild a PostgreSQL table as a fresh copy that takes its place in the same transaction.

A whole-table rebuild by DELETE and INSERT pays for every index and foreign key row by row and
leaves the old rows dead beside the new ones: for the evaluation facts that was three quarters
of the time. A fresh table without indexes or constraints takes rows at the speed of a bare
insert; its keys and indexes are then built once, it is analysed, and it takes the old table's
name, sequences, grants, index and constraint names. Until the commit, readers see the old
rows; writers wait (the old table is locked EXCLUSIVE first, so no write is lost between the
rows read for the rebuild and the swap, and so are the tables its keys reference).

A partitioned table (one level, e.g. the monthly `case_event_facts`) gets a fresh copy
partitioned the same way, with a fresh partition of the same bounds for each of its
partitions; they take the old partitions' names at the swap.

PostgreSQL only. Tables that other tables reference, partitions themselves, sub-partitioned
tables and tables with triggers or row security are refused: swapping them would need more
than this module does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, text

FRESH = "{table}__fresh"


class SwapRefused(RuntimeError):
    """The table has something this module cannot carry over to its fresh copy."""


@dataclass(frozen=True)
class TableShape:
    """What a fresh copy must get back: constraints, other indexes, owned sequences, grants."""

    table: str
    constraints: list[tuple[str, str]]  # (name, definition) of PK, unique, FK, check
    indexes: list[tuple[str, str]]  # (name, CREATE INDEX …) not behind a constraint
    sequences: list[tuple[str, str]]  # (sequence, column) owned by the table
    grants: list[tuple[str, str]]  # (privilege, grantee) besides the owner's


def shape(conn: Connection, table: str) -> TableShape:
    """Read what `table` has beyond its columns and defaults; refuse what cannot be copied."""
    oid = conn.execute(text("SELECT CAST(:t AS regclass)::oid"), {"t": table}).scalar_one()
    _refuse_unsupported(conn, table, oid)
    q = conn.execute
    constraints = q(
        text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = :o AND contype IN ('p', 'u', 'f', 'c', 'x') "
            # not the copies a key to a partitioned table has for each of its partitions
            "AND conparentid = 0 "
            "ORDER BY contype = 'f', conname"  # keys first: a foreign key may need them
        ),
        {"o": oid},
    ).all()
    indexes = q(
        text(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = :o AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = :o) "
            "ORDER BY c.relname"
        ),
        {"o": oid},
    ).all()
    sequences = q(
        text(
            "SELECT s.relname, a.attname FROM pg_depend d "
            "JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
            "JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
            "WHERE d.refobjid = :o AND d.deptype = 'a' ORDER BY s.relname"
        ),
        {"o": oid},
    ).all()
    grants = q(
        text(
            "SELECT g.privilege_type, CASE WHEN g.grantee = 0 THEN 'PUBLIC' "
            "ELSE quote_ident(pg_get_userbyid(g.grantee)) END "
            "FROM pg_class c, aclexplode(c.relacl) g WHERE c.oid = :o AND g.grantee <> c.relowner"
        ),
        {"o": oid},
    ).all()
    return TableShape(
        table,
        [(r[0], r[1]) for r in constraints],
        [(r[0], r[1]) for r in indexes],
        [(r[0], r[1]) for r in sequences],
        [(r[0], r[1]) for r in grants],
    )


def _refuse_unsupported(conn: Connection, table: str, oid: int) -> None:
    checks = {
        "a partition": "SELECT relispartition FROM pg_class WHERE oid = :o",
        "sub-partitioned": "SELECT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c "
        "ON c.oid = i.inhrelid WHERE i.inhparent = :o AND c.relkind = 'p')",
        "referenced by other tables": "SELECT EXISTS (SELECT 1 FROM pg_constraint "
        "WHERE confrelid = :o AND contype = 'f' AND conrelid <> :o)",
        "triggers": "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = :o "
        "AND NOT tgisinternal)",
        "row security": "SELECT relrowsecurity FROM pg_class WHERE oid = :o",
        "identity columns": "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = :o "
        "AND attidentity <> '')",
    }
    for what, query in checks.items():
        if conn.execute(text(query), {"o": oid}).scalar_one():
            raise SwapRefused(f"{table} cannot be rebuilt by a swap: {what}")


def lock(conn: Connection, table: str) -> None:
    """Make writers of `table` wait until the caller's transaction ends; readers go on.

    The tables its foreign keys reference are locked against writers too (SHARE ROW
    EXCLUSIVE, what adding those keys at the swap needs): otherwise a writer that inserted
    into one of them and then waits for `table` would hold what the swap needs, a deadlock
    that PostgreSQL would end by aborting the rebuild."""
    referenced = conn.execute(
        text(
            "SELECT DISTINCT confrelid::regclass::text FROM pg_constraint "
            "WHERE conrelid = CAST(:t AS regclass) AND contype = 'f' AND confrelid <> conrelid"
        ),
        {"t": table},
    ).scalars()
    for other in sorted(referenced):
        conn.execute(text(f"LOCK TABLE {other} IN SHARE ROW EXCLUSIVE MODE"))
    conn.execute(text(f"LOCK TABLE {table} IN EXCLUSIVE MODE"))


def create_fresh(conn: Connection, table: str) -> str:
    """Create the empty fresh copy of `table` (columns, NOT NULLs and defaults only; the same
    partitions if it is partitioned), dropping one a failed rebuild left behind; return its
    name."""
    fresh = FRESH.format(table=table)
    conn.execute(text(f"DROP TABLE IF EXISTS {fresh}"))
    by = conn.execute(text("SELECT pg_get_partkeydef(CAST(:t AS regclass))"), {"t": table}).scalar()
    conn.execute(
        text(f"CREATE TABLE {fresh} (LIKE {table} INCLUDING DEFAULTS)")
        if by is None
        else text(f"CREATE TABLE {fresh} (LIKE {table} INCLUDING DEFAULTS) PARTITION BY {by}")
    )
    for name, bound in _partitions(conn, table):
        conn.execute(
            text(f"CREATE TABLE {_fresh_part(fresh, table, name)} PARTITION OF {fresh} {bound}")
        )
    return fresh


def _partitions(conn: Connection, table: str) -> list[tuple[str, str]]:
    """The partitions of `table`: (name, bound as `FOR VALUES …` / `DEFAULT`)."""
    rows = conn.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = CAST(:t AS regclass) "
            "ORDER BY c.relname"
        ),
        {"t": table},
    )
    return [(r[0], r[1]) for r in rows]


def _fresh_part(fresh: str, table: str, part: str) -> str:
    """`t_p202611` of `t` as the fresh copy's `t__fresh_p202611`."""
    return fresh + part.removeprefix(table)


def begin_fresh(conn: Connection, table: str) -> tuple[TableShape, str]:
    """Lock `table` against writers and create its fresh copy in the caller's transaction;
    return the table's shape and the copy's name (to fill, then `swap_in`)."""
    lock(conn, table)
    return shape(conn, table), create_fresh(conn, table)


def swap_in(conn: Connection, table_shape: TableShape, fresh: str) -> None:
    """Build the keys and indexes on the filled copy, then put it in the table's place."""
    table = table_shape.table
    # index builds sort in memory and use the parallel workers PostgreSQL allows
    conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
    renames: list[str] = []
    for i, (name, definition) in enumerate(table_shape.constraints):
        temp = f"{fresh}_c{i}"
        conn.execute(text(f"ALTER TABLE {fresh} ADD CONSTRAINT {temp} {definition}"))
        renames.append(f"ALTER TABLE {table} RENAME CONSTRAINT {temp} TO {name}")
    for i, (name, definition) in enumerate(table_shape.indexes):
        temp = f"{fresh}_i{i}"
        conn.execute(text(_index_on(definition, temp, fresh)))
        renames.append(f"ALTER INDEX {temp} RENAME TO {name}")
    conn.execute(text(f"ANALYZE {fresh}"))
    for sequence, column in table_shape.sequences:
        conn.execute(text(f"ALTER SEQUENCE {sequence} OWNED BY {fresh}.{column}"))
    for privilege, grantee in table_shape.grants:
        conn.execute(text(f"GRANT {privilege} ON {fresh} TO {grantee}"))
    parts = _partitions(conn, table)
    conn.execute(text(f"DROP TABLE {table}"))
    conn.execute(text(f"ALTER TABLE {fresh} RENAME TO {table}"))
    for part, _ in parts:
        conn.execute(text(f"ALTER TABLE {_fresh_part(fresh, table, part)} RENAME TO {part}"))
        # their indexes were named after the fresh partition by PostgreSQL: after the old one
        for index in conn.execute(
            text(
                "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE i.indrelid = CAST(:p AS regclass) AND starts_with(c.relname, :f)"
            ),
            {"p": part, "f": fresh},
        ).scalars():
            conn.execute(text(f"ALTER INDEX {index} RENAME TO {table}{index.removeprefix(fresh)}"))
    for statement in renames:
        conn.execute(text(statement))


_INDEX = re.compile(r"^(CREATE (?:UNIQUE )?INDEX) \S+ ON (?:ONLY )?\S+ (USING .*)$", re.S)


def _index_on(definition: str, name: str, table: str) -> str:
    """`CREATE INDEX a ON t USING …` as the same index named `name` on `table`."""
    match = _INDEX.match(definition)
    if match is None:
        raise SwapRefused(f"unexpected index definition: {definition}")
    return f"{match.group(1)} {name} ON {table} {match.group(2)}"
