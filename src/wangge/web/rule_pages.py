"""Console page of the response rules (答复时限): list per county; writes call the API."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from wangge.api.deps import SessionDep
from wangge.cases.limits import RULE_STAGES
from wangge.cases.response import list_rules
from wangge.cases.vocabulary import Source
from wangge.errors import DomainError
from wangge.web.area import counties_in_scope
from wangge.web.views import MeDep, render

router = APIRouter(include_in_schema=False)


@router.get("/console/rules")
def rules_page(request: Request, session: SessionDep, me: MeDep) -> Response:
    if me is None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    counties = counties_in_scope(session, me)
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
        sources=[s.value for s in Source],
        stages=RULE_STAGES,
        can_manage=bool(county) and me.can("rules.manage") and me.contains(county),
    )
