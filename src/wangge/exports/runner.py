"""The export worker: every server process runs one; each job is run by one process at a time.

A round claims the oldest queued job with a compare-and-set on its state and `updated_at`
(works alike on SQLite and PostgreSQL), writes the workbook from a read session while a second
session commits the progress (`done` of `total` rows) every chunk, then saves the file under
`upload_dir/exports/`, and marks the job done together with the export's audit entry.

A job whose process died is taken over: at once when its holder was a process of this host
that no longer exists (a restart), otherwise when its progress has not moved for
`export_stale_seconds`. It starts again from the first row (a workbook cannot be resumed);
after `MAX_ATTEMPTS` starts it is marked failed with a message saying so. A server that stops
puts its job back in the queue. Finished files are deleted after `export_keep_hours`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from wangge.audit.chain import verify_chain
from wangge.common.models import utcnow
from wangge.db import unit_of_work, write_lock_first
from wangge.errors import DomainError
from wangge.exports.jobs import (
    EXPORT,
    QUEUED,
    VERIFY,
    expires_at,
    file_path,
    new_file_name,
    principal_from,
)
from wangge.exports.kinds import KINDS
from wangge.ops.jobs import DONE, FAILED, RUNNING, Job
from wangge.ops.leases import new_holder
from wangge.ops.periodic import PeriodicWorker

log = logging.getLogger("wangge.exports")
MAX_ATTEMPTS = 2
EXPIRE_EVERY = 60.0  # seconds between looks for expired files


class _Lost(Exception):
    """The job is no longer ours (taken over, or the server is stopping)."""


def after_chunk(job_id: int, rows: int) -> None:
    """Called after each committed chunk; a seam for tests that hold a job mid-way."""


def _holder_gone(holder: str | None) -> bool:
    """True when the holder was a process of this host that no longer exists."""
    if not holder:
        return True
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname()[:80] or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False  # this process: a worker of an earlier app; wait for staleness
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, owned by someone else
    return False


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _fail(job: Job, zh: str, en: str) -> None:
    job.state = FAILED
    job.updated_at = utcnow()
    job.finished_at = job.updated_at
    job.detail = {**job.detail, "error_zh": zh[:500], "error_en": en[:500]}


def claim(
    session: Session, holder: str, *, stale_seconds: float, now: datetime | None = None
) -> Job | None:
    """Take the oldest job that is queued or abandoned; None when there is none."""
    now = now or utcnow()
    write_lock_first(session)
    candidates = session.scalars(
        select(Job)
        .where(Job.kind.in_((EXPORT, VERIFY)), Job.state.in_((QUEUED, RUNNING)))
        .order_by(Job.id)
        .limit(50)
    ).all()
    for job in candidates:
        detail = job.detail or {}
        if job.state == RUNNING:
            if detail.get("holder") == holder:
                continue
            stale = now - _aware(job.updated_at) > timedelta(seconds=stale_seconds)
            if not (stale or _holder_gone(detail.get("holder"))):
                continue
            log.warning("job %s of %s was abandoned; taking it over", job.id, detail.get("holder"))
        attempts = int(detail.get("attempts", 0))
        if attempts >= MAX_ATTEMPTS:
            _fail(
                job,
                f"导出已中断 {attempts} 次（服务进程退出或重启），未完成；请缩小范围后重新导出",
                f"the export was interrupted {attempts} times (its server process ended); "
                "narrow the filter and export again",
            )
            continue
        taken = session.execute(
            update(Job)
            .where(Job.id == job.id, Job.state == job.state, Job.updated_at == job.updated_at)
            .values(state=RUNNING, updated_at=now, done=0)
            .execution_options(synchronize_session=False)
        )
        if not taken.rowcount:  # type: ignore[attr-defined]
            continue  # another process was quicker
        session.refresh(job)
        job.detail = {**detail, "attempts": attempts + 1, "holder": holder}
        return job
    return None


class Runner:
    """Runs claimed jobs of one process; `stop()` says when to give a job back."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        upload_dir: Path,
        *,
        keep_hours: float = 24.0,
        stale_seconds: float = 120.0,
        holder: str | None = None,
        stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.factory = factory
        self.upload_dir = upload_dir
        self.keep_hours = keep_hours
        self.stale_seconds = stale_seconds
        self.holder = holder or new_holder()
        self.stop = stop
        self._expired_at = 0.0

    def run_pending(self) -> int:
        """Run queued (and abandoned) jobs until none is left; return how many were run."""
        self.expire_files()
        ran = 0
        while not self.stop():
            with unit_of_work(self.factory) as session:
                job = claim(session, self.holder, stale_seconds=self.stale_seconds)
                if job is None:
                    return ran
                job_id, kind = job.id, job.kind
            self.run(job_id, kind)
            ran += 1
        return ran

    def run(self, job_id: int, kind: str) -> None:
        if kind == VERIFY:
            self._verify(job_id)
        else:
            self._export(job_id)

    # --- progress, owned ------------------------------------------------------------------

    def _owned(self, session: Session, job_id: int) -> Job:
        write_lock_first(session)
        job = session.get(Job, job_id, populate_existing=True)
        if job is None or job.state != RUNNING or (job.detail or {}).get("holder") != self.holder:
            raise _Lost()
        return job

    def _progress(self, job_id: int, rows: int) -> None:
        if self.stop():
            raise _Lost()
        with unit_of_work(self.factory) as session:
            job = self._owned(session, job_id)
            job.done = min(rows, job.total) if job.total else rows
            job.updated_at = utcnow()
        after_chunk(job_id, rows)

    # --- an export ------------------------------------------------------------------------

    def _export(self, job_id: int) -> None:
        with self.factory() as read:
            job = read.get(Job, job_id)
            assert job is not None
            detail = dict(job.detail)
            name = detail.get("file") or new_file_name(job)
        spec = KINDS[detail["export"]]
        params: dict[str, Any] = detail["params"]
        principal = principal_from(detail["principal"])
        final = self.upload_dir / "exports" / name
        part = final.with_name(f"{final.name}.{self.holder.rsplit(':', 1)[-1]}.part")
        started = time.monotonic()
        wb = Workbook(write_only=True)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            with self.factory() as read:
                total = spec.count(read, principal, params)
                with unit_of_work(self.factory) as session:
                    job = self._owned(session, job_id)
                    job.total, job.done = total, 0
                    job.detail = {**job.detail, "file": name}
                ws = wb.create_sheet(_sheet_title(spec, params))
                rows = spec.fill(read, principal, params, ws, lambda n: self._progress(job_id, n))
                wb.save(part)
            os.replace(part, final)
            with unit_of_work(self.factory) as session:
                job = self._owned(session, job_id)
                job.done = job.total = rows
                job.state = DONE
                job.updated_at = job.finished_at = utcnow()
                job.detail = {
                    **job.detail,
                    "file": name,
                    "size": final.stat().st_size,
                    "seconds": round(time.monotonic() - started, 2),
                }
                spec.audit(session, principal, params, rows, {"job": job_id})
            log.info("export %s: %d rows in %.1f s", job_id, rows, time.monotonic() - started)
        except _Lost:
            _discard(wb, part)
            self._give_back(job_id)
        except Exception as exc:
            _discard(wb, part)
            final.unlink(missing_ok=True)
            if isinstance(exc, DomainError):
                zh, en = exc.message_zh, exc.message_en
            else:
                log.exception("export %s failed", job_id)
                zh = f"导出失败（{exc.__class__.__name__}），请稍后重试"
                en = f"the export failed ({exc.__class__.__name__}); try again later"
            with unit_of_work(self.factory) as session, contextlib.suppress(_Lost):
                _fail(self._owned(session, job_id), zh, en)

    def _give_back(self, job_id: int) -> None:
        """A stopping server puts its job back in the queue (its start is not counted)."""
        with unit_of_work(self.factory) as session:
            try:
                job = self._owned(session, job_id)
            except _Lost:
                return
            job.state, job.done = QUEUED, 0
            job.updated_at = utcnow()
            attempts = max(0, int(job.detail.get("attempts", 1)) - 1)
            job.detail = {**job.detail, "attempts": attempts, "holder": None}

    # --- the audit chain's verification ---------------------------------------------------

    def _verify(self, job_id: int) -> None:
        started = time.monotonic()
        try:
            with self.factory() as read:
                report = verify_chain(read)
            with unit_of_work(self.factory) as session:
                job = self._owned(session, job_id)
                job.done = job.total = 1
                job.state = DONE
                job.updated_at = job.finished_at = utcnow()
                job.detail = {
                    **job.detail,
                    "ok": report.ok,
                    "checked": report.checked,
                    "unsealed": report.unsealed,
                    "first_broken_id": report.first_broken_id,
                    "reason_zh": report.reason_zh,
                    "reason_en": report.reason_en,
                    "seconds": round(time.monotonic() - started, 2),
                }
        except _Lost:
            return
        except Exception as exc:
            log.exception("audit verification %s failed", job_id)
            with unit_of_work(self.factory) as session, contextlib.suppress(_Lost):
                _fail(
                    self._owned(session, job_id),
                    f"校验未能完成（{exc.__class__.__name__}）",
                    f"the verification did not finish ({exc.__class__.__name__})",
                )

    # --- expiry ---------------------------------------------------------------------------

    def expire_files(self, now: datetime | None = None, *, force: bool = False) -> int:
        """Delete the files of exports finished more than `keep_hours` ago; return how many."""
        if not force and time.monotonic() - self._expired_at < EXPIRE_EVERY:
            return 0
        self._expired_at = time.monotonic()
        now = now or utcnow()
        cutoff = now - timedelta(hours=self.keep_hours)
        n = 0
        with unit_of_work(self.factory) as session:
            write_lock_first(session)
            done = session.scalars(
                select(Job)
                .where(Job.kind == EXPORT, Job.state == DONE, Job.finished_at < cutoff)
                .order_by(Job.id)
                .limit(500)
            ).all()
            for job in done:
                if (job.detail or {}).get("expired"):
                    continue
                file_path(self.upload_dir, job).unlink(missing_ok=True)
                job.detail = {**job.detail, "expired": True}
                n += 1
        # Half-written files of processes killed mid-export (their job was started again).
        folder = self.upload_dir / "exports"
        old = time.time() - self.keep_hours * 3600
        for part in folder.glob("*.part") if folder.is_dir() else ():
            with contextlib.suppress(OSError):
                if part.stat().st_mtime < old:
                    part.unlink()
        return n


def _discard(wb: Workbook, part: Path) -> None:
    """Close a half-written workbook (its row writer and temp file) and drop the part file."""
    for ws in wb.worksheets:
        with contextlib.suppress(Exception):
            ws.close()
    part.unlink(missing_ok=True)


def _sheet_title(spec: Any, params: dict[str, Any]) -> str:
    # Excel allows 31 characters and no []:*?/\ in a sheet's name.
    name = spec.file_name(params, params.get("lang", "zh"))
    return "".join(c for c in name if c not in "[]:*?/\\")[:31] or "export"


class ExportWorker(PeriodicWorker[int]):
    """Run queued exports every `interval` seconds in a daemon thread (WANGGE_EXPORT_SECONDS)."""

    def __init__(self, factory: sessionmaker[Session], settings: Any) -> None:
        super().__init__(settings.export_seconds, name="export-worker", log=log)
        self.runner = Runner(
            factory,
            Path(settings.upload_dir),
            keep_hours=settings.export_keep_hours,
            stale_seconds=settings.export_stale_seconds,
            stop=self.stopping,
        )

    def join_timeout(self) -> float:
        return 30.0

    def round(self) -> int:
        return self.runner.run_pending()


__all__ = ["ExportWorker", "Runner", "claim", "expires_at"]
