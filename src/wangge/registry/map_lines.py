"""Line components (pipelines) on the map: their geometry in a view, at street zoom and above.

The clustered 部件 layer (map_layer) draws every component at its anchor; a pipeline is a line
through several grids, so from street zoom on its geometry is sent as well and drawn as a line.
Scoped like the component list (`visible_component`: the anchor, or a grid it crosses).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.registry.component_grids import visible_component
from wangge.registry.components import catalogue_for
from wangge.registry.models_components import NETWORKS, Component

# Street zoom (about 1:8,000): the same level from which the 部件 layer shows points.
LINES_ZOOM = 16


def lines_in_view(
    session: Session,
    principal: Principal,
    bbox: tuple[float, float, float, float],
    *,
    classes: tuple[str, ...] = (),
    limit: int = 1000,
) -> dict[str, Any]:
    """Return the lines and polygons crossing a canonical lon/lat bbox as GeoJSON features."""
    principal.require("registry.read")
    x0, y0, x1, y1 = bbox
    query = select(Component).where(
        visible_component(principal),
        Component.minx <= x1, Component.maxx >= x0, Component.miny <= y1, Component.maxy >= y0,
        # A spread geometry has an extent; a point's box is a point.
        or_(Component.maxx > Component.minx, Component.maxy > Component.miny),
    )  # fmt: skip
    if classes:
        query = query.where(or_(*(Component.class_code.startswith(c) for c in classes)))
    rows = session.scalars(query.order_by(Component.id).limit(limit + 1)).all()
    names: dict[tuple[str, str], str] = {}
    features = []
    for c in rows[:limit]:
        if c.geom is None or c.geom.is_empty:
            continue
        key = (c.county_code, c.scheme)
        if key not in names:
            for m in catalogue_for(session, *key):  # type: ignore[arg-type]
                names[(key[0], m.code)] = m.name
        features.append(
            {
                "type": "Feature",
                "geometry": c.geom,
                "properties": {
                    "id": c.id, "code": c.code, "name": c.name, "class_code": c.class_code,
                    "class_name": names.get((c.county_code, c.class_code), c.class_code),
                    "network": c.network, "network_zh": NETWORKS.get(c.network or ""),
                    "state": c.state, "owner_department_code": c.owner_department_code,
                },
            }
        )  # fmt: skip
    return {"type": "FeatureCollection", "features": features, "more": len(rows) > limit}
