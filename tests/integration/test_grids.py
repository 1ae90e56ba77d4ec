import numpy as np
import pytest
import shapely
from shapely.geometry import box

from tests.factories import COUNTY, DX, DY, X0, Y0, load_territory, quarters
from wangge.common.geo import wgs84_to_gcj02
from wangge.divisions.service import DivisionIn, load_divisions
from wangge.errors import NotFound, ValidationFailed
from wangge.grids.generate import generate_unit_version
from wangge.grids.locating import locate_many, locate_point
from wangge.grids.models import GridVersion, LocatedPoint
from wangge.grids.service import GridIn, add_grids, new_version, version_grids
from wangge.grids.versions import activate_version, validate_version

W = 3


def _social_version(session, communities=("110108001001", "110108001002", "110108002001")):
    version = new_version(session, COUNTY, "social", "v")
    rows = []
    for c in communities:
        if c == "110108002001":
            rows.append(GridIn(kind="basic", geom=box(X0, Y0 + DY, X0 + 2 * DX, Y0 + 2 * DY)))
        else:
            rows.extend(GridIn(kind="basic", geom=g) for g in quarters(c))
    add_grids(session, version, rows, width=W)
    return version


def test_grids_are_coded_west_to_east_then_north_to_south_inside_their_community(session):
    load_territory(session)
    version = _social_version(session)
    grids = version_grids(session, version.id, prefix="110108001001")
    by_code = {g.code: g.geom.centroid for g in grids}
    nw, ne, sw, se = (by_code[f"110108001001{i:03d}"] for i in range(1, 5))
    assert nw.x < ne.x and nw.y > sw.y and sw.x < se.x
    assert all(g.community_code == "110108001001" and g.county_code == COUNTY for g in grids)
    # 1/4 of about 0.95 km².
    assert all(2.2e5 < g.area_m2 < 2.5e5 for g in grids)


def test_the_community_is_found_from_the_position_when_not_given(session):
    load_territory(session)
    version = new_version(session, COUNTY, "social", "v")
    (grid,) = add_grids(
        session, version, [GridIn(kind="basic", geom=quarters("110108001002")[0])], width=W
    )
    assert grid.code == "110108001002001"


def test_a_given_code_with_another_communitys_prefix_is_refused_naming_the_row(session):
    load_territory(session)
    version = new_version(session, COUNTY, "social", "v")
    rows = [GridIn(kind="basic", geom=g) for g in quarters("110108001001")]
    rows[2].code = "110108001001003"
    rows[2].community_code = "110108001002"
    with pytest.raises(ValidationFailed) as err:
        add_grids(session, version, rows, width=W)
    assert err.value.details["row"] == 3
    assert "110108001002" in err.value.message_zh


def test_duplicate_codes_in_one_version_are_refused(session):
    load_territory(session)
    version = new_version(session, COUNTY, "social", "v")
    rows = [
        GridIn(kind="basic", geom=g, code="110108001001001") for g in quarters("110108001001")[:2]
    ]
    with pytest.raises(ValidationFailed) as err:
        add_grids(session, version, rows, width=W)
    assert err.value.code == "duplicate_code"


def test_micro_grids_hang_below_a_grid_and_duty_grids_unite_unit_grids(session):
    load_territory(session)
    social = _social_version(session)
    parent = version_grids(session, social.id, prefix="110108001001")[0]
    (micro,) = add_grids(
        session,
        social,
        [GridIn(kind="micro", geom=parent.geom.buffer(-1e-4), parent_code=parent.code)],
        width=W,
    )
    assert micro.code == parent.code + "01" and micro.parent_id == parent.id

    unit = new_version(session, COUNTY, "unit", "u")
    units = add_grids(
        session, unit, [GridIn(kind="unit", geom=g) for g in quarters("110108001001")], width=W
    )
    (duty,) = add_grids(
        session,
        unit,
        [GridIn(kind="duty", community_code="110108001001", members=[u.code for u in units[:2]])],
        width=W,
    )
    assert duty.geom.area == pytest.approx(units[0].geom.area + units[1].geom.area)
    with pytest.raises(ValidationFailed) as err:
        add_grids(
            session,
            unit,
            [GridIn(kind="duty", community_code="110108001001", members=["110108001001099"])],
            width=W,
        )
    assert "110108001001099" in err.value.message_zh


def test_a_kind_of_another_layer_is_refused(session):
    load_territory(session)
    version = new_version(session, COUNTY, "social", "v")
    with pytest.raises(ValidationFailed):
        add_grids(
            session, version, [GridIn(kind="unit", geom=quarters("110108001001")[0])], width=W
        )


def test_a_grid_crossing_its_community_is_refused_with_the_area_outside(session):
    load_territory(session)
    version = new_version(session, COUNTY, "social", "v")
    q = quarters("110108001001")
    crossing = shapely.union(q[1], box(X0 + DX, Y0 + DY / 2, X0 + DX * 1.2, Y0 + DY))
    rows = [
        GridIn(kind="basic", geom=q[0]),
        GridIn(kind="basic", geom=crossing, community_code="110108001001"),
    ]
    with pytest.raises(ValidationFailed) as err:
        add_grids(session, version, rows, width=W)
    assert err.value.code == "crosses_community" and err.value.details["row"] == 2
    assert "不得跨社区" in err.value.message_zh


def test_validation_reports_a_crossing_and_a_gap_after_the_community_is_redrawn(session):
    load_territory(session)
    version = new_version(session, COUNTY, "social", "v")
    q = quarters("110108001001")
    add_grids(
        session,
        version,
        [GridIn(kind="basic", geom=q[0]), GridIn(kind="basic", geom=q[1])],
        width=W,
    )
    # The community shrinks by 100 m on its north side after the grids were drawn.
    load_divisions(
        session, [DivisionIn("110108001001", "社区001", box(X0, Y0, X0 + DX, Y0 + DY * 0.9))]
    )
    problems = validate_version(session, version.id, width=W)
    kinds = {p.kind for p in problems}
    assert kinds == {"outside_parent", "gap"}
    outside = [p for p in problems if p.kind == "outside_parent"]
    assert {p.keys[0] for p in outside} == {"110108001001001", "110108001001002"}


def test_a_clean_division_validates_without_problems(session):
    load_territory(session)
    version = _social_version(session)
    assert validate_version(session, version.id, width=W) == []


def test_points_are_located_and_follow_a_re_division(session):
    load_territory(session)
    v1 = _social_version(session)
    activate_version(session, v1.id)
    lon = np.array([X0 + 0.25 * DX, X0 + 0.75 * DX, X0 + 0.5 * DX, X0 + 5])
    lat = np.array([Y0 + 0.75 * DY, Y0 + 0.25 * DY, Y0 + 1.5 * DY, Y0])
    found = locate_many(session, lon, lat)["social"]
    assert found[3] == -1
    session.add_all(
        LocatedPoint(
            county_code=COUNTY,
            layer="cams",
            key=str(i),
            lon=float(x),
            lat=float(y),
            grid_id=int(g) if g >= 0 else None,
        )
        for i, (x, y, g) in enumerate(zip(lon, lat, found, strict=True))
    )
    session.flush()

    # v2: the two north-west quarters of 110108001001 merged, the 110108002001 grid split in two.
    q = quarters("110108001001")
    v2 = new_version(session, COUNTY, "social", "v2")
    rows = [
        GridIn(kind="basic", geom=shapely.union(q[0], q[1])),
        GridIn(kind="basic", geom=q[2]),
        GridIn(kind="basic", geom=q[3]),
    ]
    rows += [GridIn(kind="basic", geom=g) for g in quarters("110108001002")]
    rows += [
        GridIn(kind="basic", geom=box(X0, Y0 + DY, X0 + DX, Y0 + 2 * DY)),
        GridIn(kind="basic", geom=box(X0 + DX, Y0 + DY, X0 + 2 * DX, Y0 + 2 * DY)),
    ]
    add_grids(session, v2, rows, width=W)
    report = activate_version(session, v2.id)

    diff = report["diff"]
    assert diff["merged"] == [
        {"old": ["110108001001001", "110108001001002"], "new": "110108001001001"}
    ]
    assert diff["split"] == [
        {"old": "110108002001001", "new": ["110108002001001", "110108002001002"]}
    ]
    moved = report["moved"]["located_points"]
    assert moved["total"] == 4 and moved["unlocated"] == 1
    point_codes = {p.key: (p.grid_id) for p in session.query(LocatedPoint)}
    grids_v2 = {g.id: g.code for g in version_grids(session, v2.id)}
    assert grids_v2[point_codes["2"]] == "110108002001001"
    # The old version stays queryable, retired.
    assert session.get(GridVersion, v1.id).status == "retired"
    assert len(version_grids(session, v1.id)) == 9


def test_rolling_back_reactivates_the_old_version(session):
    load_territory(session)
    v1 = _social_version(session)
    activate_version(session, v1.id)
    v2 = _social_version(session, communities=("110108001001",))
    activate_version(session, v2.id)
    assert locate_point(session, X0 + 1.5 * DX, Y0 + 0.5 * DY)["social"] is None
    activate_version(session, v1.id)
    assert locate_point(session, X0 + 1.5 * DX, Y0 + 0.5 * DY)["social"].code.startswith(
        "110108001002"
    )
    with pytest.raises(ValidationFailed):
        add_grids(session, v1, [GridIn(kind="basic", geom=quarters("110108001001")[0])], width=W)


def test_a_point_given_in_gcj02_is_converted_before_lookup(session):
    load_territory(session)
    activate_version(session, _social_version(session).id)
    # A point 30 m inside the south-east corner quarter in WGS84; GCJ-02 shifts it ~500 m.
    lon, lat = X0 + DX - 0.0004, Y0 + 0.0004
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert locate_point(session, glon, glat, crs="GCJ02")["social"].code == "110108001001004"
    assert (
        locate_point(session, glon, glat)["social"] is None
        or locate_point(session, glon, glat)["social"].code != "110108001001004"
    )


def test_unit_grids_are_generated_for_a_community_and_coded_in_order(session):
    load_territory(session)
    version = generate_unit_version(
        session, COUNTY, width=W, cell_area_m2=10_000, communities=["110108001001"]
    )
    grids = version_grids(session, version.id)
    total = sum(g.area_m2 for g in grids)
    assert total == pytest.approx(
        session.get_one(
            __import__("wangge.divisions.models", fromlist=["Division"]).Division, "110108001001"
        ).area_m2,
        rel=1e-6,
    )
    assert 80 <= len(grids) <= 110
    assert [g.code for g in grids] == [f"110108001001{i:03d}" for i in range(1, len(grids) + 1)]
    first, last = grids[0].geom.centroid, grids[-1].geom.centroid
    assert first.y > last.y
    assert validate_version(session, version.id, width=W) == []


def test_generating_for_an_unknown_county_fails_cleanly(session):
    with pytest.raises((NotFound, ValidationFailed)):
        generate_unit_version(session, "110109", width=W)
