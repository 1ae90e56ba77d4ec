"""Helpers for operations tests: throw-away databases, a seeded world, real server processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.case_factories import SUPERVISOR, build_world, report, to_dispatched
from tests.servers import LIVE_SERVER_ENV, wait_serving
from wangge.auth import service as auth
from wangge.db import make_engine, normalize_url, session_factory, unit_of_work
from wangge.dbadmin import upgrade

PASSWORD = "Ops-Tests-2026!"


def pg_base_url() -> str:
    """Return the test server URL or skip."""
    base = os.environ.get("WANGGE_TEST_PG_URL")
    if not base:
        pytest.skip("PostgreSQL not configured: set WANGGE_TEST_PG_URL (CI sets it)")
    return normalize_url(base)


def _admin_url(base: str) -> str:
    return make_url(base).set(database="postgres").render_as_string(hide_password=False)


def create_pg_database(prefix: str, server_url: str | None = None) -> str:
    """Create an empty database with PostGIS under a unique name; return its URL.

    `server_url` names another server (a private cluster); by default the test server.
    """
    base = normalize_url(server_url) if server_url else pg_base_url()
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(_admin_url(base))
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
    finally:
        admin.dispose()
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    engine.dispose()
    return url


def drop_pg_database(url: str) -> None:
    """Drop a database made by create_pg_database (connections are forced off)."""
    name = make_url(url).database
    admin = make_engine(_admin_url(url))
    try:
        for _ in range(10):
            try:
                with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                return
            except Exception:
                time.sleep(1)  # the server may be restarting in a fault test
    finally:
        admin.dispose()


@contextmanager
def fresh_database(kind: str, tmp_path: Path, prefix: str = "wangge_ops") -> Iterator[str]:
    """Yield the URL of an empty database of `kind` (sqlite or postgis), removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / f'{prefix}_{uuid.uuid4().hex[:6]}.db'}"
        return
    url = create_pg_database(prefix)
    try:
        yield url
    finally:
        drop_pg_database(url)


def seed_world(url: str, *, cases: int = 3, username: str | None = None) -> None:
    """Migrate and load territory, grids, categories, departments, a few cases and a user."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        with unit_of_work(session_factory(engine)) as s:
            build_world(s)
            auth.seed_roles(s)
            for i in range(cases):
                case = report(s, SUPERVISOR)
                if i % 2 == 0:
                    to_dispatched(s, case)
            if username:
                user = auth.create_user(
                    s, username=username, password=PASSWORD, display_name="巡查员"
                )
                auth.assign_post(s, user, "supervisor", scope="110108001001")
    finally:
        engine.dispose()


def bearer_token(base_url: str, username: str) -> str:
    """Log in and mint a bearer token."""
    with httpx.Client(base_url=base_url, timeout=30) as c:
        r = c.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
        r.raise_for_status()
        csrf = c.get("/api/v1/auth/me").json()["csrf_token"]
        r = c.post("/api/v1/auth/tokens", json={"name": "ops"}, headers={"X-CSRF-Token": csrf})
        r.raise_for_status()
        return str(r.json()["token"])


def start_server(
    url: str,
    port: int,
    *,
    workers: int = 2,
    upload_dir: Path,
    settings: dict[str, str] | None = None,
) -> subprocess.Popen:
    """Start `wangge serve --workers N` in its own process group (so kill -9 takes all);
    `settings`: more WANGGE_* variables."""
    env = {
        **os.environ,
        "WANGGE_DATABASE_URL": url,
        "WANGGE_UPLOAD_DIR": str(upload_dir),
        "WANGGE_LOG_LEVEL": "WARNING",
        **LIVE_SERVER_ENV,
        **(settings or {}),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wangge",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_ready(base_url: str, proc: subprocess.Popen | None = None) -> None:
    """Wait until /readyz answers 200 (or the server process has died)."""
    wait_serving(f"{base_url}/readyz", proc=proc)


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signal the whole process group of a server started by start_server."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)
