"""HTTP routes of publication and of the stored monthly reports.

/api/v1/evaluation/publications (POST: evaluation.publish; GET: evaluation.read),
/api/v1/evaluation/reports (evaluation.read, the reader's counties), and the public,
login-free /web/api/public/evaluation/{county} (what the county chose to publish).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy import select

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.auth.principal import Principal
from wangge.common.schemas import InputModel
from wangge.errors import Forbidden, NotFound, ValidationFailed
from wangge.evaluation import publication
from wangge.evaluation.publication_models import EvaluationReport
from wangge.evaluation.views import NowDep, ReaderDep

router = APIRouter(prefix="/api/v1/evaluation", tags=["evaluation 综合评价"])
public_router = APIRouter(prefix="/web/api/public", tags=["public 公开"])
COUNTY_PATTERN = r"^\d{6}$"


class PublishIn(InputModel):
    """What to publish: a county's closed period, the rankings and whether the credit list."""

    county: str = Field(pattern=COUNTY_PATTERN, description="county code (6 digits)")
    period: str = Field(min_length=4, max_length=32, description="2026-11, 2026-Q4 or 2026")
    object_types: list[str] = Field(
        default_factory=list, max_length=9,
        description="street, community, grid, department; people (grid_worker, supervisor, "
        "acceptor, shift_leader, dispatcher) only when chosen",
    )  # fmt: skip
    credit: bool = Field(default=False, description="publish the unit credit list too")
    reason: str | None = Field(default=None, max_length=500, description="required from v2")


def _readable_county(principal: Principal, county: str | None) -> str:
    mine = principal.county_codes()
    if county is None:
        if mine is None or len(mine) != 1:
            raise ValidationFailed("请指定区县", "name the county", field="county")
        return next(iter(mine))
    if mine is not None and county not in mine:
        raise Forbidden(f"无权查看 {county} 的评价", f"county {county} is outside your scope")
    return county


@router.post("/publications", status_code=201)
def publish(
    body: PublishIn, session: SessionDep, principal: PrincipalDep, now: NowDep
) -> dict[str, Any]:
    """Publish a closed period (a correction: the next version, with a reason)."""
    row = publication.publish(
        session, principal, county=body.county, period_label=body.period,
        object_types=body.object_types, credit=body.credit, reason=body.reason, now=now,
    )  # fmt: skip
    return publication.summary(row) | {"public_url": f"/public/evaluation/{row.county_code}"}


@router.get("/publications")
def publications(
    session: SessionDep,
    principal: ReaderDep,
    county: Annotated[str | None, Query(pattern=COUNTY_PATTERN)] = None,
    period: Annotated[str | None, Query(max_length=32)] = None,
) -> list[dict[str, Any]]:
    """List a county's published versions, newest first."""
    c = _readable_county(principal, county)
    return [publication.summary(r) for r in publication.listing(session, c, period)]


@router.get("/reports")
def stored_reports(
    session: SessionDep,
    principal: ReaderDep,
    county: Annotated[str | None, Query(pattern=COUNTY_PATTERN)] = None,
) -> list[dict[str, Any]]:
    """List the monthly reports the server produced for a county."""
    c = _readable_county(principal, county)
    rows = session.execute(
        select(EvaluationReport.id, EvaluationReport.period, EvaluationReport.kind,
               EvaluationReport.size, EvaluationReport.created_at)
        .where(EvaluationReport.county_code == c)
        .order_by(EvaluationReport.period.desc(), EvaluationReport.kind)
    )  # fmt: skip
    return [
        {"id": i, "county": c, "period": p, "kind": k, "size": s, "created_at": t.isoformat(),
         "url": f"/api/v1/evaluation/reports/{i}"}
        for i, p, k, s, t in rows
    ]  # fmt: skip


_MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


@router.get("/reports/{report_id}")
def stored_report(
    report_id: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep, principal: ReaderDep
) -> Response:
    """Download a stored monthly report of a county in the reader's scope."""
    row = session.get(EvaluationReport, report_id)
    mine = principal.county_codes()
    if row is None or (mine is not None and row.county_code not in mine):
        raise NotFound(f"报告 {report_id} 不存在", f"no report {report_id}")
    name = f"evaluation-{row.county_code}-{row.period}.{row.kind}"
    return Response(
        row.content, media_type=_MEDIA.get(row.kind, "application/octet-stream"),
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )  # fmt: skip


@public_router.get("/evaluation/{county}")
def public_evaluation(
    county: Annotated[str, Path(pattern=COUNTY_PATTERN)],
    session: SessionDep,
    period: Annotated[str | None, Query(max_length=32)] = None,
    version: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> dict[str, Any]:
    """What a county published (no login): the chosen rankings, credit list, date, version."""
    return publication.public_view(session, county, period, version)
