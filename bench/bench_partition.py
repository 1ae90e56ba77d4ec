"""Benchmark: automatic grid division — wangge vs pymetis anchors on a synthetic district.

Usage:
    python bench/bench_partition.py [--target 300 --seed 0 --tiles 3 --plot out.png]

Runs on one ~16 km² district (~3,000 buildings) and on a 3×3 tiling (~27,000 buildings):
pymetis contiguous k-way on the building adjacency graph (households as vertex weights),
"roads first, then pymetis per block", and wangge ``divide`` end to end (with and without
crossing lines). All methods are scored by the same code. Results go to stdout and to the
section "## Automatic grid division (issue 9)" of bench/RESULTS.md (other sections are kept).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pymetis
import shapely
from shapely import MultiPoint, Point, Polygon
from shapely.strtree import STRtree

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_blocks import District, make_district, tiled
from wangge.grids.partition import DivisionInput, DivisionPlan, divide
from wangge.grids.partition_quality import (
    line_crossings,
    polsby_popper,
    polygon_parts,
)
from wangge.grids.synthetic_layouts import block_households

SECTION = "## Automatic grid division (issue 9)"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = "# Benchmark results\n\nFigures written by the scripts in `bench/`; one section each.\n"


@dataclass
class Flat:
    """All buildings of a data set as arrays, with the layers used for scoring.

    ``boundaries`` are the areas the anchors divide one by one; ``roads`` are the preferred
    lines (crossings counted) and ``barriers`` the lines never to cross (counted apart).
    """

    xy: np.ndarray
    hh: np.ndarray
    keys: list[tuple[str, str]]  # (community key, building key)
    boundaries: list[Polygon]
    roads: list[shapely.LineString]
    sites: list[Polygon]
    site_members: list[set[int]]
    barriers: list[shapely.LineString] = field(default_factory=list)


def flatten_inputs(
    inputs: Sequence[DivisionInput],
    boundaries: Sequence[Polygon],
    roads: Sequence[shapely.LineString],
    sites: Sequence[Polygon],
    barriers: Sequence[shapely.LineString] = (),
) -> Flat:
    """Collect the buildings of the inputs (footprints by their representative point)."""
    xy, hh, keys = [], [], []
    for inp in inputs:
        for b in inp.buildings:
            g = b.geom if isinstance(b.geom, Point) else b.geom.representative_point()
            xy.append(g.coords[0])
            hh.append(b.households)
            keys.append((inp.community_key, b.key))
    xy_a = np.array(xy, dtype=float).reshape(-1, 2)
    members = []
    for s in sites:
        inside = shapely.intersects_xy(s, xy_a[:, 0], xy_a[:, 1])
        members.append(set(np.nonzero(inside)[0].tolist()))
    return Flat(
        xy_a,
        np.array(hh, dtype=float),
        keys,
        list(boundaries),
        list(roads),
        list(sites),
        members,
        list(barriers),
    )


def flatten(districts: list[District]) -> Flat:
    """Collect buildings and layers of the districts."""
    return flatten_inputs(
        [inp for d in districts for inp in d.inputs],
        [d.boundary for d in districts],
        [r for d in districts for r in d.roads],
        [s for d in districts for s in d.sites],
    )


def delaunay_edges(xy: np.ndarray) -> np.ndarray:
    """Delaunay edges (index pairs) of a point set."""
    if len(xy) < 2:
        return np.zeros((0, 2), dtype=int)
    at = {tuple(p): i for i, p in enumerate(xy.tolist())}
    coords = shapely.get_coordinates(
        shapely.get_parts(shapely.delaunay_triangles(MultiPoint(xy), only_edges=True))
    )
    pairs = coords.reshape(-1, 2, 2).tolist()
    return np.array([(at[tuple(a)], at[tuple(b)]) for a, b in pairs], dtype=int).reshape(-1, 2)


def metis(xy: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """pymetis contiguous k-way on the Delaunay graph with integer vertex weights."""
    if k <= 1 or len(xy) <= k:
        return np.zeros(len(xy), dtype=int) if k <= 1 else np.arange(len(xy))
    e = delaunay_edges(xy)
    adj: list[list[int]] = [[] for _ in range(len(xy))]
    for a, b in e.tolist():
        adj[a].append(b)
        adj[b].append(a)
    vw = [max(1, int(v)) for v in w]  # METIS needs positive weights for balance to mean anything
    try:
        _, parts = pymetis.part_graph(
            k, adjacency=adj, vweights=vw, options=pymetis.Options(contig=1)
        )
    except Exception:  # METIS refuses contiguity on a disconnected graph
        _, parts = pymetis.part_graph(k, adjacency=adj, vweights=vw)
    return np.array(parts)


def voronoi_union(xy: np.ndarray, labels: np.ndarray, clip: shapely.Geometry) -> list[tuple]:
    """Grid polygons as the union of the Voronoi cells of their buildings, clipped."""
    if len(xy) == 1:
        return [(clip, np.array([0]))]
    cells = shapely.intersection(
        np.array(
            shapely.get_parts(
                shapely.voronoi_polygons(MultiPoint(xy), extend_to=clip, ordered=True)
            )
        ),
        clip,
    )
    out = []
    for lab in np.unique(labels):
        idx = np.nonzero(labels == lab)[0]
        out.append((shapely.union_all(cells[idx]), idx))
    return out


def anchor_metis(flat: Flat, target: float) -> list[tuple]:
    """pymetis on the whole adjacency graph of each district."""
    grids = []
    for bnd in flat.boundaries:
        idx = np.nonzero(shapely.intersects_xy(bnd, flat.xy[:, 0], flat.xy[:, 1]))[0]
        k = max(1, round(flat.hh[idx].sum() / target))
        labels = metis(flat.xy[idx], flat.hh[idx], k)
        grids += [(p, idx[m]) for p, m in voronoi_union(flat.xy[idx], labels, bnd)]
    return grids


def road_blocks(bnd: Polygon, roads: list[shapely.LineString]) -> list[Polygon]:
    """Blocks of a district cut by all roads."""
    faces = shapely.get_parts(
        shapely.polygonize(shapely.get_parts(shapely.union_all([bnd.boundary, *roads])))
    )
    return [f for f in faces if bnd.contains(f.representative_point())]


def metis_in_pieces(flat: Flat, pieces: list[shapely.Geometry], target: float) -> list[tuple]:
    """pymetis contiguous k-way inside each piece of area, k from the piece's households."""
    grids = []
    for piece in pieces:
        idx = np.nonzero(shapely.intersects_xy(piece, flat.xy[:, 0], flat.xy[:, 1]))[0]
        if not len(idx):
            continue
        k = max(1, round(flat.hh[idx].sum() / target))
        labels = metis(flat.xy[idx], flat.hh[idx], k)
        grids += [(p, idx[m]) for p, m in voronoi_union(flat.xy[idx], labels, piece)]
    return grids


def anchor_roads_metis(flat: Flat, target: float) -> list[tuple]:
    """Roads first (blocks cut by preferred lines and barriers), then pymetis per block."""
    cutting = [*flat.roads, *flat.barriers]
    blocks = [
        block
        for bnd in flat.boundaries
        for block in road_blocks(bnd, [r for r in cutting if r.intersects(bnd)])
    ]
    return metis_in_pieces(flat, blocks, target)


def wangge_grids(
    inputs: Sequence[DivisionInput], flat: Flat, target: float, allow_crossing: bool
) -> tuple[list[tuple], list[bool], DivisionPlan]:
    """wangge divide, end to end; grids as (polygon, building indices) plus exclusive flags."""
    div = divide(list(inputs), target=target, allow_crossing=allow_crossing)
    pos = {k: i for i, k in enumerate(flat.keys)}
    grids = [
        (g.polygon, np.array([pos[(g.community_key, k)] for k in g.building_keys], dtype=int))
        for g in div.grids
    ]
    return grids, [g.exclusive for g in div.grids], div


def unmet_note(div: DivisionPlan) -> str:
    """wangge's grids out of tolerance grouped by reason (figures in a reason become N)."""
    kinds: dict[str, int] = {}
    for u in div.report.unmet:
        reason = re.sub(r"\d+(?:\.\d+)?", "N", u.reason_en)
        kinds[reason] = kinds.get(reason, 0) + 1
    notes = "; ".join(f"{n}× {r}" for r, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
    return f"wangge unmet grids ({len(div.report.unmet)}): {notes or 'none'}."


def score(
    flat: Flat, grids: list[tuple], exclusive: list[bool] | None, target: float, seconds: float
) -> dict[str, float]:
    """The same figures for every method."""
    exclusive = exclusive or [False] * len(grids)
    devs, crossing, barrier, multi, pps, violations = [], 0, 0, 0, [], 0
    tree = STRtree(flat.roads)
    bar_tree = STRtree(flat.barriers)
    for (poly, idx), excl in zip(grids, exclusive, strict=True):
        pps.append(polsby_popper(poly))
        multi += len(polygon_parts(poly)) > 1
        # Contiguity: all buildings of the grid lie in one connected part of its polygon.
        parts = polygon_parts(poly)
        if len(idx) and not any(
            shapely.intersects_xy(p, flat.xy[idx, 0], flat.xy[idx, 1]).all() for p in parts
        ):
            violations += 1
        # Barriers are never to be crossed, by exclusive grids either.
        barrier += line_crossings(poly, [flat.barriers[j] for j in bar_tree.query(poly)]) > 0
        if excl:
            continue
        devs.append(flat.hh[idx].sum() / target - 1)
        near = [flat.roads[j] for j in tree.query(poly)]
        crossing += line_crossings(poly, near) > 0
    isolated = 0
    for site, mem in zip(flat.sites, flat.site_members, strict=True):
        for poly, idx in grids:
            if set(idx.tolist()) == mem and poly.intersection(site).area >= 0.95 * site.area:
                isolated += 1
                break
    d = np.array(devs)
    return {
        "seconds": seconds,
        "grids": len(grids),
        "within": float(np.mean(np.abs(d) <= 0.10 + 1e-9)),
        "dev_min": float(d.min()),
        "dev_max": float(d.max()),
        "dev_std": float(d.std()),
        "violations": violations,
        "multi": multi,
        "pp_mean": float(np.mean(pps)),
        "pp_min": float(np.min(pps)),
        "crossing": crossing,
        "barrier": barrier,
        "sites": isolated,
        "sites_total": len(flat.sites),
    }


def unbalanceable_blocks(inputs: Sequence[DivisionInput], target: float, tol: float = 0.10) -> int:
    """Blocks (between lines and barriers, outside exclusive sites) that no split can balance."""
    lo, hi = target * (1 - tol), target * (1 + tol)
    tot = block_households(inputs)
    ok = np.floor(tot / lo) >= np.maximum(1, np.ceil(tot / hi))
    return int(((tot > 0) & ~ok).sum())


def row(name: str, s: dict[str, float], barriers: bool = False) -> str:
    """One Markdown table row (with a column of grids crossing a barrier if asked)."""
    bar = f"{s['barrier']} | " if barriers else ""
    return (
        f"| {name} | {s['seconds']:.2f} | {s['grids']} | {s['within']:.1%} | "
        f"{s['dev_min']:+.0%} / {s['dev_max']:+.0%} / {s['dev_std']:.1%} | "
        f"{s['violations']} | {s['multi']} | {s['pp_mean']:.2f} / {s['pp_min']:.2f} | "
        f"{s['crossing']} | {bar}{s['sites']}/{s['sites_total']} |"
    )


def table_head(barriers: bool = False) -> str:
    """Head of the results table (matching ``row``)."""
    bar = (" grids crossing a barrier |", "---:|") if barriers else ("", "")
    return (
        "| method | time s | grids | within ±10% | dev min / max / std | contiguity viol. | "
        f"multi-part | PP mean / min | grids crossing a road |{bar[0]} exclusive sites isolated |\n"
        f"|---|---:|---:|---:|---|---:|---:|---|---:|{bar[1]}---:|"
    )


def run(districts: list[District], target: float, label: str) -> list[str]:
    """All methods on one data set; returns Markdown lines."""
    flat = flatten(districts)
    inputs = [inp for d in districts for inp in d.inputs]
    lines = [
        f"### {label}: {len(districts)} district(s), {len(flat.xy):,} buildings, "
        f"{int(flat.hh.sum()):,} households, {len(flat.roads)} roads/rivers, "
        f"{len(flat.sites)} exclusive sites, "
        f"{len(inputs)} communities, target {target:g}; "
        f"{unbalanceable_blocks(inputs, target)} blocks cannot be balanced alone",
        "",
        table_head(),
    ]
    t = time.perf_counter()
    g = anchor_metis(flat, target)
    lines.append(
        row(
            "pymetis contiguous k-way (anchor)",
            score(flat, g, None, target, time.perf_counter() - t),
        )
    )
    t = time.perf_counter()
    g = anchor_roads_metis(flat, target)
    lines.append(
        row(
            "roads first, then pymetis per block",
            score(flat, g, None, target, time.perf_counter() - t),
        )
    )
    note = ""
    for allow in (True, False):
        t = time.perf_counter()
        g, excl, div = wangge_grids(inputs, flat, target, allow)
        name = "wangge divide" + ("" if allow else " (never cross a line)")
        lines.append(row(name, score(flat, g, excl, target, time.perf_counter() - t)))
        if allow:
            note = unmet_note(div)
    return [*lines, "", note]


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo."""
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> str:
    """The Machine line of a results section."""
    return (
        f"Machine: {os.cpu_count()} cores (nproc), {cpu_model()}, Python "
        f"{platform.python_version()}, shapely {shapely.__version__}, single process."
    )


def section_head(section: str, script: str, argv: list[str] | None) -> list[str]:
    """First lines of a results section: title, command line and machine."""
    given = argv if argv is not None else sys.argv[1:]
    cmd = f"python bench/{script} " + shlex.join(given)
    return [section, "", f"Command: `{cmd.strip()}`  ", machine(), ""]


def write_section(text: str, section: str = SECTION) -> None:
    """Replace (or append) a benchmark's section in RESULTS.md."""
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else HEADER
    pattern = re.compile(rf"^{re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _m: text, old) if pattern.search(old) else old.rstrip() + "\n\n" + text
    RESULTS.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the results section."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--target", type=float, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tiles", type=int, default=3)
    ap.add_argument("--plot", default=None, help="PNG of the single-district wangge division")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    one = [make_district(args.seed)]
    out = run(one, args.target, "Single district")
    if args.plot:
        from wangge.grids.partition_plot import plot_division

        div = divide([i for d in one for i in d.inputs], target=args.target)
        plot_division(div, one[0].roads, args.plot)
    label = f"Tiled {args.tiles}×{args.tiles}"
    out += ["", *run(tiled(args.tiles, args.seed), args.target, label)]
    text = "\n".join(
        [
            *section_head(SECTION, "bench_partition.py", argv),
            "Synthetic district (bench/synthetic_blocks.py, seeded): irregular 16 km², wiggly roads "
            "600–1,200 m apart plus a river, communities bounded by four main roads, houses of 1–2 "
            "households and apartment blocks of 20–190, seven exclusive sites. Crossing counts all "
            "roads and the river; deviations and crossings are over basic (non-exclusive) grids; "
            "time includes the quality report for wangge and Voronoi polygons for the anchors. "
            "Contiguity violation: a grid whose buildings are not all in one connected part of its "
            'polygon; multi-part: a grid polygon in more than one piece. A block that "cannot be '
            'balanced alone" lies between lines and its household total admits no split into parts '
            "within ±10%: it needs a grid that crosses a line, or a grid out of tolerance. Anchors "
            "make polygons as the union of the Voronoi cells of their buildings.",
            "",
            *out,
            "",
        ]
    )
    print(text)
    if not args.no_write:
        write_section(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
