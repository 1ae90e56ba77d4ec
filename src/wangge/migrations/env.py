"""Alembic environment: one migration history for SQLite and PostgreSQL+PostGIS."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

from wangge.db import Base, make_engine
from wangge.models import import_all_models

import_all_models()
target_metadata = Base.metadata
config = context.config


def run_migrations_online() -> None:
    """Run migrations on the connection given by wangge.dbadmin or on the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    engine.pool = pool.NullPool(engine.pool._creator)
    with engine.connect() as conn:
        _run(conn)
        conn.commit()


def _include(obj, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    # Spatial indexes are made per dialect in the migrations (GiST / bbox), not in models.
    return not (type_ == "index" and name and (name.endswith("_bbox") or name.endswith("_geom")))


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=_include,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `wangge db upgrade`")
run_migrations_online()
