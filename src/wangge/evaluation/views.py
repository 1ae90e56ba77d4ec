"""HTTP routes of the evaluation under /api/v1/evaluation (permission evaluation.read)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.auth.principal import Principal
from wangge.cases.access import get_visible
from wangge.common.models import utcnow
from wangge.errors import Forbidden, ValidationFailed
from wangge.evaluation import analysis, casefile, reports, service
from wangge.evaluation.indicators import OBJECT_FORMULA
from wangge.evaluation.periods import SHANGHAI, Period, parse_period

router = APIRouter(prefix="/evaluation", tags=["evaluation 综合评价"])


async def get_now() -> datetime:
    """Return the current time (tests override this to freeze the clock)."""
    return utcnow()


NowDep = Annotated[datetime, Depends(get_now)]


def _reader(principal: PrincipalDep) -> Principal:
    principal.require("evaluation.read")
    return principal


ReaderDep = Annotated[Principal, Depends(_reader)]
CountyQ = Annotated[str | None, Query(description="county code (6 digits)")]
LineQ = Annotated[
    str | None, Query(description="business line code: count only the cases of its categories")
]


def _county(principal: Principal, county: str | None) -> str | None:
    mine = principal.county_codes()
    if county is not None and mine is not None and county not in mine:
        raise Forbidden(f"无权查看 {county} 的评价", f"county {county} is outside your scope")
    if county is None and mine is not None:
        if len(mine) != 1:
            raise ValidationFailed("请指定区县", "name the county", field="county")
        county = next(iter(mine))
    return county


def _line(session: SessionDep, line: str | None, county: str | None) -> str | None:
    """Refuse a line code no county (or not the county asked about) has."""
    if line is None:
        return None
    from sqlalchemy import select

    from wangge.lines.models import BusinessLine

    q = select(BusinessLine.id).where(BusinessLine.code == line)
    if county is not None:
        q = q.where(BusinessLine.county_code == county)
    if session.scalar(q.limit(1)) is None:
        raise ValidationFailed(
            f"业务条线（line）{line} 不存在", f"field line: no business line {line!r}", field="line"
        )
    return line


def _period(label: str) -> Period:
    try:
        return parse_period(label)
    except ValueError as exc:
        raise ValidationFailed(
            f"期间格式有误：{label}", f"bad period {label!r}: {exc}", field="period"
        ) from None


def _objects(object_type: str) -> None:
    if object_type not in OBJECT_FORMULA:
        raise ValidationFailed(
            f"未知的评价对象 {object_type}", f"object_type must be one of {list(OBJECT_FORMULA)}",
            field="object_type",
        )  # fmt: skip


@router.get("/periods/{label}")
def evaluate_period(
    label: str,
    session: SessionDep,
    principal: ReaderDep,
    now: NowDep,
    county: CountyQ = None,
    compare: bool = True,
    line: LineQ = None,
) -> dict[str, Any]:
    """Evaluate a period (2026-11, 2026-Q4, 2026-W48, 2026, 2026-11-23, a..b) for all objects."""
    c = _county(principal, county)
    line_code = _line(session, line, c)
    p = _period(label)
    if compare:
        return service.compare(session, p, county=c, as_of=now, principal=principal, line=line_code)
    return service.evaluate(session, p, county=c, as_of=now, principal=principal, line=line_code)


@router.get("/periods/{label}/objects/{object_type}")
def ranking(
    label: str,
    object_type: str,
    session: SessionDep,
    principal: ReaderDep,
    now: NowDep,
    county: CountyQ = None,
    line: LineQ = None,
) -> list[dict[str, Any]]:
    """Return the ranking of one object type with comparisons."""  # fmt: skip
    _objects(object_type)
    c = _county(principal, county)
    result = service.compare(
        session, _period(label), county=c, as_of=now, principal=principal,
        line=_line(session, line, c),
    )  # fmt: skip
    return result["objects"][object_type]  # type: ignore[no-any-return]


@router.get("/periods/{label}/drill")
def drill(
    label: str,
    object_type: str,
    key: str,
    indicator: str,
    session: SessionDep,
    principal: ReaderDep,
    county: CountyQ = None,
    line: LineQ = None,
) -> dict[str, Any]:
    """Return the cases behind a figure: numerator and denominator lists of a rate."""
    _objects(object_type)
    c = _county(principal, county)
    return service.drill(
        session, _period(label), object_type, key, indicator,
        county=c, principal=principal, line=_line(session, line, c),
    )  # fmt: skip


@router.get("/periods/{label}/breakdown")
def breakdown(
    label: str,
    session: SessionDep,
    principal: ReaderDep,
    by: Annotated[str, Query(description=" | ".join(analysis.BY))] = "source",
    county: CountyQ = None,
) -> list[dict[str, Any]]:
    """Return cases of the period by source, class, area, department, hour or weekday."""  # fmt: skip
    if by not in analysis.BY:
        raise ValidationFailed(
            f"不支持按 {by} 分析", f"by must be one of {analysis.BY}", field="by"
        )
    return analysis.breakdown(
        session, _period(label), by, county=_county(principal, county), principal=principal
    )


@router.get("/periods/{label}/trend")
def trend(
    label: str,
    session: SessionDep,
    principal: ReaderDep,
    bucket: str = "day",
    county: CountyQ = None,
) -> list[dict[str, Any]]:
    """Return case volume and on-time closing per day, week or month of the period."""  # fmt: skip
    if bucket not in ("day", "week", "month"):
        raise ValidationFailed("bucket 只能是 day/week/month", "bucket: day|week|month")
    return analysis.trend(
        session, _period(label), bucket=bucket, county=_county(principal, county),
        principal=principal,
    )  # fmt: skip


@router.get("/hotspots")
def hotspots(
    session: SessionDep,
    principal: ReaderDep,
    now: NowDep,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    min_count: Annotated[int, Query(ge=2)] = 3,
    radius_m: Annotated[float, Query(gt=0, le=1000)] = 50.0,
    end: str | None = None,
    county: CountyQ = None,
) -> dict[str, Any]:
    """Return recurring problems: the same class at one component or place ≥ min_count times."""  # fmt: skip
    at = (
        now
        if not end
        else datetime.combine(_period(end).last + timedelta(days=1), time(), SHANGHAI)
    )
    return analysis.hotspots(
        session, end=at, days=days, min_count=min_count, radius_m=radius_m,
        county=_county(principal, county), principal=principal,
    )  # fmt: skip


@router.get("/periods/{label}/credit")
def credit(
    label: str, session: SessionDep, principal: ReaderDep, county: CountyQ = None
) -> list[dict[str, Any]]:
    """Return the credit list of units (门前三包 cases at their door)."""
    return analysis.unit_credit(
        session, _period(label), county=_county(principal, county), principal=principal
    )


_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/periods/{label}/report.xlsx")
def report_xlsx(
    label: str, session: SessionDep, principal: ReaderDep, now: NowDep, county: CountyQ = None
) -> Response:
    """Download the evaluation report as Excel."""
    result = service.compare(
        session, _period(label), county=_county(principal, county), as_of=now,
        principal=principal,
    )  # fmt: skip
    return Response(
        reports.monthly_xlsx(result), media_type=_XLSX,
        headers={"Content-Disposition": f'attachment; filename="evaluation-{label}.xlsx"'},
    )  # fmt: skip


@router.get("/periods/{label}/report.pdf")
def report_pdf(
    label: str, session: SessionDep, principal: ReaderDep, now: NowDep, county: CountyQ = None
) -> Response:
    """Download the evaluation report as PDF (charts drawn on the server)."""
    c = _county(principal, county)
    p = _period(label)
    result = service.compare(session, p, county=c, as_of=now, principal=principal)
    bucket = "day" if p.days <= 31 else "week" if p.days <= 92 else "month"
    tr = analysis.trend(session, p, bucket=bucket, county=c, principal=principal)
    return Response(
        reports.monthly_pdf(result, tr), media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="evaluation-{label}.pdf"'},
    )  # fmt: skip


@router.get("/cases/{case_id}/file.pdf")
def case_file(
    case_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
) -> Response:
    """Download the formal case file (案卷) of a case the caller can see."""
    from wangge.uploads.views import storage_for

    principal.require("cases.read")
    case = get_visible(session, case_id, principal)
    try:
        storage = storage_for(request)
    except Exception:  # no upload directory configured: list photo references only
        storage = None
    return Response(
        casefile.case_pdf(session, case, storage=storage), media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="case-{case.code or case.id}.pdf"'},
    )  # fmt: skip
