"""`wangge migrate-db --to postgresql://…`: move the embedded SQLite database to PostgreSQL.

The target schema is built by Alembic (so it is exactly what `wangge db upgrade` makes); rows
are copied table by table in foreign-key order in batches through the ORM tables, whose
column types convert on the way (WKB → PostGIS geometry with SRID 4490, naive UTC → aware);
sequences are then moved past the copied ids and the row counts are compared.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, Table, delete, exc, func, inspect, select, text

from wangge.db import Base, make_engine, normalize_url
from wangge.dbadmin import upgrade
from wangge.errors import Conflict, ValidationFailed
from wangge.ops import partitions
from wangge.ops.snapshot import has_data

BATCH = 2000
# Bookkeeping the target's own migrations write; copied over (after clearing) like the rest.
KEEP = {"alembic_version"}


@dataclass
class MigrationReport:
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # table: (source, target)

    @property
    def mismatches(self) -> dict[str, tuple[int, int]]:
        """Return the tables whose row counts differ."""
        return {k: v for k, v in self.counts.items() if v[0] != v[1]}


def _tables() -> list[Table]:
    from wangge.models import import_all_models

    import_all_models()
    return list(Base.metadata.sorted_tables)


def _copy_table(src: Connection, dst: Connection, table: Table, batch: int) -> int:
    if not inspect(src).has_table(table.name) or not inspect(dst).has_table(table.name):
        return 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", exc.SAWarning)  # PostGIS types are unknown to reflection
        target_columns = {c["name"] for c in inspect(dst).get_columns(table.name)}
        source_columns = {c["name"] for c in inspect(src).get_columns(table.name)}
    columns = [c for c in table.columns if c.name in target_columns & source_columns]
    order = list(table.primary_key.columns) or columns
    result = src.execution_options(stream_results=True, yield_per=batch).execute(
        select(*columns).order_by(*order)
    )
    copied = 0
    for chunk in result.partitions(batch):
        dst.execute(table.insert(), [dict(row._mapping) for row in chunk])
        copied += len(chunk)
    return copied


def _reset_sequences(dst: Connection, tables: list[Table]) -> None:
    for table in tables:
        for column in table.primary_key.columns:
            seq = dst.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name}
            ).scalar()
            if seq:
                dst.execute(
                    text(
                        f'SELECT setval(:s, coalesce(max("{column.name}"), 1), '
                        f'max("{column.name}") IS NOT NULL) FROM "{table.name}"'
                    ),
                    {"s": seq},
                )


def _partition_months(src: Connection, dst: Connection, tables: list[Table]) -> None:
    """Create the monthly partitions of the months the source's rows fall in, before they are
    copied (see `ops.partitions.create_months`)."""
    by_name = {t.name: t for t in tables}
    for spec in partitions.TABLES:
        table = by_name.get(spec.table)
        if table is None or not inspect(src).has_table(spec.table):
            continue
        key = table.c[spec.key]
        first, last = src.execute(select(func.min(key), func.max(key))).one()
        if first is not None:
            partitions.create_months(
                dst, spec.table, partitions.local_month_day(first), partitions.local_month_day(last)
            )


def migrate_database(
    source_url: str,
    target_url: str,
    *,
    force: bool = False,
    batch: int = BATCH,
    progress: Callable[[str, int], None] | None = None,
) -> MigrationReport:
    """Copy every table of a SQLite database into a fresh PostgreSQL+PostGIS database."""
    source_url, target_url = normalize_url(source_url), normalize_url(target_url)
    if not source_url.startswith("sqlite"):
        raise ValidationFailed("源数据库须为 SQLite", "the source must be a SQLite database")
    if not target_url.startswith("postgresql"):
        raise ValidationFailed("目标数据库须为 PostgreSQL", "the target must be PostgreSQL")
    source, target = make_engine(source_url), make_engine(target_url)
    try:
        from wangge.dbadmin import current_revision, head_revision

        if current_revision(source) != head_revision(source):
            raise ValidationFailed(
                "源数据库结构不是最新版本，请先运行 wangge db upgrade",
                "upgrade the source first (`wangge db upgrade`)",
            )
        with target.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        upgrade(target)
        with target.connect() as conn:
            if has_data(conn) and not force:
                raise Conflict(
                    "目标数据库已有数据；确认覆盖请加 --force",
                    "the target database already holds data; pass --force to overwrite it",
                    code="target_not_empty",
                )
        tables = [t for t in _tables() if t.name not in KEEP]
        report = MigrationReport()
        with source.connect() as src, target.begin() as dst:
            # Rows seeded by the target's migrations are replaced by the source's own.
            for table in reversed(tables):
                if inspect(dst).has_table(table.name):
                    dst.execute(delete(table))
            _partition_months(src, dst, tables)
            for table in tables:
                n = _copy_table(src, dst, table, batch)
                if progress:
                    progress(table.name, n)
            _reset_sequences(dst, tables)
        with source.connect() as src, target.connect() as dst:
            for table in tables:
                if not inspect(src).has_table(table.name):
                    continue
                count = select(func.count()).select_from(table)
                report.counts[table.name] = (
                    src.execute(count).scalar_one(),
                    dst.execute(count).scalar_one(),
                )
        return report
    finally:
        source.dispose()
        target.dispose()
