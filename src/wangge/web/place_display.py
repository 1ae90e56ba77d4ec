"""Where a case lies, for its page: street, community, grid and unit grid, names and codes."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from wangge.divisions.models import Division
from wangge.grids.models import Grid
from wangge.web.i18n import N_


def case_place(session: Session, case: Any) -> list[tuple[str, str, str, str]]:
    """Rows (label, test id, code, name) of the case's 街道, 社区, 网格, 微网格 and 单元网格."""
    grid = session.get(Grid, case.grid_id) if case.grid_id else None
    unit = session.get(Grid, case.unit_grid_id) if case.unit_grid_id else None
    micro_id = getattr(case, "micro_grid_id", None)
    micro = session.get(Grid, micro_id) if micro_id else None
    community = session.get(Division, case.community_code) if case.community_code else None
    street = (
        session.get(Division, community.parent_code)
        if community and community.parent_code
        else None
    )
    rows = [
        (N_("所属街道"), "place-street", street),
        (N_("所属社区"), "place-community", community),
        (N_("所在网格"), "place-grid", grid),
        (N_("所在微网格"), "place-micro-grid", micro),
        (N_("所在单元网格"), "place-unit-grid", unit),
    ]
    return [(label, tid, obj.code, obj.name) for label, tid, obj in rows if obj is not None]
