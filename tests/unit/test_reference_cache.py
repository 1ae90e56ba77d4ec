"""Reference data read on every request is loaded once when many threads miss it at once."""

from __future__ import annotations

import threading

import pytest

from wangge.common.cache import TTLCache

THREADS = 16


def test_a_burst_of_misses_loads_the_value_once_and_everyone_gets_it():
    cache = TTLCache(ttl=60)
    entered = threading.Semaphore(0)
    release = threading.Event()
    calls: list[int] = []
    start = threading.Barrier(THREADS)
    got: list[object] = []

    def load() -> str:
        calls.append(1)
        entered.release()
        release.wait(10)
        return "categories"

    def request() -> None:
        start.wait()
        got.append(cache.get(("category", "E0102"), load))

    threads = [threading.Thread(target=request) for _ in range(THREADS)]
    for t in threads:
        t.start()
    # Broken single flight lets every thread into the loader: wait (bounded) to see them all.
    for _ in range(THREADS):
        if not entered.acquire(timeout=0.5):
            break
    release.set()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert got == ["categories"] * THREADS


def test_a_loader_that_fails_lets_the_next_caller_try_again():
    cache = TTLCache(ttl=60)

    def broken() -> str:
        raise RuntimeError("database restarting")

    with pytest.raises(RuntimeError):
        cache.get("k", broken)
    assert cache.get("k", lambda: "fresh") == "fresh"
