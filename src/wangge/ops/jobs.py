"""Long work that runs beside the server (the demo month, later imports and rebuilds).

A job is one row whose `done`/`total` the worker advances in the same transaction as each
chunk of work, so progress is exact, a killed worker resumes at the first chunk it had not
committed, and every page can show what is still running (`GET /web/api/jobs`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from wangge.cases.models import UTCDateTime
from wangge.common.models import utcnow
from wangge.db import Base

RUNNING, DONE, FAILED = "running", "done", "failed"


class Job(Base):
    """One piece of long work and how far it has come."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    key: Mapped[str] = mapped_column(String(64))  # what it works on, e.g. a county code
    state: Mapped[str] = mapped_column(String(16), default=RUNNING)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer)
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def find_job(session: Session, kind: str, key: str) -> Job | None:
    """Return the newest job of this kind and key."""
    return session.scalar(
        select(Job).where(Job.kind == kind, Job.key == key).order_by(Job.id.desc()).limit(1)
    )


def start_job(
    session: Session,
    kind: str,
    key: str,
    *,
    total: int,
    title: tuple[str, str],
    detail: dict[str, Any] | None = None,
) -> Job:
    """Record a new job (not yet committed)."""
    job = Job(
        kind=kind,
        key=key,
        total=total,
        title_zh=title[0],
        title_en=title[1],
        detail=detail or {},
    )
    session.add(job)
    session.flush()
    return job


def advance(job: Job, done: int) -> None:
    """Set how many chunks are done; the caller commits it with the chunk's own writes."""
    job.done = done
    job.updated_at = utcnow()
    if done >= job.total:
        job.state = DONE
        job.finished_at = job.updated_at


def fail(job: Job, exc: BaseException) -> None:
    """Mark a job failed with the reason (it resumes at its first undone chunk when rerun)."""
    job.state = FAILED
    job.updated_at = utcnow()
    job.detail = {**job.detail, "error": f"{exc.__class__.__name__}: {exc}"[:500]}


# A user's exports and the audit page's verification are shown on their own pages, to their
# owner only (`wangge.exports`), not in the note every page shows.
PRIVATE_KINDS = ("export", "audit-verify")


def running_jobs(session: Session) -> list[Job]:
    """Return the shared jobs that are running or failed unfinished, oldest first."""
    return list(
        session.scalars(
            select(Job).where(Job.state != DONE, Job.kind.not_in(PRIVATE_KINDS)).order_by(Job.id)
        )
    )
