"""bulk_load refuses a batch with a pipeline that leaves the county: the row is named in Chinese
and English, and nothing of the batch is written (no component, no serial, no grid rows)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from sqlalchemy import func, select

from tests.factories import DX, X0, Y0
from tests.integration.test_pipeline_grids import ACROSS, territory  # noqa: F401  (fixture)
from tests.registry_factories import CENTER
from wangge.errors import ValidationFailed
from wangge.registry.bulk import bulk_load
from wangge.registry.models import Component, ComponentGrid, ComponentSerial

LEAVING = f"LINESTRING ({X0 + 0.005} {Y0 + 0.005}, {X0 - 0.01} {Y0 + 0.005})"


def _load(session, wkts: list[str]) -> int:
    lines = [shapely.from_wkt(w) for w in wkts]
    mids = np.array([g.interpolate(0.5, normalized=True).coords[0] for g in lines])
    return bulk_load(
        session, CENTER, county_code="110108", class_codes=np.array(["0101"] * len(lines)),
        lon=mids[:, 0], lat=mids[:, 1], geoms=lines,
    )  # fmt: skip


def test_a_batch_with_a_pipeline_leaving_the_county_is_refused_and_nothing_is_written(
    territory,  # noqa: F811
):
    serials = territory.scalars(select(ComponentSerial.last_serial)).all()
    with pytest.raises(ValidationFailed) as err:
        _load(territory, [ACROSS, LEAVING])
    e = err.value
    assert e.code == "outside_county" and e.field == "geometry" and e.details["row"] == 2
    assert "第 2 行" in e.message_zh and "区县 110108" in e.message_zh and "未写入" in e.message_zh
    assert "row 2" in e.message_en and "county 110108" in e.message_en
    assert territory.scalar(select(func.count(Component.id))) == 0
    assert territory.scalar(select(func.count()).select_from(ComponentGrid)) == 0
    assert territory.scalars(select(ComponentSerial.last_serial)).all() == serials


def test_a_batch_inside_the_county_still_loads(territory):  # noqa: F811
    inside = f"LINESTRING ({X0 + 0.001} {Y0 + 0.002}, {X0 + DX - 0.001} {Y0 + 0.002})"
    assert _load(territory, [ACROSS, inside]) == 2
    assert territory.scalar(select(func.count(Component.id))) == 2


def test_a_line_class_cannot_be_bulk_loaded_as_points(territory):  # noqa: F811
    from wangge.registry.pipeline_classes import install_pipeline_classes

    install_pipeline_classes(territory, CENTER, "110108")
    with pytest.raises(ValidationFailed) as err:
        bulk_load(
            territory, CENTER, county_code="110108", class_codes=np.array(["2105"]),
            lon=np.array([X0 + 0.002]), lat=np.array([Y0 + 0.002]),
        )  # fmt: skip
    assert err.value.code == "line_required" and "燃气管线" in err.value.message_zh
    assert territory.scalar(select(func.count(Component.id))) == 0
