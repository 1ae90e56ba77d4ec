"""The territory a page draws and offers to choose from: the user's area, or where his
departments work."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.cases.access import sees_area
from wangge.departments.models import Department
from wangge.divisions.models import Division


def page_area(session: Session, principal: Principal) -> Principal:
    """Return the principal whose scope the map and the list's area choices use.

    Staff posts have an area. A department handler has none: he sees the cases his department
    has a part in, wherever they lie (`cases.access.visible`). His pages draw and offer the
    counties his departments serve instead of an empty map; which cases he sees is unchanged.
    """
    if sees_area(principal) or not principal.department_codes:
        return principal
    counties: set[str] = set()
    rows = session.scalars(
        select(Department).where(Department.code.in_(sorted(principal.department_codes)))
    )
    for dept in rows:
        if dept.level == "city":  # a city's department works in the counties it serves
            counties.update(str(c) for c in dept.serves_counties or ())
        else:
            counties.add(dept.county_code[:6])
    return replace(principal, scope_prefixes=frozenset(counties)) if counties else principal


def counties_in_scope(session: Session, principal: Principal) -> list[tuple[str, str]]:
    """The counties (code, name) a page offers to choose from: those of the user's area."""
    query = select(Division.code, Division.name).where(Division.level == "county")
    scope = principal.county_codes()
    if scope is not None:
        query = query.where(Division.code.in_(sorted(scope)))
    return [(c, n) for c, n in session.execute(query.order_by(Division.code))]
