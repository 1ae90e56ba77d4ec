"""Benchmark: wall time of the `wangge grid divide` command, start-up included (issue 19).

Usage:
    python bench/bench_divide_cli.py [--runs 5 --seed 0 --layout county_town|simple --no-write]

Builds a SQLite county (``wangge init``, then ``wangge division import``) from a seeded layout
mapped to lon/lat near Beijing: by default ``county_town`` of ``wangge.grids.synthetic_layouts``
(the replica of a held-out county town: 11 communities, ~600 buildings, ~28,700 households, main
roads and a river as barriers, streets, exclusive sites); ``simple`` is a small generator of its
own (4 communities, 600 points). The line layer carries classes (主干道 barriers, 支路 streets,
巷道 lanes). The real command then runs as a subprocess several times; the script reports the
median wall time of ``python -c "import wangge.cli"``, of ``wangge grid divide --help``
(start-up) and of a division of the whole county at 300 households per grid. The section
"## Division command wall time (issue 19)" of bench/RESULTS.md is replaced (other sections are
kept; the file is re-read just before writing).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_partition import cpu_model, write_section

SECTION = "## Division command wall time (issue 19)"
BIN = Path(sys.executable).parent
CLASSES = ("主干道", "支路", "巷道")  # barriers, preferred boundaries, lanes
COUNTY = "110108"
X0, Y0, D = 116.30, 39.95, 0.01  # four communities of D × D degrees (~850 m × 1,110 m)
HEAVY = (
    "sqlalchemy",
    "numpy",
    "shapely",
    "fastapi",
    "uvicorn",
    "starlette",
    "openpyxl",
    "reportlab",
    "pyproj",
    "matplotlib",
    "alembic",
    "pyogrio",
    "wangge.main",
)


def _fc(rows: list[tuple[dict, dict]]) -> dict:
    return {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": p, "geometry": g} for p, g in rows],
    }


def _box(x0: float, y0: float, x1: float, y1: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def _line(*pts: tuple[float, float]) -> dict:
    return {"type": "LineString", "coordinates": [list(p) for p in pts]}


def simple_county(
    folder: Path, n_buildings: int, seed: int
) -> tuple[Path, Path, Path, Path | None]:
    """Divisions, buildings and roads (GeoJSON, EPSG:4490) of a small seeded county."""
    divisions = [
        ({"区划代码": f"{COUNTY}001", "名称": "甲街道"}, _box(X0, Y0, X0 + 2 * D, Y0 + D)),
        ({"区划代码": f"{COUNTY}002", "名称": "乙街道"}, _box(X0, Y0 + D, X0 + 2 * D, Y0 + 2 * D)),
    ]
    for s in range(2):
        for c in range(2):
            code = f"{COUNTY}00{s + 1}00{c + 1}"
            geom = _box(X0 + c * D, Y0 + s * D, X0 + (c + 1) * D, Y0 + (s + 1) * D)
            divisions.append(({"区划代码": code, "名称": f"社区{code[-4:]}"}, geom))
    import numpy as np

    rng = np.random.default_rng(seed)
    xs = X0 + rng.uniform(0.005, 0.995, n_buildings) * 2 * D
    ys = Y0 + rng.uniform(0.005, 0.995, n_buildings) * 2 * D
    hh = rng.integers(10, 61, n_buildings)
    buildings = [
        ({"编号": f"B{i:04d}", "户数": int(hh[i])}, {"type": "Point", "coordinates": [x, y]})
        for i, (x, y) in enumerate(zip(xs.tolist(), ys.tolist(), strict=True))
    ]
    roads = [  # main roads through the middle of each community, streets and lanes between
        ({"等级": "主干道"}, _line((X0, Y0 + f * D), (X0 + 2 * D, Y0 + f * D + 0.0004)))
        for f in (0.5, 1.5)
    ]
    roads += [
        ({"等级": "支路"}, _line((X0 + f * D, Y0), (X0 + f * D + 0.0003, Y0 + 2 * D)))
        for f in (0.35, 0.7, 1.3, 1.65)
    ]
    roads += [
        ({"等级": "巷道"}, _line((X0 + f * D, Y0 + 0.2 * D), (X0 + f * D, Y0 + 0.4 * D)))
        for f in (0.15, 0.55, 1.15, 1.85)
    ]
    return _write(folder, divisions, buildings, roads, [])


def _write(
    folder: Path, divisions: list, buildings: list, roads: list, sites: list
) -> tuple[Path, Path, Path, Path | None]:
    paths = []
    for name, rows in (("divisions", divisions), ("buildings", buildings), ("roads", roads)):
        path = folder / f"{name}.geojson"
        path.write_text(json.dumps(_fc(rows), ensure_ascii=False), "utf-8")
        paths.append(path)
    site_path = None
    if sites:
        site_path = folder / "sites.geojson"
        site_path.write_text(json.dumps(_fc(sites), ensure_ascii=False), "utf-8")
    return paths[0], paths[1], paths[2], site_path


def town_county(folder: Path, seed: int) -> tuple[Path, Path, Path, Path | None]:
    """The `county_town` layout (metres) in lon/lat: one street office, its communities."""
    import shapely
    from shapely.geometry import mapping

    from wangge.grids.geometry import LocalFrame
    from wangge.grids.synthetic_layouts import county_town

    layout = county_town(seed)
    frame = LocalFrame.at(X0, Y0)

    def geo(g: shapely.Geometry) -> dict:
        return mapping(frame.back(g))

    communities = [frame.back(inp.boundary) for inp in layout.inputs]
    street = shapely.union_all(communities)
    divisions = [
        ({"区划代码": COUNTY, "名称": "演示县"}, mapping(street)),
        ({"区划代码": f"{COUNTY}001", "名称": "城关街道"}, mapping(street)),
    ]
    divisions += [
        ({"区划代码": f"{COUNTY}001{i + 1:03d}", "名称": f"社区{i + 1}"}, mapping(c))
        for i, c in enumerate(communities)
    ]
    buildings = [
        ({"编号": b.key, "户数": b.households, "专属": "是" if b.exclusive else ""}, geo(b.geom))
        for b in layout.buildings
    ]
    roads = [({"等级": "主干道"}, geo(g)) for g in layout.barriers]
    roads += [({"等级": "支路"}, geo(g)) for g in layout.lines]
    roads += [({"等级": "巷道"}, geo(g)) for g in layout.lanes]
    sites = [({"名称": f"专属{i + 1}"}, geo(g)) for i, g in enumerate(layout.sites)]
    return _write(folder, divisions, buildings, roads, sites)


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Run a command; its wall time and output (fails loudly)."""
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(
            f"{shlex.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )
    return wall, done.stdout


def walls(cmd: list[str], envs: dict[str, dict[str, str]], runs: int) -> dict[str, list[float]]:
    """Wall times of `runs` runs per variant, interleaved, after one untimed warm-up each."""
    out: dict[str, list[float]] = {k: [] for k in envs}
    for i in range(runs + 1):
        for name, env in envs.items():
            wall = run(cmd, env)[0]
            if i:
                out[name].append(wall)
    return out


def heavy_modules(env: dict[str, str]) -> list[str]:
    """The heavy modules that `import wangge.cli` loads."""
    code = f"import sys, wangge.cli; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    return run([sys.executable, "-c", code], env)[1].split()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the results section."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--layout", choices=["county_town", "simple"], default="county_town")
    ap.add_argument("--buildings", type=int, default=600, help="buildings of the simple layout")
    ap.add_argument(
        "--baseline-src",
        default=None,
        help="also time an older tree, e.g. `git archive bbdf8d2 src | tar -x -C /tmp/base` "
        "then --baseline-src /tmp/base/src (put first on PYTHONPATH)",
    )
    ap.add_argument("--baseline-label", default="baseline")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    wangge = str(BIN / "wangge")
    with tempfile.TemporaryDirectory(prefix="bench-divide-") as tmp:
        folder = Path(tmp)
        db = f"sqlite:///{folder / 'county.db'}"
        env = {**os.environ, "WANGGE_DATABASE_URL": db}
        env.pop("PYTHONPATH", None)
        envs = {"this tree": env}
        if args.baseline_src:
            envs[args.baseline_label] = {**env, "PYTHONPATH": args.baseline_src}
        if args.layout == "county_town":
            divisions, buildings, roads, sites = town_county(folder, args.seed)
        else:
            divisions, buildings, roads, sites = simple_county(folder, args.buildings, args.seed)
        t = time.perf_counter()
        run([wangge, "init", "--county", COUNTY, "--name", "演示县"], env)
        run([wangge, "division", "import", str(divisions)], env)
        setup = time.perf_counter() - t
        features = json.loads(buildings.read_text("utf-8"))["features"]
        hh = sum(f["properties"]["户数"] for f in features)
        communities = len(json.loads(divisions.read_text("utf-8"))["features"]) - 2
        road_classes = json.loads(roads.read_text("utf-8"))["features"]
        by_class = {c: sum(f["properties"]["等级"] == c for f in road_classes) for c in CLASSES}
        imp = walls([sys.executable, "-c", "import wangge.cli"], envs, args.runs)
        helps = walls([wangge, "grid", "divide", "--help"], envs, args.runs)
        divide = [wangge, "grid", "divide", "--county", COUNTY, "--buildings", str(buildings)]
        divide += ["--lines", str(roads), "--target", "300"]
        if sites:
            divide += ["--sites", str(sites)]
        div = walls(divide, envs, args.runs)
        grids = re.search(r"网格 (\d+) 个", run(divide, env)[1])
        heavy = heavy_modules(env)

    def cell(samples: list[float]) -> str:
        return f"{statistics.median(samples):.2f} ({', '.join(f'{w:.2f}' for w in samples)})"

    given = argv if argv is not None else sys.argv[1:]
    layout = (
        "`county_town` (wangge.grids.synthetic_layouts: replica of a held-out county town)"
        if args.layout == "county_town"
        else "`simple` (4 square communities of ~0.9 km², uniform points)"
    )
    roads_text = ", ".join(f"{n} {c}" for c, n in by_class.items())
    lines = [
        SECTION,
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} × "
        f"{cpu_model()}; Python {platform.python_version()}; load average "
        f"{os.getloadavg()[0]:.2f} at the end (a shared machine: other work ran beside).",
        f"- Command: `python bench/bench_divide_cli.py {shlex.join(given)}`",
        f"- Data: layout {layout}, seed {args.seed}, in lon/lat; a SQLite county set up by "
        f"`wangge init` and `wangge division import` ({setup:.1f} s, not in the table): "
        f"{communities} communities, {len(features)} buildings, {hh:,} households, roads by "
        f"class ({roads_text}){', exclusive sites' if sites else ''}; target 300 households → "
        f"{grids.group(1) if grids else '?'} grids.",
        f"- Each command runs as a subprocess (the venv's `wangge` console script), one untimed "
        f"warm-up, then {args.runs} runs{', interleaved with the baseline' if len(envs) > 1 else ''}"
        "; the cell is the median (the runs).",
        f"- Heavy modules loaded by `import wangge.cli`: {', '.join(heavy) or 'none'} "
        f"(checked: {', '.join(HEAVY)}).",
        "",
        "| command | " + " | ".join(f"{k}: median wall s (runs)" for k in envs) + " |",
        "|---|" + "---|" * len(envs),
        '| `python -c "import wangge.cli"` | ' + " | ".join(cell(imp[k]) for k in envs) + " |",
        "| `wangge grid divide --help` (start-up) | "
        + " | ".join(cell(helps[k]) for k in envs)
        + " |",
        f"| `wangge grid divide --county {COUNTY} --buildings … --lines …"
        f"{' --sites …' if sites else ''} --target 300` | "
        + " | ".join(cell(div[k]) for k in envs)
        + " |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(text, SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
