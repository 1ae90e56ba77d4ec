"""Departments as data meet dispatch: a city-level department takes cases of the counties it
serves; a deactivated one takes no new case and keeps its old ones."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.case_factories import CGW, COUNTY, build_world, report, to_dispatched
from wangge.auth.principal import LOCAL_OPERATOR
from wangge.cases.models import CasePart
from wangge.departments.checks import DepartmentData
from wangge.departments.models import Department
from wangge.departments.service import active_for_county, create_department, set_active
from wangge.errors import ValidationFailed


def parts(session, case_id: int) -> list[str]:
    return list(
        session.scalars(select(CasePart.department_code).where(CasePart.case_id == case_id))
    )


def test_a_city_department_takes_cases_of_the_counties_it_serves(session):
    build_world(session)
    create_department(
        session,
        LOCAL_OPERATOR,
        DepartmentData(
            code="110100-SZJ",
            county_code="110100",
            name="市住建委",
            level="city",
            serves_counties=[COUNTY],
        ),
    )
    assert ("110100-SZJ", "市住建委") in active_for_county(session, COUNTY)
    assert active_for_county(session, "110105") == []
    case = to_dispatched(session, report(session), department="110100-SZJ")
    assert parts(session, case.id) == ["110100-SZJ"]


def test_a_deactivated_department_keeps_its_cases_and_takes_no_new_one(session):
    build_world(session)
    old = to_dispatched(session, report(session))
    set_active(session, LOCAL_OPERATOR, session.get(Department, CGW), False)
    assert CGW not in dict(active_for_county(session, COUNTY))
    with pytest.raises(ValidationFailed) as caught:
        to_dispatched(session, report(session))
    assert caught.value.code == "unknown_department" and CGW in caught.value.message_zh
    assert parts(session, old.id) == [CGW]
    assert session.get(Department, CGW).name  # the name still shows on the old case
