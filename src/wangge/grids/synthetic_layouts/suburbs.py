"""The ``suburb`` layout family: gated estates, villa areas and empty land between main roads."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely
from shapely import LineString, Polygon, affinity

from wangge.grids.synthetic_layouts.communities import assemble_layout, union_by_label, zoned_group
from wangge.grids.synthetic_layouts.layout import STREET_GAP_M, Layout, PlacedBuilding, seeded_rng
from wangge.grids.synthetic_layouts.plots import (
    place_buildings,
    place_sites,
    site_buildings,
    spread_total,
)
from wangge.grids.synthetic_layouts.streets import (
    blob_outline,
    cut_faces,
    extended_line,
    frame_bounds,
    parallel_lines,
    wiggly_line,
)


def _suburb_streets(
    rn: np.random.Generator, boundary: Polygon, theta: float
) -> tuple[list[LineString], list[LineString]]:
    """Main roads ~1.1 km apart both ways, and 0–2 local streets each way in each superblock."""
    c = boundary.centroid
    fx0, fy0, fx1, fy1 = frame_bounds(boundary, theta)
    mains: list[LineString] = []
    for axis, lo, hi, across in (
        (0, fx0, fx1, (fy0 - 60, fy1 + 60)),
        (1, fy0, fy1, (fx0 - 60, fx1 + 60)),
    ):
        lines, _ = parallel_lines(rn, lo, hi, across, 1100.0, axis, 15.0)
        mains += [affinity.rotate(ln, theta, origin=c) for ln in lines]
    streets: list[LineString] = []
    for sb in cut_faces(boundary, mains):
        bx0, by0, bx1, by1 = frame_bounds(sb, theta)
        sc = sb.centroid
        for axis in (0, 1):
            lo, hi = (bx0, bx1) if axis == 0 else (by0, by1)
            for t in np.sort(rn.uniform(0.25, 0.75, int(rn.integers(0, 3)))):
                p = lo + t * (hi - lo)
                a, b = (
                    ((p, by0 - 50), (p, by1 + 50)) if axis == 0 else ((bx0 - 50, p), (bx1 + 50, p))
                )
                ln = affinity.rotate(wiggly_line(a, b, rn, 8.0, 150.0), theta, origin=sc)
                streets += [
                    extended_line(g, 0.5)
                    for g in shapely.get_parts(shapely.intersection(ln, sb))
                    if isinstance(g, LineString) and g.length > 50.0
                ]
    return mains, streets


def _suburb_buildings(
    ru: np.random.Generator, parcels: Sequence[Polygon], used: set[int], target: float
) -> tuple[list[PlacedBuilding], np.ndarray]:
    """Buildings of each parcel (a gated estate, villas or empty land; sites in ``used`` stay
    empty) and the households each parcel holds."""
    blds: list[PlacedBuilding] = []
    held = np.zeros(len(parcels))  # households per parcel
    for i, parcel in enumerate(parcels):
        before = len(blds)
        use = "site" if i in used else ru.choice(["estate", "villas", "empty"], p=[0.5, 0.25, 0.25])
        compound = parcel.buffer(-20.0)
        if use == "estate" and compound.area > 25000.0:
            total = round(target * ru.uniform(3.0, 5.0))
            n = max(math.ceil(total / 150), int(ru.integers(8, 31)))
            sizes = np.clip(spread_total(total, ru.uniform(0.7, 1.3, n)), 10, 190).tolist()
            blds += place_buildings(compound, [int(s) for s in sizes], ru, 25.0)
        elif use in ("estate", "villas"):
            area = parcel.buffer(-STREET_GAP_M).area
            n = int(min(250, area / 1800 * ru.uniform(0.6, 1.0)))
            sizes = ru.integers(1, 3, n).tolist()
            blds += place_buildings(parcel.buffer(-STREET_GAP_M), [int(s) for s in sizes], ru, 15.0)
        held[i] = sum(h for _, h in blds[before:])
    return blds, held


def suburb(
    seed: int = 0,
    target: float = 300,
    *,
    households: int = 15000,
    communities: int | None = None,
    prefix: str | None = None,
    name: str | None = None,
) -> Layout:
    """A suburb: main roads (barriers) ~1.1 km apart enclose superblocks split by 0–2 local
    streets each way (preferred lines) into parcels; half the parcels are gated estates of
    3–5 × target households in 8–30 towers, a quarter villa areas (houses of 1–2 households),
    the rest empty land, plus one or two schools. ``households`` sets the area (about)."""
    r = seeded_rng(seed, 0)
    boundary = blob_outline(r, households / 2600 * 1e6, irregular=0.12, aspect=r.uniform(1.0, 1.5))
    rn = seeded_rng(seed, 1)
    theta = rn.uniform(-20, 20)
    mains, streets = _suburb_streets(rn, boundary, theta)
    parcels = cut_faces(boundary, [*mains, *streets])
    ru = seeded_rng(seed, 2)
    n_sites = 1 + int(households > 12000)
    sites, used = place_sites(ru, parcels, [(180.0, 130.0)] * n_sites, theta)
    blds, held = _suburb_buildings(ru, parcels, used, target)
    blds += site_buildings(ru, sites)
    rc = seeded_rng(seed, 3)
    total_hh = sum(h for _, h in blds)
    k = communities or int(np.clip(round(total_hh / rc.uniform(3000, 4500)), 2, 12))
    lab = zoned_group(parcels, k, rc, boundary, mains, held, 0 if communities else 1200.0)
    comms = union_by_label(parcels, lab)
    return assemble_layout(
        name or "suburb",
        prefix if prefix is not None else f"SU{seed}-",
        boundary,
        comms,
        blds,
        seeded_rng(seed, 4),
        lines=streets,
        barriers=mains,
        barrier_kinds=["main road"] * len(mains),
        sites=sites,
    )
