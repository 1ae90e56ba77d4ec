"""Export jobs over HTTP: queue (202 with the status URL), follow, download.

The filters are the query parameters of the direct exports (`GET /cases/export.xlsx`,
`GET /registry/{kind}/export`) and of the audit page, read by the same parsers, so a page's
address is also its export's.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse

from wangge.api.deps import PrincipalDep, SessionDep, SettingsDep
from wangge.api.files import XLSX
from wangge.audit.listing import AuditFilter, audit_filter
from wangge.audit.service import record_for
from wangge.cases.views import FilterDep, NowDep, SortDep
from wangge.common.localtime import SHANGHAI
from wangge.exports import jobs
from wangge.exports.kinds import KINDS, case_filter_json
from wangge.registry.export_filters import ExportFiltersDep

router = APIRouter(prefix="/export-jobs", tags=["exports 导出"])
Lang = Annotated[str, Query(pattern="^(zh|en)$", description="表头与标签的语言")]
Reason = Annotated[str | None, Query(max_length=200)]


def _queued(request: Request, job: Any) -> JSONResponse:
    body = jobs.status(job, request.app.state.settings.export_keep_hours)
    return JSONResponse(_jsonable(body), status_code=202, headers={"Location": body["status_url"]})


def _jsonable(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in body.items()}


@router.post(
    "/cases", status_code=202, summary="后台导出案卷 Export the case list in the background"
)
def export_cases(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
    f: FilterDep,
    sort: SortDep,
    lang: Lang = "zh",
    unmask: bool = False,
    reason: Reason = None,
) -> JSONResponse:
    """Queue the export of the filtered case list; follow `status_url`, then get `file_url`."""
    params = {"filter": case_filter_json(f), "sort": sort, "now": now.isoformat()}
    job = jobs.queue_export(
        session, principal, "cases", params, lang=lang, unmask=unmask, reason=reason
    )
    return _queued(request, job)


@router.post("/registry/{kind}", status_code=202, summary="后台导出基础数据 Export a registry list")
def export_registry(
    kind: str,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    filters: ExportFiltersDep,
    lang: Lang = "zh",
    unmask: bool = False,
    reason: Reason = None,
) -> JSONResponse:
    """Queue the export of a filtered registry list (masked unless unmasked with a reason)."""
    params = {"sheet": kind, "filters": filters}
    job = jobs.queue_export(
        session, principal, "registry", params, lang=lang, unmask=unmask, reason=reason
    )
    return _queued(request, job)


@router.post("/audit", status_code=202, summary="后台导出审计日志 Export the audit log")
def export_audit(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    f: Annotated[AuditFilter, Depends(audit_filter)],
    lang: Lang = "zh",
) -> JSONResponse:
    """Queue the export of the filtered audit log (auditors and administrators)."""
    job = jobs.queue_export(session, principal, "audit", {"filter": f.to_json()}, lang=lang)
    return _queued(request, job)


@router.get("", summary="我的导出 My exports")
def my_exports(
    session: SessionDep, principal: PrincipalDep, settings: SettingsDep
) -> list[dict[str, Any]]:
    """The caller's newest export jobs."""
    if principal.via == "anonymous":
        principal.require("cases.read")  # 401: log in first
    return [jobs.status(j, settings.export_keep_hours) for j in jobs.mine(session, principal)]


@router.get("/{job_id}", summary="导出进度 Export progress")
def job_status(
    job_id: int, session: SessionDep, principal: PrincipalDep, settings: SettingsDep
) -> dict[str, Any]:
    """State, rows written of the total, percent; `file_url` once done."""
    return jobs.status(jobs.readable(session, principal, job_id), settings.export_keep_hours)


@router.get("/{job_id}/file", summary="下载导出文件 Download the export")
def job_file(
    job_id: int, session: SessionDep, principal: PrincipalDep, settings: SettingsDep
) -> FileResponse:
    """The finished workbook (to whoever started it, or an administrator over his area)."""
    job = jobs.readable(session, principal, job_id)
    path = jobs.downloadable(settings.upload_dir, job)
    detail = job.detail
    params = detail["params"]
    record_for(
        session, principal, "export.download", object_type="export_job", object_id=job.id,
        detail={"export": detail["export"], "rows": job.done, "unmasked": bool(params.get("unmask"))},
    )  # fmt: skip
    spec = KINDS[detail["export"]]
    finished = job.finished_at or job.updated_at
    stamp = jobs.aware(finished).astimezone(SHANGHAI).strftime("%Y%m%d-%H%M")  # type: ignore[union-attr]
    name = f"{spec.file_name(params, params.get('lang', 'zh'))}-{stamp}.xlsx"
    return FileResponse(path, media_type=XLSX, filename=name)
