"""Replica lag under the intake load: how long a committed write takes to be readable on a
streaming replica while grid workers report at full speed (issue 20, goal: < 1 s).

    apt-get install wrk postgresql-15-postgis-3    # load generator; PostGIS in the clusters
    python bench/bench_replica_lag.py [--duration 60 --connections 32 --workers 2 --grids 9000]

Starts a private PostgreSQL 15 primary and a streaming replica of it (pg_basebackup -R, the
same helper the replica tests use: tests/servers.replicated_clusters), seeds the intake
benchmark's 海淀-scale district on the primary (bench_intake.setup), serves `wangge serve
--workers N` against the primary and loads POST /api/v1/cases with wrk (bench_intake.run_wrk).

Lag is measured as users meet it, end to end: every `--probe-ms` a probe commits a counter
on the primary and polls the replica (every 2 ms) until it reads that value; the time from
the primary's COMMIT returning to the replica showing the row is one lag sample. The same is
done with the servers idle before the load (the floor). The WAL bytes the replica had not
replayed yet are sampled at each probe too. Writes bench/RESULTS.md's "Replica lag" section
(--no-write: print only).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]

from tests.servers import replicated_clusters  # noqa: E402

from bench_intake import Endpoint, bench_points, run_wrk, setup, start, stop  # noqa: E402
from wangge.db import make_engine  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Replica lag under the intake load (issue 20)"
GOAL_S = 1.0


def heartbeat(url: str, replica_url: str) -> tuple[Engine, Engine]:
    """Create the probes' counter on the primary, wait until the replica has it; return
    engines on both."""
    primary = make_engine(url)
    with primary.begin() as conn:
        conn.execute(text("CREATE TABLE bench_heartbeat (id int PRIMARY KEY, n bigint)"))
        conn.execute(text("INSERT INTO bench_heartbeat VALUES (1, 0)"))
    replica = make_engine(replica_url)
    deadline = time.monotonic() + 60  # the new database reaches the replica
    while True:
        try:
            with replica.connect() as conn:
                conn.execute(text("SELECT n FROM bench_heartbeat")).one()
            return primary, replica
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def probe(primary: Engine, replica: Engine, timeout: float = 30.0) -> tuple[float, int]:
    """Commit a counter on the primary; return (seconds until the replica shows it, WAL bytes
    the replica had not replayed when the commit returned)."""
    with primary.begin() as conn:
        n = conn.execute(text("UPDATE bench_heartbeat SET n = n + 1 RETURNING n")).scalar_one()
        lsn = conn.execute(text("SELECT pg_current_wal_insert_lsn()::text")).scalar_one()
    committed = time.perf_counter()
    behind = -1
    with replica.connect() as conn:
        while True:
            seen, lag_bytes = conn.execute(
                text(
                    "SELECT (SELECT n FROM bench_heartbeat WHERE id = 1),"
                    " pg_wal_lsn_diff(CAST(:lsn AS pg_lsn), pg_last_wal_replay_lsn())"
                ),
                {"lsn": lsn},
            ).one()
            conn.rollback()
            if behind < 0:
                behind = max(0, int(lag_bytes or 0))
            if seen is not None and seen >= n:
                return time.perf_counter() - committed, behind
            if time.perf_counter() - committed > timeout:
                return timeout, behind
            time.sleep(0.002)


def sample(
    primary: Engine, replica: Engine, seconds: float, every: float
) -> list[tuple[float, int]]:
    out: list[tuple[float, int]] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        began = time.monotonic()
        out.append(probe(primary, replica))
        time.sleep(max(0.0, every - (time.monotonic() - began)))
    return out


def summary(samples: list[tuple[float, int]]) -> dict[str, float]:
    lags = sorted(s for s, _ in samples)
    q = statistics.quantiles(lags, n=100, method="inclusive") if len(lags) > 1 else lags * 99
    return {
        "n": len(lags),
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
        "max_ms": lags[-1] * 1000,
        "max_kb": max(b for _, b in samples) / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--duration", type=int, default=60, help="seconds of load")
    ap.add_argument("--idle", type=int, default=10, help="seconds of probes before the load")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--grids", type=int, default=9000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--probe-ms", type=int, default=100)
    ap.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    args = ap.parse_args()
    load_start = os.getloadavg()
    with replicated_clusters(durable=True) as (primary_cluster, replica_cluster):
        url = f"postgresql://postgres@127.0.0.1:{primary_cluster.port}/wangge_bench_lag"
        replica_url = f"postgresql://postgres@127.0.0.1:{replica_cluster.port}/wangge_bench_lag"
        token = setup(url, args.grids, args.seed)
        primary, replica = heartbeat(url, replica_url)
        every = args.probe_ms / 1000
        idle = sample(primary, replica, args.idle, every)
        ep = Endpoint("full", "full report", "/api/v1/cases", "cases", "description")
        workdir = Path(tempfile.mkdtemp(prefix="bench_lag_"))
        start(ep, url, args.workers, workdir)
        loaded: list[tuple[float, int]] = []
        try:
            run_wrk(ep, token, bench_points(args.seed), 3, 4, "warm", workdir)  # warm the caches
            probes = threading.Thread(
                target=lambda: loaded.extend(sample(primary, replica, args.duration, every))
            )
            probes.start()
            run, _ = run_wrk(
                ep, token, bench_points(args.seed), args.duration, args.connections, "load", workdir
            )
            probes.join()
        finally:
            stop(ep)
        primary.dispose()
        replica.dispose()
    load_after = os.getloadavg()
    a, b = summary(idle), summary(loaded)
    met = "met" if b["p99_ms"] < GOAL_S * 1000 else "NOT met"
    cmd = " ".join(["python bench/bench_replica_lag.py", *sys.argv[1:]])
    lines = [
        SECTION,
        "",
        f"Command: `{cmd}` — {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
        f"{load_start[0]:.1f} before, {load_after[0]:.1f} after.",
        "Private primary + streaming replica (pg_basebackup -R, asynchronous streaming; "
        "fsync and synchronous_commit on, as in production), `wangge serve --workers "
        f"{args.workers}` on the primary, wrk {args.connections} connections on POST "
        f"/api/v1/cases for {args.duration} s: {run.ok} reports ({run.rate:.0f}/s, p99 "
        f"{run.p99:.0f} ms). A probe every {args.probe_ms} ms commits on the primary and polls "
        "the replica until the row shows.",
        "",
        "| phase | probes | lag p50 | lag p99 | lag max | WAL not replayed (max) |",
        "|---|---|---|---|---|---|",
        f"| idle | {a['n']:.0f} | {a['p50_ms']:.1f} ms | {a['p99_ms']:.1f} ms | "
        f"{a['max_ms']:.1f} ms | {a['max_kb']:.0f} kB |",
        f"| under intake load | {b['n']:.0f} | {b['p50_ms']:.1f} ms | {b['p99_ms']:.1f} ms | "
        f"{b['max_ms']:.1f} ms | {b['max_kb']:.0f} kB |",
        "",
        f"Goal: replica lag < {GOAL_S:.0f} s under the intake load (p99): **{met}**.",
        "",
    ]
    text_out = "\n".join(lines)
    print(text_out)
    if not args.no_write:
        body = RESULTS.read_text(encoding="utf-8")
        if SECTION in body:
            head, rest = body.split(SECTION, 1)
            nxt = rest.find("\n## ")
            body = head + text_out + (rest[nxt + 1 :] if nxt >= 0 else "")
        else:
            body = body.rstrip("\n") + "\n\n" + text_out
        RESULTS.write_text(body, encoding="utf-8")


if __name__ == "__main__":
    main()
