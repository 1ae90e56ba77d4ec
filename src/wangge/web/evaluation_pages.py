"""The 考核 pages: /console/evaluation (rankings, formulas, drill-down, exports, publication)
and the login-free /public/evaluation/{county} (what the county published).

The console page is rendered from the same `service.compare` the API answers with, for the
same principal, so the page never shows a figure (or an object) the API would not.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from wangge.api.deps import SessionDep
from wangge.cases.models import Category
from wangge.common.models import utcnow
from wangge.errors import DomainError
from wangge.evaluation import analysis, glossary, publication, service, sql
from wangge.evaluation.facts import OPEN_COUNTS
from wangge.evaluation.indicators import OBJECT_FORMULA, RATES, EvalConfig
from wangge.evaluation.periods import SHANGHAI, Period, period_of
from wangge.evaluation.publication_models import EvaluationReport
from wangge.web.area import counties_in_scope
from wangge.web.i18n import LANG_COOKIE, pick_language
from wangge.web.views import MeDep, refuse, render

router = APIRouter(include_in_schema=False)
# The rankings the page shows first (open), then the posts of the command centre.
MAIN_TYPES = ("street", "community", "grid", "department", "grid_worker")
CENTRE_TYPES = ("supervisor", "acceptor", "shift_leader", "dispatcher")
PUBLIC_DEFAULT = ("street", "department")


def _lang(request: Request) -> str:
    return pick_language(
        request.cookies.get(LANG_COOKIE),
        request.query_params.get("lang"),
        request.app.state.settings.default_language,
    )


def period_choices(today: date) -> list[tuple[str, str]]:
    """Return (kind, label) of the periods to pick: 13 months, 5 quarters, 3 years."""
    out: list[tuple[str, str]] = []
    anchor = today.replace(day=1)
    for _ in range(13):
        out.append(("month", period_of("month", anchor).label))
        anchor = (anchor - timedelta(days=1)).replace(day=1)
    q = period_of("quarter", today)
    for _ in range(5):
        out.append(("quarter", q.label))
        q = period_of("quarter", q.first - timedelta(days=1))
    out += [("year", str(today.year - i)) for i in range(3)]
    return out


def drillable(object_type: str) -> set[str]:
    """Return the rates and counts of an object type that have a case list behind them."""
    group = "supervisor" if object_type == "grid_worker" else object_type
    groups = sql.groups(EvalConfig())
    if group not in groups:
        return set()
    known = {*groups[group][2], *OPEN_COUNTS.get(group, ())}
    out = set(known)
    for key, num, den in RATES[OBJECT_FORMULA[object_type]]:
        parts = [num, *(den if isinstance(den, tuple) else (den,))]
        if all(p in known for p in parts):
            out.add(key)
    return out


def open_keys(object_type: str) -> tuple[str, ...]:
    """Return the counts of clocks overdue at the period's end shown beside the rates."""
    group = "supervisor" if object_type == "grid_worker" else object_type
    return tuple(k for k in OPEN_COUNTS.get(group, ()) if k != "overdue_carried")


def _section(object_type: str, rows: list[dict[str, Any]], lang: str) -> dict[str, Any]:
    rates = [k for k, _, _ in RATES[OBJECT_FORMULA[object_type]]]
    return {
        "type": object_type,
        "title": glossary.object_name(object_type, lang),
        "rows": rows,
        "rates": [(k, glossary.name(k, lang), glossary.formula(k, lang)) for k in rates],
        "open": [
            (k, glossary.name(k, lang), glossary.formula(k, lang)) for k in open_keys(object_type)
        ],
        "weights": glossary.weights(object_type, lang),
        "weights_text": glossary.weights_text(object_type, lang),
        "drillable": drillable(object_type),
    }


@router.get("/console/evaluation")
def evaluation_page(request: Request, session: SessionDep, me: MeDep) -> Response:
    if me is None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    if not me.can("evaluation.read"):
        return refuse(request, me, "evaluation.read", "考核评价")
    lang = _lang(request)
    now = utcnow()
    today = now.astimezone(SHANGHAI).date()
    choices = period_choices(today)
    default = period_of("month", today.replace(day=1) - timedelta(days=1)).label
    label = request.query_params.get("period") or default
    counties = counties_in_scope(session, me)
    wanted = request.query_params.get("county") or ""
    county = wanted if wanted in {c for c, _ in counties} else (counties[0][0] if counties else "")
    ctx: dict[str, Any] = {"counties": counties, "county": county, "choices": choices,
                           "label": label, "sections": [], "error": None}  # fmt: skip
    try:
        period = publication.parse(label)
        if (period.kind, period.label) not in choices:  # an older period named in the address
            choices.append((period.kind, period.label))
        if not county:
            raise DomainError("没有可评价的区县", "no county to evaluate", code="no_county")
        result = service.compare(session, period, county=county, as_of=now, principal=me)
        credit = analysis.unit_credit(session, period, county=county, principal=me)
    except DomainError as exc:
        ctx["error"] = exc.message_en if lang == "en" else exc.message_zh
        return render(request, "console_evaluation.html", me, **ctx, here=request.url.path)
    sections = [
        _section(t, result["objects"].get(t, []), lang) for t in (*MAIN_TYPES, *CENTRE_TYPES)
    ]
    reports = session.execute(
        select(EvaluationReport.id, EvaluationReport.period, EvaluationReport.kind,
               EvaluationReport.size, EvaluationReport.created_at)
        .where(EvaluationReport.county_code == county)
        .order_by(EvaluationReport.period.desc(), EvaluationReport.kind)
        .limit(48)
    ).all()  # fmt: skip
    can_publish = me.can("evaluation.publish") and me.contains(county)
    ctx |= {
        "period": period, "result": result, "sections": sections, "credit": credit[:50],
        "credit_total": len(credit), "glossary": glossary.table(lang), "reports": reports,
        "can_publish": can_publish, "closed": period.end <= now,
        "publications": [publication.summary(r) for r in publication.listing(session, county)]
        if can_publish else [],
        "public_default": PUBLIC_DEFAULT, "main_types": MAIN_TYPES,
        "query": urlencode({"county": county}),
        "drill_base": "/console/evaluation/drill?" + urlencode(
            {"period": period.label, "county": county}),
    }  # fmt: skip
    return render(request, "console_evaluation.html", me, **ctx)


@router.get("/console/evaluation/drill")
def drill_page(request: Request, session: SessionDep, me: MeDep) -> Response:
    if me is None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    if not me.can("evaluation.read"):
        return refuse(request, me, "evaluation.read", "考核评价")
    lang = _lang(request)
    q = request.query_params
    label, county = q.get("period") or "", q.get("county") or ""
    object_type, key, indicator = (
        q.get("object_type") or "",
        q.get("key") or "",
        q.get("indicator") or "",
    )
    back = "/console/evaluation?" + urlencode({"period": label, "county": county})
    try:
        period: Period = publication.parse(label)
        if object_type not in OBJECT_FORMULA:
            raise DomainError(f"未知的评价对象 {object_type}", f"unknown object type {object_type!r}",
                              code="object_type")  # fmt: skip
        mine = me.county_codes()
        if mine is not None and county not in mine:
            raise DomainError(f"无权查看 {county} 的评价", f"county {county} is outside your scope",
                              code="forbidden")  # fmt: skip
        body = service.drill(session, period, object_type, key, indicator, county=county or None,
                             principal=me)  # fmt: skip
    except DomainError as exc:
        msg = exc.message_en if lang == "en" else exc.message_zh
        return render(request, "message.html", me, title="考核评价", message=msg)
    cats = {c for part in ("numerator", "denominator") for c in
            (x["category"] for x in body[part]["cases"])}  # fmt: skip
    names = dict(
        session.execute(select(Category.code, Category.name).where(Category.code.in_(cats))).all()
    )
    row = next((r for r in service.evaluate(session, period, county=county or None, principal=me)
                ["objects"][object_type] if r["key"] == key), None)  # fmt: skip
    return render(
        request, "console_evaluation_drill.html", me,
        body=body, period=period, county=county, object_type=object_type,
        object_title=glossary.object_name(object_type, lang),
        object_name=(row or {}).get("name", key), value=None if row is None else
        (row["rates"].get(indicator) if indicator in row["rates"] else row["counts"].get(indicator)),
        indicator_name=glossary.name(indicator, lang), formula=glossary.formula(indicator, lang),
        parts=[(p, [glossary.name(c, lang) for c in body[p]["counts"]]) for p in
               ("numerator", "denominator") if body[p]["counts"]],
        category_names=names, back=back,
    )  # fmt: skip


@router.get("/public/evaluation/{county}")
def public_page(request: Request, county: str, session: SessionDep) -> Response:
    """The published evaluation of a county, for anyone (no login, no personal data)."""
    lang = _lang(request)
    q = request.query_params
    version = q.get("version")
    try:
        if not (county.isdigit() and len(county) == 6):
            raise DomainError(f"区县编码有误：{county}", f"bad county code {county!r}",
                              code="county")  # fmt: skip
        view = publication.public_view(
            session, county, q.get("period") or None,
            int(version) if version and version.isdigit() else None,
        )  # fmt: skip
    except DomainError as exc:
        msg = exc.message_en if lang == "en" else exc.message_zh
        response = render(request, "message.html", None, title="考核评价公示", message=msg)
        response.status_code = 404
        return response
    shown = view["publication"]
    sections = []
    if shown is not None:
        for t in shown["object_types"]:
            rates = [k for k, _, _ in RATES[OBJECT_FORMULA[t]] if k in glossary.BY_KEY]
            sections.append({
                "type": t, "title": glossary.object_name(t, lang),
                "rows": shown["data"]["rankings"].get(t, []),
                "rates": [(k, glossary.name(k, lang), glossary.formula(k, lang)) for k in rates],
                "open": [(k, glossary.name(k, lang)) for k in open_keys(t)],
                "weights_text": glossary.weights_text(t, lang),
            })  # fmt: skip
    return render(
        request, "public_evaluation.html", None,
        view=view, shown=shown, sections=sections, glossary=glossary.table(lang),
    )  # fmt: skip
