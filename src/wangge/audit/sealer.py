"""The background sealer each server process runs: seal the audit log every few moments.

Every worker runs one; on PostgreSQL the one that finds the head locked skips its turn, so
they never queue behind each other. A failure (database restarting, SQLite busy) is logged and
retried on the next tick: entries wait unsealed, still protected by their MACs.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from wangge.audit.chain import seal_all

log = logging.getLogger("wangge.audit")


class Sealer:
    """A daemon thread that seals every `interval` seconds until `stop()`."""

    def __init__(self, factory: sessionmaker[Session], interval: float) -> None:
        self.factory, self.interval = factory, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="audit-sealer")

    def start(self) -> Sealer:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current tick, sealing once more so a clean shutdown leaves none."""
        self._stop.set()
        self._thread.join(timeout)

    def tick(self) -> int:
        """Seal what waits now (several batches after a burst); return how many."""
        try:
            with self.factory() as session:
                return seal_all(session, stop=self._stop.is_set)
        except SQLAlchemyError as exc:
            log.warning("audit sealing deferred: %s", exc.__class__.__name__)
            return 0

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.tick()
        self.tick()
