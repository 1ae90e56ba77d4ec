"""Excel: templates with drop-downs, row-level reports, all-or-nothing, round trips, masked exports."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from tests.registry_factories import (
    CENTER,
    WORKER_A,
    A,
    B,
    centre_of,
    credit_code,
    id_number,
    setup_grids,
)
from wangge.audit.models import AuditEntry
from wangge.errors import Forbidden, ValidationFailed
from wangge.registry import people
from wangge.registry.excel import export_workbook, import_workbook, template
from wangge.registry.models import Component, Organisation, Person
from wangge.registry.sheets import COMPONENTS, ORGANISATIONS, PEOPLE, sheet_for

GOOD = id_number("11010819850307123")
OTHER = id_number("11010819920611004")


@pytest.fixture
def territory(session):
    setup_grids(session)
    return session


def _workbook(header: list[str], rows: list[list[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _rows(data: bytes) -> list[list[object]]:
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    return [list(r) for r in ws.iter_rows(values_only=True)]


def test_a_template_has_chinese_headers_and_drop_downs_for_code_lists():
    wb = load_workbook(io.BytesIO(template(PEOPLE)))
    ws = wb.worksheets[0]
    header = [c.value for c in ws[1]]
    assert header[:3] == ["系统编号", "姓名*", "公民身份号码"] and "与户主关系" in header
    formulas = [dv.formula1 for dv in ws.data_validations.dataValidation]
    assert any("代码表" in f for f in formulas)
    assert wb["代码表"].sheet_state == "hidden"
    assert "流动" in [c.value for c in wb["代码表"]["E"]]


def test_a_bad_id_number_is_reported_by_row_column_and_character_and_nothing_is_written(territory):
    bad = GOOD[:17] + ("0" if GOOD[17] != "0" else "1")
    data = _workbook(
        ["姓名*", "公民身份号码", "所属社区*", "人口类型"],
        [["张三", GOOD, A, "户籍"], ["李四", bad, A, "户籍"], ["王五", OTHER, A, "外星"]],
    )
    report = import_workbook(territory, CENTER, PEOPLE, data)
    assert report["written"] is False and report["created"] == 0
    first, second = report["errors"]
    assert (first["row"], first["column"]) == (3, "公民身份号码")
    assert "第18位校验码" in first["reason"] and bad not in first["value"]
    assert (second["row"], second["column"]) == (4, "人口类型") and "外星" in second["reason"]
    assert territory.scalars(select(Person)).all() == []


def test_valid_only_keeps_the_good_rows(territory):
    data = _workbook(
        ["姓名*", "公民身份号码", "所属社区*"],
        [["张三", GOOD, A], ["", OTHER, A], ["王五", OTHER, "不存在社区"]],
    )
    report = import_workbook(territory, CENTER, PEOPLE, data, valid_only=True)
    assert report["written"] and report["created"] == 1 and len(report["errors"]) == 2
    assert report["errors"][0]["reason"] == "姓名不能为空"
    assert report["errors"][1]["column"] == "所属社区"
    assert [p.name for p in territory.scalars(select(Person))] == ["张三"]


def test_rows_outside_the_workers_area_are_refused(territory):
    data = _workbook(["姓名*", "所属社区*"], [["张三", A], ["李四", B]])
    report = import_workbook(territory, WORKER_A, PEOPLE, data, valid_only=True)
    assert report["created"] == 1 and report["errors"][0]["row"] == 3


def test_an_exported_list_edited_and_imported_updates_the_records(territory):
    p = people.save_person(
        territory,
        CENTER,
        {"name": "张三", "id_number": GOOD, "phone": "13812345678", "community_code": A},
    )
    exported = export_workbook(territory, CENTER, PEOPLE)
    rows = _rows(exported)
    header, row = rows[0], rows[1]
    assert row[header.index("公民身份号码")] == "110108********" + GOOD[-4:]
    assert row[header.index("联系电话")] == "138****5678"
    row[header.index("姓名*")] = "张叁"
    row[header.index("户号")] = "H0001"
    row[header.index("与户主关系")] = "户主"
    report = import_workbook(territory, CENTER, PEOPLE, _workbook(header, [row]))
    assert report["errors"] == [] and report["updated"] == 1 and report["created"] == 0
    territory.refresh(p)
    # Masked cells left as exported change nothing; edited cells are saved.
    assert (p.name, p.id_number, p.phone, p.relation) == ("张叁", GOOD, "13812345678", "户主")
    assert p.household_id is not None


def test_exports_are_masked_and_unmasking_needs_permission_a_reason_and_is_audited(territory):
    people.save_person(territory, CENTER, {"name": "张三", "id_number": GOOD, "community_code": A})
    assert GOOD not in str(_rows(export_workbook(territory, CENTER, PEOPLE)))
    with pytest.raises(Forbidden):
        export_workbook(territory, WORKER_A, PEOPLE, unmask=True, reason="核查")
    with pytest.raises(ValidationFailed):
        export_workbook(territory, CENTER, PEOPLE, unmask=True)
    full = export_workbook(territory, CENTER, PEOPLE, unmask=True, reason="民政部门低保复核")
    assert GOOD in str(_rows(full))
    entry = territory.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry.action == "registry.people.export" and entry.reason == "民政部门低保复核"
    assert entry.detail["unmasked"] is True and GOOD not in str(entry.detail)


def test_a_worker_exports_only_his_community(territory):
    people.save_person(territory, CENTER, {"name": "张三", "community_code": A})
    people.save_person(territory, CENTER, {"name": "李四", "community_code": B})
    names = [r[1] for r in _rows(export_workbook(territory, WORKER_A, PEOPLE))[1:]]
    assert names == ["张三"]


def test_components_import_with_automatic_codes_and_a_named_bad_class(territory):
    lon, lat = centre_of(A)
    data = _workbook(
        ["部件标识码", "小类*", "名称", "经度", "纬度", "状态"],
        [["9999", "0101 上水井盖", "井盖", lon, lat, "完好"], ["", "0199", "无", lon, lat, "完好"]],
    )
    report = import_workbook(territory, CENTER, COMPONENTS, data, valid_only=True)
    assert report["created"] == 1 and report["errors"][0]["column"] == "小类"
    code = territory.scalars(select(Component.code)).one()
    assert code == "1101080101000001"  # the file's code is ignored: codes are assigned


def test_a_bad_credit_code_names_the_character(territory):
    good = credit_code()
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    data = _workbook(["名称*", "统一社会信用代码", "所属社区*", "从业人数", "参保人数"],
                     [["甲公司", good, A, 10, 8], ["乙公司", bad, A, 5, 9], ["丙公司", "", A, 10, 12]])  # fmt: skip
    report = import_workbook(territory, CENTER, ORGANISATIONS, data)
    assert not report["written"]
    first, second = report["errors"]
    assert (
        first["row"] == 3 and first["column"] == "统一社会信用代码" and "第18位" in first["reason"]
    )
    assert second["row"] == 4 and second["column"] == "参保人数"
    assert territory.scalars(select(Organisation)).all() == []


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValidationFailed):
        sheet_for("cars")
