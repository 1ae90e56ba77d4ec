"""Shared by the server benchmarks: a free port and `wangge serve` started the production way."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    """Return a TCP port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(
    url: str,
    workers: int,
    port: int,
    *,
    env: dict[str, str],
    ready_path: str,
    log: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start `wangge serve --workers N` on `url` and wait until `ready_path` answers 200
    (its output goes to `log` when given: `wait_warmed` reads it)."""
    exe = Path(sys.executable).parent / "wangge"
    out = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env={**os.environ, "WANGGE_DATABASE_URL": url, **env},
        stdout=out,
        stderr=out,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{ready_path}", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGTERM)
    raise SystemExit("server did not start")


def wait_warmed(log: Path, workers: int, timeout: float = 600.0) -> None:
    """Wait until every worker has finished its start-up warm-up (the grid indexes within
    half the budget, the map summaries): a measurement begun before then measures the
    warm-up (stop 30: intake 32 reports/s, p99 7.2 s while 4 workers warmed on 2 cores)."""
    deadline = time.monotonic() + timeout

    def warmed() -> int:
        text = log.read_text(errors="replace")
        return text.count("grid indexes of") + text.count("cache warm-up skipped")

    while warmed() < workers:
        if time.monotonic() > deadline:
            raise SystemExit(f"the workers did not warm up in {timeout:.0f} s; see {log}")
        time.sleep(0.5)
