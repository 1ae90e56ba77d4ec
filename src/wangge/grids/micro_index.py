"""Point → micro grid (微网格) lookup kept beside a social version's grid index.

Micro grids (a lane, a building, a group of buildings) cover only part of their parent grid
and may leave gaps, so a point has a micro grid only where one is drawn. A record's micro grid
must lie in its base grid (the scope of a 微网格长 is a part of a grid, never a second place):
a hit whose parent is not the point's base grid counts as none.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wangge.grids.lookup import GridIndex

# Micro grids are small (a building is ~1/100 of a grid) but few: a raster sized by their own
# median would be mostly empty cells over a whole county. Bound it by their number instead
# (cells beyond the bound are exact-tested, still exact).
_CELLS_PER_MICRO = 256
_MIN_CELLS = 1 << 12
_MAX_CELLS = 1 << 22


@dataclass
class MicroIndex:
    """The micro grids of one version: an index, their refs and their parent grid ids."""

    index: GridIndex
    refs: dict[int, Any]
    parent_of: dict[int, int | None]
    _known: np.ndarray = field(init=False, repr=False)  # micro ids, sorted
    _parent: np.ndarray = field(init=False, repr=False)  # their parents (−2: none)

    def __post_init__(self) -> None:
        self._known = np.array(sorted(self.parent_of), dtype=np.int64)
        self._parent = np.array([self.parent_of[int(k)] or -2 for k in self._known], dtype=np.int64)

    def locate(self, lon: float, lat: float, parent_id: int | None) -> Any | None:
        """Return the ref of the micro grid holding a point of base grid `parent_id`."""
        if parent_id is None:
            return None
        hit = self.index.locate(lon, lat)
        if hit is None or self.parent_of.get(hit) != parent_id:
            return None
        return self.refs.get(hit)

    def locate_many(self, lon: np.ndarray, lat: np.ndarray, parents: np.ndarray) -> np.ndarray:
        """Return the micro grid id of each point (−1: none) given each point's base grid id."""
        ids = self.index.locate_many(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        if len(ids) == 0:
            return ids
        known, parent = self._known, self._parent
        pos = np.clip(np.searchsorted(known, ids), 0, max(len(known) - 1, 0))
        ok = (ids >= 0) & (known[pos] == ids) & (parent[pos] == np.asarray(parents))
        return np.where(ok, ids, -1)


def build_micro_index(rows: Sequence[Any], make_ref: Callable[..., Any]) -> MicroIndex | None:
    """Build the index of rows (id, geom, code, community, county, parent id, kind); None if none."""
    rows = [r for r in rows if r[1] is not None]
    if not rows:
        return None
    cells = min(_MAX_CELLS, max(_MIN_CELLS, _CELLS_PER_MICRO * len(rows)))
    index = GridIndex(
        np.array([r[0] for r in rows], dtype=np.int64), [r[1] for r in rows], max_cells=cells
    )
    refs = {r[0]: make_ref(r[0], r[2], r[3], r[4], r[5]) for r in rows}
    return MicroIndex(index, refs, {r[0]: r[5] for r in rows})
