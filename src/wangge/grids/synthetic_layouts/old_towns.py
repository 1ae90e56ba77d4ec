"""The ``old_town`` layout family: wiggly non-orthogonal streets, lanes inside blocks, dense
houses and courtyard complexes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely
from shapely import LineString, Polygon, affinity

from wangge.grids.synthetic_layouts.communities import assemble_layout, union_by_label, zoned_group
from wangge.grids.synthetic_layouts.layout import (
    LANE_GAP_M,
    SITE_GAP_M,
    STREET_GAP_M,
    Geom,
    Layout,
    PlacedBuilding,
    seeded_rng,
)
from wangge.grids.synthetic_layouts.plots import (
    face_densities,
    house_sizes,
    place_buildings,
    place_sites,
    scatter_points,
    site_buildings,
    site_rect,
    spread_total,
)
from wangge.grids.synthetic_layouts.streets import (
    bendy_line,
    blob_outline,
    chord_line,
    cut_faces,
    extended_line,
    frame_bounds,
    wiggly_line,
)


def _old_town_grid(
    rn: np.random.Generator, boundary: Polygon, spacing: float, theta: float
) -> tuple[list[LineString], list[LineString]]:
    """Wiggly streets on a jittered, rotated grid: continuous column streets, row streets in
    runs with gaps; the middle column (and in some seeds the middle row) is a main street."""
    fx0, fy0, fx1, fy1 = frame_bounds(boundary, theta)

    def ticks(lo: float, hi: float) -> np.ndarray:
        out = [lo - spacing]
        while out[-1] < hi + spacing:
            out.append(out[-1] + spacing * rn.uniform(0.8, 1.25))
        return np.array(out)

    xs, ys = ticks(fx0, fx1), ticks(fy0, fy1)
    nx, ny = len(xs), len(ys)
    nodes = np.stack(np.meshgrid(xs, ys), axis=-1) + rn.uniform(-0.22, 0.22, (ny, nx, 2)) * spacing
    main_col = int(np.argmin(np.abs(xs - (fx0 + fx1) / 2)))
    main_row = int(np.argmin(np.abs(ys - (fy0 + fy1) / 2))) if rn.random() < 0.6 else -1
    streets: list[LineString] = []
    mains: list[LineString] = []
    for i in range(nx):
        (mains if i == main_col else streets).append(bendy_line(nodes[:, i], rn, 0.1 * spacing))
    for j in range(ny):
        keep = np.ones(nx - 1, dtype=bool) if j == main_row else rn.random(nx - 1) > 0.25
        start = None
        for s in range(nx):  # runs of kept segments; a run ends on a (continuous) column street
            if s < nx - 1 and keep[s]:
                start = s if start is None else start
                continue
            if start is not None:
                ln = bendy_line(nodes[j, start : s + 1], rn, 0.1 * spacing)
                (mains if j == main_row else streets).append(ln)
                start = None
    c = boundary.centroid
    return (
        [affinity.rotate(ln, theta, origin=c) for ln in streets],
        [affinity.rotate(ln, theta, origin=c) for ln in mains],
    )


def _old_town_streets(
    rn: np.random.Generator, boundary: Polygon, spacing: float, theta: float, canal: bool
) -> tuple[list[LineString], list[LineString]]:
    """Streets and main streets (the canal, if any, last among them): the wiggly grid and one
    or two diagonals."""
    streets, mains = _old_town_grid(rn, boundary, spacing, theta)
    fx0, fy0, fx1, fy1 = frame_bounds(boundary, theta)
    ext = max(fx1 - fx0, fy1 - fy0)
    for _ in range(int(rn.integers(1, 3))):
        angle = theta + rn.choice([-1, 1]) * rn.uniform(30, 60)
        streets.append(
            chord_line(rn, boundary, angle, rn.uniform(-0.25, 0.25) * ext, 0.08 * spacing, spacing)
        )
    if canal:
        mains.append(
            chord_line(
                rn, boundary, rn.uniform(0, 180), rn.uniform(-0.2, 0.2) * ext, 0.04 * ext, 200.0
            )
        )
    return streets, mains


def _old_town_lanes(
    rl: np.random.Generator, faces: Sequence[Polygon], theta: float, spacing: float
) -> list[list[LineString]]:
    """Lanes of each block: alleys across it, mostly along the street grid."""
    lanes_of: list[list[LineString]] = []
    for f in faces:
        mine: list[LineString] = []
        n = int(min(6, rl.poisson(f.area / (0.25 * spacing**2))))
        for p in scatter_points(f.buffer(-12.0), n, rl, 20.0):
            ang = theta + float(rl.choice([0.0, 90.0])) + rl.uniform(-12, 12)
            u = np.array([math.cos(math.radians(ang)), math.sin(math.radians(ang))]) * 2 * spacing
            ln = wiggly_line(p - u, p + u, rl, 3.0, 25.0)
            for part in shapely.get_parts(shapely.intersection(ln, f)):
                if isinstance(part, LineString) and part.length > 15.0:
                    mine.append(extended_line(part, 0.5))
        lanes_of.append(mine)
    return lanes_of


def _courtyards(
    rs: np.random.Generator,
    faces: Sequence[Polygon],
    lanes_of: Sequence[Sequence[LineString]],
    theta: float,
    taken: list[Polygon],
) -> list[PlacedBuilding]:
    """Courtyard complexes: ring-shaped footprints off the lanes and clear of ``taken``
    (which each complex joins)."""
    courts: list[PlacedBuilding] = []
    for _ in range(max(1, round(len(faces) / 6))):
        fi = int(rs.integers(len(faces)))
        side = rs.uniform(36, 60)
        inner = faces[fi].buffer(-STREET_GAP_M - side / 2)
        if inner.is_empty:
            continue
        lane_buf = shapely.union_all([ln.buffer(LANE_GAP_M) for ln in lanes_of[fi]])
        for p in scatter_points(inner, 20, rs, 5.0):
            outer = site_rect(side, side, theta, p)
            if (
                faces[fi].buffer(-STREET_GAP_M).contains(outer)
                and not outer.intersects(lane_buf)
                and not any(outer.intersects(t) for t in taken)
            ):
                hole = site_rect(side * rs.uniform(0.4, 0.6), side * 0.5, theta, p).exterior
                courts.append((Polygon(outer.exterior, [hole]), int(rs.integers(15, 61))))
                taken.append(outer.buffer(4.0))
                break
    return courts


def _room_off_lanes(
    faces: Sequence[Polygon], lanes_of: Sequence[Sequence[LineString]], off: Geom
) -> list[Geom]:
    """Where each block has room for houses: off streets, sites, complexes and lanes."""
    room = []
    for f, mine in zip(faces, lanes_of, strict=True):
        rm = f.buffer(-STREET_GAP_M).difference(off)
        if mine:
            rm = rm.difference(shapely.union_all([ln.buffer(LANE_GAP_M) for ln in mine]))
        room.append(rm)
    return room


def _old_town_plots(
    rs: np.random.Generator,
    boundary: Polygon,
    faces: Sequence[Polygon],
    lanes_of: Sequence[Sequence[LineString]],
    theta: float,
    households: int,
) -> tuple[list[Polygon], list[PlacedBuilding], list[Geom], np.ndarray]:
    """Exclusive sites, then courtyard complexes (footprints off the lanes); then the room
    left for houses in each block and its quota of the remaining households."""
    lanes = [ln for mine in lanes_of for ln in mine]
    n_sites = int(np.clip(round(households / 8000), 1, 3))
    sites, _ = place_sites(
        rs,
        faces,
        [(140.0, 100.0), (70.0, 60.0), (160.0, 120.0)][:n_sites],
        theta,
        shapely.union_all(lanes) if lanes else None,
    )
    taken = [s.buffer(SITE_GAP_M) for s in sites]
    courts = _courtyards(rs, faces, lanes_of, theta, taken)
    room = _room_off_lanes(faces, lanes_of, shapely.union_all(taken) if taken else Polygon())
    radius = math.sqrt(boundary.area / math.pi)
    dens = face_densities(rs, faces, boundary.centroid, radius, 0.45, 0.08)
    usable = np.array([rm.area for rm in room])
    quotas = spread_total(
        households - sum(h for _, h in courts), np.where(usable > 150.0, usable * dens, 0.0)
    )
    return sites, courts, room, quotas


def old_town(
    seed: int = 0,
    target: float = 300,
    *,
    households: int = 12000,
    spacing: float = 140.0,
    density: float = 9000.0,
    communities: int | None = None,
    canal: bool | None = None,
    prefix: str | None = None,
    name: str | None = None,
) -> Layout:
    """An old town: irregular non-orthogonal wiggly streets (some interrupted, one or two
    diagonals), many crossable lanes in each block, dense houses of 1–4 households and a few
    courtyard complexes (ring-shaped footprints of 15–60 households).

    ``households`` (total, exact) and ``density`` (households per km²) set the size;
    ``spacing`` is the mean street spacing. One or two main streets and, in about half the
    seeds (unless ``canal``), a canal are barriers. ``target`` only names the case.
    """
    del target  # the layout does not depend on the grid size
    r = seeded_rng(seed, 0)
    boundary = blob_outline(
        r, households / density * 1e6, irregular=0.14, aspect=r.uniform(1.0, 1.3)
    )
    rn = seeded_rng(seed, 1)
    theta = rn.uniform(-30, 30)
    has_canal = bool(seeded_rng(seed, 2).random() < 0.5) if canal is None else canal
    streets, mains = _old_town_streets(rn, boundary, spacing, theta, has_canal)
    faces = cut_faces(boundary, [*streets, *mains])
    lanes_of = _old_town_lanes(seeded_rng(seed, 3), faces, theta, spacing)
    lanes = [ln for mine in lanes_of for ln in mine]
    sites, courts, room, quotas = _old_town_plots(
        seeded_rng(seed, 4), boundary, faces, lanes_of, theta, households
    )
    blds: list[PlacedBuilding] = list(courts)
    rb = seeded_rng(seed, 5)
    for q, region in zip(quotas.tolist(), room, strict=True):
        blds += place_buildings(region, house_sizes(q, rb, (0.25, 0.35, 0.25, 0.15)), rb, 6.0)
    blds += site_buildings(rb, sites)
    rc = seeded_rng(seed, 6)
    k = communities or int(np.clip(round(households / rc.uniform(2500, 4000)), 2, 12))
    lab = zoned_group(faces, k, rc, boundary, mains, quotas, 0 if communities else 1200.0)
    return assemble_layout(
        name or "old_town",
        prefix if prefix is not None else f"OT{seed}-",
        boundary,
        union_by_label(faces, lab),
        blds,
        seeded_rng(seed, 7),
        lines=streets,
        barriers=mains,
        barrier_kinds=["main road"] * (len(mains) - has_canal) + ["canal"] * has_canal,
        lanes=lanes,
        sites=sites,
    )
