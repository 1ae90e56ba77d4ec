"""A component's owner department (权属部门) from the Excel import, checked like any dispatch target."""

from __future__ import annotations

import io

from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from tests.registry_factories import CENTER, A, centre_of, setup_grids
from wangge.departments.models import Department
from wangge.registry.excel import import_workbook, template
from wangge.registry.models import Component
from wangge.registry.sheets import COMPONENTS

OWNER = "110108-SZSR"


def _workbook(header: list[str], rows: list[list[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def test_the_owner_department_is_imported_and_an_unknown_or_inactive_one_is_named(session):
    setup_grids(session)
    session.add(Department(code=OWNER, name="区市政市容委", county_code="110108"))
    session.add(
        Department(code="110108-OLD", name="撤并部门", county_code="110108", is_active=False)
    )
    session.flush()
    header = [c.value for c in load_workbook(io.BytesIO(template(COMPONENTS))).worksheets[0][1]]
    assert "权属部门代码（派遣）" in header
    lon, lat = centre_of(A)
    data = _workbook(
        ["小类*", "经度", "纬度", "权属部门代码（派遣）"],
        [["0101", lon, lat, OWNER], ["0101", lon, lat, "110108-OLD"], ["0101", lon, lat, "NOPE"]],
    )
    report = import_workbook(session, CENTER, COMPONENTS, data, valid_only=True)
    assert report["created"] == 1
    assert [(e["row"], e["column"]) for e in report["errors"]] == [
        (3, "权属部门代码（派遣）"),
        (4, "权属部门代码（派遣）"),
    ]
    assert session.scalars(select(Component.owner_department_code)).all() == [OWNER]
