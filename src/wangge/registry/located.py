"""The registry's located tables: `wangge.wiring` registers them so that records follow
re-divisions (`grids.versions`)."""

from __future__ import annotations

from wangge.grids.versions import LocatedSpec
from wangge.registry.models import Building, Component, Organisation, Person

SPECS = [
    LocatedSpec(Building, "楼栋", {"social": "grid_id", "unit": "unit_grid_id"}),
    LocatedSpec(Component, "部件", {"social": "grid_id", "unit": "unit_grid_id"}),
    LocatedSpec(Organisation, "组织", {"social": "grid_id", "unit": "unit_grid_id"}),
    # People carry their building's position, so they move with it.
    LocatedSpec(Person, "实有人口", {"social": "grid_id"}),
]
