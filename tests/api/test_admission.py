"""More requests at once than database connections: every one is answered (issue 15).

A request holds its connection from its first statement to its commit, over several hops
through the thread pool. When more requests arrived at once than the pool had connections,
the threads all waited for a connection while the requests holding one waited for a thread to
commit: the server stalled until the pool timed out (30 s) and then answered 500s. Requests
now wait their turn before their first statement (`WANGGE_REQUEST_CONCURRENCY`).
"""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest

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
from tests.servers import free_port

pytestmark = [pytest.mark.postgis, pytest.mark.slow]
USER = "burst-reporter"
BURST = 48  # more than the thread pool's 40 threads and the 2 connections together


@pytest.fixture
def database():
    url = create_pg_database("wangge_admission")
    try:
        seed_world(url, cases=0, username=USER)
        yield url
    finally:
        drop_pg_database(url)


def test_a_burst_of_reports_larger_than_the_connection_pool_is_answered_in_full(database, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    small_pool = {"WANGGE_DB_POOL_SIZE": "2", "WANGGE_DB_MAX_OVERFLOW": "0",
                  "WANGGE_REQUEST_CONCURRENCY": "2"}  # fmt: skip
    server = start_server(database, port, workers=1, upload_dir=tmp_path, settings=small_pool)
    statuses: Counter[int | str] = Counter()
    lock = threading.Lock()
    try:
        wait_ready(base, server)
        token = bearer_token(base, USER)
        start = threading.Barrier(BURST)

        def report(i: int) -> None:
            body = {"category_code": "E0102", "description": f"暴露垃圾 {i}",
                    "lon": X0 + (0.1 + 0.8 * i / BURST) * DX, "lat": Y0 + 0.5 * DY}  # fmt: skip
            with httpx.Client(base_url=base, timeout=120) as client:
                start.wait()
                try:
                    r = client.post(
                        "/api/v1/cases", json=body, headers={"Authorization": f"Bearer {token}"}
                    )
                    outcome: int | str = r.status_code
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
            with lock:
                statuses[outcome] += 1

        threads = [threading.Thread(target=report, args=(i,)) for i in range(BURST)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        kill_group(server)
    assert statuses == {201: BURST}, statuses
