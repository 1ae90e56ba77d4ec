"""预警 and 超期 of 代办 clocks, raised by the overdue sweep (`cases.sweeper`) beside the cases'.

A clock turned yellow (80 % used) or red (past due) tells the people serving the grid today,
once per request, clock and colour: the message's unique key says so, so a second sweep, a
restart or a second process never tells twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wangge.assignments.service import people_of_grid
from wangge.cases.deadlines import SHANGHAI
from wangge.cases.limits import RESPOND
from wangge.cases.models import OutboxMessage
from wangge.cases.outbox import enqueue
from wangge.common.localtime import local_time
from wangge.common.models import utcnow
from wangge.db import unit_of_work, write_lock_first
from wangge.ops.leases import LeaseHold, new_holder
from wangge.ops.periodic import PeriodicWorker
from wangge.resident_services.models import ServiceRequest
from wangge.resident_services.service import OPEN, lights

_WORDS = {"yellow": "即将超期", "red": "已超期"}
LEASE = "resident-service-sweep"
log = logging.getLogger("wangge.sweep")


def warn_service_clocks(session: Session, now: datetime) -> list[str]:
    """Queue the 预警/超期 messages of open requests' clocks; return the keys written."""
    due: dict[str, tuple[ServiceRequest, str, str, datetime]] = {}
    day = now.astimezone(SHANGHAI).date()
    for row in session.scalars(select(ServiceRequest).where(ServiceRequest.state.in_(OPEN))):
        for clock, light in lights(row, now).items():
            if light not in _WORDS:
                continue
            deadline = row.respond_due if clock == RESPOND else row.answer_due
            for s in people_of_grid(session, row.grid_code, day):
                key = f"resident_service:{row.id}:{clock}:{light}:{s.assignment.user_id}"
                due[key] = (row, clock, str(s.assignment.user_id), deadline)
    if not due:
        return []
    done = set(
        session.scalars(
            select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(list(due)))
        )
    )
    written = []
    for key, (row, clock, to, deadline) in due.items():
        if key in done:
            continue
        what = "接单" if clock == RESPOND else "办结"
        light = key.split(":")[3]
        enqueue(
            session, topic=f"resident_service.{'overdue' if light == 'red' else 'warning'}",
            recipient=to, now=now, county_code=row.county_code, dedupe_key=key,
            body={"title": f"代办 {row.code}（{row.service_name}）{what}{_WORDS[light]}"
                           f"（期限 {local_time(deadline)}）",
                  "request_id": row.id, "deadline": deadline.isoformat()},
        )  # fmt: skip
        written.append(key)
    session.flush()
    return written


class ServiceSweepWorker(PeriodicWorker[int]):
    """Warn of 代办 clocks every `interval` seconds (WANGGE_SWEEP_SECONDS, as the cases' sweep).

    Wired by `main._start_workers` (the cases' sweeper does not import this higher package).
    """

    def __init__(self, factory: sessionmaker[Session], interval: float) -> None:
        super().__init__(interval, name=LEASE, log=log)
        self.factory = factory
        self.holder = new_holder()

    def round(self) -> int | None:
        hold = LeaseHold(self.factory, LEASE, self.holder, ttl=300.0)
        if not hold.take():
            return None
        try:
            with unit_of_work(self.factory) as session:
                write_lock_first(session)
                written = len(warn_service_clocks(session, utcnow()))
        finally:
            hold.release()
        if written:
            log.info("resident service sweep: %d warnings", written)
        return written
