"""The headline figures of a user's area (the big screen's tiles), by the evaluation's own rules.

The dashboard used to count "on time" its own way (a part fed back before its deadline); now
its figures are the evaluation's counts of the window summed over the objects the user may
see, turned into rates by `indicators.evaluate_object`: the same 按期处置率 the department ranking
shows, the same 按期结案率 and 结案率 as the area ranking, the same 群众满意率 as the grid
workers'. A number on the screen therefore matches the 考核 page for the same days.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.evaluation import sql, stored
from wangge.evaluation.indicators import EvalConfig, evaluate_object
from wangge.evaluation.service import _args, _dialect, _in_scope, _names, _params, count_period

# (rate key, object type whose formula gives it, Chinese name as the glossary has it)
HEADLINE: tuple[tuple[str, str, str], ...] = (
    ("handle_on_time_rate", "department", "按期处置率"),
    ("close_on_time_rate", "community", "按期结案率"),
    ("close_rate", "community", "结案率"),
    ("rework_rate", "department", "返工率"),
    ("satisfaction_rate", "grid_worker", "群众满意率"),
)
# The grid workers' 群众满意率 counts a case once per worker who worked on it; the area's
# counts each rated case once, in its community, by the same rating rule (`sql`).


def _summed(rows: Iterable[Mapping[str, int]]) -> Counter[str]:
    total: Counter[str] = Counter()
    for counts in rows:
        total.update(counts)
    return total


def _departments(
    counts: dict[str, dict[str, int]], principal: Principal | None
) -> list[Mapping[str, int]]:
    """A department's handler sees his departments' figures; everyone else all departments."""
    mine = principal.department_codes if principal is not None else frozenset()
    return [c for key, c in counts.items() if not mine or key in mine]


def _areas(
    counts: dict[str, dict[str, dict[str, int]]],
    principal: Principal | None,
    names: dict[str, Any],
) -> list[Mapping[str, int]]:
    """Every filed case belongs to one community (or, without one, to its grid): summing the
    communities in scope counts each case once; a grid-scoped user sums his grids."""
    rows: list[Mapping[str, int]] = [
        c for k, c in counts["community"].items() if _in_scope(principal, "community", k, names)
    ]
    if rows or principal is None or principal.scope_prefixes is None:
        return rows
    return [c for k, c in counts["grid"].items() if _in_scope(principal, "grid", k, names)]


def area_ratings(
    session: Session, start: datetime, end: datetime, *, county: str | None = None
) -> dict[str, dict[str, int]]:
    """Return per community {ratings, satisfied} of the cases rated in [start, end)."""
    query = sql.area_ratings_sql(
        _dialect(session), county=county is not None, stored=stored.usable(session, EvalConfig())
    )
    rows = session.execute(_params(text(query)), _args(start, end, county))
    return {str(c): {"ratings": int(n), "satisfied": int(s or 0)} for c, n, s in rows}


def figures(
    department: Mapping[str, int], area: Mapping[str, int], rated: Mapping[str, int]
) -> dict[str, Any]:
    """Return {rates, counts, names} from the summed counts of departments, areas and ratings.

    Pure: the dashboard (`headline`) and the public statistics (`statistics`) both end here,
    so the same counts always print the same rates, rounded as every evaluation figure is.
    """
    by_type = {
        kind: evaluate_object(kind, "", counts)["rates"]
        for kind, counts in (("department", department), ("community", area),
                             ("grid_worker", rated))
    }  # fmt: skip
    return {
        "rates": {key: by_type[kind][key] for key, kind, _ in HEADLINE},
        "names": {key: zh for key, _, zh in HEADLINE},
        "counts": {
            "filed": area.get("filed", 0),
            "closed": area.get("closed", 0),
            "closed_on_time": area.get("closed_on_time", 0),
            "overdue_cases": area.get("overdue_cases", 0),
            "assessed": department.get("to_handle", 0) + department.get("overdue_carried", 0),
            "handled_on_time": department.get("handled_on_time", 0),
            "overdue_open": department.get("overdue_open", 0),
            "to_handle": department.get("to_handle", 0),
            "rework": department.get("rework", 0),
            "ratings": rated.get("ratings", 0),
            "satisfied": rated.get("satisfied", 0),
        },
    }


def headline(
    session: Session,
    principal: Principal | None,
    start: datetime,
    end: datetime,
    *,
    county: str | None = None,
) -> dict[str, Any]:
    """Return {rates: {key: %}, counts: {...}, names: {key: 中文}} of [start, end) in scope
    (principal None: the whole county, as the public statistics show it)."""
    counts = count_period(session, start, end, county=county)
    names = _names(session, counts)
    names["county:"] = county
    department = _summed(_departments(counts["department"], principal))
    area = _summed(_areas(counts, principal, names))
    rated = area_ratings(session, start, end, county=county)
    workers = _summed(c for k, c in rated.items() if _in_scope(principal, "community", k, names))
    return figures(department, area, workers)
