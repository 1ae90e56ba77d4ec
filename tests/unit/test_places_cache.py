"""The place index is built once per process, database and county (single flight), reused, and
kept within its budget (least recently used counties dropped)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from wangge.common.cache import clear_all
from wangge.places import service
from wangge.places.index import PlaceIndex


class _Session:
    def __init__(self, url: str) -> None:
        self._bind = SimpleNamespace(engine=SimpleNamespace(url=url))

    def get_bind(self) -> SimpleNamespace:
        return self._bind


def test_many_threads_on_a_cold_cache_build_one_index(monkeypatch):
    loads: list[int] = []
    stamp = {"value": 1}

    def slow_load(_session: object, _county: str) -> PlaceIndex:
        loads.append(1)
        time.sleep(0.2)  # a build long enough for every thread to miss the cache
        return PlaceIndex()

    monkeypatch.setattr(service, "_load", slow_load)
    monkeypatch.setattr(service, "_stamp", lambda _s: (stamp["value"],))
    monkeypatch.setattr(service, "_changed_counties", lambda *_a: None)  # county unknown
    service.clear_cache()
    got: list[PlaceIndex] = []
    threads = [
        threading.Thread(
            target=lambda: got.append(service.place_index(_Session("sqlite://a"), "110108"))
        )
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1 and len(got) == 8 and all(g is got[0] for g in got)

    monkeypatch.setattr(service, "_CHECK_EVERY_S", 0.0)
    assert service.place_index(_Session("sqlite://a"), "110108") is got[0]  # same stamp: kept
    stamp["value"] = 2  # a building, road, division or grid changed
    assert service.place_index(_Session("sqlite://a"), "110108") is not got[0] and len(loads) == 2
    service.place_index(_Session("sqlite://b"), "110108")  # another database has its own index
    assert len(loads) == 3
    service.place_index(_Session("sqlite://a"), "110105")  # and another county
    assert len(loads) == 4
    clear_all()  # the reference caches' reset forgets the place index too
    service.place_index(_Session("sqlite://a"), "110108")
    assert len(loads) == 5


def test_the_counties_held_share_one_look_at_the_database_per_interval(monkeypatch):
    looks: list[int] = []
    monkeypatch.setattr(service, "_load", lambda _s, _c: PlaceIndex())
    monkeypatch.setattr(service, "_stamp", lambda _s: looks.append(1) or (1,))
    monkeypatch.setattr(service, "_CHECK_EVERY_S", 60.0)
    service.clear_cache()
    counties = [f"1101{i:02d}" for i in range(1, 11)]
    for county in counties:  # ten counties built: one look (it scans a province's grids)
        service.place_index(_Session("sqlite://a"), county)
    assert len(looks) == 1
    for entry in service._cache.values():  # a minute later, each county is due for a check
        entry.checked_at -= 61
    seen_at, stamp = service._stamps["sqlite://a"]
    service._stamps["sqlite://a"] = (seen_at - 61, stamp)
    for county in counties:
        service.place_index(_Session("sqlite://a"), county)
    assert len(looks) == 2  # one more look answers all ten
    service.clear_cache()
