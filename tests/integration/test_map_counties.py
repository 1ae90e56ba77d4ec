"""The map's snapshots per county within a memory budget, and wide views from summaries.

Three counties of 100 components each, committed (threads and requests use their own
sessions), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import box
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from tests.api_support import serve_session
from tests.conftest import scratch_pg
from tests.registry_factories import CENTER
from wangge.auth import service
from wangge.auth.principal import Principal
from wangge.common.cache import clear_all
from wangge.config import Settings
from wangge.db import make_engine
from wangge.dbadmin import upgrade
from wangge.divisions.service import DivisionIn, load_divisions
from wangge.grids.locating import clear_cache
from wangge.grids.service import GridIn, add_grids, new_version
from wangge.grids.versions import activate_version
from wangge.main import create_app
from wangge.registry import history, map_snapshot, map_summary
from wangge.registry.bulk import bulk_load
from wangge.registry.map_layer import View, map_layer
from wangge.registry.map_snapshot import KINDS, cached_bytes, cached_counties, counters
from wangge.registry.map_summary import inner_cells, summaries_built, warm
from wangge.registry.models import Component

KIND = KINDS["components"]
COUNTIES = ("110101", "110102", "110105")
PER_COUNTY = 100
ALL = (115.99, 39.89, 116.41, 39.97)  # the three counties and a margin
ONE_COUNTY = 8000  # bytes: holds one county's snapshot (52 B × 100 rows), not two
PASSWORD = "County-Map-2026"


def _box(i: int) -> tuple[float, float, float, float]:
    x = 116.0 + 0.15 * i  # ~8.5 × 5.5 km: several cells of zoom 12 (~1.9 km)
    return (x, 39.9, x + 0.1, 39.96)


def _seed(s: Session) -> None:
    for i, county in enumerate(COUNTIES):
        area = box(*_box(i))
        load_divisions(
            s,
            [
                DivisionIn(county, f"区{i}", area),
                DivisionIn(county + "001", f"街道{i}", area),
                DivisionIn(county + "001001", f"社区{i}", area),
            ],
        )
        version = new_version(s, county, "social", "v1")
        add_grids(s, version, [GridIn(kind="basic", geom=area)], width=3)
        activate_version(s, version.id)
        _components(s, county, i, PER_COUNTY, seed=i)


def _components(s: Session, county: str, i: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = _box(i)
    bulk_load(
        s, CENTER, county_code=county, class_codes=np.array(["0101", "0201"] * (n // 2)),
        lon=rng.uniform(x0 + 1e-4, x1 - 1e-4, n), lat=rng.uniform(y0 + 1e-4, y1 - 1e-4, n),
    )  # fmt: skip


def _sqlite(tmp_path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'counties.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def engine(request, tmp_path, worker_id) -> Iterator[Engine]:
    made = _sqlite(tmp_path) if request.param == "sqlite" else scratch_pg(worker_id, "counties")
    for engine in made:
        upgrade(engine)
        _fresh()
        map_snapshot.set_budget(0)  # unbounded unless a test sets one (an app sets 400 MB)
        with Session(engine) as s:
            _seed(s)
            s.commit()
        yield engine
        _fresh()
        map_snapshot.set_budget(0)


def _fresh() -> None:
    clear_cache()
    clear_all()  # snapshots, summaries and county extents too


def _layer(engine: Engine, who: Principal, bbox, zoom: int) -> dict:
    with Session(engine) as s:
        return map_layer(s, who, "components", View(bbox=bbox, zoom=zoom, limit=1))


def _held(engine: Engine) -> set[str]:
    return set(cached_counties(str(engine.url), KIND))


def test_a_scoped_users_map_loads_only_their_county(engine):
    worker = Principal(
        name="w", permissions=frozenset({"registry.read"}), scope_prefixes=frozenset({"110102"})
    )
    body = _layer(engine, worker, ALL, 12)
    assert body["total"] == PER_COUNTY
    assert _held(engine) == {"110102"} and counters()[0] == 1


def test_a_budget_of_one_county_evicts_the_least_recent_and_reloads_it(engine):
    map_snapshot.set_budget(ONE_COUNTY / 2**20)
    assert _layer(engine, CENTER, _box(0), 14)["total"] == PER_COUNTY
    assert _layer(engine, CENTER, _box(1), 14)["total"] == PER_COUNTY
    assert _held(engine) == {"110102"} and counters() == (2, 1)
    assert cached_bytes() <= ONE_COUNTY
    with Session(engine) as s:  # the evicted county changes meanwhile
        first = select(Component.id).where(Component.county_code == "110101").limit(10)
        s.execute(delete(Component).where(Component.id.in_(first.scalar_subquery())))
        s.commit()
    assert _layer(engine, CENTER, _box(0), 14)["total"] == PER_COUNTY - 10
    assert _held(engine) == {"110101"} and counters() == (3, 2)


def test_concurrent_first_requests_for_a_county_load_it_once(engine):
    start = threading.Barrier(8)
    totals: list[int] = []

    def first_request() -> None:
        start.wait()
        totals.append(_layer(engine, CENTER, _box(2), 14)["total"])

    threads = [threading.Thread(target=first_request) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert totals == [PER_COUNTY] * 8
    assert counters()[0] == 1  # the other seven waited for the first one's snapshot


def _cells(body: dict) -> list[tuple]:
    return sorted((c["count"], tuple(c["groups"])) for c in body["clusters"])


@pytest.mark.parametrize("zoom", [8, 10, 12])
def test_a_wide_view_counts_what_the_points_give_without_loading_every_county(engine, zoom):
    points = _layer(engine, CENTER, ALL, zoom)  # unbounded: all three counties loaded
    assert _held(engine) == set(COUNTIES)
    _fresh()
    map_snapshot.set_budget(ONE_COUNTY / 2**20)
    wide = _layer(engine, CENTER, ALL, zoom)
    assert wide["mode"] == "clusters" and wide["total"] == 3 * PER_COUNTY == points["total"]
    assert _cells(wide) == _cells(points)  # the same cells with the same class breakdowns
    for a, b in zip(wide["clusters"], points["clusters"], strict=True):
        assert a["lon"] == pytest.approx(b["lon"], abs=1e-6)
    assert counters()[0] == 0 and not _held(engine)  # no county loaded for it
    assert summaries_built() == len(COUNTIES)


def test_a_county_cut_by_a_wide_views_edge_counts_its_points_in_view_when_held(engine):
    map_snapshot.set_budget(ONE_COUNTY / 2**20)
    _layer(engine, CENTER, _box(1), 14)  # the worker serves 110102
    cut = (115.99, 39.89, 116.2, 39.97)  # all of 110101, the west half of 110102
    cx0, cx1, cy0, cy1 = inner_cells(cut)
    assert cx0 <= cx1 and cy0 <= cy1  # summary cells of 110102 wholly in view: not its points
    with Session(engine) as s:
        west = s.scalars(
            select(Component.id).where(Component.county_code == "110102", Component.lon <= 116.2)
        ).all()
    assert 20 < len(west) < 80
    body = _layer(engine, CENTER, cut, 12)
    assert body["total"] == sum(c["count"] for c in body["clusters"]) == PER_COUNTY + len(west)
    assert _held(engine) == {"110102"} and counters()[0] == 1


def test_a_wide_view_keeps_the_county_a_worker_serves(engine):
    map_snapshot.set_budget(ONE_COUNTY / 2**20)
    assert _layer(engine, CENTER, _box(1), 14)["total"] == PER_COUNTY
    assert _layer(engine, CENTER, ALL, 10)["total"] == 3 * PER_COUNTY
    assert _held(engine) == {"110102"} and counters() == (1, 0)  # from summaries, no churn


def test_summaries_warmed_at_start_up_serve_a_cold_workers_province_view(engine):
    map_snapshot.set_budget(ONE_COUNTY / 2**20)
    with Session(engine) as s:
        assert warm(s) == len(COUNTIES)
    assert summaries_built() == 2 * len(COUNTIES)  # components and buildings
    assert _layer(engine, CENTER, ALL, 9)["total"] == 3 * PER_COUNTY
    assert counters()[0] == 0 and not _held(engine)  # no county read for the province view


def test_wide_views_follow_writes_in_a_county_not_held(engine):
    map_snapshot.set_budget(ONE_COUNTY / 2**20)
    assert _layer(engine, CENTER, ALL, 10)["total"] == 3 * PER_COUNTY
    with Session(engine) as s:
        _components(s, "110101", 0, 10, seed=9)
        s.commit()
    body = _layer(engine, CENTER, ALL, 10)
    assert body["total"] == sum(c["count"] for c in body["clusters"]) == 3 * PER_COUNTY + 10


def test_wide_views_follow_a_component_moved_out_of_a_county_not_held(engine, monkeypatch):
    # ids below the window are re-read anyway: here (a few hundred rows) that is every one
    monkeypatch.setattr(map_summary, "REREAD_WINDOW", 0)
    map_snapshot.set_budget(ONE_COUNTY / 2**20)
    assert _layer(engine, CENTER, ALL, 10)["total"] == 3 * PER_COUNTY
    with Session(engine) as s:
        moved = s.scalars(select(Component).where(Component.county_code == "110101")).first()
        assert moved is not None
        before = history.snapshot(moved)
        x0, y0, x1, y1 = _box(2)
        moved.county_code, moved.lon, moved.lat = "110105", (x0 + x1) / 2, (y0 + y1) / 2
        history.log_change(
            s, CENTER, object_type="component", obj=moved, action="update", before=before
        )
        s.commit()
    wide = _layer(engine, CENTER, ALL, 10)  # from summaries: neither county is held
    assert not _held(engine)
    _fresh()
    map_snapshot.set_budget(0)
    points = _layer(engine, CENTER, ALL, 10)  # every county loaded (unbounded)
    assert wide["total"] == points["total"] == 3 * PER_COUNTY  # not counted in both counties
    assert _cells(wide) == _cells(points)


def test_the_http_map_of_a_province_user_and_of_a_county_user(engine, tmp_path):
    budget = ONE_COUNTY / 2**20
    app = create_app(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'unused.db'}",
            log_json=False,
            map_snapshot_budget_mb=budget,
        )
    )
    with Session(engine) as s:
        service.seed_roles(s)
        for name, scope in (("sheng", None), ("quxian", "110105")):
            user = service.create_user(s, username=name, password=PASSWORD, display_name=name)
            service.assign_post(s, user, "supervisor" if scope else "admin", scope=scope)
        s.commit()
        serve_session(app, s)
        with TestClient(app) as client:
            province = _http(client, "sheng", zoom=10)
            assert province["total"] == 3 * PER_COUNTY and counters()[0] == 0
            assert sum(c["count"] for c in province["clusters"]) == province["total"]
            client.post("/api/v1/auth/logout")
            _fresh()
            county = _http(client, "quxian", zoom=12)
            assert county["total"] == PER_COUNTY and _held(engine) == {"110105"}


def _http(client: TestClient, username: str, zoom: int) -> dict:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    bbox = ",".join(str(v) for v in ALL)
    r = client.get("/web/api/map/components", params={"bbox": bbox, "zoom": zoom, "limit": 1})
    assert r.status_code == 200, r.text
    return r.json()
