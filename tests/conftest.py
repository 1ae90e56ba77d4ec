"""Shared fixtures: a migrated database on SQLite and on PostgreSQL+PostGIS.

Integration tests take `session`, which is parametrized over both backends. PostgreSQL
comes from WANGGE_TEST_PG_URL; when it is unset or unreachable those tests are reported
as skipped (never silently passed). Each test runs inside a transaction that is rolled
back, so tests never share state.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from wangge.common.cache import clear_all
from wangge.db import make_engine, normalize_url
from wangge.dbadmin import upgrade
from wangge.grids.locating import clear_cache

PG_ENV = "WANGGE_TEST_PG_URL"


def _pg_engine() -> Engine:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL not configured: set {PG_ENV} (CI sets it)")
    engine = make_engine(normalize_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    except Exception as exc:
        pytest.skip(f"PostgreSQL+PostGIS not reachable at {PG_ENV}: {exc.__class__.__name__}")
    return engine


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("db") / "test.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Engine]:
    engine = _pg_engine()
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The migrated engine of each backend."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    yield from _rolled_back_session(engine)


@pytest.fixture
def pg_session(pg_engine: Engine) -> Iterator[Session]:
    """A PostgreSQL-only session for PostGIS-specific checks."""
    yield from _rolled_back_session(pg_engine)


def _rolled_back_session(engine: Engine) -> Iterator[Session]:
    conn = engine.connect()
    trans = conn.begin()
    s = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    clear_cache()
    clear_all()
    try:
        yield s
    finally:
        s.close()
        trans.rollback()
        conn.close()
        clear_cache()
        clear_all()
