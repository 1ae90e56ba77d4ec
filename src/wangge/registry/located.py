"""Register the registry's located tables so records follow re-divisions (grids.versions)."""

from __future__ import annotations

from wangge.grids.versions import LOCATED, LocatedSpec
from wangge.registry.models import Building, Component, Organisation, Person

SPECS = [
    LocatedSpec(Building, "楼栋", {"social": "grid_id", "unit": "unit_grid_id"}),
    LocatedSpec(Component, "部件", {"social": "grid_id", "unit": "unit_grid_id"}),
    LocatedSpec(Organisation, "组织", {"social": "grid_id", "unit": "unit_grid_id"}),
    # People carry their building's position, so they move with it.
    LocatedSpec(Person, "实有人口", {"social": "grid_id"}),
]
LOCATED.extend(spec for spec in SPECS if spec not in LOCATED)

import wangge.registry.component_grids  # noqa: E402,F401  (lines follow re-divisions too)
