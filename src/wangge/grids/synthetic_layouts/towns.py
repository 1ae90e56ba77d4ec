"""Layout families on a street grid: ``grid_town`` and its held-out replica ``county_town``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely
from shapely import LineString, Polygon, affinity

from wangge.grids.synthetic_layouts.communities import assemble_layout, union_by_label, zoned_group
from wangge.grids.synthetic_layouts.layout import (
    SITE_GAP_M,
    STREET_GAP_M,
    Geom,
    Layout,
    PlacedBuilding,
    seeded_rng,
)
from wangge.grids.synthetic_layouts.plots import (
    building_mix,
    face_densities,
    place_buildings,
    place_sites,
    site_buildings,
    spread_total,
)
from wangge.grids.synthetic_layouts.streets import blob_outline, chord_line, cut_faces, street_grid

HELD_OUT_TOWN = {"households": 28659, "blocks": 195, "buildings": 600, "communities": 11}


def _town_net(
    seed: int, boundary: Polygon, spacing: float, river: bool, main_spacing: float = 1100.0
) -> tuple[list[LineString], list[LineString], list[LineString]]:
    """Streets, main roads (every ``main_spacing``, at least every 2.5 blocks) and a river."""
    rng = seeded_rng(seed, 1)
    theta = rng.uniform(-15, 15)
    streets, mains = street_grid(
        rng, boundary, spacing, max(main_spacing, 2.5 * spacing), theta, 0.03 * spacing
    )
    rivers = []
    if river:
        x0, y0, x1, y1 = boundary.bounds
        ext = max(x1 - x0, y1 - y0)
        rivers.append(
            chord_line(
                rng,
                boundary,
                rng.uniform(0, 180),
                rng.uniform(-0.15, 0.15) * ext,
                0.05 * ext,
                250.0,
            )
        )
    return streets, mains, rivers


def _fit_outline(
    seed: int, want: float, spacing: float, river: bool, communities: int
) -> tuple[Polygon, list[LineString], list[LineString], list[LineString], list[Polygon]]:
    """Scale the outline until its faces between streets, main roads (about one community
    apart) and the river number about ``want``; the boundary, streets, main roads, rivers
    and faces of the best try."""
    r_shape = seeded_rng(seed, 0)
    shape = blob_outline(r_shape, 1.0, irregular=0.1, aspect=r_shape.uniform(1.0, 1.3))
    area, best = want * spacing**2, None
    main_spacing = max(1100.0, math.sqrt(area / communities))
    for _ in range(8):
        boundary = affinity.scale(shape, math.sqrt(area), math.sqrt(area), origin=(0, 0))
        streets, mains, rivers = _town_net(seed, boundary, spacing, river, main_spacing)
        faces = cut_faces(boundary, [*streets, *mains, *rivers])
        if best is None or abs(len(faces) - want) < abs(len(best[4]) - want):
            best = (boundary, streets, mains, rivers, faces)
        if abs(len(faces) - want) <= max(1.0, 0.02 * want):
            break
        area *= want / len(faces)
    assert best is not None  # set on the first pass of the loop
    return best


def _town_plots(
    rng: np.random.Generator, boundary: Polygon, faces: Sequence[Polygon], theta: float, total: int
) -> tuple[list[Polygon], list[Geom], np.ndarray]:
    """A hospital and schools, the room left for buildings in each block and its quota of the
    households (denser towards the centre)."""
    n_sites = int(np.clip(round(total / 7000), 2, 6))
    kinds = [(220.0, 170.0)] + [(170.0, 130.0)] * (n_sites - 1)  # a hospital, then schools
    sites, _ = place_sites(rng, faces, kinds, theta)
    off = shapely.union_all([s.buffer(SITE_GAP_M) for s in sites])
    room = [f.buffer(-STREET_GAP_M).difference(off) for f in faces]
    radius = math.sqrt(boundary.area / math.pi)
    dens = face_densities(rng, faces, boundary.centroid, radius, 0.7, 0.12)
    usable = np.array([r.area for r in room])
    quotas = spread_total(total, np.where(usable > 400.0, usable * dens, 0.0))
    return sites, room, quotas


def _town_buildings(
    rng: np.random.Generator,
    quotas: np.ndarray,
    room: Sequence[Geom],
    house_share: float,
    apartment_mean: float,
    houses_below: int,
) -> list[PlacedBuilding]:
    """Houses and apartment buildings of each block, by its quota of households."""
    blds: list[PlacedBuilding] = []
    for q, region in zip(quotas.tolist(), room, strict=True):
        if q <= 0:
            continue
        share = (
            1.0 if q < houses_below else min(1.0, house_share * float(rng.choice([0.2, 1.0, 2.5])))
        )
        blds += place_buildings(
            region, building_mix(q, rng, share, (1, 3), apartment_mean), rng, 10.0
        )
    return blds


def grid_town(
    seed: int = 0,
    target: float = 300,
    *,
    block_factor: float = 1.0,
    households: int = 30000,
    spacing: float | None = None,
    communities: int | None = None,
    river: bool | None = None,
    house_share: float = 0.3,
    apartment_mean: float = 60.0,
    houses_below: int = 30,
    density: float = 2500.0,
    prefix: str | None = None,
    name: str | None = None,
) -> Layout:
    """A county town on a street grid whose blocks hold ``block_factor × target`` households
    on average (exactly, over all faces between streets, main roads and the river).

    ``households`` sets the size (about households / (block_factor × target) blocks);
    ``density`` (households per km²) sets the block size unless ``spacing`` (metres between
    streets) is given. There are 2–12 communities (``communities`` if given, else each holds
    at least 4 × target households, as far as there are more than two), unions of whole
    blocks, so bounded by main roads or streets; main roads and the river (in about half the
    seeds, unless ``river``) are barriers and may also run through a community.
    ``house_share`` is the mean share of houses (1–3 households) among the buildings of a block
    (a block of fewer than ``houses_below`` households has houses only); apartment buildings
    hold 10–190 (mean about ``apartment_mean``).
    """
    block_hh = block_factor * target
    if block_hh <= 0:
        raise ValueError("block_factor and target must be positive")
    if spacing is None:
        spacing = math.sqrt(block_hh / density * 1e6)
    want = max(4.0, households / block_hh)
    has_river = bool(seeded_rng(seed, 2).random() < 0.5) if river is None else river
    # Main roads about one community apart (~2,700 households each), so that communities can
    # end at them, as 社区 in a county town do.
    k_est = communities or int(np.clip(round(households / 2700), 2, 12))
    boundary, streets, mains, rivers, faces = _fit_outline(seed, want, spacing, has_river, k_est)
    theta = float(seeded_rng(seed, 1).uniform(-15, 15))
    total = round(block_hh * len(faces))
    sites, room, quotas = _town_plots(seeded_rng(seed, 3), boundary, faces, theta, total)
    r_bld = seeded_rng(seed, 4)
    blds = _town_buildings(r_bld, quotas, room, house_share, apartment_mean, houses_below)
    blds += site_buildings(r_bld, sites)
    r_comm = seeded_rng(seed, 5)
    k = communities or int(np.clip(round(total / r_comm.uniform(2200, 3200)), 2, 12))
    lab = zoned_group(
        faces, k, r_comm, boundary, [*mains, *rivers], quotas, 0 if communities else 4 * target
    )
    return assemble_layout(
        name or f"grid_town(block_factor={block_factor:g})",
        prefix if prefix is not None else f"GT{seed}-",
        boundary,
        union_by_label(faces, lab),
        blds,
        seeded_rng(seed, 6),
        lines=streets,
        barriers=[*mains, *rivers],
        barrier_kinds=["main road"] * len(mains) + ["river"] * len(rivers),
        sites=sites,
    )


def county_town(seed: int = 0, target: float = 300, *, prefix: str | None = None) -> Layout:
    """Replica of a held-out county town: 11 communities, ~600 buildings, ~28,700 households,
    streets every ~400 m → ~195 blocks of ~147 households (half a grid at target 300)."""
    h = HELD_OUT_TOWN
    return grid_town(
        seed,
        target,
        block_factor=h["households"] / h["blocks"] / target,
        households=h["households"],
        spacing=400.0,
        communities=h["communities"],
        house_share=0.08,
        apartment_mean=70.0,
        houses_below=10,
        prefix=prefix if prefix is not None else f"CT{seed}-",
        name="county_town (held-out replica)",
    )
