"""Micro grids in the demo (一网多层): the first community's first grids get micro grids.

Its first grid gets one micro grid per building, its second one per group of neighbouring
buildings; the demo's 微网格长 (demo.users) leads the first micro grid, published on
"我的网格员".
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.auth.principal import LOCAL_OPERATOR
from wangge.common.models import utcnow
from wangge.demo.grids import active_social_grids
from wangge.divisions.models import Division
from wangge.grids.models import Grid, GridVersion
from wangge.microgrids.service import FromBuildings, micro_from_buildings


def _first_community(session: Session, county: str) -> str | None:
    return session.scalar(
        select(Division.code)
        .where(Division.county_code == county, Division.level == "community")
        .order_by(Division.code)
    )


def build_micro_demo(session: Session, county: str, *, width: int) -> str:
    """Draw the demo's micro grids from the buildings of the first community's grids."""
    community = _first_community(session, county)
    if community is None:
        return "无微网格"
    parents = [
        g.code
        for g in active_social_grids(
            session, Grid.community_code == community, Grid.kind == "basic"
        )[:2]
    ]
    made = 0
    for i, code in enumerate(parents):
        plan = (
            FromBuildings(code, mode="building", margin_m=40.0)
            if i == 0
            else FromBuildings(code, mode="group", margin_m=25.0, gap_m=400.0)
        )
        made += len(micro_from_buildings(session, LOCAL_OPERATOR, plan, width=width)["created"])
    return f"{made} 个微网格"


def demo_micro_code(session: Session, county: str) -> str | None:
    """Return the code of the micro grid the demo's 微网格长 leads (None: no micro grids)."""
    community = _first_community(session, county)
    return session.scalar(
        select(Grid.code)
        .join(GridVersion, GridVersion.id == Grid.version_id)
        .where(
            GridVersion.status == "active",
            Grid.community_code == community,
            Grid.kind == "micro",
        )
        .order_by(Grid.code)
    )


def assign_micro_leader(session: Session, user_id: int, code: str) -> None:
    """Make the user the published 微网格长 of a micro grid (from before the demo month)."""
    from wangge.assignments.service import add_assignment

    row = add_assignment(
        session,
        LOCAL_OPERATOR,
        user_id=user_id,
        grid_code=code,
        kind="micro_leader",
        starts_on=(utcnow() - timedelta(days=90)).date(),
    )
    row.published = True
    session.flush()
