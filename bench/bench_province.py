"""Benchmark: a seeded province on a primary and its streaming replica (issue 20 item 5).

    apt-get install wrk postgresql-15-postgis-3    # load generator; PostGIS in the clusters
    python bench/bench_province.py [--counties 100 --cases-per-county 100000
        --components-per-county 300000 --grids-per-county 5000 --seed 7 --month 2026-11
        --duration 60 --connections 32 --intake-workers 4 --active 10 --runs 30]

The defaults are the province of issue 20 (100 counties, 10 M cases with their events, 30 M
components, 500,000 grids); seeding that takes hours on 2 cores, so pass smaller sizes to
try it (e.g. `--counties 4 --cases-per-county 20000 --components-per-county 50000
--grids-per-county 500 --duration 20`).

Starts a private PostgreSQL 15 primary and a streaming replica of it (tests/servers
`replicated_clusters(durable=True)`, pg_basebackup -R) and seeds on the primary, the
replica following by streaming: per county (`bench_map_counties.county_code(i)`, one
0.3° × 0.25° box each) a synthetic district with its streets, communities and grids
(`bench_intake.seed_county`), twelve months of cases and events (`bench_evaluation.generate`,
one COPY, `copy_cases`), point components (`bench_map_counties.copy_county`), then the stored
facts and rollups (`bench_evaluation.ensure_facts`, what `wangge eval rebuild-facts --jobs 2`
runs). Seeding times are printed, not goals. Then it measures:

- the monthly evaluation (`evaluation.service.evaluate`) of one county and of the whole
  province in a session on the replica, best of 2 after a warm-up;
- the map (`bench_map_counties.measure`): one `wangge serve` worker, `--active` counties
  served, then `--runs` requests of GET /web/api/map/components per zoom 7…17; worker RSS;
- intake: `wangge serve --workers 4` on the primary with WANGGE_READ_DATABASE_URL on the
  replica, wrk `--connections` connections on POST /api/v1/cases for `--duration` s
  (`bench_intake.run_wrk`) while a probe measures the replica lag
  (`bench_replica_lag.sample`); req/s, p50/p99, the workers' RSS;
- the time `ops.partitions.ensure` takes to create next month's partitions;
- what else ran during the map and intake phases (`watching`): the machine's load, the
  primary's autovacuum workers and the checkpoints it wrote — a slow phase on a busy machine
  is told from a slow platform.

Prints a markdown section (it does not write bench/RESULTS.md). The clusters are removed
at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT), str(ROOT / "src")]

from tests.servers import replicated_clusters  # noqa: E402

from bench_components import machine  # noqa: E402
from bench_evaluation import copy_cases, ensure_facts, generate  # noqa: E402
from bench_intake import (  # noqa: E402
    Endpoint,
    RssSampler,
    bench_points,
    create_database,
    run_wrk,
    seed_county,
    start,
    stop,
    worker_token,
)
from bench_map_counties import PASSWORD, copy_county, county_box, county_code, measure  # noqa: E402
from bench_replica_lag import heartbeat, sample, summary  # noqa: E402
from serving import wait_warmed  # noqa: E402
from wangge.auth import service as auth  # noqa: E402
from wangge.cases.categories import seed_categories  # noqa: E402
from wangge.common.localtime import SHANGHAI  # noqa: E402
from wangge.db import make_engine, session_factory, unit_of_work  # noqa: E402
from wangge.evaluation import service  # noqa: E402
from wangge.evaluation.indicators import EvalConfig  # noqa: E402
from wangge.evaluation.periods import parse_period  # noqa: E402
from wangge.ops.partitions import ensure, local_today, month_start, next_month  # noqa: E402
from wangge.synthetic import SyntheticDistrict, make_district  # noqa: E402

DB = "wangge_bench_province"
GOAL_RSS_MB = 1024.0  # map worker with 10 counties active
GOAL_MAP_P95_MS = 100.0  # every zoom
GOAL_EVAL_S = 2.0  # one county's monthly evaluation on the replica
GOAL_LAG_S = 1.0  # replica lag p99 under the intake load


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--counties", type=int, default=100)
    p.add_argument("--cases-per-county", type=int, default=100_000)
    p.add_argument("--components-per-county", type=int, default=300_000)
    p.add_argument("--grids-per-county", type=int, default=5_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--month", default="2026-11", help="the month evaluated (cases: 12 months)")
    p.add_argument("--duration", type=int, default=60, help="seconds of intake load")
    p.add_argument("--idle", type=int, default=5, help="seconds of lag probes before the load")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--intake-workers", type=int, default=4)
    p.add_argument("--probe-ms", type=int, default=100)
    p.add_argument("--active", type=int, default=10, help="counties served on the map")
    p.add_argument("--runs", type=int, default=30, help="map requests per zoom")
    p.add_argument("--budget-mb", type=float, default=500.0, help="map snapshot budget")
    p.add_argument(
        "--settle", type=float, default=900.0, help="longest wait for the map worker's warm-up (s)"
    )
    return p.parse_args(argv)


# --------------------------------------------------------------------------- seeding


def district_of(i: int, seed: int) -> SyntheticDistrict:
    """County i's district inside its box: 10 streets × 20 communities (the community codes
    `bench_evaluation.generate` gives its cases)."""
    x0, y0, x1, y1 = county_box(i)
    return make_district(
        seed=seed + i, area_km2=400.0, n_streets=10, communities_per_street=20,
        center=((x0 + x1) / 2, (y0 + y1) / 2), county_code=county_code(i), county_name=f"县{i}",
    )  # fmt: skip


def seed_divisions(engine: Engine, args: argparse.Namespace) -> tuple[str, list[str]]:
    """Every county's divisions and grids, categories, a grid worker of county 0 (its token)
    and the map's admin; return the token and the category codes."""
    factory = session_factory(engine)
    for i in range(args.counties):  # one transaction per county: the session stays small
        with unit_of_work(factory) as s:
            seed_county(s, district_of(i, args.seed), args.grids_per_county, args.seed + i)
    with unit_of_work(factory) as s:
        seed_categories(s)
        auth.seed_roles(s)
        token = worker_token(s, county_code(0))
        admin = auth.create_user(s, username="mapadmin", password=PASSWORD, display_name="省")
        auth.assign_post(s, admin, "admin")
        categories = [r[0] for r in s.execute(text("SELECT code FROM case_categories"))]
    return token, categories


def seed_cases(url: str, args: argparse.Namespace, categories: list[str]) -> int:
    """Twelve months of cases and events per county (COPY); return the event count."""
    period = parse_period(args.month)
    end = period.end.timestamp()
    start_at, n = end - 365 * 86400, args.cases_per_county
    batches = [
        generate(n, args.seed + i, start_at, end, categories, county_code(i), base=i * n)
        for i in range(args.counties)
    ]
    return copy_cases(url, batches)


def seed_components(url: str, args: argparse.Namespace) -> None:
    each = argparse.Namespace(per_county=args.components_per_county, seed=args.seed)
    with psycopg.connect(url) as conn:
        for i in range(args.counties):
            copy_county(conn, i, each)
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE components")


def partition_months(engine: Engine, args: argparse.Namespace) -> None:
    """Give the months the cases fall in their partitions before the COPY: rows of a month
    without one land in the default partition, and the next `ensure` moves them one month at
    a time (stop 31's first run: minutes for 8.4 M events, timed as "next month's
    partitions")."""
    first = month_start(parse_period(args.month).end.astimezone(SHANGHAI).date() - timedelta(366))
    with engine.begin() as conn:
        ensure(conn, today=first, ahead=13)


def seed(url: str, args: argparse.Namespace) -> tuple[str, dict[str, float]]:
    """Seed the province on the primary; return the worker's token and the step times."""
    took: dict[str, float] = {}
    engine = create_database(url)
    t = time.perf_counter()
    token, categories = seed_divisions(engine, args)
    took["grids"] = time.perf_counter() - t
    t = time.perf_counter()
    partition_months(engine, args)
    took["events"] = seed_cases(url, args, categories)
    took["cases"] = time.perf_counter() - t
    t = time.perf_counter()
    seed_components(url, args)
    took["components"] = time.perf_counter() - t
    ns = argparse.Namespace(pg=url, rebuild=False, rollups_alone=False)
    facts = ensure_facts(ns, engine, int(took["events"]))
    took["facts"], took["stale"] = facts["rebuild"], facts["stale"]
    engine.dispose()
    for step in ("grids", "cases", "components", "facts"):
        print(f"seeded {step} in {took[step]:.1f} s", flush=True)
    return token, took


# --------------------------------------------------------------------------- measuring


@contextmanager
def watching(url: str, into: dict[str, Any], every: float = 1.0) -> Iterator[None]:
    """Record what else ran during a phase: the machine's load (1-min average, highest seen),
    the primary's autovacuum workers (most at once) and the checkpoints it wrote (started,
    buffers) — so a phase's slow answers can be told from a busy machine."""
    halt = threading.Event()
    seen = {"load": 0.0, "autovacuum": 0}

    def checkpoints(conn: psycopg.Connection[Any]) -> tuple[int, int]:
        row = conn.execute(
            "SELECT checkpoints_timed + checkpoints_req, buffers_checkpoint FROM pg_stat_bgwriter"
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def watch(conn: psycopg.Connection[Any]) -> None:
        while not halt.is_set():
            seen["load"] = max(seen["load"], os.getloadavg()[0])
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
            ).fetchone()
            seen["autovacuum"] = max(seen["autovacuum"], int(row[0]) if row else 0)
            halt.wait(every)

    with psycopg.connect(url, autocommit=True) as conn:
        first = checkpoints(conn)
        thread = threading.Thread(target=watch, args=(conn,), daemon=True)
        thread.start()
        try:
            yield
        finally:
            halt.set()
            thread.join()
            last = checkpoints(conn)
    into.update(seen, checkpoints=last[0] - first[0], buffers=last[1] - first[1])


def background_line(name: str, b: dict[str, Any]) -> str:
    return (
        f"| {name} | {b['load']:.1f} | {b['autovacuum']} | {b['checkpoints']} | "
        f"{b['buffers'] * 8 / 1024:.0f} MB |"
    )


def evaluations(replica_url: str, args: argparse.Namespace) -> dict[str, float]:
    """Seconds of the month's evaluation of county 0 and of the province, on the replica."""
    engine = make_engine(replica_url)
    factory, period, cfg = session_factory(engine), parse_period(args.month), EvalConfig()

    def best(county: str | None) -> float:
        times = []
        for _ in range(3):
            with factory() as s:
                t = time.perf_counter()
                service.evaluate(s, period, county=county, cfg=cfg)
                times.append(time.perf_counter() - t)
        return min(times[1:])

    out = {"county": best(county_code(0)), "province": best(None)}
    engine.dispose()
    return out


def map_figures(url: str, args: argparse.Namespace) -> dict[str, Any]:
    ns = argparse.Namespace(
        budget_mb=args.budget_mb, settle=args.settle, active=min(args.active, args.counties),
        seed=args.seed, counties=args.counties, runs=args.runs,
    )  # fmt: skip
    return measure(url, ns)


def intake(
    urls: tuple[str, str], engines: tuple[Engine, Engine], token: str, args: argparse.Namespace
) -> dict[str, Any]:
    """The intake load on the primary with the lag probes running; its figures."""
    (url, replica_url), (primary, replica) = urls, engines
    every = args.probe_ms / 1000
    out: dict[str, Any] = {"idle": summary(sample(primary, replica, args.idle, every))}
    ep = Endpoint("full", "full report", "/api/v1/cases", "cases", "description")
    workdir = Path(tempfile.mkdtemp(prefix="bench_province_"))
    sampler = RssSampler()
    sampler.start()
    start(ep, url, args.intake_workers, workdir, {"WANGGE_READ_DATABASE_URL": replica_url})
    assert ep.proc is not None and ep.log is not None
    sampler.roots[ep.key] = ep.proc.pid
    wait_warmed(ep.log, args.intake_workers)
    loaded: list[tuple[float, int]] = []
    try:
        points = bench_points(args.seed, district_of(0, args.seed))
        run_wrk(ep, token, points, 3, 4, "warm", workdir)  # warm the caches
        t0 = time.time()
        probes = threading.Thread(
            target=lambda: loaded.extend(sample(primary, replica, args.duration, every))
        )
        probes.start()
        out["run"], _ = run_wrk(ep, token, points, args.duration, args.connections, "load", workdir)
        probes.join()
        out["rss"] = sampler.window(ep.key, t0, time.time())
    finally:
        stop(ep)
        sampler.halt.set()
    out["loaded"] = summary(loaded)
    return out


def partitions_time(url: str) -> tuple[float, list[str]]:
    """Create the partitions the monthly round adds when the next month begins."""
    engine = make_engine(url)
    with engine.begin() as conn:
        t = time.perf_counter()
        created = ensure(conn, today=next_month(month_start(local_today())))
        took = time.perf_counter() - t
    engine.dispose()
    return took, created


# --------------------------------------------------------------------------- report


def _met(ok: bool) -> str:
    return "**met**" if ok else "**NOT met**"


def _per_million(seconds: float, rows: float) -> str:
    return f"{seconds:.1f} s ({seconds * 1e6 / rows:.0f} s per million rows)" if rows else "-"


def seeding_lines(args: argparse.Namespace, took: dict[str, float]) -> list[str]:
    n_cases = args.counties * args.cases_per_county
    n_comp = args.counties * args.components_per_county
    n_grids = args.counties * args.grids_per_county
    return [
        "| step | rows | time |",
        "|---|---:|---:|",
        f"| divisions + grids (`seed_county`) | {n_grids:,} grids | {took['grids']:.1f} s "
        f"({took['grids'] * 1000 / n_grids:.1f} s per 1,000 grids) |",
        f"| cases + events (COPY) | {n_cases:,} + {took['events']:,.0f} | "
        f"{_per_million(took['cases'], n_cases + took['events'])} |",
        f"| components (COPY) | {n_comp:,} | {_per_million(took['components'], n_comp)} |",
        f"| facts + rollups (`rebuild-facts --jobs 2`) | {took['events']:,.0f} events | "
        f"{_per_million(took['facts'], took['events'])} |",
        "",
        f"Sampled facts that differ from the Python reference: {took['stale']:.0f}.",
    ]


def map_lines(m: dict[str, Any], active: int, budget: float) -> list[str]:
    lines = [
        f"Snapshot budget {budget:.0f} MB. Map worker RSS: idle {m['rss_idle']:.0f} MB, {active} counties active "
        f"{m['rss_active']:.0f} MB, end {m['rss_end']:.0f} MB.",
        "",
        "| zoom | mode | points in view (median) | first ms | median ms | p95 ms |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for z, r in m["zooms"].items():
        lines.append(
            f"| {z} | {'/'.join(r['modes'])} | {r['total']:,} | {r['first']:.0f} | "
            f"{r['median']:.0f} | {r['p95']:.0f} |"
        )
    return lines


def intake_lines(i: dict[str, Any], args: argparse.Namespace) -> list[str]:
    run, a, b = i["run"], i["idle"], i["loaded"]
    rss = ", ".join(f"{peak:.0f}" for peak, _, _ in i["rss"].values())
    return [
        f"`wangge serve --workers {args.intake_workers}` on the primary "
        "(WANGGE_READ_DATABASE_URL = the replica), wrk "
        f"{args.connections} connections on POST /api/v1/cases for {args.duration} s: "
        f"{run.ok:,} reports ({run.rate:.0f}/s), p50 {run.p50:.0f} ms, p99 {run.p99:.0f} ms, "
        f"{run.other} other answers {run.codes or ''}, {run.socket_errors} socket errors; "
        f"worker RSS peaks {rss} MB.",
        "",
        "| phase | probes | lag p50 | lag p99 | lag max | WAL not replayed (max) |",
        "|---|---:|---:|---:|---:|---:|",
        f"| idle | {a['n']:.0f} | {a['p50_ms']:.1f} ms | {a['p99_ms']:.1f} ms | "
        f"{a['max_ms']:.1f} ms | {a['max_kb']:.0f} kB |",
        f"| under intake load | {b['n']:.0f} | {b['p50_ms']:.1f} ms | {b['p99_ms']:.1f} ms | "
        f"{b['max_ms']:.1f} ms | {b['max_kb']:.0f} kB |",
    ]


def goal_lines(r: dict[str, Any], active: int) -> list[str]:
    worst = max(z["p95"] for z in r["map"]["zooms"].values())
    return [
        f"- worker RSS < {GOAL_RSS_MB:.0f} MB with {active} counties active: "
        f"{r['map']['rss_active']:.0f} MB, {_met(r['map']['rss_active'] < GOAL_RSS_MB)}",
        f"- map p95 < {GOAL_MAP_P95_MS:.0f} ms at every zoom: worst {worst:.0f} ms, "
        f"{_met(worst < GOAL_MAP_P95_MS)}",
        f"- a county's monthly evaluation on the replica < {GOAL_EVAL_S:.0f} s: "
        f"{r['eval']['county']:.3f} s, {_met(r['eval']['county'] < GOAL_EVAL_S)}",
        f"- replica lag < {GOAL_LAG_S:.0f} s under the intake load (p99): "
        f"{r['intake']['loaded']['p99_ms']:.0f} ms, "
        f"{_met(r['intake']['loaded']['p99_ms'] < GOAL_LAG_S * 1000)}",
    ]


def report(args: argparse.Namespace, r: dict[str, Any]) -> str:
    active = min(args.active, args.counties)
    cmd = " ".join(["python bench/bench_province.py", *sys.argv[1:]])
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    part_s, created = r["partitions"]
    lines = [
        "## Province benchmark (issue 20 item 5)",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; machine: {machine()}, "
        f"load average at the end (1/5/15 min): {load}.",
        f"- Command: `{cmd}`",
        f"- Sizes: {args.counties} counties × {args.cases_per_county:,} cases, "
        f"{args.components_per_county:,} components, {args.grids_per_county:,} grids; "
        "private PostgreSQL 15 primary + streaming replica (durable); database "
        f"{r['size_gb']:.2f} GB on each.",
        "",
        "### Seeding (not goals)",
        "",
        *seeding_lines(args, r["took"]),
        "",
        f"### Monthly evaluation {args.month} on the replica",
        "",
        "| scope | time (s) |",
        "|---|---:|",
        f"| county {county_code(0)} | {r['eval']['county']:.3f} |",
        f"| province ({args.counties} counties) | {r['eval']['province']:.3f} |",
        "",
        "### Map clusters per zoom (one worker)",
        "",
        *map_lines(r["map"], active, args.budget_mb),
        "",
        "### Intake and replica lag",
        "",
        *intake_lines(r["intake"], args),
        "",
        "### What else ran during the measurements",
        "",
        "| phase | load (1 min, highest) | autovacuum workers (most) | checkpoints | "
        "written by them |",
        "|---|---:|---:|---:|---:|",
        *(background_line(k, v) for k, v in r["background"].items()),
        "",
        "### Next month's partitions",
        "",
        f"`ops.partitions.ensure` as the next month begins: {part_s * 1000:.0f} ms, created "
        f"{', '.join(created) or 'none'}.",
        "",
        "### Goals",
        "",
        *goal_lines(r, active),
        "",
    ]
    return "\n".join(lines)


@contextmanager
def province() -> Iterator[tuple[str, str]]:
    """The URLs of the province database on a private primary and on its replica."""
    with replicated_clusters(durable=True) as (primary, replica):
        base = "postgresql://postgres@127.0.0.1:{}/" + DB
        yield base.format(primary.port), base.format(replica.port)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    r: dict[str, Any] = {}
    with province() as (url, replica_url):
        token, r["took"] = seed(url, args)
        primary, replica = heartbeat(url, replica_url)  # the replica has caught up
        r["eval"] = evaluations(replica_url, args)
        print(f"evaluation on the replica: {r['eval']}", flush=True)
        r["background"] = {"map": {}, "intake": {}}
        with watching(url, r["background"]["map"]):
            r["map"] = map_figures(url, args)
        print("map measured", flush=True)
        with watching(url, r["background"]["intake"]):
            r["intake"] = intake((url, replica_url), (primary, replica), token, args)
        r["partitions"] = partitions_time(url)
        with primary.connect() as conn:
            size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            r["size_gb"] = size / 2**30
        primary.dispose()
        replica.dispose()
    print(report(args, r))


if __name__ == "__main__":
    main()
