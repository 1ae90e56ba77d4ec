"""HTTP routes of the employer reference list and its coverage (两网化)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.registry import employer_coverage, employer_list

router = APIRouter(prefix="/registry", tags=["registry 基础数据"])
County = Annotated[str, Query(min_length=6, max_length=6, pattern=r"^\d{6}$")]


@router.post("/employer-list", summary="导入用人单位参照名录 Import the employer reference list")
def import_employer_list(
    session: SessionDep,
    principal: PrincipalDep,
    county_code: Annotated[str, Form(min_length=6, max_length=6, pattern=r"^\d{6}$")],
    as_of: Annotated[date, Form(description="名录日期 the date the list stands for")],
    file: Annotated[UploadFile, File(description=".xlsx or .csv (UTF-8 or GBK)")],
    source: Annotated[str | None, Form(max_length=100)] = None,
) -> dict[str, Any]:
    """Import the county's whole list as of a date: all rows or none; returns what changed."""
    data = file.file.read()
    return employer_list.import_list(
        session, principal, county_code, as_of, data,
        file_name=file.filename or "list", source=source,
    )  # fmt: skip


@router.get("/employer-coverage", summary="用人单位覆盖率 Employer coverage by area")
def get_coverage(
    session: SessionDep,
    principal: PrincipalDep,
    county: County,
    level: str = "community",
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
) -> dict[str, Any]:
    """Listed, registered, verified and coverage (%) per grid, community, street or county."""
    return employer_coverage.coverage(session, principal, county, level=level, month=month)


@router.get("/employer-coverage/trend", summary="覆盖率逐月趋势 Coverage month by month")
def get_trend(
    session: SessionDep,
    principal: PrincipalDep,
    county: County,
    area: Annotated[str | None, Query(pattern=r"^\d{6,20}$")] = None,
) -> list[dict[str, Any]]:
    """Coverage of the county or one area for every month since the first list."""
    return employer_coverage.trend(session, principal, county, area=area)


@router.get("/employer-coverage/unvisited", summary="未走访核实的用人单位 Employers to visit")
def get_unvisited(
    session: SessionDep,
    principal: PrincipalDep,
    county: County,
    area: Annotated[str | None, Query(pattern=r"^\d{6,20}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Listed employers not yet verified on site, in the caller's area."""
    return employer_coverage.unvisited(
        session, principal, county, area=area, limit=limit, offset=offset
    )
