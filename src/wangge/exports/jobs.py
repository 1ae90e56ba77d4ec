"""Export jobs: one row of `ops.jobs.Job` each (no table of their own, no migration).

A request queues the job (state `queued`, `total` 0) with what the worker needs in `detail`:
the export kind and its parameters, and the principal that asked, frozen as it was (the job
runs with the rights and the area the user had when he started it; the file is served only to
him, or to an administrator whose area holds his, and only while he still holds the kind's
permission). The worker (`exports.runner`) claims it, sets `total` to the row count and
advances `done` as rows are written. The file lives under `upload_dir/exports/` until
`export_keep_hours` after it was finished.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal, Unauthenticated
from wangge.errors import Conflict, DomainError, NotFound
from wangge.exports.kinds import KINDS
from wangge.ops.jobs import DONE, FAILED, Job, start_job

EXPORT = "export"
VERIFY = "audit-verify"  # the audit page's chain verification runs on the same worker
QUEUED = "queued"
EXPIRED = "expired"
UNMASK = "personal.unmask"
API = "/api/v1/export-jobs"


class Gone(DomainError):
    status = 410
    default_code = "gone"


def principal_json(p: Principal) -> dict[str, Any]:
    """The principal as the job keeps it (no CSRF token, no secret)."""
    return {
        "name": p.name,
        "permissions": sorted(p.permissions),
        "scope_prefixes": None if p.scope_prefixes is None else sorted(p.scope_prefixes),
        "user_id": p.user_id,
        "roles": sorted(p.roles),
        "department_codes": sorted(p.department_codes),
        "unit_grid_scopes": sorted(p.unit_grid_scopes),
        "via": p.via,
    }


def principal_from(data: dict[str, Any]) -> Principal:
    scope = data.get("scope_prefixes")
    return Principal(
        name=data["name"],
        permissions=frozenset(data.get("permissions") or ()),
        scope_prefixes=None if scope is None else frozenset(scope),
        user_id=data.get("user_id"),
        roles=frozenset(data.get("roles") or ()),
        department_codes=frozenset(data.get("department_codes") or ()),
        unit_grid_scopes=frozenset(data.get("unit_grid_scopes") or ()),
        via=data.get("via") or "session",
    )


def owner_key(p: Principal) -> str:
    """Who a job belongs to (the job's `key`, so "my exports" is one indexed-ish lookup)."""
    return (f"user:{p.user_id}" if p.user_id is not None else f"name:{p.name}")[:64]


def queue_export(
    session: Session,
    principal: Principal,
    kind: str,
    params: dict[str, Any],
    *,
    lang: str,
    unmask: bool = False,
    reason: str | None = None,
) -> Job:
    """Queue an export (refusals come now, not from the worker); the caller commits."""
    spec = KINDS[kind]
    principal.require(spec.permission)
    if unmask:
        reason = principal.require_with_reason(
            UNMASK, reason, doing_zh="导出完整个人信息", doing_en="export full values"
        )
    params = {**params, "lang": lang, "unmask": unmask, "reason": reason if unmask else None}
    job = start_job(
        session,
        EXPORT,
        owner_key(principal),
        total=0,
        title=spec.title(params),
        detail={
            "export": kind,
            "params": params,
            "principal": principal_json(principal),
            "attempts": 0,
        },
    )
    job.state = QUEUED
    session.flush()
    return job


def aware(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def expires_at(job: Job, keep_hours: float) -> datetime | None:
    finished = aware(job.finished_at)
    return finished + timedelta(hours=keep_hours) if finished is not None else None


def status(job: Job, keep_hours: float) -> dict[str, Any]:
    """What the page and the API show of a job."""
    detail = job.detail or {}
    state = EXPIRED if detail.get("expired") else job.state
    total = job.total or 0
    percent = 100 if job.state == DONE else (int(100 * job.done / total) if total else 0)
    until = expires_at(job, keep_hours)
    return {
        "id": job.id,
        "kind": detail.get("export"),
        "state": state,
        "done": job.done,
        "total": total,
        "rows": job.done,
        "percent": percent,
        "title_zh": job.title_zh,
        "title_en": job.title_en,
        "started_at": aware(job.started_at),
        "finished_at": aware(job.finished_at),
        "expires_at": until,
        "status_url": f"{API}/{job.id}",
        "file_url": f"{API}/{job.id}/file" if state == DONE else None,
        "error_zh": detail.get("error_zh"),
        "error_en": detail.get("error_en"),
    }


def _within(reader: Principal, owner: Principal) -> bool:
    """Whether an administrator's area holds everything the job's owner could see."""
    if reader.scope_prefixes is None:
        return True
    if owner.scope_prefixes is None or owner.department_codes or not owner.scope_prefixes:
        return False
    return all(reader.contains(p) for p in owner.scope_prefixes) and all(
        reader.contains(p, "unit") for p in owner.unit_grid_scopes
    )


def readable(session: Session, principal: Principal, job_id: int) -> Job:
    """Return an export job the caller may follow and download; 404 for anybody else."""
    if principal.via == "anonymous":
        raise Unauthenticated("请先登录", "log in first", code="unauthenticated")
    job = session.get(Job, job_id)
    missing = NotFound(f"导出任务 {job_id} 不存在", f"export job {job_id} does not exist")
    if job is None or job.kind != EXPORT:
        raise missing
    detail = job.detail or {}
    owner = principal_from(detail["principal"])
    mine = principal.user_id == owner.user_id and principal.name == owner.name
    if not mine and not (principal.can("*") and _within(principal, owner)):
        raise missing
    principal.require(KINDS[detail["export"]].permission)
    if not mine and detail["params"].get("unmask"):
        principal.require(UNMASK)  # a file with full values only to those who may see them
    return job


def file_path(upload_dir: Path, job: Job) -> Path:
    """Where the job's file is (or will be)."""
    return upload_dir / "exports" / str((job.detail or {}).get("file") or f"{job.id}.xlsx")


def new_file_name(job: Job) -> str:
    # A random part: the directory may be shared (backups, NFS); nobody should guess a name.
    return f"{job.id}-{secrets.token_hex(8)}.xlsx"


def downloadable(upload_dir: Path, job: Job) -> Path:
    """Return the finished file, or say why there is none."""
    detail = job.detail or {}
    if detail.get("expired"):
        raise Gone(
            "导出文件已过期删除，请重新导出", "the export file has expired; export again",
            code="export_expired",
        )  # fmt: skip
    if job.state != DONE:
        raise Conflict(
            "导出尚未完成" if job.state != FAILED else "导出失败，没有文件",
            "the export is not finished" if job.state != FAILED else "the export failed",
            code="export_not_ready",
        )
    path = file_path(upload_dir, job)
    if not path.is_file():
        raise Gone(
            "导出文件已不存在，请重新导出", "the export file is gone; export again",
            code="export_expired",
        )  # fmt: skip
    return path


def mine(session: Session, principal: Principal, *, limit: int = 20) -> list[Job]:
    """The caller's newest export jobs."""
    return list(
        session.scalars(
            select(Job)
            .where(Job.kind == EXPORT, Job.key == owner_key(principal))
            .order_by(Job.id.desc())
            .limit(limit)
        )
    )
