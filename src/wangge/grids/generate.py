"""Generating unit grids (万米单元网格) for a county into a new draft version."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.common.geo import areas_m2
from wangge.divisions.models import Division
from wangge.errors import ValidationFailed
from wangge.grids.models import GridVersion
from wangge.grids.service import GridIn, add_grids, new_version
from wangge.grids.unit_grids import generate_unit_grids


def _selected_communities(
    session: Session,
    county: str,
    communities: Sequence[str] | None,
    cell_area_m2: float,
    max_cells: int | None,
) -> list[Division]:
    """The communities to grid, each with a boundary, and not more cells than allowed."""
    q = select(Division).where(Division.county_code == county, Division.level == "community")
    if communities:
        q = q.where(Division.code.in_(list(communities)))
    selected = list(session.scalars(q.order_by(Division.code)))
    if not selected:
        raise ValidationFailed(
            f"区县 {county} 下没有可生成网格的社区",
            f"county {county} has no communities to grid",
            code="no_communities",
        )
    missing = [d.code for d in selected if d.geom is None]
    if missing:
        raise ValidationFailed(
            f"社区 {', '.join(missing[:5])} 没有边界，无法生成网格",
            f"communities {', '.join(missing[:5])} have no boundary",
            code="no_boundary",
        )
    if max_cells is not None:
        area = float(areas_m2([d.geom for d in selected]).sum())
        if area / cell_area_m2 > max_cells:
            raise ValidationFailed(
                f"约 {area / cell_area_m2:.0f} 个单元网格，超过上限 {max_cells}；请增大面积或缩小范围",
                f"about {area / cell_area_m2:.0f} cells, more than {max_cells}; "
                "use a larger cell area or a smaller area",
                code="too_many_cells",
                field="cell_area_m2",
            )
    return selected


def generate_unit_version(
    session: Session,
    county: str,
    *,
    width: int,
    cell_area_m2: float = 10_000.0,
    lines: Sequence[BaseGeometry | None] = (),  # a missing geometry cuts nothing
    communities: Sequence[str] | None = None,
    name: str | None = None,
    progress: Callable[[int], None] | None = None,
    max_cells: int | None = None,
) -> GridVersion:
    """Cut each community into cells of `cell_area_m2`, along `lines`, coded in order."""
    selected = _selected_communities(session, county, communities, cell_area_m2, max_cells)
    version = new_version(
        session, county, "unit", name or f"单元网格 {cell_area_m2:.0f} 平方米", note="generated"
    )
    # One lattice for the whole county, so cells of neighbouring communities line up.
    county_geom = session.get(Division, county).geom  # type: ignore[union-attr]
    bounds = (county_geom or selected[0].geom).bounds  # type: ignore[union-attr]
    origin = (math.floor(bounds[0] * 100) / 100, math.floor(bounds[1] * 100) / 100)
    rows: list[GridIn] = []
    for community in selected:
        assert community.geom is not None
        cells = generate_unit_grids(
            community.geom, cell_area_m2=cell_area_m2, lines=list(lines), origin=origin
        )
        rows.extend(GridIn(kind="unit", geom=c, community_code=community.code) for c in cells)
        if progress:
            progress(1)
    add_grids(session, version, rows, width=width)
    # Kept on the version so the console can show how this draft was made.
    version.report = {
        "source": "generate",
        "cell_area_m2": cell_area_m2,
        "communities": [c.code for c in selected],
        "grids": len(rows),
        "lines": len(lines),
    }
    session.flush()
    return version
