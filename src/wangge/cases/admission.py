"""What may be reported at all: switched-off business lines, and the 准入清单 for grid workers.

A grid worker is a person serving a social grid on the day (a grid assignment in force,
`wangge.assignments`); his patrol reports (in the 监督员/网格员 or 网格长 post) are grid work
and may only be of classes admitted to the grid (`Category.admitted_to_grid`). Reports by
people without a social-grid assignment (数字城管 监督员 of the unit grids, hotline, citizens,
departments) are not grid work and report the whole catalogue.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from wangge.assignments.service import is_grid_worker
from wangge.auth.principal import Principal
from wangge.cases.deadlines import SHANGHAI
from wangge.cases.models import Category
from wangge.cases.vocabulary import Outcome, Role, Source
from wangge.errors import ValidationFailed
from wangge.lines.service import refuse_switched_off

NonAdmitted = Literal["refuse", "to_centre"]
_GRID_POSTS = frozenset({Role.SUPERVISOR, Role.GRID_LEADER})


def check_report(
    session: Session,
    *,
    county: str,
    category: Category,
    principal: Principal,
    outcome: Outcome,
    now: datetime,
    non_admitted: NonAdmitted = "refuse",
) -> Outcome:
    """Refuse a report the lines or the 准入清单 forbid; mark a centre matter on its event."""
    refuse_switched_off(session, county, category)
    if (
        category.admitted_to_grid
        or outcome.case.source is not Source.PATROL
        or outcome.event.role not in _GRID_POSTS
        or not is_grid_worker(session, principal.user_id, now.astimezone(SHANGHAI).date())
    ):
        return outcome
    if non_admitted == "refuse":
        raise ValidationFailed(
            f"准入清单：类别 {category.code}（{category.name}）不在网格事项准入清单内，"
            "网格员不能作为网格工作上报，请经热线或中心上报",
            f"准入清单 (matters admitted to grid work): category {category.code} "
            f"({category.name}) is not admitted to grid work, so a grid worker cannot report it "
            "as grid work; report it through the hotline or the centre",
            code="not_admitted_to_grid",
            field="category_code",
            details={"rule": "准入清单", "category": category.code},
        )
    # A centre matter: accepted as usual (受理), never self-handled (the guards refuse it).
    payload = {**outcome.event.payload, "grid_work": False, "rule": "准入清单"}
    return replace(outcome, event=replace(outcome.event, payload=payload))
