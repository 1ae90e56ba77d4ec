"""Intake under load: the full case report against two bare insert endpoints, served as in production.

    apt-get install wrk           # the load generator (C, so it leaves the cores to the server)
    pip install -e '.[bench]'     # asyncpg, for the bare FastAPI + asyncpg endpoint
    python bench/bench_intake.py [--duration 60 --cold-duration 20 --connections-list 1,8,32 \
        --connections 32 --workers 2 --pg postgresql://postgres@127.0.0.1:5432/wangge_bench_intake]

Builds a fresh PostgreSQL+PostGIS database (or, with --reuse, takes the one an earlier run
built) with a seeded 海淀-scale district (~9,000 grids), categories and a grid worker's bearer
token. Three endpoints, each on its own server started the production way (uvicorn,
`--workers N`), are measured in the same run:

- asyncpg bare: bench/bare_asyncpg.py, FastAPI + an asyncpg pool, parse the JSON, one INSERT
  (the ceiling of the stack);
- project bare: `wangge serve`'s /api/v1/_bench/bare (src/wangge/api/bench_views.py: parse
  the JSON, one INSERT through SQLAlchemy in the thread pool);
- full report: `wangge serve`'s POST /api/v1/cases as the grid worker (validation, token,
  grid lookup, category and routing, case + event + reporter rows, audit).

Cold start: each server is started (fresh processes) and, as soon as its port accepts
connections, wrk loads it with `--connections` connections for `--cold-duration` seconds; the
time of the first 201 is taken in wrk's Lua `response` hook (CLOCK_REALTIME through LuaJIT's
ffi) and given from the spawn and from the start of the load. The servers stay up, warm.
Warm: for each count in `--connections-list`, each endpoint in turn (the order rotates from
one count to the next) is loaded for `--duration` seconds.

Every request carries a unique marker, in its body and as X-Request-ID, which both the
project's middleware and the asyncpg app echo; wrk keeps the markers of the 201 answers, and
after each run (once the table is quiet) the markers of the rows the run stored are read back:
lost = a 201 whose row is missing, duplicated = a marker stored twice. Worker RSS: VmRSS and
VmHWM of every uvicorn worker (children of each server process) every ~100 ms. Writes
bench/RESULTS.md's intake section (--no-write: print only).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib.metadata import version as pkg_version
from itertools import pairwise
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "RESULTS.md"
SECTION = "## Intake under load (issues 5 and 15)"
OLD_SECTIONS = ("## Intake at scale (issue 5)", SECTION)
sys.path.insert(0, str(ROOT / "src"))

from serving import free_port  # noqa: E402
from wangge.auth import service as auth  # noqa: E402
from wangge.cases.categories import seed_categories  # noqa: E402
from wangge.db import make_engine, normalize_url, session_factory, unit_of_work  # noqa: E402
from wangge.dbadmin import upgrade  # noqa: E402
from wangge.divisions.service import DivisionIn, load_divisions  # noqa: E402
from wangge.grids.service import GridIn, add_grids, new_version  # noqa: E402
from wangge.grids.versions import activate_version  # noqa: E402
from wangge.wiring import wire  # noqa: E402

wire()  # the cross-package hooks, as `wangge serve` and the CLI register them
from wangge.synthetic import (  # noqa: E402
    SyntheticDistrict,
    make_district,
    make_grids,
    random_points,
)

# The goals of issue 15, at the reference connection count (--connections).
GOAL_RATIO = 0.40  # full report req/s ≥ 40% of the asyncpg bare endpoint's
GOAL_P99_MS = 250.0  # full report p99
GOAL_FIRST_S = 5.0  # cold start: first report answered (from the spawn of the server)
GOAL_RSS_MB = 500.0  # cold start: worker RSS peak

CATEGORIES = ["E0102", "E0103", "E0104", "E0505", "E0506", "E0507", "C0101", "C0118", "C0305"]
LUA = r"""
local has_ffi, ffi = pcall(require, "ffi")
local now
if has_ffi then
  ffi.cdef[[
    typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
    int clock_gettime(int clk_id, bench_timespec *tp);
  ]]
  local ts = ffi.new("bench_timespec")
  now = function()
    ffi.C.clock_gettime(0, ts)  -- CLOCK_REALTIME, comparable with Python's time.time()
    return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
  end
else
  now = os.time
end
local points = {%(points)s}
local cats = {%(cats)s}
local token = "%(token)s"
local threads = {}
thread_no, counter, ok, other, first201 = 0, 0, 0, 0, 0
acked, codes = {}, {}
setup = function(thread)
  table.insert(threads, thread)
  thread:set("thread_no", #threads)
end
request = function()
  counter = counter + 1
  local marker = string.format("%(tag)s.%%d.%%d", thread_no, counter)
  local p = points[(counter %% #points) + 1]
  local c = cats[(counter %% #cats) + 1]
  local body = string.format('{"category_code":"%%s","description":"巡查发现问题 #%%s","lon":%%.6f,"lat":%%.6f}',
                             c, marker, p[1], p[2])
  return wrk.format("POST", "%(path)s", {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token, ["X-Request-ID"] = marker}, body)
end
response = function(status, headers, body)
  if status == 201 then
    ok = ok + 1
    if first201 == 0 then first201 = now() end
    acked[#acked + 1] = headers["x-request-id"] or headers["X-Request-ID"] or "?"
  else
    other = other + 1
    codes[status] = (codes[status] or 0) + 1
  end
end
done = function(summary, latency, requests)
  local o, x, f = 0, 0, 0
  local all_codes = {}
  local out = assert(io.open("%(acked)s", "w"))
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    x = x + t:get("other")
    local t201 = t:get("first201")
    if t201 > 0 and (f == 0 or t201 < f) then f = t201 end
    for s, n in pairs(t:get("codes")) do all_codes[s] = (all_codes[s] or 0) + n end
    for _, m in ipairs(t:get("acked")) do out:write(m, "\n") end
  end
  out:close()
  local e = summary.errors
  io.write(string.format(
    "RESULT ok=%%d other=%%d first201=%%.6f duration_us=%%d requests=%%d connect=%%d read=%%d " ..
    "write=%%d status=%%d timeout=%%d p50=%%d p90=%%d p99=%%d max=%%d\n",
    o, x, f, summary.duration, summary.requests, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
  for s, n in pairs(all_codes) do io.write(string.format("CODE %%d %%d\n", s, n)) end
end
"""


@dataclass
class Endpoint:
    """One endpoint on its own server: how to start it and where its rows go."""

    key: str
    label: str
    path: str
    table: str
    marker_column: str  # text column holding the request's marker ("#tag.thread.n")
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    spawned: float = 0.0
    listening: float = 0.0
    log: Path | None = None


@dataclass
class Run:
    """What one wrk run saw and what the database holds for it."""

    endpoint: str
    tag: str  # the prefix of its markers
    phase: str  # "cold" or "warm"
    connections: int
    seconds: float
    ok: int
    other: int
    codes: dict[int, int]
    errors: dict[str, int]
    p50: float
    p90: float
    p99: float
    max: float
    first201: float | None  # epoch seconds
    started: float  # epoch seconds, wrk launched
    ended: float
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    unacked_stored: int = 0  # committed, answer not seen by wrk (in flight when it stopped)
    unmatched: int = 0  # 201 answers without the echoed marker
    rss: dict[int, tuple[float, float, float]] = field(default_factory=dict)  # pid: peak, end, hwm
    worker_cpu: list[float] = field(default_factory=list)  # CPU seconds of each worker in the run
    pg_cpu: float = 0.0  # CPU seconds of the PostgreSQL processes in the run

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def socket_errors(self) -> int:
        return sum(v for k, v in self.errors.items() if k != "status")


# --- database ------------------------------------------------------------------------------


def setup(url: str, grids: int, seed: int) -> str:
    """Fresh database with the district, grids, categories and a token; return the token."""
    engine = create_database(url)
    t0 = time.perf_counter()
    district = make_district(seed=seed, area_km2=430.0, n_streets=29, communities_per_street=21)
    with unit_of_work(session_factory(engine)) as s:
        n_divisions = seed_county(s, district, grids, seed)
        seed_categories(s)
        auth.seed_roles(s)
        token = worker_token(s, district.county_code)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_intake_meta (token text, grids int, seed int)"))
        conn.execute(
            text("INSERT INTO bench_intake_meta VALUES (:t, :g, :s)"),
            {"t": token, "g": grids, "s": seed},
        )
    print(f"setup: {n_divisions} divisions, {grids} grids in {time.perf_counter() - t0:.1f} s")
    engine.dispose()
    return token


def create_database(url: str) -> Engine:
    """Drop and create the database, migrate it to head with the bare endpoints' tables."""
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
    with engine.begin() as conn:
        for table in ("bench_bare", "bench_bare_asyncpg"):
            conn.execute(
                text(f"CREATE TABLE {table} (id bigserial PRIMARY KEY, payload text NOT NULL)")
            )
    return engine


def seed_county(s: Session, district: SyntheticDistrict, grids: int, seed: int) -> int:
    """Load a district's divisions and ~`grids` grids as its active version; return the
    number of divisions."""
    rows = [DivisionIn(district.county_code, district.county_name, district.outline)]
    for st in district.streets:
        rows.append(DivisionIn(st.code, st.name, st.geometry, district.county_code))
        rows += [DivisionIn(c.code, c.name, c.geometry, st.code) for c in st.communities]
    load_divisions(s, rows)
    version = new_version(s, district.county_code, "social", "bench")
    add_grids(
        s,
        version,
        [
            GridIn(kind="basic", geom=g, community_code=c)
            for c, g in make_grids(district, n_grids=grids, seed=seed)
        ],
        width=3,
    )
    activate_version(s, version.id)
    return len(rows)


def worker_token(s: Session, county: str) -> str:
    """A grid worker (supervisor) of `county` and a one-day bearer token of theirs."""
    user = auth.create_user(
        s, username="bench-worker", password="Bench-Intake-2026", display_name="巡查员"
    )
    auth.assign_post(s, user, "supervisor", scope=county)
    token, _ = auth.issue_token(s, kind="bearer", name="bench", user=user, days=1)
    return token


def reused_token(url: str, grids: int, seed: int) -> str | None:
    """The token of a database an earlier run seeded with the same grids and seed, if any."""
    try:
        engine = make_engine(url)
        with engine.connect() as conn:
            row = conn.execute(text("SELECT token, grids, seed FROM bench_intake_meta")).first()
        engine.dispose()
    except Exception:  # no such database or table: seed a new one
        return None
    if row is None or (row.grids, row.seed) != (grids, seed):
        return None
    return str(row.token)


def bench_points(seed: int, district: SyntheticDistrict | None = None) -> list[tuple[float, float]]:
    """Seeded report positions in the district (0.1% just outside it: 422, no grid)."""
    if district is None:
        district = make_district(seed=seed, area_km2=430.0, n_streets=29, communities_per_street=21)
    lon, lat = random_points(district, 5000, seed=seed, outside_share=0.001)
    return list(zip(lon.tolist(), lat.tolist(), strict=True))


def max_id(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one())


def settle(engine: Engine, table: str, timeout: float = 20.0) -> None:
    """Wait until the server has finished what it still had in hand (the table stops growing)."""
    deadline = time.monotonic() + timeout
    last, quiet = -1, 0
    while time.monotonic() < deadline and quiet < 4:
        now = max_id(engine, table)
        quiet = quiet + 1 if now == last else 0
        last = now
        time.sleep(0.25)


def check_rows(engine: Engine, ep: Endpoint, run: Run, before: int, acked: list[str]) -> None:
    """Match the run's acknowledged markers with the markers of the rows it stored."""
    settle(engine, ep.table)
    with engine.connect() as conn:
        # Rows of this run only: a late row of the previous run (its answer unseen) is skipped.
        stored = Counter(
            m
            for (m,) in conn.execute(
                text(
                    f"SELECT substring({ep.marker_column} from '#([A-Za-z0-9.]+)') "
                    f"FROM {ep.table} WHERE id > :b"
                ),
                {"b": before},
            )
            if m and m.startswith(run.tag + ".")
        )
    matched = [m for m in acked if m != "?"]
    run.unmatched = len(acked) - len(matched)
    run.stored = sum(stored.values())
    run.duplicated = sum(n - 1 for n in stored.values() if n > 1)
    run.lost = sum(1 for m in set(matched) if m not in stored)
    run.unacked_stored = len(set(stored) - set(matched))


# --- servers -------------------------------------------------------------------------------


def start(
    ep: Endpoint, url: str, workers: int, logdir: Path, extra: dict[str, str] | None = None
) -> None:
    """Spawn the endpoint's server (fresh processes) and return once its port accepts;
    `extra`: more environment for it (e.g. WANGGE_READ_DATABASE_URL)."""
    ep.port = free_port()
    common = ["--host", "127.0.0.1", "--port", str(ep.port), "--workers", str(workers)]
    if ep.key == "asyncpg":
        # Served like `wangge serve` (each worker on its own SO_REUSEPORT socket, 60 s for the
        # health check), so the ceiling gets the same even spread of connections.
        run = (
            f"import sys; sys.path.insert(0, {str(BENCH)!r}); from wangge.ops.workers import "
            f"serve; serve('bare_asyncpg:app', factory=False, host='127.0.0.1', port={ep.port}, "
            f"workers={workers}, timeout_worker_healthcheck=60)"
        )
        cmd = [sys.executable, "-c", run] if workers > 1 else [
            sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH), "bare_asyncpg:app", *common
        ]  # fmt: skip
        env = {"BENCH_PG_DSN": url}
    else:
        cmd = [str(Path(sys.executable).parent / "wangge"), "serve", *common]
        env = {"WANGGE_DATABASE_URL": url, "WANGGE_BENCH_ENDPOINTS": "true"}
    ep.log = logdir / f"server-{ep.key}.log"
    with ep.log.open("wb") as log:
        ep.spawned = time.time()
        ep.proc = subprocess.Popen(
            cmd,
            env={**os.environ, **env, **(extra or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if ep.proc.poll() is not None:
            raise SystemExit(f"{ep.label}: server exited; see {ep.log}:\n{_tail(ep.log)}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", ep.port)) == 0:
                ep.listening = time.time()
                return
        time.sleep(0.02)
    raise SystemExit(f"{ep.label}: port {ep.port} not listening after 60 s; see {ep.log}")


def stop(ep: Endpoint) -> None:
    """Terminate the server's process group (supervisor and workers); kill it if it lingers."""
    proc = ep.proc
    if proc is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)  # uvicorn's graceful shutdown: the supervisor joins its workers
    except subprocess.TimeoutExpired:
        kill(ep)
    else:
        ep.proc = None


def kill(ep: Endpoint) -> None:
    """SIGKILL whatever is left of the server's process group."""
    proc, ep.proc = ep.proc, None
    if proc is not None:  # not yet reaped, so its group id is still ours
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _tail(path: Path, n: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:])


class RssSampler(threading.Thread):
    """VmRSS and VmHWM of every uvicorn worker of the servers, every `interval` seconds."""

    def __init__(self, interval: float = 0.1) -> None:
        super().__init__(daemon=True, name="rss")
        self.interval = interval
        self.roots: dict[str, int] = {}  # endpoint key: supervisor pid
        self.samples: list[tuple[float, str, int, int, int]] = []  # t, key, pid, rss kB, hwm kB
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.interval):
            t = time.time()
            for key, root in list(self.roots.items()):
                for pid in _workers(root):
                    mem = _status_kb(pid)
                    if mem:
                        self.samples.append((t, key, pid, *mem))

    def window(self, key: str, t0: float, t1: float) -> dict[int, tuple[float, float, float]]:
        """Per worker in [t0, t1]: (sampled VmRSS peak, last VmRSS, last VmHWM), in MB."""
        out: dict[int, tuple[float, float, float]] = {}
        for t, k, pid, rss, hwm in self.samples:
            if k == key and t0 <= t <= t1:
                peak = max(out[pid][0], rss / 1024) if pid in out else rss / 1024
                out[pid] = (peak, rss / 1024, hwm / 1024)
        return out


def _workers(root: int) -> list[int]:
    """The uvicorn workers among the children of `root` (not multiprocessing's tracker)."""
    pids: list[int] = []
    for children in Path(f"/proc/{root}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            pids += [int(p) for p in children.read_text().split()]
    out = []
    for pid in pids:
        with contextlib.suppress(OSError):
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"spawn_main" in cmd and b"resource_tracker" not in cmd:
                out.append(pid)
    return out


def _status_kb(pid: int) -> tuple[int, int] | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    rss = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    hwm = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return (int(rss[1]), int(hwm[1])) if rss and hwm else None


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_pids() -> list[int]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().startswith("postgres"):
                out.append(int(pid))
    return out


def cpu_of(root: int) -> tuple[dict[int, float], dict[int, float]]:
    """CPU seconds so far of the server's workers and of every PostgreSQL process."""
    return (
        {pid: _cpu_s(pid) for pid in _workers(root)},
        {pid: _cpu_s(pid) for pid in _postgres_pids()},
    )


def cpu_spent(
    before: tuple[dict[int, float], dict[int, float]],
    after: tuple[dict[int, float], dict[int, float]],
) -> tuple[list[float], float]:
    """Per worker CPU seconds between two readings, and the PostgreSQL processes' sum (a
    backend that ended in between is left out)."""
    workers = [after[0][p] - before[0].get(p, 0.0) for p in sorted(after[0])]
    pg = sum(v - before[1].get(p, 0.0) for p, v in after[1].items())
    return workers, pg


# --- load ----------------------------------------------------------------------------------


def run_wrk(
    ep: Endpoint,
    token: str,
    points: list[tuple[float, float]],
    duration: int,
    connections: int,
    tag: str,
    workdir: Path,
    timeout: int = 10,
) -> tuple[Run, list[str]]:
    """Drive one endpoint with wrk; return what it saw and the markers of its 201s."""
    acked_path = workdir / f"acked-{tag}.txt"
    lua = LUA % {
        "points": ",".join(f"{{{x:.6f},{y:.6f}}}" for x, y in points[:2000]),
        "cats": ",".join(f'"{c}"' for c in CATEGORIES),
        "token": token,
        "path": ep.path,
        "tag": tag,
        "acked": str(acked_path),
    }
    script = workdir / f"{tag}.lua"
    script.write_text(lua, encoding="utf-8")
    cmd = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{duration}s"]
    cmd += ["--timeout", f"{timeout}s", "-s", str(script), f"http://127.0.0.1:{ep.port}"]
    started = time.time()
    cpu_before = cpu_of(ep.proc.pid) if ep.proc else ({}, {})
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=duration + timeout + 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    ended = time.time()
    worker_cpu, pg_cpu = cpu_spent(cpu_before, cpu_of(ep.proc.pid) if ep.proc else ({}, {}))
    m = re.search(r"^RESULT (.*)$", out, re.M)
    if proc.returncode != 0 or not m:
        raise SystemExit(f"wrk failed ({proc.returncode}):\n{out}\n{err}")
    r = {k: float(v) for k, v in (kv.split("=") for kv in m[1].split())}
    codes = {int(s): int(n) for s, n in re.findall(r"^CODE (\d+) (\d+)$", out, re.M)}
    acked = acked_path.read_text().split()
    run = Run(
        endpoint=ep.key,
        tag=tag,
        phase="",
        connections=connections,
        seconds=r["duration_us"] / 1e6,
        ok=int(r["ok"]),
        other=int(r["other"]),
        codes=codes,
        errors={k: int(r[k]) for k in ("connect", "read", "write", "timeout", "status")},
        p50=r["p50"] / 1000,
        p90=r["p90"] / 1000,
        p99=r["p99"] / 1000,
        max=r["max"] / 1000,
        first201=r["first201"] or None,
        started=started,
        ended=ended,
        worker_cpu=worker_cpu,
        pg_cpu=pg_cpu,
    )
    if len(acked) != run.ok:
        raise SystemExit(f"wrk kept {len(acked)} markers for {run.ok} answers 201")
    return run, acked


# --- the run -------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/wangge_bench_intake")
    ap.add_argument("--duration", type=int, default=60, help="seconds of each warm run")
    ap.add_argument("--cold-duration", type=int, default=20, help="seconds of each cold run")
    ap.add_argument(
        "--connections-list", default="1,8,32", help="connection counts of the warm runs"
    )
    ap.add_argument(
        "--connections",
        type=int,
        default=32,
        help="connections of the cold runs, and the count the goals are checked at",
    )
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--grids", type=int, default=9000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="use the database an earlier run seeded (same --grids and --seed) if there is one",
    )
    ap.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    args = ap.parse_args()
    conn_list = sorted({int(c) for c in args.connections_list.split(",") if c.strip()})
    if not conn_list or min(conn_list) < 1 or args.duration < 1 or args.cold_duration < 1:
        raise SystemExit("--connections-list, --duration and --cold-duration must be positive")
    if shutil.which("wrk") is None:
        raise SystemExit(
            "wrk not found: it is the load generator of this benchmark. Install it with "
            "`apt-get install -y wrk` (Debian/Ubuntu) or build it from github.com/wg/wrk."
        )
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        raise SystemExit("asyncpg not installed: pip install -e '.[bench]'") from None

    load_start = os.getloadavg()
    token = reused_token(args.pg, args.grids, args.seed) if args.reuse else None
    if token is None:
        token = setup(args.pg, args.grids, args.seed)
    else:
        print("setup: reusing the seeded database")
    points = bench_points(args.seed)
    endpoints = [
        Endpoint("asyncpg", "asyncpg bare", "/bare", "bench_bare_asyncpg", "payload"),
        Endpoint("bare", "project bare", "/api/v1/_bench/bare", "bench_bare", "payload"),
        Endpoint("full", "full report", "/api/v1/cases", "cases", "description"),
    ]

    # Ctrl-C and SIGTERM both end in the `finally` below, which stops every server.
    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    # Also when started in the background by a shell that ignores SIGINT for its jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    engine = make_engine(args.pg)
    sampler = RssSampler()
    sampler.start()
    runs: list[Run] = []
    load_before = os.getloadavg()
    t_begin = time.time()
    workdir = Path(tempfile.mkdtemp(prefix="bench_intake_"))  # wrk scripts, server logs
    done = False
    cases_before, audit_before = max_id(engine, "cases"), max_id(engine, "audit_log")
    try:
        for ep in endpoints:
            before = max_id(engine, ep.table)
            start(ep, args.pg, args.workers, workdir)
            assert ep.proc is not None
            sampler.roots[ep.key] = ep.proc.pid
            print(f"{ep.label}: started, port open {ep.listening - ep.spawned:.2f} s after spawn")
            # Requests still queued in the server when a long cold start ends need a timeout
            # longer than the start itself, or wrk gives up on them while they are served.
            run, acked = run_wrk(
                ep, token, points, args.cold_duration, args.connections, f"c{ep.key}", workdir, 30
            )
            run.phase = "cold"
            finish(engine, sampler, ep, run, before, acked, runs)
        for i, c in enumerate(conn_list):
            for ep in endpoints[i % 3 :] + endpoints[: i % 3]:
                before = max_id(engine, ep.table)
                run, acked = run_wrk(ep, token, points, args.duration, c, f"w{c}{ep.key}", workdir)
                run.phase = "warm"
                finish(engine, sampler, ep, run, before, acked, runs)
        done = True
    finally:
        try:
            for ep in endpoints:
                stop(ep)
        finally:
            for ep in endpoints:  # a second Ctrl-C during the first stop: kill the rest
                kill(ep)
            sampler.halt.set()
            sampler.join()
            if done and not any(r.socket_errors or any(s >= 500 for s in r.codes) for r in runs):
                shutil.rmtree(workdir, ignore_errors=True)
            else:
                print(f"server logs kept in {workdir}", file=sys.stderr)
    load_after = os.getloadavg()
    with engine.connect() as conn:
        pg_version = conn.execute(text("SHOW server_version")).scalar_one()
        postgis = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
        # Every case of the run has its event and its audit entry.
        cases = conn.execute(
            text("SELECT count(*) FROM cases WHERE id > :b"), {"b": cases_before}
        ).scalar_one()
        no_event = conn.execute(
            text(
                "SELECT count(*) FROM cases c WHERE c.id > :b AND NOT EXISTS "
                "(SELECT 1 FROM case_events e WHERE e.case_id = c.id)"
            ),
            {"b": cases_before},
        ).scalar_one()
        audit = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE id > :b AND action = 'case.report'"),
            {"b": audit_before},
        ).scalar_one()
    engine.dispose()
    report(
        args,
        conn_list,
        endpoints,
        runs,
        env={
            "load_start": load_start,
            "load_before": load_before,
            "load_after": load_after,
            "began": t_begin,
            "pg": f"PostgreSQL {pg_version.split()[0]}, PostGIS {postgis}",
            "cases": cases,
            "no_event": no_event,
            "audit": audit,
        },
    )


def finish(
    engine: Engine,
    sampler: RssSampler,
    ep: Endpoint,
    run: Run,
    before: int,
    acked: list[str],
    runs: list[Run],
) -> None:
    """Check the rows of a run, attach the workers' RSS, print a line."""
    run.rss = sampler.window(ep.key, run.started, run.ended)
    check_rows(engine, ep, run, before, acked)
    runs.append(run)
    first = ""
    if run.phase == "cold":
        first = (
            f", first 201 {run.first201 - ep.spawned:.2f} s after spawn"
            if run.first201
            else ", no 201"
        )
    print(
        f"{run.phase:4} {ep.label:12} c={run.connections:<3} {run.rate:7.1f} 201/s  "
        f"p50 {run.p50:6.1f}  p99 {run.p99:7.1f} ms  non-201 {run.other}  "
        f"socket errors {run.socket_errors}  201s {run.ok}, stored {run.stored} "
        f"(answer unseen {run.unacked_stored}), lost {run.lost}, dup {run.duplicated}  "
        f"RSS peak {_rss(run.rss, 0)} MB{first}",
        flush=True,
    )


# --- the report ----------------------------------------------------------------------------


def _rss(rss: dict[int, tuple[float, float, float]], i: int) -> str:
    return " / ".join(f"{v[i]:.0f}" for _, v in sorted(rss.items())) or "–"


def _cpu_split(r: Run) -> str:
    return " / ".join(f"{v:.1f}" for v in r.worker_cpu) or "–"


def _per_201(seconds: float, r: Run) -> str:
    return f"{1000 * seconds / r.ok:.2f}" if r.ok else "–"


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**not met**")


def _codes(runs: list[Run]) -> str:
    total: Counter[int] = Counter()
    for r in runs:
        total.update(r.codes)
    return ", ".join(f"{n} × {s}" for s, n in sorted(total.items())) or "none"


def report(
    args: argparse.Namespace,
    conn_list: list[int],
    endpoints: list[Endpoint],
    runs: list[Run],
    env: dict[str, Any],
) -> None:
    """Print the section and write it into RESULTS.md."""
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    labels = {ep.key: ep.label for ep in endpoints}
    cold = {r.endpoint: r for r in runs if r.phase == "cold"}
    warm = {(r.endpoint, r.connections): r for r in runs if r.phase == "warm"}
    eps = {ep.key: ep for ep in endpoints}
    la_start = " / ".join(f"{x:.2f}" for x in env["load_start"])
    la = " / ".join(f"{x:.2f}" for x in env["load_before"])
    la_after = " / ".join(f"{x:.2f}" for x in env["load_after"])
    cmd = shlex.join(["python", "bench/bench_intake.py", *sys.argv[1:]])
    lines = [
        SECTION,
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(env['began']))}; machine: "
        f"{os.cpu_count()} × {cpu} ({platform.system()} {platform.release()}); Python "
        f"{platform.python_version()}, uvicorn {pkg_version('uvicorn')} (h11, asyncio loop), "
        f"FastAPI {pkg_version('fastapi')}, SQLAlchemy {pkg_version('sqlalchemy')} + psycopg "
        f"{pkg_version('psycopg')}, asyncpg {pkg_version('asyncpg')}; {env['pg']} on the same "
        f"machine; wrk on the same machine (2 threads, 1 at 1 connection).",
        f"- Load average (1/5/15 min) at the start: {la_start}; before the measurements "
        f"(after the seeding, if any): {la}; after them: {la_after}.",
        f"- Command: `{cmd}`",
        f"- District: seeded 430 km², {args.grids:,} grids; reports at seeded random points "
        "(0.1% just outside the district), 9 categories; the full report as a grid worker "
        "(bearer token).",
        f"- Servers: each endpoint on its own server, uvicorn with {args.workers} workers, "
        "each worker on its own SO_REUSEPORT socket (`wangge.ops.workers`, as `wangge serve`): "
        "**asyncpg bare** = bench/bare_asyncpg.py (FastAPI, asyncpg pool of 5–15 a worker, "
        "parse the JSON, one INSERT); **project bare** = `wangge serve`, "
        "`POST /api/v1/_bench/bare` (parse the JSON, one INSERT, SQLAlchemy in the thread "
        "pool); **full report** = `wangge serve`, `POST /api/v1/cases`. The servers not under "
        "load stay up, idle.",
        "- req/s counts 201 answers only; latencies are wrk's over all answers; RSS is per "
        "uvicorn worker (MB, one figure per worker), sampled every 0.1 s. Every request "
        "carries a unique marker (body and X-Request-ID): rows stored = 201s seen − lost + "
        "duplicated + stored with the answer unseen (in flight when wrk stopped). CPU: "
        "user + system seconds of each worker over the run (/proc/PID/stat; unequal figures "
        "mean the connections were unevenly spread) and per 201, and of all PostgreSQL "
        "processes per 201 (the measure of the work a request costs, whatever else the "
        "machine does).",
        "",
        f"### Cold start: fresh processes, {args.connections} connections for "
        f"{args.cold_duration} s from the moment the port accepts",
        "",
        "| endpoint | port open after | first 201 after spawn | first 201 after load start "
        "| 201/s | p50 ms | p99 ms | non-201 | socket errors | worker RSS peak (VmHWM) "
        "| worker RSS end |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, r in cold.items():
        ep = eps[key]
        first_spawn = f"{r.first201 - ep.spawned:.2f} s" if r.first201 else "none"
        first_load = f"{r.first201 - r.started:.2f} s" if r.first201 else "none"
        lines.append(
            f"| {labels[key]} | {ep.listening - ep.spawned:.2f} s | {first_spawn} | {first_load} "
            f"| {r.rate:.0f} | {r.p50:.1f} | {r.p99:.1f} | {r.other} | {r.socket_errors} "
            f"| {_rss(r.rss, 2)} | {_rss(r.rss, 1)} |"
        )
    lines += [
        "",
        f"### Warm: {args.duration} s per run after the cold run (the warm-up), endpoints "
        "interleaved (the order rotates with each connection count)",
        "",
        "| connections | endpoint | 201/s | p50 ms | p90 ms | p99 ms | max ms | non-201 "
        "| socket errors | 201s seen | rows stored | lost | duplicated | stored, answer unseen "
        "| worker RSS peak | worker RSS end | worker CPU s (each) | worker CPU ms per 201 "
        "| PostgreSQL CPU ms per 201 |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        "---:|---:|",
    ]
    for c in conn_list:
        for ep in endpoints:
            r = warm.get((ep.key, c))
            if r is None:
                continue
            lines.append(
                f"| {c} | {ep.label} | {r.rate:.0f} | {r.p50:.1f} | {r.p90:.1f} | {r.p99:.1f} "
                f"| {r.max:.0f} | {r.other} | {r.socket_errors} | {r.ok} | {r.stored} "
                f"| {r.lost} | {r.duplicated} | {r.unacked_stored} | {_rss(r.rss, 0)} "
                f"| {_rss(r.rss, 1)} | {_cpu_split(r)} | {_per_201(sum(r.worker_cpu), r)} "
                f"| {_per_201(r.pg_cpu, r)} |"
            )

    def ratio(a: str, b: str, c: int) -> float | None:
        ra, rb = warm.get((a, c)), warm.get((b, c))
        return ra.rate / rb.rate if ra and rb and rb.rate else None

    def pct(x: float | None) -> str:
        return "–" if x is None else f"{x:.0%}"

    lines += [
        "",
        "| connections | full / asyncpg bare | full / project bare | project bare / asyncpg bare |",
        "|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {c} | {pct(ratio('full', 'asyncpg', c))} | {pct(ratio('full', 'bare', c))} "
        f"| {pct(ratio('bare', 'asyncpg', c))} |"
        for c in conn_list
    ]

    ref = args.connections
    full_ref = warm.get(("full", ref))
    r_ref = ratio("full", "asyncpg", ref)
    full_rates = [warm[("full", c)].rate for c in conn_list if ("full", c) in warm]
    grows = all(b > a for a, b in pairwise(full_rates)) if len(full_rates) > 1 else None
    cold_full = cold.get("full")
    first_full = (
        cold_full.first201 - eps["full"].spawned if cold_full and cold_full.first201 else None
    )
    full_runs = [r for r in runs if r.endpoint == "full"]
    rss_peak = max(
        (v[2] for r in full_runs for v in r.rss.values()),
        default=None,
    )
    lost = sum(r.lost for r in full_runs)
    dup = sum(r.duplicated for r in full_runs)
    goals = [
        (
            f"full report ≥ {GOAL_RATIO:.0%} of the asyncpg bare endpoint's req/s at {ref} "
            "connections",
            pct(r_ref),
            None if r_ref is None else r_ref >= GOAL_RATIO,
        ),
        (
            "full report throughput grows with connections ("
            + " → ".join(str(c) for c in conn_list)
            + ")",
            " → ".join(f"{x:.0f}" for x in full_rates) + " req/s",
            grows,
        ),
        (
            f"full report p99 < {GOAL_P99_MS:.0f} ms at {ref} connections",
            f"{full_ref.p99:.1f} ms" if full_ref else "–",
            None if full_ref is None else full_ref.p99 < GOAL_P99_MS,
        ),
        (
            f"cold start under {args.connections} connections: first report answered within "
            f"{GOAL_FIRST_S:.0f} s (from the spawn)",
            f"{first_full:.2f} s" if first_full is not None else "none",
            None if cold_full is None else first_full is not None and first_full <= GOAL_FIRST_S,
        ),
        (
            f"worker RSS peak < {GOAL_RSS_MB:.0f} MB for {args.grids:,} grids "
            "(full report server, whole run)",
            f"{rss_peak:.0f} MB" if rss_peak is not None else "–",
            None if rss_peak is None else rss_peak < GOAL_RSS_MB,
        ),
        (
            "zero lost and zero duplicated reports (full report, every run)",
            f"{lost} lost, {dup} duplicated of {sum(r.ok for r in full_runs):,} acknowledged",
            lost == 0 and dup == 0,
        ),
    ]
    lines += ["", "| goal (issue 15) | measured | |", "|---|---|---|"]
    lines += [f"| {g} | {m} | {_met(ok)} |" for g, m, ok in goals]

    all_lost = sum(r.lost for r in runs)
    all_dup = sum(r.duplicated for r in runs)
    unseen = sum(r.unacked_stored for r in runs)
    first_loads = ", ".join(
        f"{labels[k]} {r.first201 - r.started:.2f} s" if r.first201 else f"{labels[k]} none"
        for k, r in cold.items()
    )
    lines += [
        "",
        f"**Notes.** Over all {len(runs)} runs, {sum(r.ok for r in runs):,} answers 201: "
        f"{all_lost} lost and {all_dup} duplicated ("
        + (
            "every acknowledged report is stored exactly once"
            if not all_lost + all_dup
            else "see the tables"
        )
        + f"); {unseen} rows were stored whose answer wrk did not see (requests in flight when "
        "a run stopped, or answered after wrk's timeout). Full report: "
        f"{env['cases']:,} cases stored in the run, {env['no_event']} without their event, "
        f"{env['audit']:,} `case.report` audit entries. Answers other than 201, all runs: {_codes(runs)}. "
        f"Socket errors, all runs: {sum(r.socket_errors for r in runs)}. First 201 after the "
        f"start of the cold load: {first_loads}. Everything shares the {os.cpu_count()} cores: "
        "wrk, PostgreSQL, the server under load (and, if the load average above says so, other "
        "work on the machine).",
        "",
        "Where the time of a full report goes, what this stop changed and what would close the "
        'remaining gap: docs/development.md, "Intake under load (issue 15)".',
    ]
    text_out = "\n".join(lines) + "\n"
    print(text_out)
    if not args.no_write:
        write_section(text_out)


def write_section(text_out: str) -> None:
    """Replace the intake section of RESULTS.md (its old or its new title) or append it."""
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    titles = "|".join(re.escape(t) for t in OLD_SECTIONS)
    pattern = re.compile(rf"^(?:{titles})\n.*?(?=^## |\Z)", re.S | re.M)
    new = (
        pattern.sub(lambda _: text_out + "\n", old, count=1)
        if pattern.search(old)
        else old.rstrip("\n") + "\n\n" + text_out
    )
    RESULTS.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    main()
