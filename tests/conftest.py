"""Shared fixtures: a migrated database on SQLite and on PostgreSQL+PostGIS.

Integration tests take `session`, which is parametrized over both backends. PostgreSQL
comes from WANGGE_TEST_PG_URL; when it is unset or unreachable those tests are reported
as skipped (never silently passed). Each test runs inside a transaction that is rolled
back, so tests never share state. Under pytest-xdist every worker gets a database of its
own (`<name>_gw0`, `<name>_gw1`, ...), created here and dropped at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from wangge.common.cache import clear_all
from wangge.db import make_engine, normalize_url
from wangge.dbadmin import upgrade
from wangge.grids.locating import clear_cache
from wangge.wiring import wire

# The cross-package hooks, as `wangge serve` and the CLI register them (`wangge.wiring`).
wire()

PG_ENV = "WANGGE_TEST_PG_URL"
# argon2-cffi's own profile for test suites: every password hash in microseconds, in this
# process and in the servers the tests start (they inherit the environment).
os.environ.setdefault("WANGGE_PASSWORD_HASHING", "cheapest")
# In-process apps share the test's transaction, where a background audit sealer would only
# wait for locks: they leave entries unsealed (verified by their MACs). Servers the tests
# start seal as in production (`tests.servers.LIVE_SERVER_ENV`).
os.environ.setdefault("WANGGE_AUDIT_SEAL_SECONDS", "0")
# Likewise the outbox delivery worker: tests that want it set WANGGE_DELIVER_SECONDS themselves.
os.environ.setdefault("WANGGE_DELIVER_SECONDS", "0")
# And the overdue sweep: tests that want it set WANGGE_SWEEP_SECONDS themselves.
os.environ.setdefault("WANGGE_SWEEP_SECONDS", "0")
# And the monthly evaluation reports: tests that want them set WANGGE_EVAL_REPORT_SECONDS.
os.environ.setdefault("WANGGE_EVAL_REPORT_SECONDS", "0")
# And the export worker (background exports): in-process apps on the test's transaction would
# poll a database they do not use; servers the tests start run it (LIVE_SERVER_ENV).
os.environ.setdefault("WANGGE_EXPORT_SECONDS", "0")
# And the monthly partition maintenance (PostgreSQL): the migration creates the months ahead.
os.environ.setdefault("WANGGE_PARTITION_SECONDS", "0")
# The test process builds hundreds of apps: what gc.freeze() keeps is never collected, so the
# freeze after warm-up is tested on its own (tests/api/test_startup.py) and off elsewhere.
os.environ.setdefault("WANGGE_GC_FREEZE", "false")


def _share_route_models_between_apps() -> None:
    """Build each route's dependant and response model once per test process, not per app.

    FastAPI (0.16x) builds them for every app on its first request: pydantic type adapters
    for ~300 routes, 0.6–0.9 s per app on the 2-core machine. A server builds one app per
    process; the suite builds one per test, which made the API tests ~1 s each. Both builders
    are pure functions of their arguments (the path, the endpoint function, its declared
    dependencies; the response type), and request-time overrides are looked up per request,
    so sharing their results between apps changes nothing the tests check. If FastAPI renames
    these internals, this does nothing and the suite is only slower.
    """
    import fastapi.routing as routing

    build = getattr(routing, "_build_dependant_with_parameterless_dependencies", None)
    field = getattr(routing, "create_model_field", None)
    if build is None or field is None:
        return
    dependants: dict[tuple, tuple] = {}
    fields: dict[tuple, object] = {}

    def shared_dependant(*, path, call, dependencies):  # type: ignore[no-untyped-def]
        key = (path, call, tuple(map(id, dependencies)))
        if key not in dependants:  # keep `dependencies` alive so their ids stay theirs
            built = build(path=path, call=call, dependencies=dependencies)
            dependants[key] = (built, list(dependencies))
        return dependants[key][0]

    def shared_field(*, name, type_, mode="validation", **rest):  # type: ignore[no-untyped-def]
        if rest:
            return field(name=name, type_=type_, mode=mode, **rest)
        try:
            key = (name, type_, mode)
            if key not in fields:
                fields[key] = field(name=name, type_=type_, mode=mode)
            return fields[key]
        except TypeError:  # an unhashable type: build it each time
            return field(name=name, type_=type_, mode=mode)

    routing._build_dependant_with_parameterless_dependencies = shared_dependant
    routing.create_model_field = shared_field


_share_route_models_between_apps()


def worker_pg_url(worker: str) -> str | None:
    """The PostgreSQL URL of this xdist worker (the configured database itself without xdist)."""
    url = os.environ.get(PG_ENV)
    if not url:
        return None
    url = normalize_url(url)
    if worker in ("", "master"):
        return url
    base = make_url(url)
    return base.set(database=f"{base.database}_{worker}").render_as_string(hide_password=False)


def _admin(url: str, *statements: str) -> None:
    """Run statements on the server's `postgres` database, outside a transaction."""
    admin = make_engine(
        make_url(url).set(database="postgres").render_as_string(hide_password=False)
    )
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for sql in statements:
                conn.execute(text(sql))
    finally:
        admin.dispose()


def _pg_engine(worker: str) -> Engine:
    url = worker_pg_url(worker)
    if not url:
        pytest.skip(f"PostgreSQL not configured: set {PG_ENV} (CI sets it)")
    try:
        if worker not in ("", "master"):
            name = make_url(url).database
            _admin(
                url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
            )
        engine = make_engine(url)
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
def pg_engine(worker_id: str) -> Iterator[Engine]:
    """The migrated PostgreSQL database of this worker (`worker_id` comes from pytest-xdist)."""
    engine = _pg_engine(worker_id)
    upgrade(engine)
    yield engine
    engine.dispose()
    if worker_id != "master":
        url = engine.url.render_as_string(hide_password=False)
        _admin(url, f'DROP DATABASE IF EXISTS "{engine.url.database}" WITH (FORCE)')


def _simulate_into(engine: Engine) -> dict[str, int]:
    """Build the case world and simulate a month of 120 cases in it, committed."""
    from tests.case_factories import T0, build_world
    from wangge.db import session_factory, unit_of_work
    from wangge.demo.simulate import simulate_month

    with unit_of_work(session_factory(engine)) as s:
        build_world(s)
        return simulate_month(
            s, county_code="110108", seed=7, now=T0 + timedelta(days=3), n_cases=120
        )


@pytest.fixture(scope="session")
def simulated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, dict]]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('sim') / 'sim.db'}")
    upgrade(engine)
    counts = _simulate_into(engine)
    yield engine, counts
    engine.dispose()


def scratch_pg(worker: str, suffix: str) -> Iterator[Engine]:
    """Yield an empty PostgreSQL+PostGIS database of its own beside the worker's (not
    migrated), dropped afterwards; skip without PostgreSQL."""
    base = worker_pg_url(worker)
    if not base:
        pytest.skip(f"PostgreSQL not configured: set {PG_ENV} (CI sets it)")
    url = make_url(base)
    url = url.set(database=f"{url.database}_{suffix}").render_as_string(hide_password=False)
    name = make_url(url).database
    _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    yield engine
    engine.dispose()
    _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def simulated_pg(worker_id: str) -> Iterator[tuple[Engine, dict]]:
    for engine in scratch_pg(worker_id, "sim"):
        upgrade(engine)
        yield engine, _simulate_into(engine)


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def simulated(request: pytest.FixtureRequest) -> Iterator[tuple[Session, dict[str, int]]]:
    """A simulated month (120 cases, seed 7, ending T0 + 3 days) built once per worker and
    backend, and a rolled-back session on it; with the counts `simulate_month` returned."""
    engine, counts = request.getfixturevalue(f"simulated_{request.param.replace('postgis', 'pg')}")
    for s in _rolled_back_session(engine):
        yield s, counts


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
    if engine.dialect.name == "sqlite":
        # pysqlite sends no BEGIN until the first INSERT/UPDATE: without this, the session's
        # first SAVEPOINT would open the transaction itself and its RELEASE (a request's
        # commit) would commit for real, leaking one test's rows into the next.
        conn.exec_driver_sql("BEGIN")
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
