"""Pipelines on the console map: from street zoom on a line comes back as its whole line (not
one anchor point), in the base map's CRS, scoped to the caller's area (issue 18 item 5)."""

from __future__ import annotations

import pytest
import shapely

from tests.api import test_cases_api
from tests.api.test_cases_api import ADMIN
from tests.case_factories import COUNTY, FAR_SUPERVISOR, SUPERVISOR, SZSR
from tests.factories import DX, DY, X0, Y0
from wangge.common.geo import from_canonical_xy

api = test_cases_api.api  # a world, an app on the test's session, callers
__all__ = ["api"]
MAIN = f"LINESTRING ({X0 + 0.001} {Y0 + 0.0075}, {X0 + 1.5 * DX} {Y0 + 0.0075}, {X0 + 1.5 * DX} {Y0 + 0.002})"
VIEW = f"{X0 - 0.002},{Y0 - 0.002},{X0 + 2 * DX + 0.002},{Y0 + DY + 0.002}"
LINES = "/web/api/map/lines"


@pytest.fixture
def main(api) -> dict:
    api(ADMIN).post("/api/v1/registry/component-classes/pipelines", json={"county_code": COUNTY})
    body = {"class_code": "2102", "county_code": COUNTY, "wkt": MAIN, "name": "北侧排水干管",
            "owner_department_code": SZSR}  # fmt: skip
    r = api(ADMIN).post("/api/v1/registry/components", json=body)
    assert r.status_code == 201, r.text
    point = {"class_code": "0102", "county_code": COUNTY, "lon": X0 + 0.003, "lat": Y0 + 0.003}
    assert api(ADMIN).post("/api/v1/registry/components", json=point).status_code == 201
    return r.json()


def test_a_pipeline_comes_back_as_its_whole_line_at_street_zoom(api, main):
    r = api(ADMIN).get(LINES, params={"bbox": VIEW, "zoom": 16})
    assert r.status_code == 200, r.text
    features = r.json()["features"]
    assert [f["properties"]["code"] for f in features] == [main["code"]]  # the 井盖 is a point
    f = features[0]
    assert f["geometry"]["type"] == "LineString"
    assert shapely.equals_exact(shapely.geometry.shape(f["geometry"]), shapely.from_wkt(MAIN), 1e-7)
    p = f["properties"]
    assert (p["network"], p["class_name"], p["owner_department_code"]) == (
        "drainage",
        "排水管线",
        SZSR,
    )


def test_below_street_zoom_no_line_is_sent(api, main):
    body = api(ADMIN).get(LINES, params={"bbox": VIEW, "zoom": 14}).json()
    assert body["features"] == [] and body["min_zoom"] == 16


def test_the_line_is_moved_into_the_base_maps_crs(api, main):
    body = api(ADMIN).get(LINES, params={"bbox": VIEW, "zoom": 17, "crs": "GCJ-02"}).json()
    got = body["features"][0]["geometry"]["coordinates"]
    line = shapely.from_wkt(MAIN)
    xs, ys = from_canonical_xy([c[0] for c in line.coords], [c[1] for c in line.coords], "GCJ-02")
    assert len(got) == 3
    for (x, y), ex, ey in zip(got, xs, ys, strict=True):
        assert abs(x - ex) < 1e-6 and abs(y - ey) < 1e-6
    assert abs(got[0][0] - line.coords[0][0]) > 1e-4  # really shifted


def test_the_line_is_seen_in_the_grids_it_crosses_only(api, main):
    seen = api(SUPERVISOR).get(LINES, params={"bbox": VIEW, "zoom": 16})
    assert [f["properties"]["id"] for f in seen.json()["features"]] == [main["id"]]
    far = api(FAR_SUPERVISOR).get(LINES, params={"bbox": VIEW, "zoom": 16})
    assert far.status_code == 200 and far.json()["features"] == []


def test_a_bad_or_too_large_view_is_named(api):
    r = api(ADMIN).get(LINES, params={"bbox": "1,2,3", "zoom": 16})
    assert r.status_code == 422 and r.json()["code"] == "bad_bbox"
    r = api(ADMIN).get(LINES, params={"bbox": "116,39,117,40", "zoom": 16})
    assert (
        r.status_code == 422
        and r.json()["code"] == "bbox_too_large"
        and "范围过大" in r.json()["detail"]
    )
