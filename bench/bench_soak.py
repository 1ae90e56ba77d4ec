"""Soak: realistic case intake at half the measured maximum rate for a long time.

    python bench/bench_soak.py [--duration 1800 --workers 2 --threads 8 \
        --pg postgresql://postgres@127.0.0.1:5432/wangge_bench_soak]

Builds a fresh PostgreSQL+PostGIS database (a seeded synthetic district, categories, a grid
worker's bearer token), starts `wangge serve --workers N` on it, measures the maximum intake
rate with a closed Python load loop for `--calibrate` seconds, then posts reports at half that
rate (paced, open loop) for `--duration` seconds. Every `--sample` seconds it records the RSS
of each server process and the database's open connections; at the end it checks that the
database holds exactly the acknowledged reports, runs the integrity check, and writes the
"Soak (issue 8)" section of bench/RESULTS.md. No wrk needed: the load loop is httpx threads.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Soak (issue 8)"
sys.path.insert(0, str(ROOT / "src"))

from serving import free_port, serve  # noqa: E402
from wangge.auth import service as auth  # noqa: E402
from wangge.cases.categories import seed_categories  # noqa: E402
from wangge.cases.models import Case  # noqa: E402
from wangge.db import make_engine, normalize_url, session_factory, unit_of_work  # noqa: E402
from wangge.dbadmin import upgrade  # noqa: E402
from wangge.divisions.service import DivisionIn, load_divisions  # noqa: E402
from wangge.grids.service import GridIn, add_grids, new_version  # noqa: E402
from wangge.grids.versions import activate_version  # noqa: E402
from wangge.wiring import wire  # noqa: E402

wire()  # the cross-package hooks, as `wangge serve` and the CLI register them
from wangge.ops.integrity import check_database  # noqa: E402
from wangge.synthetic import make_district, make_grids, random_points  # noqa: E402

CATEGORIES = ["E0102", "E0103", "E0104", "E0505", "C0101", "C0118"]


def setup(url: str, grids: int, seed: int) -> tuple[str, list[tuple[float, float]]]:
    """Fresh database with a district, grids, categories and a token; return (token, points)."""
    u = make_url(normalize_url(url))
    admin = make_engine(u.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {u.database} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {u.database}"))
    admin.dispose()
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    upgrade(engine)
    district = make_district(seed=seed, area_km2=100.0, n_streets=8, communities_per_street=10)
    with unit_of_work(session_factory(engine)) as s:
        rows = [DivisionIn(district.county_code, district.county_name, district.outline)]
        for st in district.streets:
            rows.append(DivisionIn(st.code, st.name, st.geometry, district.county_code))
            rows += [DivisionIn(c.code, c.name, c.geometry, st.code) for c in st.communities]
        load_divisions(s, rows)
        version = new_version(s, district.county_code, "social", "soak")
        cells = make_grids(district, n_grids=grids, seed=seed)
        add_grids(
            s, version, [GridIn(kind="basic", geom=g, community_code=c) for c, g in cells], width=3
        )
        activate_version(s, version.id)
        seed_categories(s)
        auth.seed_roles(s)
        user = auth.create_user(
            s, username="soak-worker", password="Soak-Intake-2026", display_name="巡查员"
        )
        auth.assign_post(s, user, "supervisor", scope=district.county_code)
        token, _ = auth.issue_token(s, kind="bearer", name="soak", user=user, days=2)
    engine.dispose()
    lon, lat = random_points(district, 5000, seed=seed, outside_share=0.001)
    return token, list(zip(lon.tolist(), lat.tolist(), strict=True))


def process_tree(pid: int) -> list[int]:
    """Return pid and all its descendants (from /proc; no psutil needed)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return sorted(out)


def rss_mb(pid: int) -> float | None:
    """Return the resident set size of a process in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def role_of(pid: int, root: int) -> str:
    """Name a server process: the supervisor, a worker, or multiprocessing's helper."""
    if pid == root:
        return "supervisor"
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "?"
    return "resource tracker" if "resource_tracker" in cmd else "worker"


def pg_connections(url: str) -> int:
    """Return the open connections to the soak database (ours excluded)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid()"
                    )
                ).scalar()
            )
    finally:
        engine.dispose()


class LoadLoop:
    """httpx threads posting reports; paced to `rate` per second in total, or flat out."""

    def __init__(self, port: int, token: str, points: list[tuple[float, float]], threads: int):
        self.base = f"http://127.0.0.1:{port}"
        self.token = token
        self.points = points
        self.threads = threads
        self.statuses: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.acked = 0
        self.lock = threading.Lock()

    def run(self, seconds: float, rate: float | None, tag: str) -> float:
        """Run for `seconds`; return the achieved rate of acknowledged reports."""
        stop = time.monotonic() + seconds
        before = self.acked
        started = time.monotonic()
        workers = [
            threading.Thread(target=self._worker, args=(n, stop, rate, tag), daemon=True)
            for n in range(self.threads)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return (self.acked - before) / (time.monotonic() - started)

    def _worker(self, n: int, stop: float, rate: float | None, tag: str) -> None:
        interval = self.threads / rate if rate else 0.0
        next_at = time.monotonic() + (n * interval / self.threads if rate else 0)
        i = 0
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while time.monotonic() < stop:
                if rate:
                    delay = next_at - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    next_at += interval
                lon, lat = self.points[(n * 7919 + i) % len(self.points)]
                body = {
                    "category_code": CATEGORIES[i % len(CATEGORIES)],
                    "description": "路边有暴露垃圾，请处理",
                    "lon": lon,
                    "lat": lat,
                }
                headers = {
                    "Authorization": f"Bearer {self.token}",
                    "Idempotency-Key": f"{tag}-{n}-{i}",
                }
                t = time.perf_counter()
                try:
                    r = client.post("/api/v1/cases", json=body, headers=headers)
                    status = str(r.status_code)
                except httpx.HTTPError as exc:
                    status = exc.__class__.__name__
                elapsed = time.perf_counter() - t
                with self.lock:
                    self.statuses[status] += 1
                    if status in ("200", "201"):
                        self.acked += 1
                        self.latencies.append(elapsed)
                i += 1


def sample(server: subprocess.Popen[bytes], url: str) -> dict:
    """RSS of every server process and open database connections, now."""
    pids = process_tree(server.pid)
    return {
        "t": time.monotonic(),
        "rss": {p: rss_mb(p) for p in pids},
        "connections": pg_connections(url),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=1800.0)
    parser.add_argument("--calibrate", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--grids", type=int, default=2000)
    parser.add_argument("--sample", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=None, help="fixed rate instead of half")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/wangge_bench_soak")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args()

    url = normalize_url(args.pg)
    token, points = setup(url, args.grids, seed=8)
    port = free_port()
    server = serve(
        url, args.workers, port, env={"WANGGE_LOG_LEVEL": "WARNING"}, ready_path="/readyz"
    )
    loop = LoadLoop(port, token, points, args.threads)
    try:
        loop.run(3, None, "warm")
        max_rate = loop.run(args.calibrate, None, "max")
        rate = args.rate or max_rate / 2
        print(f"max {max_rate:.1f} reports/s; soaking at {rate:.1f}/s for {args.duration:.0f} s")
        loop.statuses.clear()
        loop.latencies.clear()
        acked_before = loop.acked
        samples = [sample(server, url)]
        done = threading.Event()

        def sampler() -> None:
            while not done.wait(args.sample):
                samples.append(sample(server, url))
                s = samples[-1]
                print(
                    f"  +{s['t'] - samples[0]['t']:.0f}s rss "
                    f"{sum(v or 0 for v in s['rss'].values()):.0f} MB, "
                    f"{s['connections']} connections, {loop.acked - acked_before} reports",
                    flush=True,
                )

        roles = {p: role_of(p, server.pid) for p in samples[0]["rss"]}
        threading.Thread(target=sampler, daemon=True).start()
        started = datetime.now(UTC)
        achieved = loop.run(args.duration, rate, "soak")
        done.set()
        samples.append(sample(server, url))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    engine = make_engine(url)
    with session_factory(engine)() as s:
        stored = s.scalar(select(func.count()).select_from(Case))
        integrity = check_database(s)
    engine.dispose()
    lat = np.array(loop.latencies) * 1000
    errors = {k: v for k, v in loop.statuses.items() if k not in ("200", "201")}
    result = {
        "started": started.isoformat(timespec="seconds"),
        "duration": args.duration,
        "max_rate": max_rate,
        "rate": rate,
        "achieved": achieved,
        "acked_soak": loop.acked - acked_before,
        "acked_total": loop.acked,
        "stored": stored,
        "errors": errors,
        "p50": float(np.percentile(lat, 50)) if len(lat) else 0.0,
        "p99": float(np.percentile(lat, 99)) if len(lat) else 0.0,
        "samples": samples,
        "integrity": integrity,
        "roles": roles,
    }
    text_ = report(args, result)
    print(text_)
    if not args.no_write:
        write_section(text_)


def report(args: argparse.Namespace, r: dict) -> str:
    """The markdown section for bench/RESULTS.md."""
    first, last = r["samples"][0], r["samples"][-1]
    rows = []
    for pid in sorted(set(first["rss"]) | set(last["rss"])):
        a, b = first["rss"].get(pid), last["rss"].get(pid)
        peak = max((s["rss"].get(pid) or 0) for s in r["samples"])
        role = r["roles"].get(pid, "?")
        fmt = lambda v: f"{v:.1f}" if v else "—"  # noqa: E731
        rows.append(f"| {pid} ({role}) | {fmt(a)} | {fmt(b)} | {fmt(peak)} |")
    conns = [s["connections"] for s in r["samples"]]
    minutes = r["duration"] / 60
    shortened = (
        ""
        if r["duration"] >= 1800
        else f"\n**Shortened run: {minutes:.0f} minutes instead of 30** (time available).\n"
    )
    return f"""{SECTION}

Command: `python bench/bench_soak.py --duration {r["duration"]:.0f} --workers {args.workers} \
--threads {args.threads} --grids {args.grids}` (started {r["started"]}).
{shortened}
Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python \
{platform.python_version()}; PostgreSQL 15 + PostGIS on the same machine; the load loop
(httpx threads, same machine) first runs flat out for {args.calibrate:.0f} s to find the maximum,
then posts at half of it, paced. `wangge serve --workers {args.workers}`, {args.grids} grids.

| | value |
|---|---|
| maximum intake (closed loop, {args.threads} threads) | {r["max_rate"]:.1f} reports/s |
| soak target (half) / achieved | {r["rate"]:.1f} / {r["achieved"]:.1f} reports/s |
| reports acknowledged during the soak | {r["acked_soak"]} |
| cases in the database / acknowledged in the whole run | {r["stored"]} / {r["acked_total"]} |
| errors (non-2xx or connection errors) | {sum(r["errors"].values())} {dict(r["errors"]) or ""} |
| latency p50 / p99 of acknowledged reports | {r["p50"]:.1f} / {r["p99"]:.1f} ms |
| open PostgreSQL connections at start / end / max | {conns[0]} / {conns[-1]} / {max(conns)} |
| `wangge check` afterwards | {"passed" if r["integrity"].ok else f"{len(r['integrity'].problems)} problems"} |

RSS of each server process (MB), sampled every {args.sample:.0f} s:

| process | start | end | peak |
|---|---|---|---|
{chr(10).join(rows)}
"""


def write_section(section: str) -> None:
    """Replace (or append) the soak section of RESULTS.md."""
    current = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if SECTION in current:
        head, rest = current.split(SECTION, 1)
        nxt = rest.find("\n## ")
        tail = rest[nxt + 1 :] if nxt >= 0 else ""
        current = head + section.rstrip() + "\n" + ("\n" + tail if tail else "")
    else:
        current = current.rstrip() + "\n\n" + section
    RESULTS.write_text(current)


if __name__ == "__main__":
    main()
