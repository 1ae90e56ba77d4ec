"""Cases are located records: a re-division moves them to the grids that now hold their
position (registered by `wangge.wiring`)."""

from __future__ import annotations

from wangge.cases.models import Case
from wangge.grids.versions import LocatedSpec

CASES = LocatedSpec(Case, "案卷", {"social": "grid_id", "unit": "unit_grid_id"})
