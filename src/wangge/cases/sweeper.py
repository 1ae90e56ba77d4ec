"""The overdue sweep as the server runs it: 预警 and 超期 raised without anyone running a job.

Every server process runs a `SweepWorker`; the sweep lease lets one process at a time sweep
(`ops.leases`). A round escalates (or urges) overdue cases batch by batch, each batch in its
own transaction, then queues the 预警 of clocks turned yellow; the notification worker sends
what they wrote. Everything it does is marked (escalation columns, unique warning keys), so a
second process, a restart or `wangge jobs sweep` beside it never acts twice on one deadline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from wangge.cases.scheduled import sweep_overdue, sweep_warnings
from wangge.common.models import utcnow
from wangge.db import unit_of_work, write_lock_first
from wangge.ops.leases import LeaseHold, new_holder
from wangge.ops.periodic import PeriodicWorker

log = logging.getLogger("wangge.sweep")
LEASE = "overdue-sweep"
# A batch escalates at most this many cases in one transaction (short write locks on SQLite);
# the lease outlives several slow batches and is renewed after each.
BATCH = 50
LEASE_SECONDS = 300.0


@dataclass
class SweepTotals:
    escalated: int = 0
    urged: int = 0
    skipped: int = 0
    warned: int = 0

    @property
    def acted(self) -> int:
        return self.escalated + self.urged + self.warned


def sweep_due(
    factory: sessionmaker[Session],
    *,
    holder: str,
    now: datetime | None = None,
    batch: int = BATCH,
    stop: Callable[[], bool] = lambda: False,
    lease: bool = True,
) -> SweepTotals | None:
    """Sweep once while holding the lease; None when another process holds it.

    `now` pins the clock (tests, `--now`); otherwise each batch sweeps at its own moment.
    The lease only saves server processes from doing the same work at once: every action is
    a compare-and-set on the case version and every warning has a unique key, so a sweep
    without it (`lease=False`: `wangge jobs sweep`, also right after a killed one) is safe.
    """

    def at() -> datetime:
        return now or utcnow()

    hold = LeaseHold(factory, LEASE, holder, ttl=LEASE_SECONDS, enabled=lease)
    if not hold.take():
        return None
    totals = SweepTotals()
    try:
        while not stop():
            # Each batch commits on its own: a kill loses at most the batch in flight, and the
            # escalation mark written with each event keeps the next round from repeating it.
            with unit_of_work(factory) as session:
                write_lock_first(session)
                report = sweep_overdue(session, at(), limit=batch)
                if not hold.renew(session):
                    session.rollback()  # the lease lapsed meanwhile: another process sweeps
                    return totals
            totals.escalated += len(report.escalated)
            totals.urged += len(report.urged)
            totals.skipped += len(report.skipped)
            if not report.escalated and not report.urged:
                break
        if not stop():
            with unit_of_work(factory) as session:
                write_lock_first(session)
                totals.warned = len(sweep_warnings(session, at()))
    finally:
        hold.release()
    return totals


class SweepWorker(PeriodicWorker[SweepTotals]):
    """Sweep every `interval` seconds in a daemon thread (WANGGE_SWEEP_SECONDS)."""

    def __init__(self, factory: sessionmaker[Session], interval: float) -> None:
        super().__init__(interval, name=LEASE, log=log)
        self.factory = factory
        self.holder = new_holder()

    def join_timeout(self) -> float:
        return 30.0

    def round(self) -> SweepTotals | None:
        totals = sweep_due(self.factory, holder=self.holder, stop=self.stopping)
        if totals is not None and totals.acted:
            log.info(
                "overdue sweep: escalated %d, urged %d, warned %d, skipped %d",
                totals.escalated,
                totals.urged,
                totals.warned,
                totals.skipped,
            )
        return totals
