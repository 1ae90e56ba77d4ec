"""Compare two versions of a grid layer by area overlap: what was split, merged, moved.

Pure function of two `{key: lon/lat geometry}` mappings; areas are computed in metres in
one Gauss-Krüger zone for both layers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from wangge.grids.geometry import epsg_for, to_metric

# A piece that is the majority of neither its old nor its new grid is a boundary that
# moved, not lineage: it is listed in `pairs` but does not tie the two grids together.
_MAJORITY = 0.5


class OverlapPair(NamedTuple):
    """Area shared by an old and a new grid, as a share of each."""

    old_key: str
    new_key: str
    share_of_old: float
    share_of_new: float


@dataclass(frozen=True)
class LayerDiff:
    """Classification of every old and new grid, plus the overlap pairs behind it."""

    unchanged: tuple[tuple[str, str], ...]  # (old, new): same geometry, keys may differ
    reshaped: tuple[tuple[str, str], ...]  # (old, new): one to one, geometry changed
    new: tuple[str, ...]
    retired: tuple[str, ...]
    split: tuple[tuple[str, tuple[str, ...]], ...]  # old -> several new
    merged: tuple[tuple[tuple[str, ...], str], ...]  # several old -> new
    redrawn: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]  # many old <-> many new
    pairs: tuple[OverlapPair, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able summary (lists and dicts only)."""
        return {
            "unchanged": [list(p) for p in self.unchanged],
            "reshaped": [list(p) for p in self.reshaped],
            "new": list(self.new),
            "retired": list(self.retired),
            "split": [{"old": o, "new": list(n)} for o, n in self.split],
            "merged": [{"old": list(o), "new": n} for o, n in self.merged],
            "redrawn": [{"old": list(o), "new": list(n)} for o, n in self.redrawn],
            "pairs": [p._asdict() for p in self.pairs],
        }


def _clean(geoms: Mapping[str, BaseGeometry | None]) -> tuple[list[str], np.ndarray]:
    keys = list(geoms)
    arr = np.asarray([geoms[k] for k in keys], dtype=object)
    if len(arr):
        # A diff is a report, not a gate: repair invalid input instead of failing on it.
        arr = shapely.make_valid(arr)
    return keys, arr


_Link = tuple[int, int, float]  # (old index, new index, area shared in m²)


def _overlaps(
    old_keys: list[str],
    new_keys: list[str],
    old_m: np.ndarray,
    new_m: np.ndarray,
    areas: tuple[np.ndarray, np.ndarray],
    min_share: float,
) -> tuple[list[OverlapPair], list[_Link], list[_Link]]:
    """Overlap pairs of at least `min_share` of either grid; links (at least `min_share` of
    both and the majority of one) and weak links (the rest of at least `min_share` of both)."""
    pairs: list[OverlapPair] = []
    links: list[_Link] = []
    weak: list[_Link] = []
    if not (len(old_m) and len(new_m)):
        return pairs, links, weak
    old_area, new_area = areas
    oi, ni = shapely.STRtree(new_m).query(old_m, predicate="intersects")
    inter = shapely.area(shapely.intersection(old_m[oi], new_m[ni]))
    with np.errstate(divide="ignore", invalid="ignore"):
        s_old = np.where(old_area[oi] > 0, inter / old_area[oi], 0.0)
        s_new = np.where(new_area[ni] > 0, inter / new_area[ni], 0.0)
    for o, n, a, so, sn in zip(oi, ni, inter, s_old, s_new, strict=True):
        if max(so, sn) < min_share:
            continue
        pairs.append(OverlapPair(old_keys[o], new_keys[n], float(so), float(sn)))
        if min(so, sn) >= min_share:
            (links if max(so, sn) >= _MAJORITY else weak).append((int(o), int(n), float(a)))
    return pairs, links, weak


def _tie_unlinked(links: list[_Link], weak: list[_Link]) -> None:
    """A grid with no majority link but real overlaps (e.g. a lattice shifted by half a cell)
    is not new or retired: tie it (in `links`) to the partner it shares most area with."""
    linked_old = {o for o, _, _ in links}
    linked_new = {n for _, n, _ in links}
    best_old: dict[int, _Link] = {}
    best_new: dict[int, _Link] = {}
    for link in weak:
        o, n, a = link
        if o not in linked_old and a > best_old.get(o, (0, 0, -1.0))[2]:
            best_old[o] = link
        if n not in linked_new and a > best_new.get(n, (0, 0, -1.0))[2]:
            best_new[n] = link
    links.extend({*best_old.values(), *best_new.values()})


def _linked_groups(n_old: int, n_new: int, links: list[_Link]) -> list[tuple[list[int], list[int]]]:
    """Connected groups of linked grids: (old indices, new indices) of each."""
    # Union-find over old grids (0..n_old-1) and new grids (n_old..).
    parent = list(range(n_old + n_new))

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for o, n, _ in links:
        parent[find(o)] = find(n_old + n)
    groups: dict[int, tuple[list[int], list[int]]] = {}
    for k in range(len(parent)):
        olds, news = groups.setdefault(find(k), ([], []))
        (olds if k < n_old else news).append(k if k < n_old else k - n_old)
    return list(groups.values())


def _classify(
    groups: list[tuple[list[int], list[int]]],
    old_keys: list[str],
    new_keys: list[str],
    areas: tuple[np.ndarray, np.ndarray],
    links: list[_Link],
    pairs: list[OverlapPair],
    tolerance_m2: float,
) -> LayerDiff:
    """Name each group of linked grids by its counts of old and new grids."""
    old_area, new_area = areas
    inter_of = {(o, n): a for o, n, a in links}
    unchanged: list[tuple[str, str]] = []
    reshaped: list[tuple[str, str]] = []
    new_only: list[str] = []
    retired: list[str] = []
    split: list[tuple[str, tuple[str, ...]]] = []
    merged: list[tuple[tuple[str, ...], str]] = []
    redrawn: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    for olds, news in groups:
        ok = tuple(sorted(old_keys[i] for i in olds))
        nk = tuple(sorted(new_keys[i] for i in news))
        if not news:
            retired.extend(ok)
        elif not olds:
            new_only.extend(nk)
        elif len(olds) == 1 and len(news) == 1:
            o, n = olds[0], news[0]
            sym_diff = old_area[o] + new_area[n] - 2.0 * inter_of[(o, n)]
            (unchanged if sym_diff <= tolerance_m2 else reshaped).append((ok[0], nk[0]))
        elif len(olds) == 1:
            split.append((ok[0], nk))
        elif len(news) == 1:
            merged.append((ok, nk[0]))
        else:
            redrawn.append((ok, nk))
    return LayerDiff(
        unchanged=tuple(sorted(unchanged)),
        reshaped=tuple(sorted(reshaped)),
        new=tuple(sorted(new_only)),
        retired=tuple(sorted(retired)),
        split=tuple(sorted(split)),
        merged=tuple(sorted(merged)),
        redrawn=tuple(sorted(redrawn)),
        pairs=tuple(sorted(pairs)),
    )


def diff_layers(
    old: Mapping[str, BaseGeometry | None],
    new: Mapping[str, BaseGeometry | None],
    *,
    min_share: float = 0.05,
    tolerance_m2: float = 1.0,
) -> LayerDiff:
    """Classify the grids of two layer versions by how their areas overlap.

    An overlap (old o, new n) links the two grids when it is at least `min_share` of both
    and the majority (≥ 50 %) of at least one; a grid left without such a link is tied to
    the partner it shares most area with (if ≥ `min_share` of both). Linked grids form
    connected groups:
    1 old + 0 new is retired, 0 + 1 new, 1 → k split, k → 1 merged, k ↔ m redrawn, and
    1 ↔ 1 is unchanged when the symmetric difference is ≤ `tolerance_m2` (keys may then
    differ: a re-coding), reshaped otherwise. The majority rule keeps a boundary that
    merely moved between neighbours from chaining a whole layer into one redrawn group.
    `pairs` lists every overlap of at least `min_share` of either grid.
    """
    old_keys, old_g = _clean(old)
    new_keys, new_g = _clean(new)
    both = np.concatenate([old_g, new_g])
    epsg = epsg_for(both) if len(both) else 4545
    old_m = to_metric(old_g, epsg)[0] if len(old_g) else old_g
    new_m = to_metric(new_g, epsg)[0] if len(new_g) else new_g
    # Missing geometries count as empty rather than poisoning the sums with NaN.
    areas = (np.nan_to_num(shapely.area(old_m)), np.nan_to_num(shapely.area(new_m)))
    pairs, links, weak = _overlaps(old_keys, new_keys, old_m, new_m, areas, min_share)
    _tie_unlinked(links, weak)
    groups = _linked_groups(len(old_keys), len(new_keys), links)
    return _classify(groups, old_keys, new_keys, areas, links, pairs, tolerance_m2)
