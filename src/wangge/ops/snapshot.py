"""Row counts and content checksums of every table, to prove a copy equals its source."""

from __future__ import annotations

import hashlib
import warnings
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, MetaData, Table, exc, func, select, text

SKIP = {"spatial_ref_sys"}  # PostGIS' own table, not ours


def reflect(conn: Connection) -> MetaData:
    """Reflect the database's tables (PostGIS types show up as unknown; that is fine here)."""
    meta = MetaData()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", exc.SAWarning)
        meta.reflect(bind=conn)
    for name in (SKIP | _partitions(conn)) & set(meta.tables):
        meta.remove(meta.tables[name])
    return meta


def _partitions(conn: Connection) -> set[str]:
    """Monthly partitions: their rows are their parent table's (`ops.partitions`)."""
    if conn.dialect.name != "postgresql":
        return set()
    return set(conn.execute(text("SELECT relname FROM pg_class WHERE relispartition")).scalars())


def _plain(value: Any) -> Any:
    if isinstance(value, memoryview):
        value = bytes(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return value


def _order(table: Table) -> list[Any]:
    pk = list(table.primary_key.columns)
    return pk or list(table.columns)


def table_checksum(conn: Connection, table: Table) -> tuple[int, str]:
    """Return the row count and a sha256 over the rows in primary-key order."""
    digest = hashlib.sha256()
    rows = 0
    result = conn.execution_options(stream_results=True, yield_per=5000).execute(
        select(table).order_by(*_order(table))
    )
    for row in result:
        digest.update(orjson.dumps([_plain(v) for v in row], default=str))
        digest.update(b"\n")
        rows += 1
    return rows, digest.hexdigest()


def manifest_tables(conn: Connection, *, checksums: bool = True) -> dict[str, dict[str, Any]]:
    """Return {table: {rows, sha256}} for every table of the database."""
    meta = reflect(conn)
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(meta.tables):
        table = meta.tables[name]
        if checksums:
            rows, digest = table_checksum(conn, table)
            out[name] = {"rows": rows, "sha256": digest}
        else:
            out[name] = {"rows": conn.execute(select(func.count()).select_from(table)).scalar()}
    return out


# Tables only people fill (migrations seed catalogues, never these).
USER_TABLES = ("divisions", "grids", "cases", "users", "audit_log", "located_points")


def has_data(conn: Connection) -> bool:
    """Return True when any table people fill holds rows (migration seeds do not count)."""
    meta = reflect(conn)
    for name in USER_TABLES:
        table = meta.tables.get(name)
        if (
            table is not None
            and conn.execute(select(text("1")).select_from(table).limit(1)).first()
        ):
            return True
    return False


def has_tables(conn: Connection) -> bool:
    """Return True when the database has any table of ours."""
    return bool(reflect(conn).tables)
