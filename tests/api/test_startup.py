"""A cold server under a burst: the grid index is built once, and start-up does not wait for it.

These run the app on a real, committed database (no session override), because the defect
is about many request threads of one process meeting an empty cache at the same moment.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.factories import DX, DY, X0, Y0, load_territory, quarters
from wangge.config import Settings
from wangge.db import make_engine, session_factory, unit_of_work
from wangge.dbadmin import upgrade
from wangge.grids import locating
from wangge.grids.service import GridIn, add_grids, new_version
from wangge.grids.versions import activate_version
from wangge.main import create_app

BURST = 12


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cold.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with unit_of_work(session_factory(engine)) as s:
        load_territory(s)
        version = new_version(s, "110108", "social", "v1")
        add_grids(
            s, version, [GridIn(kind="basic", geom=g) for g in quarters("110108001001")], width=3
        )
        activate_version(s, version.id)
    engine.dispose()
    locating.clear_cache()
    yield url
    locating.clear_cache()


def _locate(client: TestClient) -> int:
    r = client.get("/api/v1/grids/locate", params={"lon": X0 + 0.2 * DX, "lat": Y0 + 0.7 * DY})
    return r.status_code if r.json()["grid"] is not None else -1


def test_a_burst_of_first_requests_builds_the_grid_index_once(database, tmp_path):
    app = create_app(Settings(database_url=database, warm_caches=False, upload_dir=tmp_path))
    with TestClient(app) as client:
        before = locating.builds
        start = threading.Barrier(BURST)
        statuses: list[int] = []

        def first_request() -> None:
            start.wait()
            statuses.append(_locate(client))

        threads = [threading.Thread(target=first_request) for _ in range(BURST)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert statuses == [200] * BURST  # every request found the grid
    assert locating.builds - before == 1


def test_the_server_answers_at_once_and_builds_the_index_beside_it(database, tmp_path):
    app = create_app(Settings(database_url=database, upload_dir=tmp_path))
    before = locating.builds
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        deadline = time.monotonic() + 120  # the warm-up runs in its own thread
        while locating.builds == before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert locating.builds - before == 1
        assert _locate(client) == 200
    assert locating.builds - before == 1  # the request used the warmed index


def test_after_the_warm_up_a_full_collection_no_longer_walks_what_start_up_built(
    database, tmp_path
):
    # A full collection holds the GIL: one over everything a worker has built stalled every
    # request of the process (~100 ms for 310,000 objects, issue 15).
    app = create_app(Settings(database_url=database, upload_dir=tmp_path, gc_freeze=True))
    before = gc.get_freeze_count()
    try:
        with TestClient(app) as client:
            deadline = time.monotonic() + 120  # the warm-up runs in its own thread
            while gc.get_freeze_count() == before and time.monotonic() < deadline:
                time.sleep(0.05)
            assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() > before  # the warm-up froze what start-up built
        # the app among it: the objects a collection walks no longer include it
        assert not any(o is app for o in gc.get_objects())
    finally:
        gc.unfreeze()  # give the test process its objects back
