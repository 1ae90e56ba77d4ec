"""The monthly reports the server produces by itself once a month has closed.

Every server process runs an `EvaluationReportWorker` (WANGGE_EVAL_REPORT_SECONDS); the
report lease lets one process at a time work. A round looks at the month that closed last
(Beijing time) and, for each county with cases by then whose report is not stored yet,
computes the evaluation in a read-only transaction and stores the Excel and the PDF together
in a short write transaction. The unique key (county, period, kind) keeps a report from being
stored twice even by a producer without the lease (or one whose lease lapsed meanwhile).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from wangge.cases.models import Case
from wangge.common.models import utcnow
from wangge.db import unit_of_work, write_lock_first
from wangge.evaluation import analysis, reports, rollups, service
from wangge.evaluation.periods import SHANGHAI, Period, period_of
from wangge.evaluation.publication_models import EvaluationReport
from wangge.ops.leases import LeaseHold, new_holder
from wangge.ops.periodic import PeriodicWorker

log = logging.getLogger("wangge.evaluation.reports")
LEASE = "evaluation-reports"
LEASE_SECONDS = 900.0  # one county's month takes seconds; the lease is renewed per county
KINDS = ("xlsx", "pdf")


def last_closed_month(now: datetime) -> Period:
    """Return the month that ended last before `now` (Beijing calendar)."""
    first = now.astimezone(SHANGHAI).date().replace(day=1)
    return period_of("month", first - timedelta(days=1))


def due_counties(session: Session, period: Period) -> list[str]:
    """Return the counties with cases reported before the month's end and no stored report."""
    with_cases = set(
        session.scalars(select(Case.county_code).where(Case.reported_at < period.end).distinct())
    )
    done = {
        c
        for c, n in session.execute(
            select(EvaluationReport.county_code, EvaluationReport.kind).where(
                EvaluationReport.period == period.label
            )
        )
        if n in KINDS
    }
    return sorted(with_cases - done)


def build(session: Session, period: Period, county: str, now: datetime) -> dict[str, bytes]:
    """Return the report files of a county's period (the whole county, as the API gives it)."""
    result = service.compare(session, period, county=county, as_of=now)
    trend = analysis.trend(session, period, bucket="day", county=county)
    return {"xlsx": reports.monthly_xlsx(result), "pdf": reports.monthly_pdf(result, trend)}


def store(session: Session, county: str, period: Period, files: dict[str, bytes],
          now: datetime) -> bool:  # fmt: skip
    """Store the files; False when another producer stored them first."""
    savepoint = session.begin_nested()
    try:
        for kind, content in files.items():
            session.add(
                EvaluationReport(county_code=county, period=period.label, kind=kind,
                                 content=content, size=len(content), created_at=now)
            )  # fmt: skip
        session.flush()
        savepoint.commit()
    except IntegrityError:
        savepoint.rollback()
        return False
    return True


def produce_due(
    factory: sessionmaker[Session],
    *,
    holder: str,
    now: datetime | None = None,
    stop: Callable[[], bool] = lambda: False,
    lease: bool = True,
) -> list[tuple[str, str]] | None:
    """Produce the reports due; return (county, period) stored, None when the lease is taken."""
    at = now or utcnow()
    period = last_closed_month(at)

    hold = LeaseHold(factory, LEASE, holder, ttl=LEASE_SECONDS, enabled=lease)
    if not hold.take():
        return None
    made: list[tuple[str, str]] = []
    try:
        with factory() as session:
            todo = due_counties(session, period)
        for county in todo:
            if stop():
                break
            try:
                with factory() as session:  # read only: no write lock held while computing
                    files = build(session, period, county, at)
                    session.rollback()
            except SQLAlchemyError:
                raise  # the database is busy or away: the worker retries the round later
            except Exception:  # one county's failure must not stop the others, nor the thread
                log.exception("evaluation report of %s for %s failed", county, period.label)
                continue
            with unit_of_work(factory) as session:
                write_lock_first(session)
                if not hold.renew(session):
                    session.rollback()  # the lease lapsed: another process carries on
                    return made
                if store(session, county, period, files, at):
                    made.append((county, period.label))
    finally:
        hold.release()
    return made


class EvaluationReportWorker(PeriodicWorker[list[tuple[str, str]]]):
    """Produce the closed month's reports every `interval` seconds (WANGGE_EVAL_REPORT_SECONDS)."""

    def __init__(self, factory: sessionmaker[Session], interval: float) -> None:
        super().__init__(interval, name=LEASE, log=log)
        self.factory = factory
        self.holder = new_holder()

    def join_timeout(self) -> float:
        return 60.0

    def round(self) -> list[tuple[str, str]] | None:
        made = produce_due(self.factory, holder=self.holder, stop=self.stopping)
        with unit_of_work(self.factory) as session:  # the day's delta rows, one per object
            merged = rollups.compact(session)
        if merged:
            log.info("evaluation rollups: %d delta rows merged", merged)
        for county, label in made or []:
            log.info("evaluation report of %s for %s stored", county, label)
        return made
