"""How the registry pages name history values: code lists, labels and grids by name, no noise."""

from __future__ import annotations

from wangge.web.registry_display import TABS, history_rows, shown


def change(action: str, **fields: list) -> dict:
    return {
        "at": "2026-11-01T08:00:00+00:00",
        "actor": "wangwu",
        "action": action,
        "changes": fields,
    }


def test_history_is_newest_first_with_chinese_field_names_and_coded_values_named():
    rows = history_rows(
        "people",
        [
            change("create", id=[None, 7], county_code=[None, "110108"], name=[None, "张三"]),
            change("update", residence_kind=["registered", "floating"], grid_id=[None, 3]),
        ],
        {"grid_id": {3: "110108001001001"}},
    )
    assert [r["action"] for r in rows] == ["update", "create"]
    assert rows[0]["rows"] == [
        ("residence_kind", "人口类型", "户籍", "流动"),
        ("grid_id", "所在网格", "", "110108001001001"),
    ]
    assert rows[1]["rows"] == [("name", "姓名", "", "张三")]  # the id and county say nothing


def test_label_codes_are_named_and_unknown_or_structured_values_still_show():
    rows = history_rows(
        "people",
        [change("update", labels=[["elderly_alone"], ["elderly_alone", "x"]])],
        {"labels": {"elderly_alone": "独居老人"}},
    )
    assert rows[0]["rows"] == [("labels", "人员标签", "独居老人", "独居老人、x")]
    comp = history_rows("components", [change("update", attributes=[{"口径": 700}, None])], {})
    assert comp[0]["rows"] == [("attributes", "扩展属性", "口径: 700", "")]


def test_masked_values_pass_through_unchanged():
    rows = history_rows("people", [change("update", phone=[None, "139****1111"])], {})
    assert rows[0]["rows"] == [("phone", "联系电话", "", "139****1111")]
    assert shown(85.5) == "85.5" and shown(None) == "" and shown(["a", "b"]) == "a、b"


def test_every_tab_has_a_first_column_to_link_and_filters_named_as_the_export_expects():
    assert set(TABS) == {"people", "buildings", "rooms", "components", "organisations"}
    export_params = {"residence_kind", "use", "state", "org_kind", "integrity_grade"}
    for tab in TABS.values():
        assert tab.columns
        assert {f.param for f in tab.filters} <= export_params
