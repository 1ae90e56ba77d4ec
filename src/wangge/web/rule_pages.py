"""Console page of the response rules (答复时限): list per county; writes call the API."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from wangge.api.deps import SessionDep
from wangge.cases.limits import RULE_STAGES
from wangge.cases.model import Source
from wangge.cases.response import list_rules
from wangge.divisions.models import Division
from wangge.errors import DomainError
from wangge.web.i18n import N_
from wangge.web.views import MeDep, render

router = APIRouter(include_in_schema=False)

SOURCES = {
    "online": N_("网上/随手拍"),
    "hotline": N_("12345 热线"),
    "patrol": N_("巡查上报"),
    "video": N_("视频发现"),
    "department": N_("部门上报"),
}
STAGES = {
    "respond": N_("首次答复（上报→受理或不予受理）"),
    "solve": N_("办结（上报→结案）"),
    "accept": N_("受理阶段"),
    "verify": N_("核实阶段"),
    "file": N_("立案阶段"),
    "dispatch": N_("派遣阶段"),
    "handle": N_("处置阶段"),
    "check": N_("核查阶段"),
    "close": N_("结案阶段"),
}


@router.get("/console/rules")
def rules_page(request: Request, session: SessionDep, me: MeDep) -> Response:
    if me is None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    query = select(Division.code, Division.name).where(Division.level == "county")
    scope = me.county_codes()
    if scope is not None:
        query = query.where(Division.code.in_(sorted(scope)))
    counties = [(c, n) for c, n in session.execute(query.order_by(Division.code))]
    wanted = request.query_params.get("county") or ""
    county = wanted if wanted in {c for c, _ in counties} else (counties[0][0] if counties else "")
    try:
        rows = list_rules(session, me, county, include_inactive=True) if county else []
    except DomainError as exc:
        return render(request, "message.html", me, title="答复时限", message=exc.message_zh)
    return render(
        request,
        "console_rules.html",
        me,
        county=county,
        counties=counties,
        rows=rows,
        sources=[(s.value, SOURCES.get(s.value, s.value)) for s in Source],
        stages=[(s, STAGES.get(s, s)) for s in RULE_STAGES],
        can_manage=bool(county) and me.can("rules.manage") and me.contains(county),
    )
