"""Benchmark: reverse geocoding (the address a case stores) and place search.

Usage:
    python bench/bench_places.py [--db sqlite:////path/demo.db] [--buildings 100000]

With --db: the real service on a database (e.g. the demo's): the cold index build, then the
warm cost of `places.service.address_at` (what `create_case` adds per report; its grids are
already located) and of a search. Without it, or in addition: the pure index on a large
synthetic district (430 km², 600 communities, --buildings buildings, a street grid of named
roads). Prints its figures; nothing is written.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from wangge.places.index import Area, BuildingPlace, PlaceIndex, Road
from wangge.synthetic import make_district, random_points
from wangge.synthetic_roads import house_numbers, make_roads

QUERIES = ("幸福路1", "七里", "花园路8", "11010800", "SP0001", "社区")


def _per_call_us(fn: Callable[[int], object], n: int) -> tuple[float, float]:
    samples = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - t) * 1e6)
    samples.sort()
    return statistics.mean(samples), samples[int(0.99 * (n - 1))]


def bench_db(url: str, n: int) -> None:
    from sqlalchemy import select

    from wangge.cases.models import Case
    from wangge.db import make_engine, session_factory
    from wangge.grids.locating import active_versions, locate_refs
    from wangge.places import service

    engine = make_engine(url)
    with session_factory(engine)() as s:
        pts = s.execute(select(Case.lon, Case.lat).limit(n)).all() or [(116.3, 39.96)]
        county = active_versions(s)[0].county_code
        t = time.perf_counter()
        service.place_index(s, county)
        built = time.perf_counter() - t
        print(f"[db] cold index build of county {county}: {built * 1e3:.0f} ms ({url})")
        # What a worker pays per check interval to know whether anything changed (one look
        # for all its counties), against what each county rebuilt for nothing would cost.
        mean, p99 = _per_call_us(lambda _i: service._stamp(s), 50)
        print(f"[db] stamp look: mean {mean / 1e3:.1f} ms, p99 {p99 / 1e3:.1f} ms")
        refs = [locate_refs(s, x, y) for x, y in pts]

        def one(i: int) -> object:
            x, y = pts[i % len(pts)]
            r = refs[i % len(pts)]
            return service.address_at(s, x, y, r["social"], r["unit"])

        mean, p99 = _per_call_us(one, 5000)
        print(f"[db] address_at warm: mean {mean:.0f} µs, p99 {p99:.0f} µs over 5000 calls")
        from wangge.auth.principal import LOCAL_OPERATOR

        for q in QUERIES:
            mean, p99 = _per_call_us(lambda _i, q=q: service.search(s, LOCAL_OPERATOR, q), 50)
            print(f"[db] search {q!r}: mean {mean:.0f} µs, p99 {p99:.0f} µs")
    engine.dispose()


def bench_synthetic(n_buildings: int) -> None:
    t = time.perf_counter()
    d = make_district(seed=7, area_km2=430.0, n_streets=30, communities_per_street=20)
    roads_deg = make_roads(d, seed=7)
    lon, lat = random_points(d, n_buildings, seed=7)
    numbers = house_numbers(d, roads_deg, lon, lat)
    areas = [Area(s.code, s.name, "street", *s.geometry.centroid.coords[0]) for s in d.streets]
    comm_of = []
    for c in d.communities:
        x, y = c.geometry.representative_point().coords[0]
        areas.append(Area(c.code, c.name, "community", x, y, c.code, c.street_code))
        comm_of.append(c)
    import shapely

    tree = shapely.STRtree([c.geometry for c in comm_of])
    inside = tree.query(shapely.points(lon, lat), predicate="within")
    community = np.full(len(lon), -1)
    community[inside[0]] = inside[1]
    buildings = [
        BuildingPlace(i, f"{i}号楼", numbers[i], float(lon[i]), float(lat[i]),
                      comm_of[int(community[i])].code if community[i] >= 0 else "")
        for i in range(len(lon))
    ]  # fmt: skip
    roads = [Road(name, g, ()) for name, g in roads_deg]
    print(f"[synthetic] data: {len(buildings)} buildings, {len(roads)} roads, "
          f"{len(d.communities)} communities ({time.perf_counter() - t:.1f} s to generate)")  # fmt: skip
    t = time.perf_counter()
    index = PlaceIndex(roads=roads, buildings=buildings, areas=areas)
    print(f"[synthetic] index build: {(time.perf_counter() - t) * 1e3:.0f} ms")
    qx, qy = random_points(d, 5000, seed=8)
    mean, p99 = _per_call_us(lambda i: index.reverse(float(qx[i]), float(qy[i])), 5000)
    print(f"[synthetic] reverse: mean {mean:.0f} µs, p99 {p99:.0f} µs over 5000 points")
    for q in (*QUERIES, roads[0].name + "1"):
        mean, p99 = _per_call_us(lambda _i, q=q: index.search(q), 50)
        print(f"[synthetic] search {q!r}: mean {mean:.0f} µs, p99 {p99:.0f} µs")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None)
    ap.add_argument("--buildings", type=int, default=100_000)
    ap.add_argument("--cases", type=int, default=2000)
    args = ap.parse_args()
    if args.db:
        bench_db(args.db, args.cases)
    bench_synthetic(args.buildings)


if __name__ == "__main__":
    main()
