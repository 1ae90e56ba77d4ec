"""The grids a grid worker serves today: his registry writes and visits stay inside them."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.assignments.models import GridAssignment
from wangge.assignments.service import in_force
from wangge.auth.principal import Principal
from wangge.common.localtime import SHANGHAI
from wangge.common.models import utcnow
from wangge.errors import Forbidden
from wangge.grids.models import Grid, GridVersion
from wangge.grids.scope import layer_grid_ids


def today() -> date:
    """Return today's date in Beijing (assignments start and end on Beijing days)."""
    return utcnow().astimezone(SHANGHAI).date()


def own_grid_ids(session: Session, principal: Principal, on: date | None = None) -> set[int] | None:
    """Return the social grid ids (micro grids included) the principal serves; None if none.

    A grid worker is whoever has a social-grid assignment in force (网格员配置) or a post
    scoped to a grid; everyone else (community, street, county staff) gets None: the area
    check alone applies to him.
    """
    day = on or today()
    # One lookup per request (a principal is built per request), not per row of an import.
    cache_key = ("own_grids", id(principal), day)
    cached = session.info.get(cache_key)
    if cached is not None and cached[0] is principal:
        return cached[1]  # type: ignore[no-any-return]
    codes: set[str] = set()
    if principal.user_id is not None:
        codes |= set(
            session.scalars(
                select(GridAssignment.grid_code).where(
                    GridAssignment.user_id == principal.user_id,
                    GridAssignment.layer == "social",
                    in_force(day),
                )
            )
        )
    codes |= {p for p in principal.scope_prefixes or () if len(p) > 12}
    found: set[int] | None = None
    if codes:
        found = set()
        for code in sorted(codes):
            found |= set(session.scalars(layer_grid_ids("social", code)))
    session.info[cache_key] = (principal, found)
    return found


def require_own_grid(
    session: Session, principal: Principal, grid_id: int | None, micro_grid_id: int | None = None
) -> None:
    """Refuse a grid worker's write on a record located in a grid he does not serve (a
    微网格长 serves his micro grid: the records whose micro grid it is)."""
    own = own_grid_ids(session, principal)
    if own is None or grid_id is None or grid_id in own or micro_grid_id in own:
        return
    code = session.scalar(select(Grid.code).where(Grid.id == grid_id)) or str(grid_id)
    raise Forbidden(
        f"网格 {code} 不是您负责的网格，网格员只能采集、修改和走访本人网格内的信息",
        f"grid {code} is not one of your grids: a grid worker collects, edits and visits "
        "records of his own grids only",
        code="not_your_grid",
    )


def single_own_grid(
    session: Session, principal: Principal, community_code: str | None
) -> int | None:
    """Return the worker's grid in a community when there is exactly one (else None)."""
    own = own_grid_ids(session, principal)
    if not own:
        return None
    query = (
        select(Grid.id)
        .join(GridVersion, GridVersion.id == Grid.version_id)
        .where(Grid.id.in_(own), Grid.parent_id.is_(None), GridVersion.status == "active")
    )
    if community_code:
        query = query.where(Grid.community_code == community_code)
    ids = session.scalars(query.limit(2)).all()
    return ids[0] if len(ids) == 1 else None
