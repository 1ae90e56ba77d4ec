"""Seeded synthetic layouts for automatic grid division: families of real-world shapes.

Each family is a function ``(seed, target=300, **size) -> Layout``; the same arguments always
give the same layout (numpy generators seeded from ``seed``, shapely only). Coordinates are in
metres in a local frame centred near the origin. The families:

- ``grid_town``: a county town on a street grid whose block size is set so that a block holds
  ``block_factor × target`` households on average (blocks smaller than a grid are the common
  county-town case); main roads and, in some seeds, a river are barriers; streets are preferred
  boundaries; schools and a hospital are exclusive sites; apartment buildings of 10–190
  households and houses of 1–3, with a density that varies strongly from block to block.
- ``county_town``: ``grid_town`` set to the numbers of a held-out county town (11 communities,
  ~600 buildings, ~28,700 households, streets every ~400 m, ~195 blocks of ~147 households).
- ``old_town``: irregular, non-orthogonal wiggly streets, many crossable lanes inside blocks,
  dense houses of 1–4 households and a few courtyard complexes (footprint buildings).
- ``suburb``: gated estates of 3–5 × target households in 8–30 towers, villa areas and empty
  land, main roads as barriers.
- ``rural``: villages of 20–80 houses far apart in farmland, village roads as preferred lines,
  a river and (in some seeds) a railway as barriers, administrative-village lines as barriers
  inside large communities of several km².
- ``tiled`` / ``large``: several layouts side by side (``large``: ~27,000 buildings).

A ``Layout`` holds the ``DivisionInput`` of every community (lines, barriers and lanes clipped
to it, extended 1 m past its boundary so that each crosses it fully) and the flattened layers
used for scoring. Buildings lie strictly inside their community, at least ``STREET_GAP_M`` from
streets and barriers and ``LANE_GAP_M`` from lanes.

The package is split along its seams: ``layout`` (the ``Layout``, gaps, seeded generators),
``streets`` (outlines, street lines, faces), ``plots`` (building sizes, placement, exclusive
sites), ``communities`` (grouping blocks into communities, assembling a ``Layout``,
``block_households``), one module per family or group of related families (``towns``,
``old_towns``, ``suburbs``, ``villages``, ``tiles``, which also holds ``FAMILIES``). The names
below are re-exported so that ``from wangge.grids.synthetic_layouts import X`` keeps working.
"""

from wangge.grids.partition import Building
from wangge.grids.synthetic_layouts.communities import block_households
from wangge.grids.synthetic_layouts.layout import LANE_GAP_M, SITE_GAP_M, STREET_GAP_M, Layout
from wangge.grids.synthetic_layouts.old_towns import old_town
from wangge.grids.synthetic_layouts.suburbs import suburb
from wangge.grids.synthetic_layouts.tiles import FAMILIES, large, tiled
from wangge.grids.synthetic_layouts.towns import HELD_OUT_TOWN, county_town, grid_town
from wangge.grids.synthetic_layouts.villages import rural

__all__ = [
    "FAMILIES",
    "HELD_OUT_TOWN",
    "LANE_GAP_M",
    "SITE_GAP_M",
    "STREET_GAP_M",
    "Building",
    "Layout",
    "block_households",
    "county_town",
    "grid_town",
    "large",
    "old_town",
    "rural",
    "suburb",
    "tiled",
]
