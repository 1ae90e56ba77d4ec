import pytest
import shapely
from shapely.geometry import Polygon, box
from sqlalchemy import func, select, text

from tests.factories import COMMUNITIES, COUNTY, load_territory
from wangge.divisions.models import Division
from wangge.divisions.service import (
    DivisionIn,
    get_division,
    list_divisions,
    load_divisions,
    subtree,
)
from wangge.errors import NotFound, ValidationFailed


def test_loading_a_hierarchy_keeps_codes_names_areas_and_the_tenant_key(session):
    load_territory(session)
    community = get_division(session, "110108001002")
    assert community.level == "community"
    assert community.parent_code == "110108001"
    assert community.county_code == COUNTY
    # 0.01° x 0.01° at 39.95°N is about 853 m x 1,110 m.
    assert 0.9e6 < community.area_m2 < 1.0e6
    assert [d.code for d in list_divisions(session, parent="110108001")] == [
        "110108001001",
        "110108001002",
    ]
    assert len(subtree(session, "110108001")) == 3


def test_boundaries_round_trip_through_the_database_unchanged(session):
    load_territory(session)
    session.expire_all()
    stored = session.get(Division, "110108002001").geom
    assert stored.equals(COMMUNITIES["110108002001"])
    assert stored.geom_type == "MultiPolygon"


@pytest.mark.postgis
def test_postgis_column_is_a_real_geometry_in_cgcs2000(pg_session):
    load_territory(pg_session)
    srid, gtype, area = pg_session.execute(
        text(
            "SELECT ST_SRID(geom), GeometryType(geom), ST_Area(geom::geography) "
            "FROM divisions WHERE code = '110108001001'"
        )
    ).one()
    assert (srid, gtype) == (4490, "MULTIPOLYGON")
    assert 0.9e6 < area < 1.0e6


def test_a_community_under_the_wrong_street_is_refused(session):
    load_territory(session)
    with pytest.raises(ValidationFailed) as err:
        load_divisions(
            session, [DivisionIn("110108001003", "错社区", box(0, 0, 1, 1), "110108002")]
        )
    assert "110108002" in err.value.message_zh


def test_a_missing_parent_is_refused_and_nothing_is_written(session):
    rows = [
        DivisionIn("110108", "海淀区", box(116.3, 39.9, 116.4, 40.0)),
        DivisionIn("110108009001", "孤儿社区", box(116.3, 39.9, 116.31, 39.91)),
    ]
    with pytest.raises(ValidationFailed) as err:
        load_divisions(session, rows)
    assert err.value.code == "parent_missing"
    assert "110108009" in err.value.message_zh
    assert session.scalar(select(func.count()).select_from(Division)) == 0


def test_a_self_intersecting_boundary_is_refused_with_its_location(session):
    bowtie = Polygon([(116.3, 39.9), (116.4, 40.0), (116.4, 39.9), (116.3, 40.0)])
    with pytest.raises(ValidationFailed) as err:
        load_divisions(session, [DivisionIn("110108", "海淀区", bowtie)])
    assert "Self-intersection" in err.value.message_en
    assert "116.35" in err.value.message_en
    assert session.scalar(select(func.count()).select_from(Division)) == 0


def test_reloading_a_division_updates_it_in_place(session):
    load_territory(session)
    load_divisions(
        session,
        [DivisionIn("110108001", "甲街道（更名）", shapely.box(116.30, 39.95, 116.32, 39.96))],
    )
    assert get_division(session, "110108001").name == "甲街道（更名）"
    assert session.scalar(select(func.count()).select_from(Division)) == 6


def test_unknown_division_is_not_found(session):
    with pytest.raises(NotFound):
        get_division(session, "110108999")
