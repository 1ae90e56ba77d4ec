"""Benchmark: the component map of many counties, one worker within a memory budget (issue 20 item 4).

Usage:
    python bench/bench_map_counties.py [--counties 20 --per-county 300000 --active 10
        --budget-mb 200 --runs 30 --seed 7
        --pg postgresql://postgres@127.0.0.1:5432/wangge_bench_mapcounties --reuse --keep]

Builds (unless --reuse) a PostgreSQL+PostGIS database of `--counties` synthetic counties
(0.3° × 0.25° each, 5 a row; a county, a street and a community division each) with
`--per-county` point components each over the GB/T 30428.2 catalogue, written with one COPY
(no grids: the map reads lon/lat, class, state, community). Then it serves the app with one
uvicorn worker (`wangge serve`, WANGGE_MAP_SNAPSHOT_BUDGET_MB=--budget-mb), waits (at most
`--settle` seconds) until its start-up warm-up is done (grid indexes within half their budget,
every county's summary) and measures:

- the worker's RSS idle, after `--active` counties were served (views at zoom 13–17 in
  each, and the grid and address of its centre: `GET /api/v1/grids/locate` and
  `/api/v1/places/reverse` build the county's grid and place indexes where it has grids, as
  bench_province's), and at the end;
- per zoom 7…17, `--runs` requests of `GET /web/api/map/components` for a 1440×900 screen
  panned to a seeded place: zoom ≥ 12 inside the active counties, zoom ≤ 11 anywhere (the
  whole province on screen: clustered from the per-county summaries); median and p95 in ms;
  the first request of each zoom is reported apart when it loads (cold);
- in this process, one county's snapshot bytes, load time and summary bytes.

Figures are printed; the engineer copies them into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_components import machine
from bench_locate import admin_url
from bench_soak import process_tree, rss_mb
from serving import free_port, serve, wait_warmed

PASSWORD = "Bench-Counties-2026"
WIDTH, HEIGHT = 1440, 900
X0, Y0, DX, DY, PER_ROW = 115.0, 39.0, 0.3, 0.25, 5
COLUMNS = (
    "code, scheme, class_code, lon, lat, minx, miny, maxx, maxy, community_code, county_code, "
    "state, data_source, created_at, updated_at"
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--counties", type=int, default=20)
    p.add_argument("--per-county", type=int, default=300_000)
    p.add_argument("--active", type=int, default=10)
    p.add_argument("--budget-mb", type=float, default=200.0)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--settle", type=float, default=900.0, help="longest wait for the start-up warm-up (s)"
    )
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/wangge_bench_mapcounties")
    p.add_argument("--reuse", action="store_true", help="the database is already built")
    p.add_argument("--keep", action="store_true", help="do not drop the database")
    return p.parse_args(argv)


def county_code(i: int) -> str:
    return f"13{i // 20 + 1:02d}{i % 20 + 1:02d}"


def county_box(i: int) -> tuple[float, float, float, float]:
    x, y = X0 + DX * (i % PER_ROW), Y0 + DY * (i // PER_ROW)
    return (x, y, x + DX, y + DY)


# --------------------------------------------------------------------------- building


def build(url: str, args: argparse.Namespace) -> None:
    """Migrate, load the divisions, the components (COPY) and a bench admin."""
    from shapely.geometry import box

    from wangge.auth.service import assign_post, create_user, seed_roles
    from wangge.db import make_engine, session_factory
    from wangge.dbadmin import upgrade
    from wangge.divisions.service import DivisionIn, load_divisions

    engine = make_engine(url)
    upgrade(engine)
    with session_factory(engine)() as session:
        for i in range(args.counties):
            c, area = county_code(i), box(*county_box(i))
            rows = [DivisionIn(c, f"县{i}", area), DivisionIn(c + "001", f"街道{i}", area)]
            load_divisions(session, [*rows, DivisionIn(c + "001001", f"社区{i}", area)])
        seed_roles(session)
        admin = create_user(session, username="mapadmin", password=PASSWORD, display_name="省")
        assign_post(session, admin, "admin")
        session.commit()
    engine.dispose()
    t = time.perf_counter()
    with psycopg.connect(url) as conn:
        for i in range(args.counties):
            copy_county(conn, i, args)
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE components")
    n = args.counties * args.per_county
    print(f"loaded {n:,} components in {time.perf_counter() - t:.0f} s (COPY, not timed)")


def copy_county(conn: psycopg.Connection, i: int, args: argparse.Namespace) -> None:
    from wangge.registry.catalogue import DEFAULT_SCHEME, load_catalogue

    rng = np.random.default_rng(args.seed + i)
    classes = np.array([m.code for m in load_catalogue()], dtype="<U4")
    weights = np.where(np.char.startswith(classes, "01"), 4.0, 1.0)
    n, c = args.per_county, county_code(i)
    picked = classes[rng.choice(len(classes), size=n, p=weights / weights.sum())]
    x0, y0, x1, y1 = county_box(i)
    lon, lat = rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
    now = datetime.now(UTC).isoformat()
    lines = [
        f"{c}{k:010d}\t{DEFAULT_SCHEME}\t{cl}\t{x:.7f}\t{y:.7f}\t{x:.7f}\t{y:.7f}\t{x:.7f}\t"
        f"{y:.7f}\t{c}001001\t{c}\t{'破损' if k % 37 == 0 else '完好'}\t普查\t{now}\t{now}\n"
        for k, (cl, x, y) in enumerate(
            zip(picked.tolist(), lon.tolist(), lat.tolist(), strict=True)
        )
    ]
    with conn.cursor().copy(f"COPY components ({COLUMNS}) FROM STDIN") as copy:
        copy.write("".join(lines))


@contextmanager
def database(url: str, args: argparse.Namespace) -> Iterator[None]:
    admin, name = admin_url(url)
    if not args.reuse:
        with psycopg.connect(admin, autocommit=True) as a:
            a.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            a.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        build(url, args)
    try:
        yield
    finally:
        if not args.keep:
            with psycopg.connect(admin, autocommit=True) as a:
                a.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


# --------------------------------------------------------------------------- measuring


def in_process(url: str) -> dict[str, float]:
    """One county's snapshot and summary, measured in this process."""
    from sqlalchemy.orm import Session

    from wangge.db import make_engine
    from wangge.registry.map_snapshot import KINDS, load
    from wangge.registry.map_summary import summarize

    engine = make_engine(url)
    with Session(engine) as s:
        snap, _, took = load(s, KINDS["components"], county_code(0))
    t = time.perf_counter()
    summary = summarize(snap)
    engine.dispose()
    return {
        "rows": len(snap), "snapshot_mb": snap.nbytes / 2**20, "load_s": took,
        "summary_mb": summary.nbytes / 2**20, "summary_entries": len(summary.count),
        "summarize_ms": (time.perf_counter() - t) * 1000,
    }  # fmt: skip


def screen(lon: float, lat: float, zoom: int) -> str:
    """The bbox of a 1440×900 screen centred on a point at a zoom."""
    w = WIDTH * 360 / (256 * 2**zoom)
    h = HEIGHT * 360 / (256 * 2**zoom) * math.cos(math.radians(lat))
    return f"{lon - w / 2:.6f},{lat - h / 2:.6f},{lon + w / 2:.6f},{lat + h / 2:.6f}"


def centre(rng: np.random.Generator, zoom: int, area: tuple[float, ...]) -> tuple[float, float]:
    """A seeded centre whose screen stays inside `area` when it can."""
    x0, y0, x1, y1 = area
    w = WIDTH * 360 / (256 * 2**zoom) / 2
    h = HEIGHT * 360 / (256 * 2**zoom) * math.cos(math.radians(y0)) / 2
    lo_x, hi_x = (x0 + w, x1 - w) if x1 - x0 > 2 * w else ((x0 + x1) / 2,) * 2
    lo_y, hi_y = (y0 + h, y1 - h) if y1 - y0 > 2 * h else ((y0 + y1) / 2,) * 2
    return float(rng.uniform(lo_x, hi_x)), float(rng.uniform(lo_y, hi_y))


def worker_rss(server_pid: int) -> float:
    return max((rss_mb(p) or 0.0) for p in process_tree(server_pid))


def ask(client: httpx.Client, bbox: str, zoom: int) -> tuple[float, dict[str, Any]]:
    t = time.perf_counter()
    r = client.get("/web/api/map/components", params={"bbox": bbox, "zoom": zoom})
    r.raise_for_status()
    return (time.perf_counter() - t) * 1000, r.json()


def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    # JSON logs (the default): wait_warmed reads them
    env = {"WANGGE_MAP_SNAPSHOT_BUDGET_MB": str(args.budget_mb)}
    log = Path(tempfile.mkstemp(prefix="bench_map_counties_", suffix=".log")[1])
    proc = serve(url, 1, port, env=env, ready_path="/citizen", log=log)
    try:
        wait_warmed(log, 1, timeout=args.settle)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            r = client.post(
                "/api/v1/auth/login", json={"username": "mapadmin", "password": PASSWORD}
            )
            r.raise_for_status()
            return _phases(client, proc.pid, args)
    finally:
        stop_server(proc)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's group; SIGKILL it if it has not stopped within a minute (a
    background worker may be in the middle of a long round on a big database)."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)


def _phases(client: httpx.Client, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    out: dict[str, Any] = {"rss_idle": worker_rss(pid), "cold_county_ms": []}
    for i in range(args.active):  # serve each active county: the first request loads it
        x0, y0, x1, y1 = county_box(i)
        ms, _ = ask(client, screen((x0 + x1) / 2, (y0 + y1) / 2, 13), 13)
        out["cold_county_ms"].append(ms)
        where = {"lon": (x0 + x1) / 2, "lat": (y0 + y1) / 2}
        client.get("/api/v1/grids/locate", params=where).raise_for_status()
        client.get("/api/v1/places/reverse", params=where)  # 422 where the county has no grids
        for zoom in (14, 15, 16, 17):
            ask(client, screen(*centre(rng, zoom, county_box(i)), zoom), zoom)
    out["rss_active"] = worker_rss(pid)
    rows = args.active // PER_ROW or 1
    active = (X0, Y0, X0 + DX * min(args.active, PER_ROW), Y0 + DY * rows)
    province = (X0, Y0, X0 + DX * PER_ROW, Y0 + DY * math.ceil(args.counties / PER_ROW))
    out["zooms"] = {z: _zoom(client, rng, z, active if z >= 12 else province, args.runs)
                    for z in range(7, 18)}  # fmt: skip
    out["rss_end"] = worker_rss(pid)
    return out


def _zoom(
    client: httpx.Client, rng: np.random.Generator, zoom: int, area: tuple[float, ...], runs: int
) -> dict[str, Any]:
    first, body = ask(client, screen(*centre(rng, zoom, area), zoom), zoom)
    ms, modes, totals = [], set(), []
    for _ in range(runs):
        took, body = ask(client, screen(*centre(rng, zoom, area), zoom), zoom)
        ms.append(took)
        modes.add(body["mode"])
        totals.append(body["total"])
    p95 = sorted(ms)[max(0, math.ceil(0.95 * len(ms)) - 1)]
    return {
        "first": first, "median": statistics.median(ms), "p95": p95, "modes": sorted(modes),
        "total": int(statistics.median(totals)),
    }  # fmt: skip


def report(args: argparse.Namespace, one: dict[str, float], m: dict[str, Any]) -> None:
    print(f"machine: {machine()}")
    print(
        f"data: {args.counties} counties × {args.per_county:,} components; worker budget "
        f"{args.budget_mb:.0f} MB; {args.active} counties active"
    )
    print(
        f"one county: {one['rows']:,} rows, snapshot {one['snapshot_mb']:.1f} MB "
        f"({one['snapshot_mb'] * 2**20 / one['rows']:.0f} B/row), load {one['load_s']:.2f} s; "
        f"summary {one['summary_entries']:,} entries {one['summary_mb']:.2f} MB "
        f"({one['summarize_ms']:.0f} ms)"
    )
    cold = m["cold_county_ms"]
    print(f"first request of a county (load): median {statistics.median(cold):.0f} ms")
    print(
        f"worker RSS: idle {m['rss_idle']:.0f} MB, {args.active} counties active "
        f"{m['rss_active']:.0f} MB, end {m['rss_end']:.0f} MB"
    )
    print("zoom | mode | points in view (median) | first ms | median ms | p95 ms")
    for z, r in m["zooms"].items():
        print(
            f"{z} | {'/'.join(r['modes'])} | {r['total']:,} | {r['first']:.0f} | "
            f"{r['median']:.0f} | {r['p95']:.0f}"
        )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with database(args.pg, args):
        one = in_process(args.pg)
        report(args, one, measure(args.pg, args))


if __name__ == "__main__":
    main()
