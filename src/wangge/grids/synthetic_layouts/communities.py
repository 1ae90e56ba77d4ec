"""Grouping blocks into communities and assembling a ``Layout``: contiguous groups of
faces that tend to end at barriers, lines clipped per community, buildings assigned;
and the households per block as the divider sees them."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely
from shapely import LineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from wangge.grids.partition import Building, DivisionInput
from wangge.grids.synthetic_layouts.layout import Geom, Layout, PlacedBuilding, building_spot
from wangge.grids.synthetic_layouts.streets import cut_faces


def face_adjacency(faces: Sequence[Polygon]) -> list[dict[int, float]]:
    """Shared edge length between faces that share more than a point."""
    tree = STRtree(list(faces))
    adj: list[dict[int, float]] = [{} for _ in faces]
    a, b = tree.query(list(faces), predicate="intersects")
    for i, j in zip(a.tolist(), b.tolist(), strict=True):
        if i < j:
            shared = faces[i].boundary.intersection(faces[j].boundary).length
            if shared > 0.5:
                adj[i][j] = adj[j][i] = shared
    return adj


def _components(members: list[int], adj: list[dict[int, float]]) -> list[list[int]]:
    """Connected groups of faces (by shared edges) among the members."""
    left, comps = set(members), []
    while left:
        stack, comp = [min(left)], []
        left.discard(stack[0])
        while stack:
            i = stack.pop()
            comp.append(i)
            for j in adj[i]:
                if j in left:
                    left.discard(j)
                    stack.append(j)
        comps.append(comp)
    return comps


def _touch(
    lab: np.ndarray, members: Sequence[int], own: int, adj: list[dict[int, float]]
) -> dict[int, float]:
    """Length of border the faces ``members`` (labelled ``own``) share with each other label."""
    touch: dict[int, float] = {}
    for i in members:
        for j, ln in adj[i].items():
            if lab[j] != own:
                touch[int(lab[j])] = touch.get(int(lab[j]), 0.0) + ln
    return touch


def _kmeans(
    cent: np.ndarray,
    area: np.ndarray,
    k: int,
    rng: np.random.Generator,
    hard: Geom | None,
    penalty: float,
) -> np.ndarray:
    """Labels 0..k-1 of area-weighted k-means on face centres from a farthest-point start; a
    segment to a centre that crosses ``hard`` costs ``penalty`` metres more."""
    n = len(cent)
    seeds = [int(rng.integers(n))]
    while len(seeds) < k:  # farthest-point start
        d = np.min(
            np.hypot(cent[:, None, 0] - cent[seeds, 0], cent[:, None, 1] - cent[seeds, 1]), axis=1
        )
        seeds.append(int(np.argmax(d)))
    ctr = cent[seeds].copy()
    if hard is not None:
        shapely.prepare(hard)
    lab = np.zeros(n, dtype=int)
    for _ in range(8):
        cost = np.hypot(cent[:, None, 0] - ctr[None, :, 0], cent[:, None, 1] - ctr[None, :, 1])
        if hard is not None and penalty > 0:
            segs = shapely.linestrings(
                np.stack(
                    [
                        np.broadcast_to(cent[:, None, :], (n, k, 2)),
                        np.broadcast_to(ctr[None, :, :], (n, k, 2)),
                    ],
                    axis=2,
                ).reshape(-1, 2, 2)
            )
            cost = cost + penalty * shapely.intersects(segs, hard).reshape(n, k)
        lab = np.argmin(cost, axis=1)
        for c in range(k):
            m = lab == c
            if m.any():
                ctr[c] = (cent[m] * area[m, None]).sum(axis=0) / area[m].sum()
    return lab


def _join_detached(lab: np.ndarray, area: np.ndarray, adj: list[dict[int, float]], k: int) -> None:
    """Make every group one piece (in place): detached pieces join the longest neighbour."""
    for _ in range(50):
        changed = False
        for c in range(k):
            comps = _components(np.nonzero(lab == c)[0].tolist(), adj)
            if len(comps) < 2:
                continue
            comps.sort(key=lambda comp: -sum(area[i] for i in comp))
            for comp in comps[1:]:
                touch = _touch(lab, comp, c, adj)
                if touch:
                    lab[comp] = max(touch, key=lambda t: (touch[t], -t))
                    changed = True
        if not changed:
            break


def group_faces(
    faces: Sequence[Polygon],
    k: int,
    rng: np.random.Generator,
    hard: Geom | None = None,
    penalty: float = 0.0,
    weight: Sequence[float] | np.ndarray | None = None,
    min_weight: float = 0.0,
) -> np.ndarray:
    """Labels 0..k'-1 grouping faces into k' ≤ k contiguous regions (k-means on centroids).

    A face whose segment to a seed crosses ``hard`` (main roads, rivers) costs ``penalty``
    metres more, so groups tend to end at barriers without having to. A group whose faces
    weigh (households) less than ``min_weight`` in all joins the neighbour it shares most
    boundary with.
    """
    k = max(1, min(k, len(faces)))
    cent = shapely.get_coordinates([f.representative_point() for f in faces])
    area = np.array([f.area for f in faces])
    lab = _kmeans(cent, area, k, rng, hard, penalty)
    adj = face_adjacency(faces)
    _join_detached(lab, area, adj, k)
    if weight is not None:
        _merge_light(lab, np.asarray(weight, dtype=float), min_weight, adj)
    _, lab = np.unique(lab, return_inverse=True)
    return lab


def _merge_light(
    lab: np.ndarray, weight: np.ndarray, min_weight: float, adj: list[dict[int, float]]
) -> None:
    """Merge (in place) the lightest group into its longest-bordering neighbour while it weighs
    less than min_weight and more than two groups are left; groups stay contiguous."""
    stuck: set[int] = set()
    while True:
        tot = {int(c): float(weight[lab == c].sum()) for c in np.unique(lab)}
        light = [c for c in tot if tot[c] < min_weight and c not in stuck]
        if len(tot) <= 2 or not light:
            return
        c = min(light, key=lambda g: (tot[g], g))
        touch = _touch(lab, np.nonzero(lab == c)[0].tolist(), c, adj)
        if not touch:
            stuck.add(c)
            continue
        lab[lab == c] = max(touch, key=lambda t: (touch[t], -t))


def _merge_small_zones(
    zone_of: np.ndarray, w: np.ndarray, adj: list[dict[int, float]], k: int, rounds: int
) -> None:
    """Small areas join (in place) their longest neighbour, smallest first: those under half
    the mean community, and the smallest while there are more areas than communities."""
    mean = max(1.0, float(w.sum()) / max(1, k))
    for _ in range(rounds):
        tot = {z: float(w[zone_of == z].sum()) for z in set(zone_of.tolist())}
        small = [
            z
            for z in sorted(tot, key=tot.__getitem__)
            if (tot[z] < 0.5 * mean or len(tot) > k) and len(tot) > 1
        ]
        if not small:
            break
        z = small[0]
        touch = _touch(zone_of, np.nonzero(zone_of == z)[0].tolist(), z, adj)
        if not touch:
            break
        zone_of[zone_of == z] = max(touch, key=touch.__getitem__)


def _zone_shares(tot: dict[int, float], k: int) -> dict[int, int]:
    """Communities per area, k in all (at least one each), by largest remainders."""
    exact = {z: k * t / max(1.0, sum(tot.values())) for z, t in tot.items()}
    share = {z: max(1, math.floor(e)) for z, e in exact.items()}
    while sum(share.values()) < k:  # largest remainders first
        z = max(share, key=lambda z: exact[z] - share[z])
        share[z] += 1
    while sum(share.values()) > k and any(v > 1 for v in share.values()):
        z = min((z for z in share if share[z] > 1), key=lambda z: exact[z] - share[z])
        share[z] -= 1
    return share


def zoned_group(
    faces: Sequence[Polygon],
    k: int,
    rng: np.random.Generator,
    boundary: Geom,
    barriers: Sequence[LineString],
    weight: Sequence[float] | np.ndarray,
    min_weight: float = 0.0,
) -> np.ndarray:
    """Labels grouping faces into about k communities that end at the barriers, as 社区 do.

    The areas between barriers (main roads, rivers) share the k communities by households; an
    area too small for a community of its own (under half the mean), or the smallest while
    there are more areas than communities, joins the neighbouring area it shares most edge
    with, so a barrier runs through a community only there.
    """
    w = np.asarray(weight, dtype=float)
    if not barriers:
        return group_faces(faces, k, rng, None, 0.0, w, min_weight)
    zones = cut_faces(boundary, list(barriers))
    ztree = STRtree(zones)
    zone_of = np.array(
        [
            int(next(iter(ztree.query(f.representative_point(), predicate="intersects")), 0))
            for f in faces
        ]
    )
    _merge_small_zones(zone_of, w, face_adjacency(faces), k, len(zones))
    tot = {z: float(w[zone_of == z].sum()) for z in sorted(set(zone_of.tolist()))}
    lab = np.zeros(len(faces), dtype=int)
    nxt = 0
    for z, kz in _zone_shares(tot, k).items():
        idx = np.nonzero(zone_of == z)[0]
        sub = group_faces([faces[i] for i in idx.tolist()], kz, rng, None, 0.0, w[idx], min_weight)
        lab[idx] = sub + nxt
        nxt += int(sub.max()) + 1
    return lab


def union_by_label(faces: Sequence[Polygon], lab: np.ndarray) -> list[Polygon]:
    """One polygon per label 0..max: the union of the faces with that label."""
    return [
        _union([f for f, x in zip(faces, lab, strict=True) if x == g])
        for g in range(int(lab.max()) + 1)
    ]


def _union(faces: Sequence[Polygon]) -> Polygon:
    """The union of adjacent faces as one valid polygon."""
    u = shapely.make_valid(shapely.union_all(list(faces)))
    parts = [p for p in shapely.get_parts(u) if isinstance(p, Polygon) and p.area > 1.0]
    if len(parts) != 1:
        raise RuntimeError(f"a generated community is in {len(parts)} parts")
    return parts[0]


def _clip(lines: Sequence[LineString], tree: STRtree, poly: Polygon) -> list[LineString]:
    """Pieces of the lines that run through the polygon, reaching 1 m past its boundary."""
    grow, inner = poly.buffer(1.0), poly.buffer(-1.0)
    shapely.prepare(inner)
    out: list[LineString] = []
    for i in sorted(tree.query(inner, predicate="intersects").tolist()):
        for part in shapely.get_parts(shapely.intersection(lines[i], grow)):
            if isinstance(part, LineString) and part.intersection(inner).length > 1.0:
                out.append(part)
    return out


def assemble_layout(
    name: str,
    prefix: str,
    boundary: Polygon | MultiPolygon,
    comms: Sequence[Polygon],
    blds: Sequence[PlacedBuilding],
    rng: np.random.Generator,
    *,
    lines: Sequence[LineString] = (),
    barriers: Sequence[LineString] = (),
    barrier_kinds: Sequence[str] = (),
    lanes: Sequence[LineString] = (),
    sites: Sequence[Polygon] = (),
) -> Layout:
    """The division inputs: each building in the community that contains it, layers clipped."""
    if len(barrier_kinds) != len(barriers):
        raise ValueError("one kind per barrier")
    spots = np.array([building_spot(g) for g, _ in blds], dtype=float).reshape(-1, 2)
    owner = np.full(len(blds), -1)
    for c, poly in enumerate(comms):
        inside = shapely.contains_xy(poly, spots[:, 0], spots[:, 1])
        owner[inside & (owner < 0)] = c
    if (owner < 0).any():
        raise RuntimeError(f"{int((owner < 0).sum())} generated buildings outside all communities")
    people = rng.uniform(2.2, 3.0, len(blds))
    trees = {id(ls): STRtree(list(ls)) for ls in (lines, barriers, lanes) if len(ls)}

    def clip(ls: Sequence[LineString], poly: Polygon) -> list[LineString]:
        return _clip(ls, trees[id(ls)], poly) if len(ls) else []

    inputs = []
    for c, poly in enumerate(comms):
        key = f"{prefix}C{c:02d}"
        members = []
        for j, i in enumerate(np.nonzero(owner == c)[0].tolist()):
            geom, hh = blds[i]
            res = round(hh * people[i])
            members.append(Building(f"{key}-{j:05d}", geom, hh, res, float(hh + 0.1 * res)))
        inputs.append(
            DivisionInput(
                community_key=key,
                boundary=poly,
                buildings=members,
                lines=clip(lines, poly),
                exclusive_sites=[s for s in sites if poly.contains(s)],
                barriers=clip(barriers, poly),
                lanes=clip(lanes, poly),
            )
        )
    return Layout(
        name,
        inputs,
        boundary,
        list(lines),
        list(barriers),
        list(lanes),
        list(sites),
        list(barrier_kinds),
    )


def block_households(inputs: Sequence[DivisionInput]) -> np.ndarray:
    """Households per block: the faces of each community (less its exclusive sites) cut by its
    preferred lines and barriers (not lanes), as the divider sees them."""
    out: list[float] = []
    for inp in inputs:
        rest: BaseGeometry = inp.boundary
        if inp.exclusive_sites:
            rest = rest.difference(shapely.union_all(inp.exclusive_sites))
        if rest.is_empty:
            continue
        xy = np.array([building_spot(b.geom) for b in inp.buildings], dtype=float).reshape(-1, 2)
        hh = np.array([b.households for b in inp.buildings], dtype=float)
        for block in cut_faces(rest, [*inp.lines, *inp.barriers]):
            out.append(float(hh[shapely.intersects_xy(block, xy[:, 0], xy[:, 1])].sum()))
    return np.array(out)
