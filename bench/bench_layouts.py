"""Benchmark: grid division on generated layout families (issue 19).

Usage:
    python bench/bench_layouts.py [--target 300 --seed 0] [--quick] [--family NAME ...]

For each layout family of ``wangge.grids.synthetic_layouts`` — grid_town at block factors 0.3,
0.5, 1, 2 and 5 (households per block / target), the held-out county-town replica, old_town,
suburb, rural and the large case (~27,000 buildings) — runs in one process: pymetis contiguous
k-way per community (anchor), roads first (blocks cut by preferred lines and barriers) then
pymetis per block, and wangge ``divide``. All are scored by the same code as
bench/bench_partition.py. A full run writes the section "## Division on layout families
(issue 19)" of bench/RESULTS.md (other sections are kept); ``--quick`` (small sizes, for
checking) and ``--family`` (one family; may repeat) only print, unless ``--write``.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from functools import partial
from pathlib import Path

import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_partition import (
    Flat,
    anchor_metis,
    anchor_roads_metis,
    flatten_inputs,
    metis_in_pieces,
    row,
    score,
    section_head,
    table_head,
    unbalanceable_blocks,
    unmet_note,
    wangge_grids,
    write_section,
)
from wangge.grids import synthetic_layouts as sl
from wangge.grids.partition_context import faces
from wangge.grids.partition_quality import clean

SECTION = "## Division on layout families (issue 19)"
BLOCK_FACTORS = (0.3, 0.5, 1.0, 2.0, 5.0)


def cases(seed: int, target: float, quick: bool) -> list[tuple[str, str, Callable[[], sl.Layout]]]:
    """(family, label, generator) for every case of a run; quick runs use small sizes."""
    out: list[tuple[str, str, Callable[[], sl.Layout]]] = [
        (
            "grid_town",
            f"grid_town, block factor {bf:g}",
            partial(
                sl.grid_town,
                seed,
                target,
                block_factor=bf,
                **({"households": 4000} if quick else {}),
            ),
        )
        for bf in BLOCK_FACTORS
    ]
    out += [
        ("county_town", "county_town (held-out replica)", partial(sl.county_town, seed, target)),
        (
            "old_town",
            "old_town",
            partial(sl.old_town, seed, target, **({"households": 3000} if quick else {})),
        ),
        (
            "suburb",
            "suburb",
            partial(sl.suburb, seed, target, **({"households": 5000} if quick else {})),
        ),
        (
            "rural",
            "rural",
            partial(sl.rural, seed, target, **({"households": 2500} if quick else {})),
        ),
        (
            "large",
            "large (tiled 2×2, small)" if quick else "large (tiled 3×3 grid_town + old_town)",
            partial(sl.tiled, seed, target, n=2, households=3000)
            if quick
            else partial(sl.large, seed, target),
        ),
    ]
    return out


def flatten_layout(layout: sl.Layout) -> Flat:
    """Buildings and layers of a layout; the anchors divide each community on its own."""
    return flatten_inputs(
        layout.inputs,
        [inp.boundary for inp in layout.inputs],
        layout.lines,
        layout.sites,
        layout.barriers,
    )


def anchor_area_metis(layout: sl.Layout, flat: Flat, target: float) -> list[tuple]:
    """pymetis contiguous k-way per area between barriers: pymetis under wangge's constraint."""
    areas = []
    for inp in layout.inputs:
        region = clean(inp.boundary)
        cut = [
            g
            for b in inp.barriers
            for g in shapely.get_parts(shapely.intersection(b, region))
            if g.geom_type == "LineString"
        ]
        areas += faces(region, cut) if cut else [region]
    return metis_in_pieces(flat, areas, target)


def run(label: str, layout: sl.Layout, target: float) -> tuple[list[str], dict[str, object]]:
    """All methods on one layout; Markdown lines and the summary figures."""
    flat = flatten_layout(layout)
    blocks = sl.block_households(layout.inputs)
    mean = float(blocks.mean()) if len(blocks) else 0.0
    head = (
        f"### {label}: {len(layout.inputs)} communities, {len(flat.xy):,} buildings, "
        f"{int(flat.hh.sum()):,} households, {len(blocks)} blocks of {mean:,.0f} households on "
        f"average ({mean / target:.2f} × target), {len(layout.lines)} streets, "
        f"{len(layout.barriers)} barriers, {len(layout.lanes)} lanes, "
        f"{len(layout.sites)} exclusive sites, target {target:g}; "
        f"{unbalanceable_blocks(layout.inputs, target)} blocks cannot be balanced alone"
    )
    lines = [head, "", table_head(barriers=True)]
    summary: dict[str, object] = {"label": label, "factor": mean / target}
    for key, name, method in (
        ("metis", "pymetis contiguous k-way (anchor)", anchor_metis),
        ("area_metis", "pymetis per area between barriers", partial(anchor_area_metis, layout)),
        ("roads", "roads first, then pymetis per block", anchor_roads_metis),
    ):
        t = time.perf_counter()
        g = method(flat, target)
        s = score(flat, g, None, target, time.perf_counter() - t)
        lines.append(row(name, s, barriers=True))
        summary[key] = s
    t = time.perf_counter()
    try:
        g, excl, div = wangge_grids(layout.inputs, flat, target, True)
    except Exception as exc:  # the engine is under rework: report, do not stop the run
        traceback.print_exc()
        lines.append(f"| wangge divide | raised `{type(exc).__name__}: {exc}` |")
        summary["wangge"] = None
        return [*lines, ""], summary
    s = score(flat, g, excl, target, time.perf_counter() - t)
    lines.append(row("wangge divide", s, barriers=True))
    summary["wangge"] = s
    summary["report_barriers"] = div.report.barrier_grids
    summary["allowed"] = div.report.share_within_allowed
    return [*lines, "", unmet_note(div)], summary


def summary_table(rows: list[dict[str, object]]) -> list[str]:
    """One line per case: share within ±10 % per method, wangge's crossings and time."""
    out = [
        "| case | households per block / target | pymetis within (barriers crossed) | "
        "pymetis per area within | roads first within | wangge within | "
        "wangge within where the barriers allow | wangge dev min / max | "
        "wangge grids crossing a barrier | wangge grids crossing a road | wangge PP mean / min | "
        "wangge time s |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---:|",
    ]
    for r in rows:
        w = r["wangge"]
        metis, area, roads = r["metis"], r["area_metis"], r["roads"]
        assert isinstance(metis, dict) and isinstance(roads, dict) and isinstance(area, dict)
        if isinstance(w, dict):
            tail = (
                f"{w['within']:.1%} | {r['allowed']:.1%} | "
                f"{w['dev_min']:+.0%} / {w['dev_max']:+.0%} | "
                f"{w['barrier']} | {w['crossing']} | {w['pp_mean']:.2f} / {w['pp_min']:.2f} | "
                f"{w['seconds']:.2f} |"
            )
        else:
            tail = "raised | | | | | | |"
        out.append(
            f"| {r['label']} | {r['factor']:.2f} | {metis['within']:.1%} ({metis['barrier']}) | "
            f"{area['within']:.1%} | {roads['within']:.1%} | {tail}"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print (and, for a full run, write) the results section."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--target", type=float, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="small sizes only (for checking)")
    families = sorted({c[0] for c in cases(0, 300, True)})
    ap.add_argument("--family", action="append", choices=families, help="run only this family")
    ap.add_argument("--write", action="store_true", help="write RESULTS.md on a partial run too")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args(argv)
    body: list[str] = []
    summary: list[dict[str, object]] = []
    for fam, label, make in cases(args.seed, args.target, args.quick):
        if args.family and fam not in args.family:
            continue
        t = time.perf_counter()
        layout = make()
        gen = time.perf_counter() - t
        lines, s = run(label, layout, args.target)
        body += [*lines, f"Layout generated in {gen:.2f} s.", ""]
        summary.append(s)
        print("\n".join(lines), flush=True)
    text = "\n".join(
        [
            *section_head(SECTION, "bench_layouts.py", argv),
            "Layouts from `wangge.grids.synthetic_layouts` (seeded, numpy + shapely): "
            "grid_town — a county town on a street grid whose blocks hold on average the given "
            "factor × target households (density varying strongly block to block, some blocks "
            "nearly empty), apartment buildings of 10–190 households and some houses of 1–3, "
            "main roads and in some seeds a river as barriers, schools and a hospital as "
            "exclusive sites; county_town — grid_town set to the held-out town (11 communities, "
            "~600 buildings, ~28,700 households, streets every 400 m, ~195 blocks); old_town — "
            "wiggly non-orthogonal streets, crossable lanes inside blocks, dense houses of 1–4 "
            "households and courtyard complexes; suburb — gated estates of 3–5 × target in "
            "8–30 towers, villa areas, empty land, main roads as barriers; rural — villages of "
            "20–80 houses far apart, village roads as preferred lines, river, railway and "
            "administrative-village lines as barriers; large — 3×3 tiles of grid_town and "
            "old_town. Scoring as in the issue-9 section (bench/bench_partition.py): deviations "
            'and road crossings over basic grids, barrier crossings over all grids; "road" '
            "means a preferred line (street), lanes are not counted. Both anchors divide each "
            "community on its own; pymetis ignores lines and barriers, roads-first cuts blocks "
            'by both. A block "cannot be balanced alone" when no split of its total (between '
            "lines and barriers, outside exclusive sites) is within ±10 %.",
            "",
            "#### Summary",
            "",
            *summary_table(summary),
            "",
            *body,
        ]
    )
    print("\n#### Summary\n\n" + "\n".join(summary_table(summary)))
    partial_run = bool(args.quick or args.family)
    if not args.no_write and (args.write or not partial_run):
        write_section(text.rstrip() + "\n", SECTION)
    elif partial_run:
        print("\n(partial run: RESULTS.md not written; --write to force)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
