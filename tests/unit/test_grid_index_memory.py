"""GridIndex memory (issue 15): a build leaves about its arrays behind, and peaks boundedly.

The build runs in a fresh subprocess so that its RSS is the index's alone.  The child
(`CHILD` below) reads /proc/self/status and reports, in bytes:

* ``before``: VmRSS after imports and a tiny warm-up build (so the first use of numpy's and
  GEOS's code paths, which pages in library code, is not charged to the index);
* ``geoms``: VmRSS after loading the layer's geometries from WKB and preparing them
  (``shapely.prepare``) — the geometries' own footprint is ``geoms - before``: the GEOS
  objects, their prepared form, the shapely wrappers and the object array holding them.
  This is what the layer costs whatever index is built on it; GridIndex keeps references to
  these very objects (its own ``shapely.prepare`` call is then a no-op, not a copy);
* ``after``: VmRSS once the index is built (in a thread, like a server's request or warm-up
  thread, so glibc gives it an arena of its own) and garbage collected: retained memory;
* ``peak``: VmHWM over the build, reset just before it through /proc/self/clear_refs.

Figures for another size (bench/bench_locate.py's layout, 9,000 grids over 430.8 km²):
``python tests/unit/test_grid_index_memory.py 9000``.

Assertions: retained growth ``after - before`` ≤ 1.5 × (``index.nbytes`` + geometries'
footprint), and the index's own part ``after - geoms`` ≤ 1.5 × ``index.nbytes`` too; peak
growth ``peak - geoms`` ≤ 3.5 × ``index.nbytes`` (the build's temporaries come in blocks of
``lookup._CHUNK`` elements; before issue 15 the peak was ~6× and the retained growth
3× the arrays).  RSS is per process, so other load on the machine does not change these
figures, and nothing is timed; the margins absorb allocator differences (3,000 grids here:
index 1.26×, peak 2.6× on glibc 2.36).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import shapely

from wangge.synthetic import make_district, make_grids

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="needs Linux /proc for RSS figures"
)

N_GRIDS = 3_000
CHILD = r"""
import gc, json, sys, threading

def status(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)

import numpy as np, shapely
from shapely.geometry import box
from wangge.grids.lookup import GridIndex

GridIndex([1, 2], [box(0, 0, 1, 1), box(1, 0, 2, 1)]).locate_many(np.zeros(9), np.zeros(9))
gc.collect()
before = status("VmRSS")
with open(sys.argv[1], encoding="ascii") as fh:
    geoms = shapely.from_wkb(np.array(fh.read().split(), dtype=object))
shapely.prepare(geoms)
ids = np.arange(1, len(geoms) + 1, dtype=np.int64) * 10
gc.collect()
geoms_rss = status("VmRSS")
try:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset VmHWM to the current RSS
except OSError:
    pass  # older kernels: the peak then also covers the loading above (conservative)
box_ = []
worker = threading.Thread(target=lambda: box_.append(GridIndex(ids, geoms)))
worker.start()
worker.join()
peak = status("VmHWM")
gc.collect()
after = status("VmRSS")
index = box_[0]
print(json.dumps({"before": before, "geoms": geoms_rss, "after": after, "peak": peak,
                  "nbytes": index.nbytes, "n_grids": index.n_grids}))
"""


def write_layer(path: Path, n_grids: int, seed: int = 42) -> Path:
    """bench/bench_locate.py's district scaled to n_grids (9,000 grids: 430.8 km², 29 streets
    of ~15-grid communities), as hex WKB lines."""
    streets = max(1, round(29 * n_grids / 9_000))
    district = make_district(
        seed=seed,
        area_km2=430.8 * n_grids / 9_000,
        n_streets=streets,
        communities_per_street=max(1, round(n_grids / 15 / streets)),
    )
    geoms = np.array([g for _, g in make_grids(district, n_grids=n_grids, seed=seed)], dtype=object)
    path.write_text("\n".join(shapely.to_wkb(geoms, hex=True)), encoding="ascii")
    return path


@pytest.fixture(scope="module")
def layer_wkb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded synthetic district of ~N_GRIDS irregular grids."""
    return write_layer(tmp_path_factory.mktemp("grid_index_memory") / "grids.wkb", N_GRIDS)


def measure(path: Path) -> dict[str, int]:
    """Run the child on the layer and return its figures (bytes)."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_a_built_index_keeps_about_its_arrays_and_its_build_peak_is_bounded(layer_wkb) -> None:
    m = measure(layer_wkb)
    mib = {k: round(v / 2**20, 1) for k, v in m.items() if k != "n_grids"}
    assert m["n_grids"] >= 0.95 * N_GRIDS, m
    geometries = m["geoms"] - m["before"]
    retained = m["after"] - m["before"]
    assert m["nbytes"] > 5 * 2**20, mib  # a raster of several MiB, else the ratios mean little
    assert retained <= 1.5 * (m["nbytes"] + geometries), mib
    assert m["after"] - m["geoms"] <= 1.5 * m["nbytes"], mib
    assert m["peak"] - m["geoms"] <= 3.5 * m["nbytes"], mib


if __name__ == "__main__":
    import tempfile

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 9_000
    with tempfile.TemporaryDirectory() as tmp:
        m = measure(write_layer(Path(tmp) / "grids.wkb", n))
    mib = {k: v / 2**20 for k, v in m.items() if k != "n_grids"}
    print(
        f"{m['n_grids']:,} grids; MiB: index.nbytes {mib['nbytes']:.1f}, RSS before "
        f"{mib['before']:.1f}, geometries (loaded + prepared) +{mib['geoms'] - mib['before']:.1f}, "
        f"build peak +{mib['peak'] - mib['geoms']:.1f}, retained +{mib['after'] - mib['geoms']:.1f}"
        f" ({(m['after'] - m['geoms']) / m['nbytes']:.2f}× nbytes)"
    )
