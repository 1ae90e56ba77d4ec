"""Grid-level scopes: which grids of one layer a post's grid code holds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select

from wangge.divisions.codes import MICRO_WIDTH
from wangge.grids.models import DutyGridMember, Grid, GridVersion

# The shortest micro-grid code: 12 + a 2-digit sequence + MICRO_WIDTH. A shorter grid code
# names a base grid, whose records carry it as their grid already.
MIN_MICRO_CODE = 12 + 2 + MICRO_WIDTH


def layer_grid_ids(layer: str, prefix: str) -> Select[int]:
    """Ids of the grids of one layer under a code prefix (a duty grid brings its unit grids).

    Social and unit grids follow the same coding rule (community code + sequence), so a code
    alone does not say which grid is meant; the layer does.
    """
    of_layer = (
        select(Grid.id)
        .join(GridVersion, GridVersion.id == Grid.version_id)
        .where(GridVersion.layer == layer, Grid.code.startswith(prefix, autoescape=True))
    )
    if layer != "unit":
        return of_layer
    members = select(DutyGridMember.unit_grid_id).where(DutyGridMember.duty_grid_id.in_(of_layer))
    return select(Grid.id).where(or_(Grid.id.in_(of_layer), Grid.id.in_(members)))


def micro_grid_ids(prefix: str) -> Select[int] | None:
    """Ids of the micro grids (微网格) under a code prefix; None for a base-grid code."""
    if len(prefix) < MIN_MICRO_CODE:
        return None
    return (
        select(Grid.id)
        .join(GridVersion, GridVersion.id == Grid.version_id)
        .where(
            GridVersion.layer == "social",
            Grid.kind == "micro",
            Grid.code.startswith(prefix, autoescape=True),
        )
    )


def social_grid_condition(grid_column: Any, micro_column: Any, prefix: str) -> ColumnElement[bool]:
    """SQL: a located row lies in the social grid, or the micro grid, a code names.

    A micro grid is a part of a grid: its 微网格长 holds the rows carrying it as their micro
    grid. For base-grid codes the condition is the grid condition alone (unchanged).
    """
    cond: ColumnElement[bool] = grid_column.in_(layer_grid_ids("social", prefix))
    micro = micro_grid_ids(prefix)
    if micro is None or micro_column is None:
        return cond
    return or_(cond, micro_column.in_(micro))
