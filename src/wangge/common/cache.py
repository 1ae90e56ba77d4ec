"""A small time-limited cache for reference data read on every request (categories, rules).

Reference data changes rarely and is shared by all API processes through the database; each
process keeps a copy for a few seconds, so a change is seen everywhere within that time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

REFERENCE_TTL_S = 5.0
_ALL: list[TTLCache] = []


class TTLCache:
    """Values by key, reloaded by `loader` once they are older than `ttl` seconds."""

    def __init__(self, ttl: float = REFERENCE_TTL_S, max_items: int = 10_000) -> None:
        self.ttl = ttl
        self.max_items = max_items
        self._items: dict[Hashable, tuple[float, Any]] = {}
        self._guard = threading.Lock()
        self._loading: dict[Hashable, threading.Lock] = {}
        _ALL.append(self)

    def _fresh(self, key: Hashable) -> tuple[float, Any] | None:
        hit = self._items.get(key)
        return hit if hit is not None and time.monotonic() - hit[0] < self.ttl else None

    def get(self, key: Hashable, loader: Callable[[], Any]) -> Any:
        """Return the cached value, or load, keep and return it.

        Single flight: when many request threads miss the same key at once (a cold start, or
        the moment it expires), one loads it and the others wait for that value.
        """
        hit = self._fresh(key)
        if hit is not None:
            return hit[1]
        with self._guard:
            lock = self._loading.setdefault(key, threading.Lock())
        with lock:
            hit = self._fresh(key)
            if hit is not None:
                return hit[1]
            value = loader()
            if len(self._items) >= self.max_items:
                self._items.clear()
            self._items[key] = (time.monotonic(), value)
        with self._guard:
            self._loading.pop(key, None)
        return value

    def clear(self) -> None:
        """Forget everything (tests, and writes that must be seen at once in this process)."""
        self._items.clear()


def clear_all() -> None:
    """Forget every cached value in this process."""
    for cache in _ALL:
        cache.clear()
