"""Grid-level scopes: which grids of one layer a post's grid code holds."""

from __future__ import annotations

from sqlalchemy import Select, or_, select

from wangge.grids.models import DutyGridMember, Grid, GridVersion


def layer_grid_ids(layer: str, prefix: str) -> Select[tuple[int]]:
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
