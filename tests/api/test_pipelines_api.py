"""Pipelines over HTTP: every grid a line crosses, listing by grid, refusal outside the county,
and a case about a pipeline dispatched to the pipeline's owner department (issue 18 item 5)."""

from __future__ import annotations

from sqlalchemy import select

from tests.api import test_cases_api
from tests.api.test_cases_api import ADMIN, step
from tests.api.test_category_admin_api import _filed, _lead, _refused, _rule, lines
from tests.case_factories import COUNTY, DISPATCHER, SZSR
from tests.factories import DX, X0, Y0
from wangge.cases.categories import department_code
from wangge.grids.models import Grid, GridVersion

api = test_cases_api.api  # a world, an app on the test's session, callers
__all__ = ["api", "lines"]
HBJ = department_code(COUNTY, "HBJ")
# Drainage main along the north of communities 110108001001 and 110108001002: 4 grids.
MAIN = f"LINESTRING ({X0 + 0.001} {Y0 + 0.0075}, {X0 + 2 * DX - 0.001} {Y0 + 0.0075})"
COMPONENTS = "/api/v1/registry/components"


def _pipeline(api, wkt: str = MAIN):
    body = {
        "class_code": "0101", "county_code": COUNTY, "wkt": wkt, "network": "drainage",
        "name": "北侧排水干管", "owner_department_code": SZSR,
    }  # fmt: skip
    return api(ADMIN).post(COMPONENTS, json=body)


def _grids(session) -> dict[str, int]:
    return dict(
        session.execute(
            select(Grid.code, Grid.id)
            .join(GridVersion, Grid.version_id == GridVersion.id)
            .where(GridVersion.status == "active", GridVersion.layer == "social")
        ).all()
    )


def test_a_pipeline_shows_every_grid_it_crosses_and_is_listed_in_each(api, session):
    r = _pipeline(api)
    assert r.status_code == 201, r.text
    created = r.json()
    codes = created["grid_codes"]
    assert len(codes) == 4 and {c[:12] for c in codes} == {"110108001001", "110108001002"}
    assert api(ADMIN).get(f"{COMPONENTS}/{created['id']}").json()["grid_codes"] == codes
    grids = _grids(session)
    for code, grid_id in grids.items():
        listed = api(ADMIN).get(COMPONENTS, params={"grid_id": grid_id}).json()["items"]
        assert (created["id"] in {c["id"] for c in listed}) == (code in codes), code


def test_a_pipeline_leaving_the_county_is_refused_in_both_languages(api, session):
    outside = f"LINESTRING ({X0 + 0.005} {Y0 + 0.005}, {X0 - 0.02} {Y0 + 0.005})"
    body = _refused(_pipeline(api, outside), 422, "outside_county", "geometry")
    assert "区县" in body["detail"] and "county" in body["detail_en"]
    assert api(ADMIN).get(COMPONENTS, params={"network": "drainage"}).json()["total"] == 0


def test_a_case_about_a_pipeline_is_dispatched_to_its_owner(api, session, lines):
    code = _pipeline(api).json()["code"]
    # A rule sends the class elsewhere: the pipeline's owner still wins for a case about it.
    assert _rule(api, category_code="C0101", department_code=HBJ).status_code == 200
    about = _filed(api, category_code="C0101", component_code=code)
    other = _filed(api, category_code="C0101")
    step(api, DISPATCHER, about, "dispatch")
    step(api, DISPATCHER, other, "dispatch")
    assert (_lead(api, about), _lead(api, other)) == (SZSR, HBJ)
