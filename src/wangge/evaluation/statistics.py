"""A county's public statistics of a period: the headline indicators, county-wide and per
category (Open311 service), by the evaluation's own definitions.

Nothing here defines an indicator. The county's figures are `headline.headline` over the whole
county (the dashboard's function, with no user's scope); a category's are the same counts
(`facts.count`, the reference the SQL is tested against) over the cases of that category, summed
and turned into rates by `headline.figures`, as the dashboard's are. The result is frozen into a
publication (`publication.snapshot`), and Open311 `/statistics` shows only what was published.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from wangge.cases.models import Case, CaseEvent, Category
from wangge.cases.vocabulary import FINAL_VALUES
from wangge.evaluation import facts, stored
from wangge.evaluation.facts import SATISFIED, EventRow
from wangge.evaluation.glossary import formula, name
from wangge.evaluation.headline import HEADLINE, _areas, _departments, _summed, figures, headline
from wangge.evaluation.periods import Period

# The categories whose figures are public: those Open311 publishes as services.
PUBLIC_KINDS = ("event", "component")
# Counts published beside the rates (no names, no ids: numbers of cases and clocks only).
COUNTS = ("filed", "closed", "closed_on_time", "overdue_cases", "assessed", "handled_on_time",
          "overdue_open", "to_handle", "rework", "ratings", "satisfied")  # fmt: skip


def indicators(lang: str = "zh") -> list[dict[str, str]]:
    """Return the published indicators: key, Chinese and English names, formula (glossary)."""
    return [
        {"key": key, "name": name(key, "zh"), "name_en": name(key, "en"),
         "formula": formula(key, "zh"), "formula_en": formula(key, "en")}
        for key, _, _ in HEADLINE
    ]  # fmt: skip


def _public(out: dict[str, Any]) -> dict[str, Any]:
    return {"rates": dict(out["rates"]), "counts": {k: out["counts"][k] for k in COUNTS}}


def rated_cases(events: Iterable[EventRow], start: datetime, end: datetime) -> dict[str, int]:
    """Return {ratings, satisfied} of the cases rated in [start, end), each rating once.

    The area's rule (`sql.area_ratings_sql`, which the dashboard reads) on raw events.
    """
    rates = [e for e in events if e.action == "rate" and start <= e.at < end]
    return {"ratings": len(rates), "satisfied": sum(e.rating in SATISFIED for e in rates)}


def _category_events(
    session: Session, start: datetime, end: datetime, county: str
) -> dict[str, list[EventRow]]:
    """Return the events before `end` of the county's public-category cases that can count in
    [start, end): those with an event since `start`, and those still open (a clock open at the
    period's end); a case finished before `start` counts nothing."""
    public = select(Category.code).where(Category.kind.in_(PUBLIC_KINDS))
    touched = select(CaseEvent.case_id).where(CaseEvent.at >= start)
    q = (
        select(*stored.event_columns(), Case.source, Case.grid_id, Case.unit_grid_id,
               Case.community_code, Case.category_code)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(
            CaseEvent.at < end, CaseEvent.county_code == county, Case.category_code.in_(public),
            or_(Case.id.in_(touched), Case.state.not_in(FINAL_VALUES)),
        )
    )  # fmt: skip
    out: dict[str, list[EventRow]] = defaultdict(list)
    for r in session.execute(q):
        grid = stored.grid_key(r.grid_id, r.unit_grid_id)
        out[r.category_code].append(stored.event_row(r, r.source, grid, r.community_code))
    return out


def by_category(
    session: Session, start: datetime, end: datetime, county: str
) -> dict[str, dict[str, Any]]:
    """Return per public category {rates, counts} of [start, end) in the county."""
    out = {}
    for code, events in sorted(_category_events(session, start, end, county).items()):
        counts = facts.count(events, start, end)
        department = _summed(_departments(counts["department"], None))
        area = _summed(_areas(counts, None, {}))
        out[code] = _public(figures(department, area, rated_cases(events, start, end)))
    return out


def compute(session: Session, period: Period, county: str) -> dict[str, Any]:
    """Return what a publication freezes for Open311: the county's and each category's figures."""
    start, end = period.start, period.end
    categories = by_category(session, start, end, county)
    names = dict(
        session.execute(
            select(Category.code, Category.name).where(Category.code.in_(list(categories)))
        ).all()
    )
    return {
        "county": _public(headline(session, None, start, end, county=county)),
        "services": [
            {"service_code": code, "service_name": names.get(code, code)} | figures_
            for code, figures_ in categories.items()
        ],
    }
