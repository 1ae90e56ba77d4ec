"""Real server processes for the tests: free ports, readiness, and a private PostgreSQL cluster.

Waiting is by event, not by a guessed time: a readiness poll that stops as soon as the server
answers, fails at once when the process has died (with its log), and allows minutes before
giving up, because a busy CI machine may take that long to start a Python process.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

# What a server started by a test sets beyond the inherited environment: it seals the audit
# log in the background as a production server does (tests/conftest.py turns that off for
# in-process apps).
LIVE_SERVER_ENV = {"WANGGE_AUDIT_SEAL_SECONDS": "1", "WANGGE_EXPORT_SECONDS": "1"}
START_TIMEOUT = 300.0  # seconds; only reached when something is really wrong
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    """Return a free TCP port on localhost."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_serving(
    url: str,
    *,
    proc: subprocess.Popen | None = None,
    log: Path | None = None,
    timeout: float = START_TIMEOUT,
) -> None:
    """Return when GET `url` answers 200; raise early if `proc` exits first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc is not None and proc.poll() is not None:
            detail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
            raise RuntimeError(f"server for {url} exited with {proc.returncode}\n{detail}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.1)


@dataclass
class PrivateCluster:
    """A throw-away PostgreSQL cluster that a test may stop and start at will."""

    data: Path
    port: int
    socket_dir: Path
    # Tests trade durability for speed; a benchmark of replication runs as in production
    # (with synchronous_commit=off the WAL reaches the replica only every wal_writer_delay).
    durable: bool = False

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args])

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._ctl("-o", options, "-l", str(self.data.parent / "server.log"), "-w", "start")

    def stop(self) -> None:
        """Stop fast: open connections are cut, as when a database server fails over."""
        self._ctl("-m", "fast", "-w", "stop")

    def promote(self) -> None:
        """Turn a standby into a primary (failover)."""
        self._ctl("-w", "promote")


def _postgres_user() -> pwd.struct_passwd | None:
    # initdb refuses to run as root: as root (CI) the cluster belongs to `postgres`.
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam("postgres")


def _as_postgres(cmd: list[str]) -> None:
    user = _postgres_user()
    full = ["runuser", "-u", user.pw_name, "--", *cmd] if user else cmd
    result = subprocess.run(full, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {result.stdout}{result.stderr}")


@contextmanager
def replicated_clusters(
    *, durable: bool = False
) -> Iterator[tuple[PrivateCluster, PrivateCluster]]:
    """Yield a private primary and a streaming replica of it (pg_basebackup), both running."""
    with private_cluster(durable=durable) as primary:
        base = primary.data.parent
        replica = PrivateCluster(
            data=base / "standby", port=free_port(), socket_dir=base, durable=durable
        )
        backup = [str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
                  "-U", "postgres", "-D", str(replica.data), "-R", "-X", "stream"]  # fmt: skip
        _as_postgres(backup)  # -R: standby.signal and primary_conninfo, so it streams
        replica.start()
        try:
            yield primary, replica
        finally:
            with suppress(RuntimeError):
                replica.stop()


@contextmanager
def private_cluster(*, durable: bool = False) -> Iterator[PrivateCluster]:
    """Yield a running private cluster (removed afterwards); skip without PostgreSQL 15.

    It lives in its own directory under the system temp dir, not in pytest's tmp_path, whose
    parents the `postgres` user cannot enter.
    """
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"{PG_BIN / 'initdb'} is missing (PostgreSQL 15 server binaries)")
    base = Path(tempfile.mkdtemp(prefix="wangge-pg-"))
    user = _postgres_user()
    if user:
        os.chown(base, user.pw_uid, user.pw_gid)
    cluster = PrivateCluster(data=base / "data", port=free_port(), socket_dir=base, durable=durable)
    initdb = [str(PG_BIN / "initdb"), "-D", str(cluster.data), "-A", "trust", "-U", "postgres"]
    _as_postgres([*initdb, "--no-sync", "-E", "UTF8"])
    cluster.start()
    try:
        yield cluster
    finally:
        with suppress(RuntimeError):  # already stopped by the test
            cluster.stop()
        shutil.rmtree(base, ignore_errors=True)
