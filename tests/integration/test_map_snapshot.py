"""The map's in-process snapshot of components: patches, reloads, and a reload in the background.

These tests commit for real, so they use their own SQLite file, not the rolled-back `session`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import Engine, delete, update
from sqlalchemy.orm import Session

from tests.factories import COMMUNITIES
from tests.registry_factories import CENTER, A, B, setup_grids
from wangge.db import make_engine
from wangge.dbadmin import upgrade
from wangge.grids.locating import clear_cache
from wangge.registry import map_snapshot
from wangge.registry.bulk import bulk_load
from wangge.registry.map_snapshot import KINDS, clear_snapshots, snapshot
from wangge.registry.models import Component

KIND = KINDS["components"]


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'map.db'}")
    upgrade(engine)
    clear_cache()
    clear_snapshots()
    with Session(engine) as s:
        setup_grids(s)
        _load(s, 40, seed=1)
        s.commit()
    yield engine
    clear_snapshots()
    clear_cache()
    engine.dispose()


def _load(session: Session, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x0, y0, _, _ = COMMUNITIES[A].bounds
    _, _, x1, y1 = COMMUNITIES[B].bounds
    bulk_load(
        session, CENTER, county_code="110108", class_codes=np.array(["0101", "0201"] * (n // 2)),
        lon=rng.uniform(x0, x1, n), lat=rng.uniform(y0, y1, n),
    )  # fmt: skip


def _snap(engine: Engine) -> map_snapshot.Snapshot:
    with Session(engine) as s:
        return snapshot(s, KIND, "110108")


def test_the_snapshot_holds_every_located_component_with_its_codes(engine):
    snap = _snap(engine)
    assert len(snap) == 40 and (np.diff(snap.ids) > 0).all()
    assert {snap.categories.values[i] for i in snap.cat} == {"0101", "0201"}
    assert {snap.communities.values[i] for i in snap.comm} == {A, B}
    assert {snap.states.values[i] for i in snap.state} == {"完好"}
    assert (snap.grid > 0).all()


def test_writes_without_history_rows_are_picked_up_by_id_and_the_reread_window(engine):
    first = _snap(engine)
    with Session(engine) as s:
        _load(s, 10, seed=2)  # new ids
        s.execute(update(Component).where(Component.id == int(first.ids[0])).values(state="破损"))
        s.commit()
    snap = _snap(engine)
    assert len(snap) == 50
    # The state change has no history row, but its id lies in the re-read window.
    assert snap.states.values[snap.state[0]] == "破损"


def test_a_slow_reload_runs_in_the_background_while_the_old_snapshot_serves(engine, monkeypatch):
    assert len(_snap(engine)) == 40
    monkeypatch.setattr(map_snapshot, "SYNC_LOAD_S", -1.0)  # every load counts as slow
    real = map_snapshot.active_versions
    monkeypatch.setattr(  # a re-division: other active versions, so a full reload
        map_snapshot, "active_versions", lambda s, *a: [*real(s, *a), type("V", (), {"id": 999})()]
    )
    with Session(engine) as s:
        s.execute(delete(Component).where(Component.id <= 10))
        s.commit()
    stale = _snap(engine)
    assert len(stale) == 40  # served at once, the reload runs behind it
    for _ in range(100):
        entry = next(iter(map_snapshot._CACHE.entries.values()))
        if not entry.reloading:
            break
        time.sleep(0.05)
    assert len(_snap(engine)) == 30


def test_a_burst_of_first_map_requests_loads_the_snapshot_once(engine, monkeypatch):
    import threading

    loads: list[int] = []
    real = map_snapshot._load_all

    def counted(session, kind, county):
        loads.append(1)
        return real(session, kind, county)

    monkeypatch.setattr(map_snapshot, "_load_all", counted)
    start = threading.Barrier(8)
    sizes: list[int] = []

    def first_request() -> None:
        start.wait()
        sizes.append(len(_snap(engine)))

    threads = [threading.Thread(target=first_request) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sizes == [40] * 8
    assert len(loads) == 1  # every other request waited for the first one's snapshot
