"""The registry API: one router for people, places, things, organisations, Excel, quality, history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Query, Response, UploadFile
from fastapi.concurrency import run_in_threadpool

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.api.files import xlsx_response
from wangge.errors import ValidationFailed
from wangge.registry import (
    components,
    households,
    houses,
    organisations,
    people,
    views_coverage,
    views_organisations,
    views_people,
    views_places,
    views_visits,
)
from wangge.registry.excel import export_workbook, import_workbook, template
from wangge.registry.export_filters import ExportFiltersDep
from wangge.registry.history import history
from wangge.registry.labels import sensitive_codes, visible_labels
from wangge.registry.people import verify
from wangge.registry.quality import completeness
from wangge.registry.sheets import sheet_for

OBJECT_TYPES = {
    "people": ("person", people.get_person),
    "buildings": ("building", houses.get_building),
    "rooms": ("room", houses.get_room),
    "components": ("component", components.get_component),
    "organisations": ("organisation", organisations.get_organisation),
    "households": ("household", households.get_household),
}

router = APIRouter()
data_router = APIRouter(prefix="/registry", tags=["registry 基础数据"])


@data_router.get("/quality")
def quality(
    session: SessionDep,
    principal: PrincipalDep,
    kind: str = "people",
    level: str = Query("community", description="grid | community | street"),
    fresh_days: int = 365,
) -> list[dict[str, Any]]:
    """Return completeness (信息完整率) and freshness per grid, community or street."""  # fmt: skip
    return completeness(session, principal, kind, level=level, fresh_days=fresh_days)


@data_router.get("/{kind}/template")
def download_template(
    kind: str, session: SessionDep, principal: PrincipalDep, county: str | None = None
) -> Response:
    """Return the empty Excel template of a kind, with drop-downs for the code lists."""
    principal.require("registry.read")
    sheet = sheet_for(kind)
    choices = sheet.choices_for(session, county) if sheet.choices_for else None
    return xlsx_response(template(sheet, choices), f"{sheet.title}模板.xlsx")


@data_router.post("/{kind}/import")
async def import_file(
    kind: str,
    session: SessionDep,
    principal: PrincipalDep,
    file: UploadFile = File(...),
    valid_only: bool = Query(False, description="import the valid rows and report the others"),
) -> dict[str, Any]:
    """Import a filled template: all or nothing unless valid_only; returns the row-level report."""  # fmt: skip
    data = await file.read()
    # Thousands of rows: in the thread pool, so the event loop keeps answering meanwhile.
    return await run_in_threadpool(
        import_workbook, session, principal, sheet_for(kind), data, valid_only=valid_only,
        file_name=file.filename or "upload.xlsx",
    )  # fmt: skip


@data_router.get("/{kind}/export")
def export_file(
    kind: str,
    session: SessionDep,
    principal: PrincipalDep,
    filters: ExportFiltersDep,
    unmask: bool = False,
    reason: str | None = None,
) -> Response:
    """Export the filtered list (masked; full values only with personal.unmask and a reason)."""  # fmt: skip
    sheet = sheet_for(kind)
    body = export_workbook(session, principal, sheet, unmask=unmask, reason=reason, **filters)
    return xlsx_response(body, f"{sheet.title}.xlsx")


@data_router.post("/{kind}/{record_id}/actions/verify")
def verify_record(
    kind: str, record_id: int, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Mark a record as checked on site now (the freshness of the quality report)."""
    object_type, loader = _object_type(kind)
    obj = loader(session, principal, record_id)
    verify(session, principal, obj, object_type)
    return {"id": obj.id, "verified_at": obj.verified_at}


def _object_type(kind: str) -> tuple[str, Any]:
    if kind not in OBJECT_TYPES:
        raise ValidationFailed(f"未知的数据类别 {kind}", f"unknown kind {kind}", field="kind")
    return OBJECT_TYPES[kind]


@data_router.get("/{kind}/{record_id}/history")
def record_history(
    kind: str, record_id: int, session: SessionDep, principal: PrincipalDep
) -> list[dict[str, Any]]:
    """Return every change of a record: who, when, old → new (personal values masked)."""
    object_type, loader = _object_type(kind)
    loader(session, principal, record_id)  # 404 outside the area
    sensitive = sensitive_codes(session)
    out = []
    for c in history(session, object_type, record_id):
        changes = dict(c.changes)
        if "labels" in changes:  # the history must not leak labels the reader may not see
            changes["labels"] = [
                visible_labels(side, principal, sensitive) for side in changes["labels"]
            ]
        out.append({"at": c.at, "actor": c.actor, "action": c.action, "changes": changes})
    return out


# The fixed paths (/people/export, /people/template) go before /people/{person_id}.
router.include_router(data_router)
router.include_router(views_people.router)
router.include_router(views_places.router)
router.include_router(views_organisations.router)
router.include_router(views_coverage.router)
router.include_router(views_visits.router)
