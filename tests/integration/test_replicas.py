"""Read replicas (issue 20) against a real PostgreSQL streaming replica of a private primary.

A private primary and a hot standby made with pg_basebackup run on their own ports, so the
tests may pause replay, stop the standby or promote it without disturbing any other test.
They show: routed reads served by the replica; a client's own write read back at once (its
write position in a cookie sends it to the primary until the replica has replayed it); a
lagging replica left alone; a stopped replica never read after the monitor saw it go; and a
promoted replica taken as the primary through a multi-host URL.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.case_factories import LEADER, SUPERVISOR
from tests.ops_support import seed_world
from tests.servers import PrivateCluster, replicated_clusters
from wangge.api.deps import get_principal
from wangge.config import Settings
from wangge.db import make_engine
from wangge.main import create_app
from wangge.ops.replicas import LSN_COOKIE, NODE_HEADER

pytestmark = [pytest.mark.postgis, pytest.mark.slow]
MAX_LAG = 1.0


def _until(done: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"not in time: {what}"
        time.sleep(0.1)


def _sql(cluster: PrivateCluster, statement: str) -> object:
    engine = make_engine(cluster.url)
    try:
        with engine.connect() as conn:
            value = conn.execute(text(statement)).scalar()
            conn.commit()
            return value
    finally:
        engine.dispose()


@pytest.fixture
def clusters() -> Iterator[tuple[PrivateCluster, PrivateCluster]]:
    with replicated_clusters() as (primary, replica):
        seed_world(primary.url, cases=2)
        yield primary, replica


def _client(primary_url: str, replica: PrivateCluster, tmp_path) -> TestClient:  # type: ignore[no-untyped-def]
    settings = Settings(
        database_url=primary_url,
        read_database_url=replica.url,
        replica_max_lag_seconds=MAX_LAG,
        replica_check_seconds=0.2,
        upload_dir=tmp_path / "uploads",
        log_json=False,
    )
    app = create_app(settings)
    who = {"principal": LEADER}
    app.dependency_overrides[get_principal] = lambda: who["principal"]
    client = TestClient(app)
    client.who = who  # type: ignore[attr-defined]
    return client


def _board(client: TestClient) -> tuple[str, int]:
    r = client.get("/web/api/dashboard")
    assert r.status_code == 200, r.text
    return r.headers[NODE_HEADER], r.json()["total"]


def _report(client: TestClient) -> dict:
    client.who["principal"] = SUPERVISOR  # type: ignore[attr-defined]
    try:
        from tests.case_factories import LAT, LON

        r = client.post(
            "/api/v1/cases",
            json={"category_code": "E0102", "description": "副本测试：暴露垃圾", "lon": LON,
                  "lat": LAT, "photos": []},
        )  # fmt: skip
    finally:
        client.who["principal"] = LEADER  # type: ignore[attr-defined]
    return {"status": r.status_code, "body": r.json(), "lsn": r.cookies.get(LSN_COOKIE)}


def test_reads_go_to_the_replica_and_a_clients_own_write_is_read_back_at_once(clusters, tmp_path):
    primary, replica = clusters
    with _client(primary.url, replica, tmp_path) as client:
        _until(lambda: _board(client)[0].startswith("replica:"), "the replica in use")
        node, before = _board(client)
        assert node == f"replica:127.0.0.1:{replica.port}"
        # Writes never go to a replica, whatever the route.
        assert client.get("/api/v1/cases?limit=1").headers[NODE_HEADER] == "primary"

        _sql(replica, "SELECT pg_wal_replay_pause()")  # the replica falls behind from now
        wrote = _report(client)
        assert wrote["status"] == 201 and wrote["lsn"] is not None
        # The reporter's next page carries his write position: the primary answers, with it.
        node, total = _board(client)
        assert (node, total) == ("primary", before + 1)

        # Another client (no cookie): the replica may answer within the lag limit, and once
        # it lags more, the primary does.
        client.cookies.clear()
        _until(lambda: _board(client) == ("primary", before + 1), "a lagging replica left")

        _sql(replica, "SELECT pg_wal_replay_resume()")
        _until(lambda: _board(client) == (node_of(replica), before + 1), "the replica back")


def node_of(replica: PrivateCluster) -> str:
    return f"replica:127.0.0.1:{replica.port}"


def test_a_stopped_replica_is_never_read_after_the_monitor_saw_it_go(clusters, tmp_path):
    primary, replica = clusters
    with _client(primary.url, replica, tmp_path) as client:
        _until(lambda: _board(client)[0] == node_of(replica), "the replica in use")
        replica.stop()

        # Reads in flight when it stopped may fail; once it is noticed, none is sent there.
        def noticed() -> bool:
            r = client.get("/web/api/dashboard")
            return r.status_code == 200 and r.headers[NODE_HEADER] == "primary"

        _until(noticed, "the primary reading")
        served = [client.get("/web/api/dashboard") for _ in range(20)]
        assert [(r.status_code, r.headers[NODE_HEADER]) for r in served] == [(200, "primary")] * 20
        # Open311 and the evaluation too
        assert client.get("/open311/v2/services.json").headers[NODE_HEADER] == "primary"

        replica.start()
        _until(lambda: _board(client)[0] == node_of(replica), "the replica taken back")
        assert client.get("/open311/v2/services.json").headers[NODE_HEADER] == node_of(replica)


def test_a_promoted_replica_becomes_the_primary_of_a_multi_host_url(clusters, tmp_path):
    primary, replica = clusters
    # libpq tries the hosts in order and keeps the one that accepts writes.
    both = (
        f"postgresql+psycopg://postgres@/postgres?host=127.0.0.1:{primary.port}"
        f"&host=127.0.0.1:{replica.port}&target_session_attrs=read-write"
    )
    with _client(both, replica, tmp_path) as client:
        _until(lambda: _board(client)[0] == node_of(replica), "the replica in use")
        _, before = _board(client)
        primary.stop()  # the primary fails
        replica.promote()

        written: list[dict] = []

        def reported() -> bool:
            written.append(_report(client))
            return written[-1]["status"] == 201

        _until(reported, "a report accepted by the promoted server")
        assert all(w["status"] >= 500 for w in written[:-1])  # refused, never half-written
        # The promoted server is no replica any more: reads go to the primary, which is it.
        client.cookies.clear()
        _until(lambda: _board(client) == ("primary", before + 1), "reads from the new primary")
        assert _sql(replica, "SELECT pg_is_in_recovery()") is False


def test_a_replica_behind_what_was_written_before_the_process_started_is_not_read(
    clusters, tmp_path
):
    """A process that starts while its replica is still replaying older writes cannot know
    how far behind it is: the replica waits until it has caught up with what the process
    first saw on the primary."""
    from tests.case_factories import report
    from wangge.common.models import utcnow
    from wangge.db import session_factory, unit_of_work

    primary, replica = clusters
    _until(lambda: _sql(replica, "SELECT count(*) FROM cases") == 2, "the seed replayed")
    _sql(replica, "SELECT pg_wal_replay_pause()")
    engine = make_engine(primary.url)
    with unit_of_work(session_factory(engine)) as s:
        report(s, SUPERVISOR, at=utcnow())  # written before the server starts; not replayed
    engine.dispose()
    with _client(primary.url, replica, tmp_path) as client:
        for _ in range(15):
            assert _board(client) == ("primary", 3)
            time.sleep(0.1)
        _sql(replica, "SELECT pg_wal_replay_resume()")
        _until(lambda: _board(client) == (node_of(replica), 3), "the replica once caught up")
