"""Benchmark: the console map's 部件 (components) and 房屋 (buildings) layers at district scale.

Usage:
    python bench/bench_map_components.py [--components 1400000 --buildings 60000 --seed 7
        --runs 15 --sqlite /tmp/mapcomp.db --pg postgresql://postgres@127.0.0.1:5432/wangge_bench_mapcomp
        --keep --no-pg --no-browser --no-write]

Builds the synthetic 海淀-scale district of bench_components.py (430.8 km², 1,300 social and
9,000 unit grids, both active) with 1.4 million point components over the whole GB/T 30428.2
catalogue (`registry.bulk.bulk_load`, the same generator) and tens of thousands of buildings,
in a SQLite file and in a PostgreSQL+PostGIS database (created and dropped by the script
unless --keep). For each database it serves the app with uvicorn and measures, per view of a
1440×900 screen (district z11 … grid z18), panned to a new place on every request:

- `GET /web/api/map/components` end to end over HTTP (the endpoint: clusters per 64-px cell
  from the in-process snapshot, or points read by id), cold (first request: snapshot load)
  and warm;
- its anchors in the same run, straight on the database: the bare query returning the raw
  points of the same bbox (through the spatial index: GiST `geom &&` on PostgreSQL, the bbox
  index on SQLite), and the SQL aggregate that clusters without a snapshot (PostGIS
  `ST_SnapToGrid` + GROUP BY; on SQLite GROUP BY of the cell numbers);
- the browser side in headless Debian Chromium: fetch and draw time of the layer as the page
  records it (`WG.mapLayers.components`).

Results go to the section "## Map: components and houses (issue 6)" of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shlex
import signal
import statistics
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
from psycopg import sql
from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_components import COUNTY, load_territory, machine, synth_components
from bench_locate import admin_url
from serving import free_port, serve

SECTION = "## Map: components and houses (issue 6)"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
PASSWORD = "Bench-Map-2026"
CHROMIUM = "/usr/bin/chromium"
WIDTH, HEIGHT = 1440, 900
CELL_PX = 64
# name, zoom: what a 1440×900 screen shows at that Web Mercator zoom near 40° N.
VIEWS = [
    ("district (z11, whole district)", 11),
    ("streets (z13, ~270 km²)", 13),
    ("street (z15, ~17 km²)", 15),
    ("community (z17, ~1.1 km²)", 17),
    ("grid (z18, ~0.27 km²)", 18),
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--components", type=int, default=1_400_000)
    p.add_argument("--buildings", type=int, default=60_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--area", type=float, default=430.8)
    p.add_argument("--unit-grids", type=int, default=9_000)
    p.add_argument("--social-grids", type=int, default=1_300)
    p.add_argument("--runs", type=int, default=15, help="requests per view (each panned)")
    p.add_argument("--anchor-runs", type=int, default=3, help="anchor queries per view")
    p.add_argument("--sqlite", type=Path, default=Path("/tmp/wangge_bench_mapcomp.db"))
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/wangge_bench_mapcomp")
    p.add_argument("--keep", action="store_true", help="keep and reuse the built databases")
    p.add_argument("--no-pg", action="store_true")
    p.add_argument("--no-browser", action="store_true")
    p.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    return p.parse_args(argv)


# --------------------------------------------------------------------------- building


def build(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Migrate, load the territory, 1.4 M components, buildings and a bench admin."""
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.auth.service import assign_post, create_user, seed_roles
    from wangge.db import make_engine, session_factory
    from wangge.dbadmin import upgrade
    from wangge.grids.locating import clear_cache, locate_many
    from wangge.registry.bulk import bulk_load
    from wangge.registry.models import Building
    from wangge.synthetic import make_district, random_points

    t = time.perf_counter()
    per_street = max(1, round(args.unit_grids / 15 / 29))
    district = make_district(
        seed=args.seed, area_km2=args.area, n_streets=29, communities_per_street=per_street
    )
    classes, lon, lat = synth_components(district, args.components, args.seed)
    engine = make_engine(url)
    upgrade(engine)
    factory = session_factory(engine)
    with factory() as session:
        load_territory(session, district, args)
    clear_cache()
    with factory() as session:
        bulk_load(
            session, LOCAL_OPERATOR, county_code=COUNTY, class_codes=classes, lon=lon, lat=lat,
            fields={"data_source": "普查", "state": "完好"},
        )  # fmt: skip
        # A few per cent not intact, so the points show states as in a real survey.
        session.execute(text("UPDATE components SET state = '破损' WHERE id % 37 = 0"))
        blon, blat = random_points(district, args.buildings, args.seed + 1, outside_share=0.001)
        found = locate_many(session, blon, blat, county_codes=[COUNTY])
        grids: dict[int, str] = dict(
            session.execute(text("SELECT id, community_code FROM grids")).tuples().all()
        )
        now = datetime.now(UTC)
        purposes = np.random.default_rng(args.seed).choice(
            ["住宅", "住宅", "住宅", "商业", "办公", "工业", "公共服务"], args.buildings
        )
        rows = []
        for i, (x, y, g, u) in enumerate(
            zip(blon, blat, found["social"], found["unit"], strict=True)
        ):
            gid = int(g) if g >= 0 else None
            community = grids.get(gid) if gid is not None else grids.get(int(u))
            if community is None:  # outside every grid
                continue
            rows.append({
                "county_code": COUNTY, "community_code": community, "name": f"{i + 1}号楼",
                "lon": float(x), "lat": float(y), "grid_id": gid, "unit_grid_id": int(u) if u >= 0 else None,
                "minx": float(x), "miny": float(y), "maxx": float(x), "maxy": float(y),
                "floors": 6 + i % 20, "purpose": str(purposes[i]), "created_at": now, "updated_at": now,
            })  # fmt: skip
        session.execute(insert(Building), rows)
        seed_roles(session)
        admin = create_user(session, username="mapadmin", password=PASSWORD, display_name="bench")
        assign_post(session, admin, "admin")
        street = session.scalar(
            text("SELECT code FROM divisions WHERE level = 'street' ORDER BY code LIMIT 1")
        )
        scoped = create_user(session, username="mapstreet", password=PASSWORD, display_name="街道")
        assign_post(session, scoped, "dispatcher", scope=street)
        session.commit()
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("VACUUM ANALYZE components"))
                c.execute(text("VACUUM ANALYZE buildings"))
    engine.dispose()
    return {"build_s": time.perf_counter() - t, "buildings": len(rows)}


# --------------------------------------------------------------------------- views


def view_bbox(lon: float, lat: float, zoom: int) -> tuple[float, float, float, float]:
    """Return the bbox a WIDTH×HEIGHT screen shows around (lon, lat) at a zoom (as Leaflet)."""
    scale = 256 * 2**zoom
    cx = (lon + 180) / 360 * scale
    cy = (
        (1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi)
        / 2
        * scale
    )

    def unproject(x: float, y: float) -> tuple[float, float]:
        n = math.pi - 2 * math.pi * y / scale
        return x / scale * 360 - 180, math.degrees(math.atan(math.sinh(n)))

    x0, y1 = unproject(cx - WIDTH / 2, cy - HEIGHT / 2)
    x1, y0 = unproject(cx + WIDTH / 2, cy + HEIGHT / 2)
    return x0, y0, x1, y1


def centres(extent: tuple[float, ...], n: int, seed: int) -> list[tuple[float, float]]:
    """Seeded view centres inside the middle 60% of the district (panning around)."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = extent
    return [
        (x0 + (x1 - x0) * (0.2 + 0.6 * rng.random()), y0 + (y1 - y0) * (0.2 + 0.6 * rng.random()))
        for _ in range(n)
    ]


# --------------------------------------------------------------------------- measuring


@contextmanager
def serving_app(url: str):  # type: ignore[no-untyped-def]
    """Run `wangge serve` (one worker) on a free port; yield its base URL."""
    port = free_port()
    env = {"WANGGE_DEMO_MODE": "true", "WANGGE_LOG_JSON": "false"}
    proc = serve(url, 1, port, env=env, ready_path="/citizen")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def _client(base: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=600, headers={"Accept-Encoding": "gzip"})
    r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    r.raise_for_status()
    return client


def _get(
    client: httpx.Client, kind: str, bbox: tuple[float, ...], zoom: int
) -> tuple[float, dict, int]:
    params: dict[str, str | int] = {"bbox": ",".join(f"{v:.6f}" for v in bbox), "zoom": zoom}
    t = time.perf_counter()
    r = client.get(f"/web/api/map/{kind}", params=params)
    took = time.perf_counter() - t
    r.raise_for_status()
    # Bytes on the wire: Content-Length is the gzip-compressed size (httpx hands us the
    # decompressed content).
    return took * 1000, r.json(), int(r.headers.get("content-length", len(r.content)))


def _stats(ms: list[float]) -> str:
    if not ms:
        return "–"
    p95 = sorted(ms)[max(0, math.ceil(0.95 * len(ms)) - 1)]
    return f"{statistics.median(ms):.0f} / {p95:.0f}"


def measure_http(base: str, extent: tuple[float, ...], args: argparse.Namespace) -> dict[str, Any]:
    """Cold and warm latencies of the endpoint per view; the buildings and a scoped user too."""
    out: dict[str, Any] = {"views": {}}
    client = _client(base, "mapadmin")
    mid = ((extent[0] + extent[2]) / 2, (extent[1] + extent[3]) / 2)
    cold, body, _ = _get(client, "components", view_bbox(*mid, 11), 11)
    out["cold_ms"], out["total"] = cold, body["total"]
    for name, zoom in VIEWS:
        ms, sizes, shown, modes = [], [], [], set()
        for lon, lat in centres(extent, args.runs, zoom):
            took, body, size = _get(client, "components", view_bbox(lon, lat, zoom), zoom)
            ms.append(took)
            sizes.append(size)
            modes.add(body["mode"])
            shown.append(len(body.get("clusters") or body.get("points") or []))
        out["views"][name] = {
            "ms": ms, "bytes": statistics.median(sizes), "shown": statistics.median(shown),
            "modes": "/".join(sorted(modes)),
        }  # fmt: skip
    cold_b, body_b, _ = _get(client, "buildings", view_bbox(*mid, 11), 11)
    warm_b = [
        _get(client, "buildings", view_bbox(lon, lat, 11), 11)[0]
        for lon, lat in centres(extent, args.runs, 1)
    ]
    out["buildings"] = {"cold_ms": cold_b, "ms": warm_b, "total": body_b["total"]}
    scoped = _client(base, "mapstreet")
    scoped_ms = [_get(scoped, "components", view_bbox(*mid, 11), 11)[0] for _ in range(args.runs)]
    out["scoped"] = {
        "ms": scoped_ms,
        "total": _get(scoped, "components", view_bbox(*mid, 11), 11)[1]["total"],
    }
    return out


def measure_anchors(
    url: str, extent: tuple[float, ...], args: argparse.Namespace
) -> dict[str, Any]:
    """The same bboxes straight on the database: raw points, and the SQL cluster aggregate."""
    from wangge.db import make_engine

    engine = make_engine(url)
    pg = engine.dialect.name == "postgresql"
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        for name, zoom in VIEWS:
            cell = CELL_PX * 360 / (256 * 2**zoom)  # degrees of longitude per 64-px cell
            raw, agg, rows = [], [], 0
            for lon, lat in centres(extent, args.anchor_runs, zoom):
                x0, y0, x1, y1 = view_bbox(lon, lat, zoom)
                p = {"x0": x0, "y0": y0, "x1": x1, "y1": y1, "c": cell}
                if pg:
                    where = "geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4490)"
                    group = (
                        f"SELECT count(*), ST_X(ST_Centroid(ST_Collect(geom))), ST_Y(ST_Centroid(ST_Collect(geom))) "
                        f"FROM components WHERE {where} GROUP BY ST_SnapToGrid(geom, :c, :c)"
                    )  # fmt: skip
                else:
                    where = "minx BETWEEN :x0 AND :x1 AND miny BETWEEN :y0 AND :y1"
                    group = (
                        f"SELECT count(*), avg(lon), avg(lat) FROM components WHERE {where} "
                        "GROUP BY CAST(minx / :c AS INTEGER), CAST(miny / :c AS INTEGER)"
                    )
                t = time.perf_counter()
                rows = len(
                    conn.execute(
                        text(f"SELECT id, lon, lat FROM components WHERE {where}"), p
                    ).all()
                )
                raw.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                conn.execute(text(group), p).all()
                agg.append((time.perf_counter() - t) * 1000)
            out[name] = {"raw": raw, "agg": agg, "rows": rows}
    engine.dispose()
    return out


def measure_browser(base: str, extent: tuple[float, ...], runs: int) -> dict[str, Any]:
    """Fetch and draw times of the layer as the page records them, per view."""
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {}
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        ctx = browser.new_context(
            base_url=base, viewport={"width": WIDTH + 320, "height": HEIGHT + 48}
        )
        page = ctx.new_page()
        page.set_default_timeout(600_000)
        page.request.post("/api/v1/auth/login", data={"username": "mapadmin", "password": PASSWORD})
        page.goto("/console/map")
        page.wait_for_function("document.getElementById('map').dataset.grids > 0")
        page.check("#show-components")
        page.wait_for_function("document.getElementById('map').dataset.componentsMode")
        for name, zoom in VIEWS:
            fetch, draw, shown = [], [], []
            for lon, lat in centres(extent, runs, zoom + 100):
                page.evaluate(
                    "() => { delete document.getElementById('map').dataset.componentsZoom; }"
                )
                page.evaluate(
                    f"() => {{ WG.map.setView([{lat}, {lon}], {zoom}, {{animate: false}}); }}"
                )
                page.wait_for_function(
                    f"document.getElementById('map').dataset.componentsZoom === '{zoom}'"
                )
                m = page.evaluate("WG.mapLayers.components")
                fetch.append(m["fetchMs"])
                draw.append(m["drawMs"])
                shown.append(m["shown"])
            out[name] = {"fetch": fetch, "draw": draw, "shown": statistics.median(shown)}
        browser.close()
    return out


# --------------------------------------------------------------------------- report


def report(args: argparse.Namespace, argv: list[str], results: dict[str, Any], load: str) -> str:
    lines = [
        SECTION,
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {machine()}; load average "
        f"before the run {load} (the two cores are shared with other engineers' test runs).",
        f"- Command: `{shlex.join(['python', 'bench/bench_map_components.py', *argv])}`",
        f"- Data: seeded synthetic district of {args.area} km² with {args.social_grids:,} social and "
        f"{args.unit_grids:,} unit grids active, **{args.components:,} point components** over the "
        f"GB/T 30428.2 catalogue (bench_components.py's generator, loaded with `bulk_load`) and "
        f"{results['buildings']:,} buildings. Views are a {WIDTH}×{HEIGHT} screen at the given "
        f"zoom, each request panned to another seeded place in the district; clusters are 64-px "
        f"cells, points are sent from z16 on when at most 2,000 are in view.",
        "",
        "Milliseconds, median / p95 (endpoint: over HTTP from uvicorn, gzip; anchors: the same "
        "bboxes straight on the database).",
        "",
    ]
    for db in ("SQLite", "PostgreSQL"):
        r = results.get(db)
        if r is None:
            continue
        http, anchors = r["http"], r["anchors"]
        lines += [
            f"**{db}** ({r['detail']}): first request after start (loads the snapshot of "
            f"{http['total']:,} components) **{http['cold_ms'] / 1000:.1f} s**.",
            "",
            "| view | endpoint | sent (gzip) | shown | anchor: raw points of the bbox | rows "
            "| anchor: SQL cluster aggregate | browser fetch / draw |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, _zoom in VIEWS:
            v, a = http["views"][name], anchors[name]
            b = r.get("browser", {}).get(name)
            browser = (
                f"{statistics.median(b['fetch']):.0f} / {statistics.median(b['draw']):.0f}"
                if b
                else "–"
            )
            lines.append(
                f"| {name} | **{_stats(v['ms'])}** | {v['bytes'] / 1000:.1f} kB | {v['shown']:.0f} {v['modes']} "
                f"| {_stats(a['raw'])} | {a['rows']:,} | {_stats(a['agg'])} | {browser} |"
            )  # fmt: skip
        bl = http["buildings"]
        lines += [
            "",
            f"Buildings layer ({bl['total']:,} buildings), district view: first request "
            f"{bl['cold_ms']:.0f} ms, then {_stats(bl['ms'])} ms. A street-scoped user "
            f"(sees {http['scoped']['total']:,} components), district view: {_stats(http['scoped']['ms'])} ms.",
            "",
        ]
    summary = []
    for db in ("SQLite", "PostgreSQL"):
        if db in results:
            name = VIEWS[0][0]
            v, a = results[db]["http"]["views"][name], results[db]["anchors"][name]
            end, raw, agg = (statistics.median(x) for x in (v["ms"], a["raw"], a["agg"]))
            summary.append(
                f"{db} {end:.0f} ms against {raw:,.0f} ms for the raw points and {agg:,.0f} ms "
                f"for the SQL aggregate ({raw / end:.0f}× and {agg / end:.0f}×)"
            )
    lines += [
        f"District view, endpoint against its anchors: {'; '.join(summary)}. The bare query and "
        "the SQL aggregate grow with the number of components in view; the endpoint bins an "
        "in-process numpy snapshot (ids, lon/lat, integer pixels at z20, class, state, "
        "community, grid: 52 bytes a row, ~73 MB for 1.4 M) with `bincount`, and reads from the "
        "database only the points it sends, by id. Every request first checks a stamp (max id, "
        "newest history row of the kind, active grid versions: three index lookups); edits are "
        "patched in, a re-division reloads (in a background thread when a load took over a "
        "second). The browser draws at most a few hundred cluster markers (DOM) or 2,000 canvas "
        'points; "browser fetch / draw" are the page\'s own timings (request + JSON parse; '
        "markers added until the second animation frame).",
    ]
    return "\n".join(lines) + "\n"


def _pg_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def run_backend(url: str, args: argparse.Namespace, built: dict[str, Any]) -> dict[str, Any]:
    from wangge.db import make_engine

    engine = make_engine(url)
    with engine.connect() as c:
        extent = tuple(
            c.execute(text("SELECT min(lon), min(lat), max(lon), max(lat) FROM components")).one()
        )
        detail = (
            f"PostgreSQL {c.execute(text('SHOW server_version')).scalar()}, PostGIS "
            f"{c.execute(text('SELECT postgis_lib_version()')).scalar()}"
            if engine.dialect.name == "postgresql"
            else f"SQLite {c.exec_driver_sql('SELECT sqlite_version()').scalar()}, file"
        )
    engine.dispose()
    with serving_app(url) as base:
        http = measure_http(base, extent, args)
        browser = (
            None
            if args.no_browser or not Path(CHROMIUM).exists()
            else measure_browser(base, extent, max(3, args.runs // 3))
        )
    anchors = measure_anchors(url, extent, args)
    return {"http": http, "anchors": anchors, "browser": browser or {}, "detail": detail, **built}


def write_section(body: str) -> None:
    """Replace (or append) this benchmark's section in bench/RESULTS.md."""
    old = RESULTS.read_text(encoding="utf-8")
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = (
        pattern.sub(lambda _: body + "\n", old, count=1)
        if pattern.search(old)
        else old.rstrip("\n") + "\n\n" + body
    )
    RESULTS.write_text(new.rstrip("\n") + "\n", encoding="utf-8")


def _count(url: str, table: str) -> int:
    from wangge.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as c:
            return int(c.execute(text(f"SELECT count(*) FROM {table}")).scalar() or 0)
    except Exception:
        return 0
    finally:
        engine.dispose()


def _pg_create(url: str) -> None:
    admin, name = admin_url(url)  # refuses the shared databases
    with psycopg.connect(admin, autocommit=True) as a:
        a.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        a.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def _pg_drop(url: str) -> None:
    admin, name = admin_url(url)
    with psycopg.connect(admin, autocommit=True) as a:
        a.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def main(argv: list[str] | None = None) -> int:
    """Build (or reuse with --keep), measure both databases, print and record the figures."""
    args = parse_args(argv)
    argv = list(sys.argv[1:] if argv is None else argv)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    results: dict[str, Any] = {}
    sqlite_url = f"sqlite:///{args.sqlite}"
    built = {"buildings": _count(sqlite_url, "buildings")} if args.keep else {}
    if not built.get("buildings"):
        args.sqlite.unlink(missing_ok=True)
        built = build(sqlite_url, args)
    try:
        results["SQLite"] = run_backend(sqlite_url, args, built)
    finally:
        if not args.keep:
            args.sqlite.unlink(missing_ok=True)
    results["buildings"] = built["buildings"]
    if not args.no_pg:
        url = _pg_url(args.pg)
        built_pg = {"buildings": _count(url, "buildings")} if args.keep else {}
        if not built_pg.get("buildings"):
            _pg_create(args.pg)
            built_pg = build(url, args)
        try:
            results["PostgreSQL"] = run_backend(url, args, built_pg)
        finally:
            if not args.keep:
                _pg_drop(args.pg)
    body = report(args, argv, results, load)
    print(body)
    if not args.no_write:
        write_section(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
