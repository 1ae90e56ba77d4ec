"""Intake under faults: kill -9 of the server, and a PostgreSQL restart, while reports pour in.

A load loop of threads posts reports with an Idempotency-Key each and retries a key (same key)
until it gets a success; every acknowledged report must be in the database exactly once.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import func, select

from tests.factories import DX, DY, X0, Y0
from tests.ops_support import (
    bearer_token,
    create_pg_database,
    drop_pg_database,
    kill_group,
    seed_world,
    start_server,
    wait_ready,
)
from tests.servers import PrivateCluster, free_port, private_cluster
from wangge.audit.chain import ChainReport, verify_chain
from wangge.audit.models import AuditEntry
from wangge.cases.models import Case
from wangge.db import make_engine, session_factory
from wangge.ops.integrity import check_database

pytestmark = [pytest.mark.postgis, pytest.mark.slow]
USER = "fault-tester"
THREADS = 6


@dataclass
class Load:
    """Threads that post reports until stopped; each key is retried until acknowledged."""

    base_url: str
    token: str
    stop: threading.Event = field(default_factory=threading.Event)
    acked: dict[str, int] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)
    problems: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for n in range(THREADS):
            t = threading.Thread(target=self._run, args=(n,), daemon=True)
            t.start()
            self.threads.append(t)

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in self.threads), "a load thread hung"

    def _run(self, n: int) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            i = 0
            while not self.stop.is_set():
                key = f"t{n}-{i}"
                self._post_until_acked(client, key, i)
                i += 1

    def _post_until_acked(self, client: httpx.Client, key: str, i: int) -> None:
        body = {
            "category_code": "E0102",
            "description": f"暴露垃圾 {key}",
            "lon": X0 + (0.1 + 0.8 * ((i * 37) % 100) / 100) * DX,
            "lat": Y0 + (0.1 + 0.8 * ((i * 61) % 100) / 100) * DY,
        }
        headers = {"Authorization": f"Bearer {self.token}", "Idempotency-Key": key}
        give_up = time.monotonic() + 90
        while time.monotonic() < give_up:
            try:
                r = client.post("/api/v1/cases", json=body, headers=headers)
            except httpx.HTTPError:
                with self.lock:
                    self.statuses["connection_error"] += 1
                time.sleep(0.1)
                continue
            with self.lock:
                self.statuses[r.status_code] += 1
            if r.status_code in (200, 201):
                with self.lock:
                    self.acked[key] = r.json()["id"]
                return
            if r.status_code >= 500 and "problem+json" in r.headers.get("content-type", ""):
                with self.lock:
                    self.problems.append(r.json() | {"retry_after": r.headers.get("retry-after")})
            time.sleep(0.1)
        raise AssertionError(f"report {key} never acknowledged")


@pytest.fixture
def database():
    url = create_pg_database("wangge_fault")
    try:
        seed_world(url, cases=0, username=USER)
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    """A PostgreSQL server of this test's own, so stopping it disturbs no other test."""
    with private_cluster() as c:
        yield c


def _assert_each_acknowledged_report_stored_once(url: str, load: Load) -> None:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            rows = s.execute(select(Case.idempotency_key, Case.id)).all()
            stored = dict(rows)
            assert len(stored) == len(rows), "an idempotency key was stored twice"
            assert stored == load.acked
            assert s.scalar(select(func.count()).select_from(Case)) == len(load.acked)
            result = check_database(s)
            assert result.ok, result.problems
    finally:
        engine.dispose()


def _wait_until_sealed(url: str, timeout: float = 120) -> ChainReport:
    """Wait until the servers have chained every audit entry (entries of killed workers too)."""
    engine = make_engine(url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            with session_factory(engine)() as s:
                report = verify_chain(s)
                reports = s.scalar(
                    select(func.count())
                    .select_from(AuditEntry)
                    .where(AuditEntry.action == "case.report")
                )
                cases = s.scalar(select(func.count()).select_from(Case))
            assert reports == cases, "a report without its audit entry, or one twice"
            if not report.ok or report.unsealed == 0 or time.monotonic() > deadline:
                return report
            time.sleep(0.2)
    finally:
        engine.dispose()


def _wait_for_acks(load: Load, n: int, timeout: float = 30) -> None:
    # Wait for progress rather than a fixed time: a busy CI machine is slow.
    deadline = time.monotonic() + timeout
    while len(load.acked) < n and time.monotonic() < deadline:
        time.sleep(0.1)


def test_every_acknowledged_report_survives_kill_minus_9_of_the_servers_exactly_once(
    database, tmp_path
):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(database, port, workers=2, upload_dir=tmp_path / "up")
    try:
        wait_ready(base, server)
        load = Load(base, bearer_token(base, USER))
        load.start()
        _wait_for_acks(load, 20)
        before = len(load.acked)
        kill_group(server)  # SIGKILL to the supervisor and both workers, mid-request (waits)
        server = start_server(database, port, workers=2, upload_dir=tmp_path / "up")
        wait_ready(base, server)
        _wait_for_acks(load, before + 20)
        load.finish()
        sealed = _wait_until_sealed(database)  # by the restarted servers' sealers
    finally:
        kill_group(server)
    assert sealed.ok and sealed.unsealed == 0, sealed
    assert before >= 20, f"too little load before the kill ({before})"
    assert load.statuses["connection_error"] > 0, "the kill did not interrupt the load"
    assert len(load.acked) > before
    assert set(load.statuses) <= {200, 201, "connection_error"}, load.statuses
    _assert_each_acknowledged_report_stored_once(database, load)


def test_a_postgresql_restart_under_load_answers_503_then_recovers_without_restarting_wangge(
    cluster, tmp_path
):
    database = create_pg_database("wangge_restart", cluster.url)
    seed_world(database, cases=0, username=USER)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(database, port, workers=2, upload_dir=tmp_path / "up")
    try:
        wait_ready(base, server)
        load = Load(base, bearer_token(base, USER))
        load.start()
        _wait_for_acks(load, 20)
        # Stop (fast: connections are cut) and start the test's own server again.
        cluster.stop()
        try:
            during = httpx.get(f"{base}/readyz", timeout=10)
        finally:
            cluster.start()
        recovered_by = time.monotonic() + 30
        acked_at_start = len(load.acked)
        while len(load.acked) <= acked_at_start + 10 and time.monotonic() < recovered_by:
            time.sleep(0.2)
        ready = httpx.get(f"{base}/readyz", timeout=10)
        load.finish()
        assert server.poll() is None, "wangge itself died"
    finally:
        kill_group(server)
    assert during.status_code == 503 and during.json()["code"] == "database_unavailable"
    assert ready.status_code == 200
    assert load.statuses[503] > 0, load.statuses
    assert set(load.statuses) <= {200, 201, 503}, load.statuses
    codes = {p["code"] for p in load.problems}
    assert codes == {"database_unavailable"}, load.problems[:3]
    sample = load.problems[0]
    assert "数据库" in sample["detail"] and "database" in sample["detail_en"]
    assert sample["retry_after"]
    _assert_each_acknowledged_report_stored_once(database, load)
