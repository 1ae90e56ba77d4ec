"""HTTP routes for departments: list, create, edit, deactivate/reactivate, Excel in and out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.api.files import read_upload, xlsx_response
from wangge.departments import excel, excel_import, service
from wangge.departments.checks import DepartmentData
from wangge.departments.schemas import (
    DepartmentCreate,
    DepartmentRead,
    DepartmentUpdate,
    ImportReport,
    SuggestedCode,
)

router = APIRouter(prefix="/departments", tags=["departments 部门"])
MAX_UPLOAD_BYTES = 5 * 2**20


@router.get("", response_model=list[DepartmentRead], summary="部门列表 List departments")
def list_departments(
    session: SessionDep,
    principal: PrincipalDep,
    county: str | None = Query(
        None, description="a county: its departments and the city ones serving it"
    ),
    level: str | None = Query(None, description="city | county | street | community"),
    line: str | None = Query(None, description="business line code"),
    active: bool | None = None,
    q: str | None = Query(
        None, max_length=100, description="code, name, contact or phone contains"
    ),
    limit: int = Query(1000, ge=1, le=5000),
    offset: int = Query(0, ge=0),
) -> list[Any]:
    principal.require("departments.read")
    rows = service.list_departments(
        session, principal, county=county, level=level, line=line, active=active, q=q
    )
    return rows[offset : offset + limit]


@router.post(
    "", response_model=DepartmentRead, status_code=201, summary="新建部门 Create a department"
)
def create_department(body: DepartmentCreate, session: SessionDep, principal: PrincipalDep) -> Any:
    principal.require("departments.manage")
    fields = body.model_dump(exclude={"key", "code"})
    code = body.code or service.suggest_code(session, body.county_code, body.key)
    return service.create_department(session, principal, DepartmentData(code=code, **fields))


@router.get(
    "/suggest-code", response_model=SuggestedCode, summary="建议部门编码 Suggest a free code"
)
def suggest_code(
    session: SessionDep,
    principal: PrincipalDep,
    county: str = Query(..., pattern=r"^\d{6}$"),
    key: str | None = Query(None, max_length=25, description="short key, e.g. CGW"),
) -> dict[str, str]:
    principal.require("departments.manage")
    return {"code": service.suggest_code(session, county, key)}


@router.get("/template.xlsx", summary="部门导入模板 Empty Excel list with an example")
def download_template(principal: PrincipalDep) -> Response:
    principal.require("departments.read")
    return xlsx_response(excel.template(), "部门导入模板.xlsx")


@router.get("/export.xlsx", summary="导出部门 Export departments to Excel")
def export_departments(
    session: SessionDep,
    principal: PrincipalDep,
    county: str | None = Query(None, pattern=r"^\d{6}$"),
) -> Response:
    body = excel.export(session, principal, county)
    return xlsx_response(body, f"部门{'-' + county if county else ''}.xlsx")


@router.post(
    "/import",
    response_model=ImportReport,
    summary="导入部门（全部成功才写入）Import departments from Excel, all or nothing",
)
def import_departments(
    session: SessionDep,
    principal: PrincipalDep,
    file: UploadFile = File(..., description="an .xlsx list (headers as in the template)"),
    county: str = Form(..., pattern=r"^\d{6}$"),
) -> dict[str, Any]:
    """On any bad row: 422 with `details.errors` (row, column, value, reasons), nothing written."""
    principal.require("departments.manage")
    data = read_upload(file, MAX_UPLOAD_BYTES)
    name = (file.filename or "departments.xlsx").replace("\\", "/").rsplit("/", 1)[-1][:120]
    return excel_import.import_workbook(session, principal, data, county=county, file_name=name)


@router.get("/{code}", response_model=DepartmentRead, summary="部门详情 A department")
def get_department(code: str, session: SessionDep, principal: PrincipalDep) -> Any:
    principal.require("departments.read")
    return service.get_department(session, principal, code)


@router.patch("/{code}", response_model=DepartmentRead, summary="修改部门 Edit a department")
def edit_department(
    code: str, body: DepartmentUpdate, session: SessionDep, principal: PrincipalDep
) -> Any:
    principal.require("departments.manage")
    dept = service.get_department(session, principal, code)
    changes = body.model_dump(exclude_unset=True)
    if "serves_counties" in changes and changes["serves_counties"] is None:
        changes["serves_counties"] = []
    service.update_department(session, principal, dept, changes)
    return dept


@router.post(
    "/{code}/actions/deactivate",
    response_model=DepartmentRead,
    summary="停用部门（保留历史，不再接收派遣）Deactivate a department",
)
def deactivate(code: str, session: SessionDep, principal: PrincipalDep) -> Any:
    principal.require("departments.manage")
    return service.set_active(
        session, principal, service.get_department(session, principal, code), False
    )


@router.post(
    "/{code}/actions/reactivate", response_model=DepartmentRead, summary="恢复部门 Reactivate"
)
def reactivate(code: str, session: SessionDep, principal: PrincipalDep) -> Any:
    principal.require("departments.manage")
    return service.set_active(
        session, principal, service.get_department(session, principal, code), True
    )
