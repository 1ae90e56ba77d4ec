"""Background work that every server process runs beside its requests, one round at a time.

A `PeriodicWorker` runs `round()` at once and then every `interval` seconds in a daemon
thread (or in the foreground for a `--loop` command). The round itself takes a lease
(`ops.leases`) when only one process may do the work at a time. A database that is busy or
away never ends the thread: SQLite's "database is locked" is retried a few times at once (its
other writers pause between chunks), and only a refusal that lasts `quiet_ticks` rounds in a
row is logged as a warning.
"""

from __future__ import annotations

import logging
import threading
from typing import Generic, Self, TypeVar

from sqlalchemy.exc import OperationalError, SQLAlchemyError

T = TypeVar("T")


class PeriodicWorker(Generic[T]):
    """Do `round()` every `interval` seconds until stopped; subclasses say what a round is."""

    # Quick retries of a round SQLite refused as busy, and the rounds in a row refused before
    # the log says so as a warning (a minute at a 5-second interval).
    busy_retries = 5
    quiet_ticks = 12

    def __init__(self, interval: float, *, name: str, log: logging.Logger) -> None:
        self.interval = interval
        self.name, self.log = name, log
        self._failures = 0  # rounds in a row the database refused
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, daemon=True, name=name)

    def round(self) -> T | None:
        """Do the work due now; None when another process holds its lease."""
        raise NotImplementedError

    def join_timeout(self) -> float:
        """Return how long `stop` waits for the round in hand."""
        return 10.0

    def start(self) -> Self:
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask the loop to end after the work in hand (signal handlers call this)."""
        self._stop.set()

    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """Stop after the work in hand."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self.join_timeout())

    def tick(self) -> T | None:
        """Do one round; a database that is busy or away is only logged."""
        result = None
        for attempt in range(self.busy_retries):
            try:
                result = self.round()
                break
            except OperationalError as exc:
                if attempt + 1 == self.busy_retries or self._stop.wait(0.2):
                    self._deferred(exc)
                    return None
            except SQLAlchemyError as exc:
                self._deferred(exc)
                return None
        self._failures = 0
        return result

    def _deferred(self, exc: SQLAlchemyError) -> None:
        """Log a round the database refused: quietly at first, loudly when it keeps refusing."""
        self._failures += 1
        level = logging.WARNING if self._failures >= self.quiet_ticks else logging.INFO
        self.log.log(
            level,
            "%s deferred (%d in a row): %s",
            self.name,
            self._failures,
            exc.__class__.__name__,
        )
        return None

    def run(self) -> None:
        """Tick at once, then every `interval` seconds until stopped."""
        while True:
            self.tick()
            if self._stop.wait(self.interval):
                return
