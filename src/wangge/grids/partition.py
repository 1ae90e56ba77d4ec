"""Automatic grid division (网格自动划分): balanced, contiguous, compact, following lines.

Pure computation (shapely 2 + numpy): no database, web or clock. All geometry must be in a metric
CRS (metres); the caller projects before and after. Lines come in three roles (see
``DivisionInput``): barriers are never crossed, preferred boundaries (streets) are crossed only
where balance needs it, lanes are ignored. Method, per community (docs/division.md):

1. Exclusive sites (and footprints of buildings tagged exclusive) become grids first.
2. The rest is cut by barriers into areas, and by barriers and streets into blocks; nothing
   ever joins two areas.
3. Buildings that alone exceed the upper limit, and point buildings tagged exclusive, get their
   own grid (their Voronoi cell in the block); they are reported as unmet when over the limit.
4. Whole blocks before cut blocks (``partition_blocks``): a big block that splits into no
   balanced parts hands its remainder to its smallest neighbour; blocks too small for a grid
   are joined whole into groups of about one grid each; a unit still out of reach lends its
   surplus across a street (``allow_crossing=False`` forbids all three).
5. Each unit is cut by recursive straight-line bisection into k parts balanced by the measure;
   cuts are chosen for balance, then compactness, and in concave blocks to keep each half whole
   and not wrapped around a hole.
6. Counts are fitted per area; boundary buildings move between neighbouring grids within
   blocks; grids still out of the band are re-cut with their neighbours, then may take
   buildings across a street, then are re-cut again; ragged grids are smoothed; where an area's
   total admits no balanced count, its error is shared by its grids.
7. Stray pieces and open land go to the touching grid of their area; grids are numbered per
   community in rows north→south, west→east within a row.

Grid polygons cover each community exactly (overlays snap to a 1 mm grid) and never cross its
boundary. A building is placed by its point, or by its footprint's representative point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely import LineString, MultiPolygon, Point, Polygon

from wangge.grids.partition_balance import rebalance_grids
from wangge.grids.partition_context import Ctx, GridState, faces, reach_of, union_all
from wangge.grids.partition_cuts import bisect
from wangge.grids.partition_engine import divide_community
from wangge.grids.partition_mend import (
    absorb_empty,
    attach_piece,
    fit_counts,
    fix_strays,
    number_grids,
    recut_with_neighbours,
)
from wangge.grids.partition_quality import (
    Measure,
    QualityReport,
    build_report,
    clean,
    line_crossings,
    polygon_parts,
    tolerance_band,
)

__all__ = [
    "Building",
    "DividedGrid",
    "DivisionInput",
    "DivisionPlan",
    "Move",
    "divide",
    "division_from_assignment",
    "merge_grids",
    "quality_report",
    "rebalance",
    "split_grid",
]


@dataclass
class Building:
    """A building (point or footprint) with its households, residents and workload weight."""

    key: str
    geom: Point | Polygon
    households: int
    residents: int = 0
    weight: float = 0.0
    exclusive: bool = False

    def value(self, measure: Measure) -> float:
        """The balancing measure of this building."""
        return float(getattr(self, measure))


@dataclass
class DivisionInput:
    """One community to divide: boundary, buildings, lines by role and exclusive sites.

    ``lines`` are preferred boundaries (streets: crossed only when balance needs it, counted),
    ``barriers`` are never crossed (main roads, rivers, railways, administrative lines) and
    ``lanes`` may be crossed freely (alleys inside a block; not followed, not counted).
    """

    community_key: str
    boundary: Polygon | MultiPolygon
    buildings: list[Building] = field(default_factory=list)
    lines: list[LineString] = field(default_factory=list)
    exclusive_sites: list[Polygon] = field(default_factory=list)
    barriers: list[LineString] = field(default_factory=list)
    lanes: list[LineString] = field(default_factory=list)


@dataclass
class DividedGrid:
    """One resulting grid."""

    community_key: str
    sequence: int
    polygon: Polygon | MultiPolygon
    building_keys: tuple[str, ...]
    households: int
    residents: int
    weight: float
    exclusive: bool


@dataclass(frozen=True)
class Move:
    """A building moved from one grid to another by rebalancing."""

    community_key: str
    building_key: str
    from_seq: int
    to_seq: int


@dataclass
class DivisionPlan:
    """A proposed division of communities into grids, with its quality report and parameters.

    A plan, not an administrative area: that is ``wangge.divisions.models.Division``.
    """

    grids: list[DividedGrid]
    report: QualityReport
    inputs: list[DivisionInput]
    target: float
    measure: Measure
    tolerance: float
    warnings: list[str] = field(default_factory=list)


def _to_grid(ctx: Ctx, g: GridState) -> DividedGrid:
    """The public form of one working grid."""
    mem = sorted(i for p in g.members for i in ctx.bld_at[p])
    return DividedGrid(
        community_key=ctx.key,
        sequence=g.seq,
        polygon=g.poly,
        building_keys=tuple(ctx.blds[i].key for i in mem),
        households=sum(ctx.blds[i].households for i in mem),
        residents=sum(ctx.blds[i].residents for i in mem),
        weight=float(sum(ctx.blds[i].weight for i in mem)),
        exclusive=g.exclusive,
    )


def _spot(b: Building) -> tuple[float, float]:
    """The point a building is placed by, rounded to a millimetre."""
    g = b.geom if isinstance(b.geom, Point) else b.geom.representative_point()
    return (round(g.x, 3), round(g.y, 3))


def quality_report(
    grids: Sequence[DividedGrid],
    inputs: Sequence[DivisionInput],
    *,
    target: float,
    measure: Measure = "households",
    tolerance: float = 0.10,
) -> QualityReport:
    """Quality of any division of these inputs: balance, compactness, crossings, contiguity."""
    by_key = {inp.community_key: inp for inp in inputs}
    vals = {(ck, b.key): b.value(measure) for ck, inp in by_key.items() for b in inp.buildings}
    spot = {(ck, b.key): _spot(b) for ck, inp in by_key.items() for b in inp.buildings}
    rows, biggest = [], {}
    for g in grids:
        bv = [vals[(g.community_key, k)] for k in g.building_keys]
        rows.append(
            (
                g.community_key,
                g.sequence,
                g.exclusive,
                g.polygon,
                len(bv),
                g.households,
                g.residents,
                g.weight,
                float(sum(bv)),
            )
        )
        # Buildings at one spot are indivisible, like a single building.
        at: dict[tuple[float, float], float] = {}
        for k, v in zip(g.building_keys, bv, strict=True):
            at[spot[(g.community_key, k)]] = at.get(spot[(g.community_key, k)], 0.0) + v
        biggest[(g.community_key, g.sequence)] = max(at.values(), default=0.0)
    lines = {ck: list(inp.lines) for ck, inp in by_key.items()}
    barriers = {ck: list(inp.barriers) for ck, inp in by_key.items()}
    return build_report(
        rows,
        target=target,
        measure=measure,
        tolerance=tolerance,
        lines=lines,
        barriers=barriers,
        largest_building=biggest,
        area_total=_area_totals(grids, by_key, vals, spot),
    )


def _area_totals(
    grids: Sequence[DividedGrid],
    by_key: Mapping[str, DivisionInput],
    vals: Mapping[tuple[str, str], float],
    spot: Mapping[tuple[str, str], tuple[float, float]],
) -> dict[tuple[str, int], float]:
    """Per basic grid, the total of the area between barriers that it lies in."""
    out: dict[tuple[str, int], float] = {}
    for ck, inp in by_key.items():
        if not inp.barriers:
            continue
        region = clean(shapely.make_valid(inp.boundary))
        zones = faces(
            region,
            [
                g
                for b in inp.barriers
                for g in shapely.get_parts(shapely.intersection(b, region))
                if g.geom_type == "LineString"
            ],
        )
        if len(zones) < 2:
            continue
        tree = shapely.STRtree(zones)
        mine = [g for g in grids if g.community_key == ck and not g.exclusive]
        zone_of: dict[int, int] = {}
        totals = [0.0] * len(zones)
        for g in mine:
            for k in g.building_keys:
                hits = tree.query(Point(spot[(ck, k)]), predicate="intersects")
                if len(hits):
                    totals[int(hits[0])] += vals[(ck, k)]
            hits = tree.query(g.polygon.representative_point(), predicate="intersects")
            if len(hits):
                zone_of[g.sequence] = int(hits[0])
        out.update({(ck, seq): totals[z] for seq, z in zone_of.items()})
    return out


def _finish(
    ctxs: list[Ctx],
    states: list[list[GridState]],
    inputs: Sequence[DivisionInput],
    target: float,
    measure: Measure,
    tolerance: float,
    warnings: list[str] | None = None,
) -> DivisionPlan:
    """Assemble a division (grids ordered by community and sequence) with its report."""
    grids = [
        _to_grid(ctx, g)
        for ctx, st in zip(ctxs, states, strict=True)
        for g in st
        if not g.poly.is_empty or g.members
    ]
    grids.sort(key=lambda g: (g.community_key, g.sequence))
    report = quality_report(grids, inputs, target=target, measure=measure, tolerance=tolerance)
    return DivisionPlan(grids, report, list(inputs), target, measure, tolerance, warnings or [])


def divide(
    inputs: Sequence[DivisionInput],
    *,
    target: float,
    measure: Measure = "households",
    tolerance: float = 0.10,
    allow_crossing: bool = True,
    seed: int = 0,
) -> DivisionPlan:
    """Divide communities into balanced, contiguous, compact grids that follow the lines."""
    # allow_crossing: a block that cannot be balanced alone may lend buildings across a line.
    # seed: kept for API stability; the method is deterministic.
    if target <= 0:
        raise ValueError("target must be positive")
    del seed
    ctxs, states, warnings = [], [], []
    for inp in inputs:
        ctx = Ctx(inp, measure)
        grids = divide_community(ctx, target, tolerance, allow_crossing)
        # Rebalance within blocks first; only grids still out of the band may then reach
        # across a street (never a barrier), when crossing is allowed.
        band = tolerance_band(target, tolerance)
        if allow_crossing:  # dissolving a grid into its neighbour may cross a street
            fit_counts(ctx, grids, target, *band)
        limit = 20 * len(grids) + 50
        rebalance_grids(ctx, grids, target, tolerance, False, max_moves=limit)
        if allow_crossing:
            # Grids still out of the band: re-cut with neighbours, then single moves across
            # streets, then re-cut again what those could not mend.
            recut_with_neighbours(ctx, grids, target, *band)
            rebalance_grids(ctx, grids, target, tolerance, True, max_moves=limit)
            recut_with_neighbours(ctx, grids, target, *band)
        rebalance_grids(ctx, grids, target, tolerance, False, max_moves=0, smooth=True)
        fix_strays(ctx, grids)
        if allow_crossing:
            absorb_empty(ctx, grids)
        number_grids(grids, ctx.region)
        if ctx.outside:
            warnings.append(
                f"{ctx.key}: {len(ctx.outside)} buildings outside the boundary, put "
                f"in the nearest grid: {', '.join(ctx.outside[:10])}"
            )
        crossed = [n for n, site in enumerate(ctx.sites, 1) if line_crossings(site, ctx.barriers)]
        if crossed:
            warnings.append(
                f"{ctx.key}: exclusive sites {crossed} are crossed by a barrier "
                "(a main road, river …); their grids cross it as drawn"
            )
        missing = set(range(ctx.npts)) - {i for g in grids for i in g.members}
        if missing:
            warnings.append(f"{ctx.key}: {len(missing)} buildings outside every grid")
        ctxs.append(ctx)
        states.append(grids)
    return _finish(ctxs, states, inputs, target, measure, tolerance, warnings)


def _finish_as(
    division: DivisionPlan, ctxs: list[Ctx], states: list[list[GridState]]
) -> DivisionPlan:
    """A changed state finished with the inputs, parameters and warnings of its division."""
    return _finish(
        ctxs,
        states,
        division.inputs,
        division.target,
        division.measure,
        division.tolerance,
        list(division.warnings),
    )


def _state_of(division: DivisionPlan) -> tuple[list[Ctx], list[list[GridState]]]:
    """Rebuild the working state (contexts and grids) from a division."""
    ctxs, states = [], []
    _, hi = tolerance_band(division.target, division.tolerance)
    for inp in division.inputs:
        ctx = Ctx(inp, division.measure)
        grids = []
        seen: set[int] = set()
        for dg in division.grids:
            if dg.community_key != inp.community_key:
                continue
            # Buildings sharing a spot travel together; the first grid listing the spot keeps it.
            mem = {int(ctx.pt_of[ctx.bindex[k]]) for k in dg.building_keys} - seen
            seen |= mem
            single_big = len(mem) == 1 and float(ctx.vals[list(mem)].sum()) > hi
            grids.append(
                GridState(mem, dg.polygon, dg.exclusive, dg.exclusive or single_big, dg.sequence)
            )
        ctxs.append(ctx)
        states.append(grids)
    return ctxs, states


def _community(ctxs: list[Ctx], key: str) -> int:
    """Index of a community by key."""
    for i, c in enumerate(ctxs):
        if c.key == key:
            return i
    raise ValueError(f"no community {key} in this division")


def rebalance(
    division: DivisionPlan, *, max_moves: int | None = None, allow_crossing: bool = False
) -> tuple[DivisionPlan, list[Move]]:
    """Move boundary buildings between neighbouring grids until all are within tolerance."""
    # Sequences are kept so that codes stay stable; the moves made are returned.
    ctxs, states = _state_of(division)
    moves: list[Move] = []
    for ctx, grids in zip(ctxs, states, strict=True):
        # A grid in pieces is repaired first (its stray pieces join the touching grid); those
        # changes are reported as moves too.
        before = {p: g.seq for g in grids for p in g.members}
        fix_strays(ctx, grids)
        for grid in grids:
            moves += [
                Move(ctx.key, ctx.blds[i].key, before[p], grid.seq)
                for p in sorted(grid.members)
                if before.get(p, grid.seq) != grid.seq
                for i in ctx.bld_at[p]
            ]
        limit = max_moves if max_moves is not None else 20 * len(grids) + 50
        for b, h, g in rebalance_grids(
            ctx, grids, division.target, division.tolerance, allow_crossing, limit
        ):
            moves += [
                Move(ctx.key, ctx.blds[i].key, grids[h].seq, grids[g].seq) for i in ctx.bld_at[b]
            ]
    out = _finish_as(division, ctxs, states)
    return out, moves


def division_from_assignment(
    inputs: Sequence[DivisionInput],
    assignment: Mapping[str, int],
    *,
    target: float,
    measure: Measure = "households",
    tolerance: float = 0.10,
) -> DivisionPlan:
    """Build a division from building key → grid sequence (polygons from Voronoi cells)."""
    ctxs, states = [], []
    for inp in inputs:
        ctx = Ctx(inp, measure)
        groups: dict[int, set[int]] = {}
        for p, at in enumerate(ctx.bld_at):
            # Buildings sharing a spot cannot be separated: they follow the first one's grid.
            groups.setdefault(int(assignment[ctx.blds[at[0]].key]), set()).add(p)
        grids = []
        for seq, mem in sorted(groups.items()):
            parts = [ctx.cells[i] for i in mem if ctx.site_of[i] < 0]
            parts += [ctx.sites[s] for s in {int(ctx.site_of[i]) for i in mem} - {-1}]
            # A grid made only of an exclusive site (or exclusive buildings) stays exclusive.
            excl = all(ctx.site_of[i] >= 0 or ctx.excl_pt[i] for i in mem)
            grids.append(GridState(mem, clean(union_all(parts)), excl, excl, seq=seq))
        used = {int(b) for b in ctx.lb_of if b >= 0}
        for b, block in enumerate(ctx.blocks):
            if b not in used and not attach_piece(ctx, grids, block, set()):
                grids.append(
                    GridState(set(), block, seq=max((g.seq for g in grids), default=0) + 1)
                )
        ctxs.append(ctx)
        states.append(grids)
    return _finish(ctxs, states, inputs, target, measure, tolerance)


def split_grid(
    division: DivisionPlan, community_key: str, sequence: int, parts: int = 2
) -> DivisionPlan:
    """Split one grid by straight cuts into balanced parts; new parts get new sequences."""
    ctxs, states = _state_of(division)
    ci = _community(ctxs, community_key)
    ctx, grids = ctxs[ci], states[ci]
    gi = next((i for i, g in enumerate(grids) if g.seq == sequence), -1)
    if gi < 0:
        raise ValueError(f"no grid {sequence} in community {community_key}")
    g = grids[gi]
    if g.exclusive or len(g.members) < parts:
        raise ValueError(f"grid {sequence} cannot be split into {parts} parts")
    ids = np.array(sorted(g.members))
    leaves: list[tuple[np.ndarray, Polygon | MultiPolygon]] = []
    bisect(ids, ctx.xy[ids], ctx.vals[ids], parts, g.poly, reach_of(g.poly), leaves)
    nxt = max(x.seq for x in grids) + 1
    grids[gi] = GridState({int(i) for i in leaves[0][0]}, leaves[0][1], seq=sequence)
    for j, (lids, lpoly) in enumerate(leaves[1:]):
        grids.append(GridState({int(i) for i in lids}, lpoly, seq=nxt + j))
    fix_strays(ctx, grids)
    return _finish_as(division, ctxs, states)


def merge_grids(
    division: DivisionPlan, community_key: str, sequences: Sequence[int]
) -> DivisionPlan:
    """Merge neighbouring grids into one (keeps the smallest sequence); must stay contiguous."""
    ctxs, states = _state_of(division)
    ci = _community(ctxs, community_key)
    grids = states[ci]
    chosen = [g for g in grids if g.seq in set(sequences)]
    if len(chosen) != len(set(sequences)) or len(chosen) < 2:
        raise ValueError("unknown grid sequence")
    if any(g.exclusive for g in chosen):
        raise ValueError("exclusive grids cannot be merged")
    poly = clean(union_all([g.poly for g in chosen]))
    if len(polygon_parts(poly)) != 1:
        raise ValueError("grids are not neighbours: the merged grid would not be contiguous")
    merged = GridState(set().union(*(g.members for g in chosen)), poly, seq=min(sequences))
    states[ci] = [g for g in grids if g.seq not in set(sequences)] + [merged]
    return _finish_as(division, ctxs, states)
