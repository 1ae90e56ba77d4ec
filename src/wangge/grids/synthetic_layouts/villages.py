"""The ``rural`` layout family: villages far apart in farmland, grouped into administrative
villages and communities."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely
from shapely import LineString, Point, Polygon, affinity

from wangge.grids.synthetic_layouts.communities import (
    assemble_layout,
    face_adjacency,
    group_faces,
    union_by_label,
)
from wangge.grids.synthetic_layouts.layout import (
    STREET_GAP_M,
    Geom,
    Layout,
    PlacedBuilding,
    seeded_rng,
)
from wangge.grids.synthetic_layouts.plots import (
    place_buildings,
    scatter_points,
    site_buildings,
    site_rect,
)
from wangge.grids.synthetic_layouts.streets import blob_outline, chord_line, extended_line


def _village_centres(r: np.random.Generator, inner: Geom, n_vill: int, gap: float) -> np.ndarray:
    """Up to ``n_vill`` random village centres in ``inner``, at least ``gap`` apart."""
    x0, y0, x1, y1 = inner.bounds
    centres: list[np.ndarray] = []
    for cand in r.uniform((x0, y0), (x1, y1), size=(40 * n_vill, 2)):
        if len(centres) >= n_vill:
            break
        if inner.contains(Point(cand)) and all(np.hypot(*(cand - q)) >= gap for q in centres):
            centres.append(cand)
    return np.array(centres)


def _villages(
    rv: np.random.Generator, cxy: np.ndarray, keep_off: Geom
) -> tuple[list[PlacedBuilding], list[int]]:
    """Houses of 20–80 around each centre (off roads and barriers), and each village's
    households."""
    blds: list[PlacedBuilding] = []
    held = []  # households per village
    for q in cxy:
        n = int(rv.integers(20, 81))
        village = affinity.translate(blob_outline(rv, n * 700.0, irregular=0.15), *q).difference(
            keep_off
        )
        sizes = rv.choice(np.arange(1, 5), size=n, p=(0.2, 0.35, 0.3, 0.15)).tolist()
        placed = place_buildings(village, [int(s) for s in sizes], rv, 12.0)
        blds += placed
        held.append(sum(h for _, h in placed))
    return blds, held


def _rural_lines(
    rn: np.random.Generator, boundary: Polygon, n_roads: int, railway: bool | None
) -> tuple[list[LineString], list[LineString]]:
    """Village roads across the whole area; a river and (if ``railway``, else in about 60 %
    of seeds) a railway as barriers."""
    ext = max(boundary.bounds[2] - boundary.bounds[0], boundary.bounds[3] - boundary.bounds[1])
    roads = [
        chord_line(rn, boundary, rn.uniform(0, 180), rn.uniform(-0.4, 0.4) * ext, 60.0, 250.0)
        for _ in range(n_roads)
    ]
    barriers = [
        chord_line(rn, boundary, rn.uniform(0, 180), rn.uniform(-0.2, 0.2) * ext, 150.0, 300.0)
    ]
    if (rn.random() < 0.6) if railway is None else railway:
        barriers.append(
            chord_line(rn, boundary, rn.uniform(0, 180), rn.uniform(-0.3, 0.3) * ext, 5.0, 1000.0)
        )
    return roads, barriers


def _admin_villages(
    ra: np.random.Generator,
    cells: Sequence[Polygon],
    barriers: Sequence[LineString],
    held: Sequence[float],
    target: float,
) -> tuple[list[Polygon], list[Polygon]]:
    """Natural villages' cells grouped into administrative villages of at least 1.5 × target
    households (tending to end at barriers), and those into 2–6 communities."""
    hard = shapely.union_all(barriers)
    admin_lab = group_faces(
        cells, max(2, round(len(cells) / ra.uniform(4, 7))), ra, hard, 800.0, held, 1.5 * target
    )
    admin = union_by_label(cells, admin_lab)
    comms = union_by_label(admin, group_faces(admin, int(np.clip(round(len(admin) / 3), 2, 6)), ra))
    return admin, comms


def _common_lines(areas: Sequence[Polygon]) -> list[LineString]:
    """The lines between touching areas (each pair once), extended to cross fully."""
    adj = face_adjacency(areas)
    return [
        extended_line(g, 0.5)
        for i, nb in enumerate(adj)
        for j in nb
        if i < j
        for g in shapely.get_parts(
            shapely.line_merge(areas[i].boundary.intersection(areas[j].boundary))
        )
        if isinstance(g, LineString) and g.length > 1.0
    ]


def _farmland_sites(
    rs: np.random.Generator, boundary: Polygon, avoid: Geom, comms: Sequence[Polygon], n: int
) -> list[Polygon]:
    """Up to ``n`` exclusive sites (a school, a works) in farmland off ``avoid``, each well
    inside one community."""
    sites: list[Polygon] = []
    for w, h in [(160.0, 120.0), (220.0, 160.0)][:n]:
        room = boundary.buffer(-200.0).difference(avoid)
        for p in scatter_points(room, 30, rs, 50.0):
            s = site_rect(w, h, rs.uniform(0, 90), p)
            if (
                room.contains(s)
                and not any(s.intersects(o.buffer(100.0)) for o in sites)
                and any(cm.buffer(-20.0).contains(s) for cm in comms)
            ):
                sites.append(s)
                break
    return sites


def rural(
    seed: int = 0,
    target: float = 300,
    *,
    households: int = 6000,
    railway: bool | None = None,
    prefix: str | None = None,
    name: str | None = None,
) -> Layout:
    """Farmland with villages of 20–80 houses (1–4 households) ≥ 650 m apart.

    Village roads (preferred lines) cross the whole area; a river and, in about 60 % of seeds
    (unless ``railway``), a railway are barriers. Natural villages are grouped into
    administrative villages, and those into 2–6 communities of several km²; the lines between
    administrative villages are barriers inside a community. ``households`` sets the size
    (about 125 households a village, 0.75 km² a village); an administrative village holds at
    least 1.5 × ``target`` households.
    """
    n_vill = max(4, round(households / 125))
    r = seeded_rng(seed, 0)
    boundary = blob_outline(r, n_vill * 0.75e6, irregular=0.15, aspect=r.uniform(1.0, 1.4))
    cxy = _village_centres(r, boundary.buffer(-250.0), n_vill, 650.0)
    n_roads = max(3, round(0.8 * math.sqrt(len(cxy))))
    roads, barriers = _rural_lines(seeded_rng(seed, 1), boundary, n_roads, railway)
    keep_off = shapely.union_all([g.buffer(STREET_GAP_M) for g in [*roads, *barriers]])
    blds, held = _villages(seeded_rng(seed, 2), cxy, keep_off)
    # Administrative villages: Voronoi cells of natural villages, grouped; then communities.
    cells = [
        shapely.intersection(g, boundary)
        for g in shapely.get_parts(
            shapely.voronoi_polygons(shapely.multipoints(cxy), extend_to=boundary, ordered=True)
        )
    ]
    admin, comms = _admin_villages(seeded_rng(seed, 3), cells, barriers, held, target)
    admin_lines = _common_lines(admin)
    # One or two exclusive sites (a school, a works) in farmland away from villages and lines.
    rs = seeded_rng(seed, 4)
    avoid = shapely.union_all(
        [
            keep_off,
            *[Point(q).buffer(350.0) for q in cxy],
            *[g.buffer(STREET_GAP_M) for g in admin_lines],
        ]
    )
    sites = _farmland_sites(rs, boundary, avoid, comms, 1 + int(len(cxy) > 30))
    blds += site_buildings(rs, sites)
    return assemble_layout(
        name or "rural",
        prefix if prefix is not None else f"RU{seed}-",
        boundary,
        comms,
        blds,
        seeded_rng(seed, 5),
        lines=roads,
        barriers=[*barriers, *admin_lines],
        barrier_kinds=["river", "railway"][: len(barriers)]
        + ["administrative line"] * len(admin_lines),
        sites=sites,
    )
