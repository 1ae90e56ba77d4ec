"""Benchmark: point → grid lookup, GridIndex vs shapely STRtree vs a PostGIS ST_Contains join.

Usage:
    python bench/bench_locate.py [--points 1300000 --grids 9000 --seed 42
                                  --pg postgresql://postgres@127.0.0.1:5432/wangge_bench]

The PostGIS database named in --pg is created and dropped by this script (do not point it
at a database you care about).  Results go to stdout and to the section
"## Point→grid lookup (issue 2)" of bench/RESULTS.md (other sections are left alone).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import re
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
import shapely
from psycopg import sql

from wangge.grids.lookup import GridIndex
from wangge.synthetic import make_district, make_grids, random_points

SECTION = "## Point→grid lookup (issue 2)"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = "# Benchmark results\n\nFigures written by the scripts in `bench/`; one section each.\n"
QUERY = "SELECT p.id AS pid, g.id AS gid FROM pts p JOIN grids g ON ST_Contains(g.geom, p.geom)"


@dataclass
class Report:
    """Everything measured in one run."""

    args: argparse.Namespace
    n_points: int = 0
    n_grids: int = 0
    area_km2: float = 0.0
    synth_s: float = 0.0
    build_s: float = 0.0
    locate_many_s: float = 0.0
    index_mb: float = 0.0
    cell_m: float = 0.0
    boundary_share: float = 0.0
    exact_share: float = 0.0
    tree_build_s: float = 0.0
    tree_query_s: float = 0.0
    pg_load_s: float | None = None
    pg_query_s: float | None = None
    pg_rows: int | None = None
    pg_ctas_s: float = 0.0
    pg_count_s: float = 0.0
    pg_plan: str = ""
    pg_workers: str = "?"
    pg_version: str = "?"
    single_median_us: float = 0.0
    single_p99_us: float = 0.0
    checks: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (raw, non-edge)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=1_300_000)
    p.add_argument("--grids", type=int, default=9_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--area", type=float, default=430.8, help="district area in km²")
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/wangge_bench")
    p.add_argument("--no-pg", action="store_true", help="skip the PostGIS part")
    p.add_argument("--repeat", type=int, default=3, help="runs of the in-process methods")
    p.add_argument("--pg-repeat", type=int, default=2, help="runs of the PostGIS query")
    p.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    return p.parse_args(argv)


def best_of(n: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Fastest wall time of n calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(max(n, 1)):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def on_edge(geoms: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """True where the point lies on the boundary of the given grid geometry."""
    return shapely.intersects_xy(shapely.boundary(geoms), x, y)


def disagreements(
    ours: np.ndarray, other: np.ndarray, geom_of: dict[int, Any], x: np.ndarray, y: np.ndarray
) -> tuple[int, int]:
    """(all mismatches, mismatches not explained by the point lying on a grid edge)."""
    bad = np.flatnonzero(ours != other)
    if len(bad) == 0:
        return 0, 0
    pick = np.where(ours[bad] >= 0, ours[bad], other[bad])
    geoms = np.array([geom_of[int(i)] for i in pick], dtype=object)
    return len(bad), int((~on_edge(geoms, x[bad], y[bad])).sum())


# ---------------------------------------------------------------------- PostGIS
def admin_url(url: str) -> tuple[str, str]:
    """URL of the maintenance database on the same server, and the benchmark db name."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or name in {"postgres", "template1", "wangge_test"}:
        raise SystemExit(f"refusing to drop database {name!r}: pass a scratch database")
    return urlunsplit(parts._replace(path="/postgres")), name


@contextmanager
def scratch_db(url: str) -> Iterator[psycopg.Connection]:
    """Create the benchmark database with PostGIS, yield a connection, drop it afterwards."""
    admin, name = admin_url(url)
    with psycopg.connect(admin, autocommit=True) as a:
        a.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        a.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            yield conn
    finally:
        with psycopg.connect(admin, autocommit=True) as a:
            a.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def binary_copy_points(x: np.ndarray, y: np.ndarray) -> bytes:
    """PostgreSQL binary COPY payload for rows (id int8, x float8, y float8)."""
    row = np.dtype(
        [("n", ">i2"), ("l1", ">i4"), ("id", ">i8"), ("l2", ">i4"), ("x", ">f8"),
         ("l3", ">i4"), ("y", ">f8")]
    )  # fmt: skip
    rows = np.empty(len(x), dtype=row)
    rows["n"], rows["l1"], rows["l2"], rows["l3"] = 3, 8, 8, 8
    rows["id"] = np.arange(len(x))
    rows["x"], rows["y"] = x, y
    head = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
    return head + rows.tobytes() + b"\xff\xff"


def pg_load(conn: psycopg.Connection, ids: np.ndarray, geoms: np.ndarray, x, y) -> None:
    """COPY grids and points into GiST-indexed tables and ANALYZE them."""
    conn.execute("CREATE TABLE grids (id bigint PRIMARY KEY, geom geometry(Geometry, 4490))")
    ewkb = shapely.to_wkb(shapely.set_srid(geoms, 4490), hex=True, include_srid=True)
    text = "".join(f"{i}\t{w}\n" for i, w in zip(ids.tolist(), ewkb, strict=True))
    with conn.cursor().copy("COPY grids (id, geom) FROM STDIN") as cp:
        cp.write(text)
    conn.execute("CREATE UNLOGGED TABLE pts_raw (id bigint, x float8, y float8)")
    with conn.cursor().copy("COPY pts_raw FROM STDIN (FORMAT binary)") as cp:
        payload = binary_copy_points(x, y)
        for off in range(0, len(payload), 1 << 24):
            cp.write(payload[off : off + (1 << 24)])
    conn.execute(
        "CREATE TABLE pts AS SELECT id, ST_SetSRID(ST_MakePoint(x, y), 4490)::geometry(Point, 4490)"
        " AS geom FROM pts_raw"
    )
    conn.execute("DROP TABLE pts_raw")
    conn.execute("ALTER TABLE pts ADD PRIMARY KEY (id)")
    conn.execute("CREATE INDEX grids_geom_gist ON grids USING gist (geom)")
    conn.execute("CREATE INDEX pts_geom_gist ON pts USING gist (geom)")
    conn.execute("VACUUM ANALYZE grids")
    conn.execute("VACUUM ANALYZE pts")


def pg_query(conn: psycopg.Connection, repeat: int) -> tuple[float, float, int]:
    """Best wall times of CREATE TABLE res AS <join> and of count(*) over it; row count."""

    def materialise() -> None:
        conn.execute("DROP TABLE IF EXISTS res")
        conn.execute(f"CREATE TABLE res AS {QUERY}")

    def count() -> int:
        row = conn.execute(f"SELECT count(*) FROM ({QUERY}) AS j").fetchone()
        return int(row[0]) if row else 0

    ctas, _ = best_of(repeat, materialise)
    counting, n = best_of(repeat, count)
    return ctas, counting, n


def pg_plan(conn: psycopg.Connection) -> str:
    """The join's plan as a chain of node names (to show the GiST index is used)."""
    row = conn.execute(f"EXPLAIN (FORMAT JSON) {QUERY}").fetchone()
    node, names = (row[0][0]["Plan"] if row else {}), []
    while node:
        label = node.get("Node Type", "?")
        if "Index Name" in node:
            label += f" using {node['Index Name']}"
        if "Workers Planned" in node:
            label += f" ({node['Workers Planned']} workers)"
        names.append(label)
        kids = node.get("Plans", [])
        node = next(
            (k for k in kids if "Index" in k.get("Node Type", "")), kids[-1] if kids else None
        )
    return " → ".join(names)


def pg_answers(conn: psycopg.Connection, n: int) -> np.ndarray:
    """Grid id per point from the res table (smallest id if several), −1 where none."""
    buf = io.BytesIO()
    with conn.cursor().copy("COPY res (pid, gid) TO STDOUT") as cp:
        for chunk in cp:
            buf.write(chunk)
    pairs = np.loadtxt(io.BytesIO(buf.getvalue()), dtype=np.int64, ndmin=2).reshape(-1, 2)
    out = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(out, pairs[:, 0], pairs[:, 1])
    out[out == np.iinfo(np.int64).max] = -1
    return out


def run_postgis(rep: Report, ids, geoms, x, y, ours, geom_of) -> None:
    """Part (c): load, index, time the ST_Contains join, compare answers."""
    with scratch_db(rep.args.pg) as conn:
        rep.pg_version = str(conn.execute("SELECT postgis_lib_version()").fetchone()[0])  # type: ignore[index]
        rep.pg_version = f"PostgreSQL {conn.info.server_version // 10000}, PostGIS {rep.pg_version}"
        rep.pg_workers = str(conn.execute("SHOW max_parallel_workers_per_gather").fetchone()[0])  # type: ignore[index]
        t = time.perf_counter()
        pg_load(conn, ids, geoms, x, y)
        rep.pg_load_s = time.perf_counter() - t
        rep.pg_plan = pg_plan(conn)
        rep.pg_ctas_s, rep.pg_count_s, rep.pg_rows = pg_query(conn, rep.args.pg_repeat)
        rep.pg_query_s = min(rep.pg_ctas_s, rep.pg_count_s)
        rep.checks["GridIndex vs PostGIS"] = disagreements(
            ours, pg_answers(conn, len(x)), geom_of, x, y
        )


# ---------------------------------------------------------------------- in-process parts
def run_local(rep: Report, ids: np.ndarray, geoms: np.ndarray, x, y) -> np.ndarray:
    """Parts (a), (b), (d): GridIndex build and bulk lookup, STRtree, single-point latency."""
    rep.build_s, index = best_of(1, lambda: GridIndex(ids, geoms))
    rep.locate_many_s, ours = best_of(rep.args.repeat, lambda: index.locate_many(x, y))
    rep.index_mb = index.nbytes / 1e6
    rep.cell_m = index.cell_size * 111_320 * np.cos(np.radians(float(np.mean(y))))
    rep.boundary_share = index.boundary_share
    rep.exact_share = index.exact_share(x, y)
    pts = shapely.points(x, y)
    rep.tree_build_s, tree = best_of(1, lambda: shapely.STRtree(geoms))
    rep.tree_query_s, (pi, gi) = best_of(
        min(rep.args.repeat, 2), lambda: tree.query(pts, predicate="within")
    )
    strtree = np.full(len(x), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(strtree, pi, ids[gi])  # several hits (overlaps): smallest id, like ours
    strtree[strtree == np.iinfo(np.int64).max] = -1
    geom_of = dict(zip(ids.tolist(), geoms, strict=True))
    rep.checks["GridIndex vs STRtree"] = disagreements(ours, strtree, geom_of, x, y)
    single = [
        index.locate(a, b) for a, b in zip(x[:10_000].tolist(), y[:10_000].tolist(), strict=True)
    ]
    single_arr = np.array([-1 if s is None else s for s in single], dtype=np.int64)
    rep.checks["locate vs locate_many"] = (int((single_arr != ours[:10_000]).sum()),) * 2
    rep.single_median_us, rep.single_p99_us = single_latency(index, x, y)
    return ours


def single_latency(index: GridIndex, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Median and p99 of one locate() call over 10k points, in µs."""
    xs, ys = x[-10_000:].tolist(), y[-10_000:].tolist()
    times = []
    clock = time.perf_counter_ns
    for a, b in zip(xs, ys, strict=True):
        t = clock()
        index.locate(a, b)
        times.append(clock() - t)
    times.sort()
    return statistics.median(times) / 1e3, times[int(0.99 * (len(times) - 1))] / 1e3


# ---------------------------------------------------------------------- report
def machine() -> str:
    """nproc and CPU model."""
    model = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} × {model} ({platform.system()} {platform.release()})"


def table(rep: Report) -> str:
    """Markdown results table."""
    rows = [("GridIndex.locate_many", rep.locate_many_s), ("shapely STRtree.query(within)",
            rep.tree_query_s)]  # fmt: skip
    if rep.pg_query_s is not None:
        rows.append(("PostGIS ST_Contains join (GiST)", rep.pg_query_s))
    lines = [
        "| method | time (s) | points/s | vs PostGIS | vs STRtree |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, t in rows:
        vs_pg = f"{rep.pg_query_s / t:.1f}×" if rep.pg_query_s else "—"
        vs_tree = f"{rep.tree_query_s / t:.1f}×"
        lines.append(f"| {name} | {t:.3f} | {rep.n_points / t:,.0f} | {vs_pg} | {vs_tree} |")
    return "\n".join(lines)


def render(rep: Report, command: str) -> str:
    """The RESULTS.md section."""
    a = rep.args
    checks = "; ".join(
        f"{k}: {raw} mismatches, {hard} not on an edge" for k, (raw, hard) in rep.checks.items()
    )
    pg = (
        f"- PostGIS: {rep.pg_version}, max_parallel_workers_per_gather={rep.pg_workers}; load "
        f"(COPY + GiST + ANALYZE, not timed) {rep.pg_load_s:.1f} s; query `{QUERY}` "
        f"({rep.pg_rows:,} rows) as `CREATE TABLE res AS …` {rep.pg_ctas_s:.2f} s and as "
        f"`SELECT count(*) FROM (…)` {rep.pg_count_s:.2f} s, best of {a.pg_repeat} each; the "
        f"table uses the faster; plan: {rep.pg_plan}.\n"
        if rep.pg_query_s is not None
        else "- PostGIS: skipped (--no-pg).\n"
    )
    return (
        f"{SECTION}\n\n"
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; machine: {machine()}; "
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"shapely {shapely.__version__}.\n"
        f"- Command: `{command}`\n"
        f"- Data: seeded synthetic district, {rep.area_km2:.1f} km², {rep.n_grids:,} irregular "
        f"grids, {rep.n_points:,} points (~3% outside); generated in {rep.synth_s:.1f} s.\n"
        f"- GridIndex: build {rep.build_s:.2f} s, {rep.index_mb:.0f} MB of arrays, cell ≈ "
        f"{rep.cell_m:.1f} m; {rep.boundary_share:.1%} of cells are touched by a grid edge, "
        f"{rep.exact_share:.1%} of the points needed a GEOS test (the rest: one raster read, "
        f"or one orientation test in cells split by a single segment); locate_many best of "
        f"{a.repeat}.\n"
        f"- STRtree: build {rep.tree_build_s:.3f} s (not in the table), query on prebuilt "
        f"shapely Points (their creation not timed).\n"
        f"{pg}"
        f"- Single point `GridIndex.locate`: median {rep.single_median_us:.1f} µs, "
        f"p99 {rep.single_p99_us:.1f} µs over 10,000 calls.\n"
        f"- Agreement: {checks}.\n\n"
        f"{table(rep)}\n"
    )


def write_section(text: str) -> None:
    """Replace (or append) this benchmark's section in bench/RESULTS.md."""
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else HEADER
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = (
        pattern.sub(lambda _: text + "\n", old, count=1)
        if pattern.search(old)
        else old.rstrip("\n") + "\n\n" + text
    )
    RESULTS.write_text(new.rstrip("\n") + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    args = parse_args(argv)
    rep = Report(args)
    t = time.perf_counter()
    per_street = max(1, round(args.grids / 15 / 29))  # ~15 grids per community, 29 streets
    district = make_district(
        seed=args.seed, area_km2=args.area, n_streets=29, communities_per_street=per_street
    )
    grids = make_grids(district, n_grids=args.grids, seed=args.seed)
    x, y = random_points(district, args.points, args.seed)
    rep.synth_s = time.perf_counter() - t
    ids = np.arange(1, len(grids) + 1, dtype=np.int64) * 10  # non-contiguous ids on purpose
    geoms = np.array([g for _, g in grids], dtype=object)
    rep.n_points, rep.n_grids, rep.area_km2 = len(x), len(grids), district.area_km2
    ours = run_local(rep, ids, geoms, x, y)
    if not args.no_pg:
        geom_of = dict(zip(ids.tolist(), geoms, strict=True))
        run_postgis(rep, ids, geoms, x, y, ours, geom_of)
    command = "python bench/bench_locate.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    text = render(rep, command.strip())
    print(text)
    if not args.no_write:
        write_section(text)
    hard = sum(h for _, h in rep.checks.values())
    return 1 if hard else 0


if __name__ == "__main__":
    raise SystemExit(main())
