"""Components: automatic codes never reused, bulk loading with grids, schemes, extensions, lines."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from sqlalchemy import func, select

from tests.factories import DX, DY, X0, Y0
from tests.registry_factories import CENTER, WORKER_A, A, B, centre_of, setup_grids
from wangge.errors import ValidationFailed
from wangge.grids.models import Grid
from wangge.registry import components as svc
from wangge.registry.bulk import bulk_load
from wangge.registry.component_codes import parse_component_code
from wangge.registry.history import history
from wangge.registry.models import Component, ComponentSerial


@pytest.fixture
def territory(session):
    setup_grids(session)
    return session


def _component(session, principal=CENTER, community=A, **data):
    lon, lat = centre_of(community)
    return svc.save_component(
        session,
        principal,
        {"class_code": "0101", "lon": lon, "lat": lat, **data},
        county_code="110108",
    )


def test_a_new_component_gets_a_16_digit_code_and_its_grid(territory):
    c = _component(territory, name="上水井盖", owner_dept="自来水集团")
    assert c.code == "1101080101000001" and parse_component_code(c.code).serial == 1
    assert c.community_code == A and c.grid_id is not None and c.state == "完好"


def test_codes_are_never_reused_after_a_deletion(territory):
    first = _component(territory)
    second = _component(territory)
    svc.delete_component(territory, CENTER, second.id)
    third = _component(territory)
    assert [first.code[-6:], third.code[-6:]] == ["000001", "000003"]
    counter = territory.get(ComponentSerial, ("110108", "0101"))
    assert counter.last_serial == 3
    assert [h.action for h in history(territory, "component", second.id)] == ["create", "delete"]


def test_the_17_digit_scheme_is_selectable(territory):
    c = _component(territory, class_code="01001", scheme="GB/T 47678.5")
    assert len(c.code) == 17 and c.scheme == "GB/T 47678.5"


def test_an_unknown_class_and_a_bad_state_are_refused(territory):
    with pytest.raises(ValidationFailed) as err:
        _component(territory, class_code="0199")
    assert err.value.field == "class_code"
    with pytest.raises(ValidationFailed) as err:
        _component(territory, state="坏了")
    assert err.value.field == "state"


def test_local_classes_live_under_major_class_21(territory):
    svc.add_extension(territory, CENTER, "110108", "2101", "给水管线")
    line = f"LINESTRING ({X0 + 0.1 * DX} {Y0 + 0.9 * DY}, {X0 + 0.4 * DX} {Y0 + 0.9 * DY})"
    c = _component(territory, class_code="2101", wkt=line, network="给水", lon=None, lat=None)
    assert (
        c.code.startswith("1101082101")
        and c.geom.geom_type == "LineString"
        and c.network == "water"
    )
    assert c.grid_id is not None and abs(c.lon - (X0 + 0.25 * DX)) < 1e-9
    with pytest.raises(ValidationFailed):
        svc.add_extension(territory, CENTER, "110108", "0150", "不在21大类")


def test_a_worker_cannot_place_a_component_outside_his_community(territory):
    from wangge.errors import Forbidden

    with pytest.raises(Forbidden):
        _component(territory, WORKER_A, community=B)


def test_bulk_loading_assigns_codes_grids_and_continues_the_counters(territory):
    _component(territory)  # serial 1 of 0101 is taken
    rng = np.random.default_rng(3)
    n = 500
    lon = X0 + rng.uniform(0, 2 * DX, n)
    lat = Y0 + rng.uniform(0, DY, n)
    classes = rng.choice(["0101", "0102", "0201"], size=n)
    assert bulk_load(
        territory, CENTER, county_code="110108", class_codes=classes, lon=lon, lat=lat,
        fields={"data_source": "普查"},
    ) == n  # fmt: skip
    rows = territory.execute(
        select(Component.code, Component.grid_id, Component.community_code)
    ).all()
    codes = [r[0] for r in rows]
    assert len(codes) == len(set(codes)) == n + 1
    per_class = {c: int((classes == c).sum()) for c in ("0101", "0102", "0201")}
    for cls, count in per_class.items():
        serials = sorted(int(code[-6:]) for code in codes if code[6:10] == cls)
        extra = 1 if cls == "0101" else 0  # the component saved before the load
        assert serials == list(range(1, count + extra + 1))
    grid_codes = dict(territory.execute(select(Grid.id, Grid.code)).all())
    for _code, grid_id, community in rows:
        assert grid_id is not None and grid_codes[grid_id].startswith(community)
    assert territory.scalar(select(func.count()).where(Component.community_code == B)) > 0


def test_bulk_loading_keeps_line_geometry(territory):
    lines = [shapely.LineString([(X0 + 0.1 * DX, Y0 + 0.1 * DY), (X0 + 0.2 * DX, Y0 + 0.1 * DY)])]
    bulk_load(
        territory, CENTER, county_code="110108", class_codes=np.array(["0101"]),
        lon=np.array([X0 + 0.15 * DX]), lat=np.array([Y0 + 0.1 * DY]), geoms=lines,
    )  # fmt: skip
    c = territory.scalars(select(Component)).one()
    assert c.geom.equals(lines[0]) and c.maxx == pytest.approx(X0 + 0.2 * DX)


def test_bulk_loading_refuses_an_unknown_class_before_writing(territory):
    with pytest.raises(ValidationFailed):
        bulk_load(
            territory, CENTER, county_code="110108", class_codes=np.array(["0101", "0999"]),
            lon=np.array([X0, X0]), lat=np.array([Y0, Y0]),
        )  # fmt: skip
    assert territory.scalar(select(func.count()).select_from(Component)) == 0


def _schema(session):  # type: ignore[no-untyped-def]
    from sqlalchemy import inspect

    insp = inspect(session.connection())
    return (
        sorted(i["name"] for i in insp.get_indexes("components")),
        sorted(f["name"] for f in insp.get_foreign_keys("components")),
        sorted(u["name"] for u in insp.get_unique_constraints("components")),
    )


def test_a_large_load_rebuilds_every_index_and_constraint_it_dropped(territory, monkeypatch):
    import wangge.registry.bulk as bulk

    monkeypatch.setattr(bulk, "REBUILD_AT", 10)  # take the million-row path with 50 rows
    before = _schema(territory)
    lon = np.full(50, X0 + 0.5 * DX)
    lat = np.full(50, Y0 + 0.5 * DY)
    bulk_load(
        territory,
        CENTER,
        county_code="110108",
        class_codes=np.array(["0101"] * 50),
        lon=lon,
        lat=lat,
    )
    assert _schema(territory) == before
    assert territory.scalar(select(func.count(func.distinct(Component.code)))) == 50
