"""Memory of per-county caches: evict the least recently used, hand freed memory back (glibc)."""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None on other C libraries (musl, macOS, Windows)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_freed_memory() -> None:
    """Hand the heap pages freed so far back to the OS (glibc; a no-op elsewhere).

    Why: glibc serves blocks below its mmap threshold from the heap (the threshold rises up
    to 32 MiB once a large block is freed, and a server's request threads get arenas of
    their own) and keeps freed heap pages mapped for the next malloc instead of returning
    them. A grid index build's temporaries are twice the arrays it keeps (9,000 grids: +90
    MiB RSS for 39 MiB of arrays without a trim), and reading a county's 300,000 components
    to summarize them leaves ~8 MiB a county behind (100 counties: most of a worker's
    budget). ``malloc_trim(0)`` returns every whole free page of every arena (glibc ≥ 2.8)
    and takes well under a millisecond here; memory in use is not touched.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def evict_least_recent(
    entries: dict[K, V],
    budget: int,
    keep: K,
    size: Callable[[V], int],
    used: Callable[[V], float],
) -> int:
    """Drop the least recently `used` entries until their `size`s fit `budget` bytes, never
    `keep` (the one just built); return how many were dropped. Call it under the cache's lock
    and `release_freed_memory()` after, outside it, when any was (per-county caches of a
    province: grid indexes, place indexes, map snapshots)."""
    total = sum(size(e) for e in entries.values())
    dropped = 0
    for key, entry in sorted(entries.items(), key=lambda kv: used(kv[1])):
        if total <= budget:
            break
        if key != keep:
            del entries[key]
            total -= size(entry)
            dropped += 1
    return dropped
