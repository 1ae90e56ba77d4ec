"""Declarative base, engine factory and the unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from wangge.errors import keeps_writes

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def normalize_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(
    url: str, *, echo: bool = False, pool_size: int = 10, max_overflow: int = 10
) -> Engine:
    """Build an engine; SQLite gets WAL, foreign keys and a busy timeout.

    On PostgreSQL the pool keeps `pool_size` connections: under load, connections beyond it
    are opened and closed per request (a backend fork each), so it should cover a server
    process's usual concurrency (`WANGGE_DB_POOL_SIZE`).
    """
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url, echo=echo, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow
    )


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def session_factory(engine: Engine, *, audit_key: str | None = None) -> sessionmaker[Session]:
    """Return a session factory whose objects stay usable after commit.

    `audit_key` (Settings.audit_key) keys the audit chain of every session it makes; without
    it the development key is used (tests, scripts).
    """
    info = {"audit_key": audit_key} if audit_key else {}
    return sessionmaker(engine, expire_on_commit=False, info=info)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Yield a session that commits when the block ends normally and rolls back otherwise.

    A domain error that keeps its writes (`DomainError.keep_writes`) is committed first.
    """
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException as exc:
        if keeps_writes(exc):
            session.commit()
        else:
            session.rollback()
        raise
    finally:
        session.close()


def write_lock_first(session: Session) -> None:
    """On SQLite, take the write lock before the first read of a transaction that writes.

    pysqlite starts a transaction at the first write; if another process (the demo month, an
    import) committed after this transaction's first read, SQLite refuses the write at once
    ("database is locked") without waiting. BEGIN IMMEDIATE waits (busy timeout) instead.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql("BEGIN IMMEDIATE")
