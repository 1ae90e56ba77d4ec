"""Pipeline classes in the component catalogue over HTTP: the standard 井盖 classes with their
network, the local line classes installed per county (idempotent, conflicts named), and a line
class that refuses a point (issue 18 item 5)."""

from __future__ import annotations

from tests.api import test_cases_api
from tests.api.test_cases_api import ADMIN
from tests.api.test_category_admin_api import _refused
from tests.case_factories import COUNTY, SZSR
from tests.factories import X0, Y0

api = test_cases_api.api  # a world, an app on the test's session, callers
__all__ = ["api"]
CLASSES = "/api/v1/registry/component-classes"
COMPONENTS = "/api/v1/registry/components"
MAIN = f"LINESTRING ({X0 + 0.001} {Y0 + 0.0075}, {X0 + 0.012} {Y0 + 0.0075})"
LOCAL = ["2101", "2102", "2103", "2104", "2105", "2106", "2107", "2108", "2109"]


def _classes(api, **params) -> dict[str, dict]:
    r = api(ADMIN).get(CLASSES, params={"county": COUNTY, **params})
    assert r.status_code == 200, r.text
    return {c["code"]: c for c in r.json()}


def test_the_standard_catalogue_marks_the_pipeline_classes_with_their_network(api):
    classes = _classes(api)
    assert (classes["0101"]["name"], classes["0101"]["network"]) == ("上水井盖", "water")
    assert classes["0103"]["network"] == "drainage" and classes["0111"]["network"] == "gas"
    assert classes["0110"]["network"] == "heat" and classes["0107"]["network"] == "telecom"
    assert classes["0301"]["network"] is None  # 公共厕所: no pipeline
    # GB/T 30428.2 has no line class; GB/T 47678.5 has three pipelines of its own
    assert {c["geometry"] for c in classes.values()} == {"point"}
    newer = _classes(api, scheme="GB/T 47678.5")
    assert {k for k, c in newer.items() if c["geometry"] == "line"} == {"01056", "01057", "01061"}
    assert newer["01057"]["network"] == "gas"


def test_the_local_line_classes_are_installed_once_and_listed_lines_first(api):
    r = api(ADMIN).post(f"{CLASSES}/pipelines", json={"county_code": COUNTY})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["added"] == LOCAL
    lines = [c for c in body["classes"] if c["geometry"] == "line"]
    assert sorted(c["code"] for c in lines) == LOCAL
    assert lines == sorted(lines, key=lambda c: (c["network"], c["code"]))  # by network
    assert body["classes"][0]["geometry"] == "line"
    assert any(c["code"] == "0102" and c["network_zh"] == "排水" for c in body["classes"])
    classes = _classes(api)
    assert (classes["2102"]["name"], classes["2102"]["network"]) == ("排水管线", "drainage")
    assert classes["2102"]["geometry"] == "line" and classes["2102"]["extension"]
    again = api(ADMIN).post(f"{CLASSES}/pipelines", json={"county_code": COUNTY}).json()
    assert again["added"] == []


def test_a_local_code_taken_by_another_class_is_named_and_nothing_is_added(api):
    r = api(ADMIN).post(
        CLASSES, json={"county_code": COUNTY, "code": "2101", "name": "共享单车停放点"}
    )
    assert r.status_code == 201, r.text
    body = _refused(api(ADMIN).post(f"{CLASSES}/pipelines", json={"county_code": COUNTY}), 409,
                    "class_code_taken", "code")  # fmt: skip
    assert "共享单车停放点" in body["detail"] and "给水管线" in body["detail"]
    assert "2102" not in _classes(api)


def test_a_line_class_refuses_a_point_and_names_its_network_by_default(api):
    api(ADMIN).post(f"{CLASSES}/pipelines", json={"county_code": COUNTY})
    point = {"class_code": "2102", "county_code": COUNTY, "lon": X0 + 0.002, "lat": Y0 + 0.002}
    body = _refused(api(ADMIN).post(COMPONENTS, json=point), 422, "line_required", "geometry")
    assert "排水管线" in body["detail"] and "LineString" in body["detail_en"]
    assert api(ADMIN).get(COMPONENTS, params={"class_code": "2102"}).json()["total"] == 0
    line = {"class_code": "2102", "county_code": COUNTY, "wkt": MAIN, "owner_department_code": SZSR}
    r = api(ADMIN).post(COMPONENTS, json=line)
    assert r.status_code == 201, r.text
    assert r.json()["network"] == "drainage" and len(r.json()["grid_codes"]) >= 2
    # a line class keeps its line: moving it to a point is refused as well
    moved = api(ADMIN).patch(
        f"{COMPONENTS}/{r.json()['id']}", json={"lon": X0 + 0.002, "lat": Y0 + 0.002}
    )
    _refused(moved, 422, "line_required", "geometry")


def test_a_custom_local_class_may_be_declared_a_line_of_a_network(api):
    body = {
        "county_code": COUNTY,
        "code": "2120",
        "name": "再生水管线",
        "network": "给水",
        "geometry": "line",
    }
    r = api(ADMIN).post(CLASSES, json=body)
    assert r.status_code == 201, r.text
    assert (r.json()["network"], r.json()["geometry"]) == ("water", "line")
    assert _classes(api)["2120"]["geometry"] == "line"
    bad = {**body, "code": "2121", "name": "蒸汽管线", "network": "steam"}
    _refused(api(ADMIN).post(CLASSES, json=bad), 422, "bad_choice", "network")
