"""FastAPI dependencies: the database session and the current principal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Connection, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, SessionTransaction

from wangge.auth.principal import ANONYMOUS, Principal, Unauthenticated
from wangge.config import Settings
from wangge.errors import Forbidden, keeps_writes
from wangge.ops.replicas import mark_written, session_for

SESSION_COOKIE = "wangge_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


# Dependencies that do no I/O are `async def`: FastAPI runs a sync dependency in the thread
# pool, and each such hop (a queue, a thread wake-up, a GIL hand-over and back) cost a report
# more than its own work did (py-spy under load, issue 15). Blocking work stays in the pool.


async def open_session(request: Request) -> AsyncIterator[Session]:
    """One session per request, closed after the response has been sent.

    Creating a session opens no connection (the first statement does, in the thread pool);
    closing one whose transaction `get_session` already ended only hands the connection back.
    """
    session = session_for(request)  # a fresh read replica for routed reads, else the primary
    if request.method not in _SAFE_METHODS and session.get_bind().dialect.name == "sqlite":
        event.listen(session, "after_begin", _write_lock_first)
    try:
        yield session
    finally:
        session.close()


def _write_lock_first(
    _session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    """On SQLite, a request that may write takes the write lock before its first read.

    pysqlite begins a transaction at the first write; if another writer (the audit sealer, a
    second request, the demo month) committed after this request's first read, SQLite refuses
    the write at once with "database is locked", without waiting. BEGIN IMMEDIATE waits (busy
    timeout) instead; reads (GET) keep SQLite's concurrent snapshots.
    """
    if transaction.nested:
        return
    dbapi = connection.connection.dbapi_connection
    assert dbapi is not None  # the connection is checked out: a transaction is beginning on it
    if not dbapi.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


async def get_session(
    request: Request, session: Annotated[Session, Depends(open_session)]
) -> AsyncIterator[Session]:
    """The request's session: committed when the endpoint returns, rolled back on any error.

    This dependency has function scope (see SessionDep), so the commit happens *before* the
    response is sent: a client never sees a success whose commit then failed. With the
    default request scope FastAPI sent the 201 first and committed afterwards, and a report
    acknowledged during a database outage was lost (tests/api/test_faults_server.py).
    """

    def commit() -> None:
        session.commit()
        if request.method not in _SAFE_METHODS:
            mark_written(request, session)  # with read replicas: the client's write position

    # Admission: a request holds its connection from its first statement to its commit, over
    # several hops through the thread pool. With more requests in flight than connections,
    # the pool's threads all waited for a connection while the requests holding connections
    # waited for a thread to commit: the worker stalled until the pool timed out (issue 15,
    # py-spy). At most `request_concurrency` requests pass here at once, first come first
    # served; the others wait before touching the database.
    gate: asyncio.Semaphore | None = getattr(request.app.state, "admission", None)
    if gate is not None:
        await gate.acquire()
    try:
        yield session
        await run_in_threadpool(commit)
    except BaseException as exc:
        if (
            isinstance(exc, OperationalError)
            and getattr(request.state, "db_node", "primary") != "primary"
        ):
            request.app.state.replicas.failed(session.get_bind())
        if keeps_writes(exc):
            # e.g. a failed login: counted and audited, then refused
            await run_in_threadpool(session.commit)
        else:
            await run_in_threadpool(session.rollback)
        raise
    finally:
        if gate is not None:
            gate.release()  # the connection is only handed back now (no thread needed)


async def get_settings(request: Request) -> Settings:
    """Return the app's settings."""
    return request.app.state.settings  # type: ignore[no-any-return]


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_principal(request: Request, session: SessionDep) -> Principal:
    """Resolve the caller from a bearer token, an API key or the session cookie (with CSRF)."""
    from wangge.auth.service import principal_from_session, principal_from_token

    auth = request.headers.get("Authorization", "")
    # Secrets only in headers: a query string lands in access logs, proxies and histories.
    key = request.headers.get("X-API-Key")
    if auth.lower().startswith("bearer "):
        principal = principal_from_token(session, auth[7:].strip())
        if principal is None:
            raise Unauthenticated("令牌无效或已过期", "invalid or expired token", code="bad_token")
        return principal
    if key:
        principal = principal_from_token(session, key)
        if principal is None or principal.via != "api_key":
            raise Unauthenticated("API 密钥无效", "invalid API key", code="bad_api_key")
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        principal = principal_from_session(session, cookie)
        if principal is None:
            raise Unauthenticated(
                "登录已过期，请重新登录", "session expired; log in again", code="session_expired"
            )
        # Cookies ride along on cross-site requests; a header a foreign page cannot read
        # proves the request came from our own page.
        if (
            request.method not in _SAFE_METHODS
            and request.headers.get(CSRF_HEADER) != principal.csrf_token
        ):
            raise Forbidden("CSRF 校验失败", "CSRF check failed", code="csrf_failed")
        return principal
    return ANONYMOUS


SettingsDep = Annotated[Settings, Depends(get_settings)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
