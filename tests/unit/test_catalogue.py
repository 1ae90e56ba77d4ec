"""Component and event class catalogues, local extensions and component identifiers."""

from __future__ import annotations

import pytest

from wangge.errors import ValidationFailed
from wangge.registry.catalogue import load_catalogue
from wangge.registry.component_codes import ComponentCode, component_code, parse_component_code

SCHEMES = ["GB/T 30428.2", "GB/T 47678.5"]
KINDS = ["component", "event"]


# ------------------------------------------------------------------------ the catalogues


def test_gbt30428_2_components_have_six_major_and_84_to_85_minor_classes():
    catalogue = load_catalogue("GB/T 30428.2", "component")
    assert [(m.code, m.name) for m in catalogue.majors] == [
        ("01", "公用设施"),
        ("02", "道路交通"),
        ("03", "市容环境"),
        ("04", "园林绿化"),
        ("05", "房屋土地"),
        ("06", "其他设施"),
    ]
    assert 84 <= len(catalogue) <= 85
    per_major = {m.code: len(catalogue.minors_of(m.code)) for m in catalogue.majors}
    assert per_major == {"01": 38, "02": 17, "03": 11, "04": 10, "05": 3, "06": 6}


def test_the_default_catalogue_is_gbt30428_2_components():
    catalogue = load_catalogue()
    assert (catalogue.scheme, catalogue.kind) == ("GB/T 30428.2", "component")


def test_0311_noise_display_is_listed_but_marked_uncertain():
    catalogue = load_catalogue("GB/T 30428.2", "component")
    noise = catalogue.require("0311")
    assert noise.name == "噪声显示屏"
    assert noise.uncertain
    assert not catalogue.require("0310").uncertain


def test_gbt30428_2_events_have_the_five_majors_and_the_extension_major_21():
    catalogue = load_catalogue("GB/T 30428.2", "event")
    assert [(m.code, m.name) for m in catalogue.majors] == [
        ("01", "市容环境"),
        ("02", "宣传广告"),
        ("03", "施工管理"),
        ("04", "突发事件"),
        ("05", "街面秩序"),
        ("21", "扩展事件"),
    ]
    assert catalogue.major("21").extension  # type: ignore[union-attr]
    assert catalogue.minors_of("21") == ()


def test_street_order_events_run_from_0501_to_0513_plus_a_catch_all():
    codes = [m.code for m in load_catalogue("GB/T 30428.2", "event").minors_of("05")]
    assert codes == [f"05{n:02d}" for n in range(1, 14)] + ["0599"]


def test_catch_all_99_event_classes_are_marked_uncertain():
    catalogue = load_catalogue("GB/T 30428.2", "event")
    assert {m.code for m in catalogue if m.uncertain} == {"0199", "0299", "0399", "0499", "0599"}


def test_gbt47678_5_has_153_component_and_250_matter_classes():
    components = load_catalogue("GB/T 47678.5", "component")
    matters = load_catalogue("GB/T 47678.5", "event")
    assert len(components) == 153
    assert [m.code for m in components.majors] == ["01", "02", "03", "04", "05"]
    assert len(matters) == 250
    assert [m.code for m in matters.majors] == [f"{n:02d}" for n in range(1, 11)]


def test_gbt47678_5_matters_mirror_each_component_as_an_abnormality():
    components = load_catalogue("GB/T 47678.5", "component")
    matters = load_catalogue("GB/T 47678.5", "event")
    for component in components:
        assert matters.require(component.code).name == component.name + "异常"
    assert matters.require("06010").name == "暴露垃圾"
    assert matters.require("09001").name == "无照经营游商"


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_minor_class_sits_under_an_existing_major_with_the_schemes_width(scheme, kind):
    catalogue = load_catalogue(scheme, kind)  # type: ignore[arg-type]
    width = 4 if scheme == "GB/T 30428.2" else 5
    majors = {m.code for m in catalogue.majors}
    for minor in catalogue:
        assert len(minor.code) == width
        assert minor.major == minor.code[:2]
        assert minor.major in majors
        assert minor.name


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("kind", KINDS)
def test_the_source_notes_travel_with_the_catalogue(scheme, kind):
    notes = " ".join(load_catalogue(scheme, kind).notes)  # type: ignore[arg-type]
    assert "RECONSTRUCTED" in notes
    assert "Source" in notes


def test_unknown_schemes_and_kinds_are_refused():
    with pytest.raises(ValueError):
        load_catalogue("GB/T 99999", "component")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        load_catalogue("GB/T 30428.2", "case")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- lookups


def test_a_class_is_found_by_code_and_by_name():
    catalogue = load_catalogue()
    assert catalogue.get("0101").name == "上水井盖"  # type: ignore[union-attr]
    assert catalogue.by_name("上水井盖").code == "0101"  # type: ignore[union-attr]
    assert catalogue.by_name("古树名木").major == "04"  # type: ignore[union-attr]
    assert catalogue.major_by_name("园林绿化").code == "04"  # type: ignore[union-attr]


def test_name_lookup_ignores_bracket_width_and_spaces_and_knows_aliases():
    catalogue = load_catalogue()
    assert catalogue.by_name("输油(气)井盖").code == "0129"  # type: ignore[union-attr]
    assert catalogue.by_name(" 上水 井盖 ").code == "0101"  # type: ignore[union-attr]
    assert catalogue.by_name("防洪墙").code == "0606"  # type: ignore[union-attr]


def test_unknown_codes_and_names_give_none_or_a_validation_error():
    catalogue = load_catalogue()
    assert catalogue.get("0199") is None
    assert catalogue.by_name("不存在的部件") is None
    assert "0199" not in catalogue
    with pytest.raises(ValidationFailed) as err:
        catalogue.require("0199")
    assert err.value.code == "unknown_class"


# -------------------------------------------------------------------------- extensions


def test_a_local_extension_under_21_is_added_with_its_major_class():
    catalogue = load_catalogue()
    added = catalogue.extend("2101", "屋顶广告")
    assert added.extension
    assert catalogue.by_name("屋顶广告") is added
    assert catalogue.major("21").name == "扩展部件"  # type: ignore[union-attr]
    assert len(catalogue) == 86


def test_an_event_extension_joins_the_existing_extension_major():
    catalogue = load_catalogue("GB/T 30428.2", "event")
    catalogue.extend("2101", "共享单车乱停放")
    assert [m.code for m in catalogue.minors_of("21")] == ["2101"]
    assert catalogue.major("21").name == "扩展事件"  # type: ignore[union-attr]


def test_extensions_do_not_leak_into_the_next_loaded_catalogue():
    load_catalogue().extend("2101", "屋顶广告")
    assert load_catalogue().get("2101") is None


@pytest.mark.parametrize("code", ["2201", "0199", "2100", "210", "21001", "21a1", "２１０１"])
def test_extension_codes_outside_21xx_are_refused(code):
    with pytest.raises(ValidationFailed) as err:
        load_catalogue().extend(code, "新部件")
    assert err.value.code == "bad_extension_code"


def test_gbt47678_5_extensions_use_five_digit_codes():
    catalogue = load_catalogue("GB/T 47678.5", "component")
    assert catalogue.extend("21001", "屋顶广告").code == "21001"
    with pytest.raises(ValidationFailed):
        catalogue.extend("2102", "墙面广告")


def test_duplicate_extension_codes_are_refused():
    catalogue = load_catalogue()
    catalogue.extend("2101", "屋顶广告")
    with pytest.raises(ValidationFailed) as err:
        catalogue.extend("2101", "墙面广告")
    assert err.value.code == "duplicate_class"


@pytest.mark.parametrize("name", ["上水井盖", "防洪墙", "屋顶广告"])
def test_extension_names_that_already_exist_are_refused(name):
    catalogue = load_catalogue()
    catalogue.extend("2101", "屋顶广告")
    with pytest.raises(ValidationFailed) as err:
        catalogue.extend("2102", name)
    assert err.value.code == "duplicate_class"
    assert err.value.field == "name"


def test_an_empty_extension_name_is_refused():
    with pytest.raises(ValidationFailed) as err:
        load_catalogue().extend("2101", "  ")
    assert err.value.code == "bad_class_name"


# --------------------------------------------------------------------- component codes


def test_the_suzhou_example_is_a_water_supply_manhole_cover_in_gusu():
    parsed = parse_component_code("3205080101000001")
    assert parsed == ComponentCode("320508", "01", "0101", 1, "GB/T 30428.2")
    assert load_catalogue().require(parsed.minor).name == "上水井盖"
    assert component_code("320508", "0101", 1) == "3205080101000001"


def test_a_17_digit_gbt47678_5_code_round_trips():
    code = component_code("320508", "01001", 42, "GB/T 47678.5")
    assert code == "32050801001000042"
    county, major, minor, serial, scheme = parse_component_code(code)
    assert (county, major, minor, serial, scheme) == (
        "320508",
        "01",
        "01001",
        42,
        "GB/T 47678.5",
    )


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_class_of_each_scheme_round_trips_through_a_component_code(scheme):
    for index, minor in enumerate(load_catalogue(scheme, "component"), start=1):  # type: ignore[arg-type]
        serial = index * 7919 % 999_999 + 1
        code = component_code("110108", minor.code, serial, scheme)  # type: ignore[arg-type]
        assert len(code) == (16 if scheme == "GB/T 30428.2" else 17)
        parsed = parse_component_code(code)
        assert parsed == ComponentCode("110108", minor.major, minor.code, serial, scheme)
        assert component_code(parsed.county, parsed.minor, parsed.serial, parsed.scheme) == code


def test_the_largest_serial_fits_and_the_next_does_not():
    assert component_code("320508", "0101", 999_999).endswith("999999")
    with pytest.raises(ValidationFailed) as err:
        component_code("320508", "0101", 1_000_000)
    assert err.value.field == "serial"


@pytest.mark.parametrize("serial", [0, -1, True, "1", 1.0])
def test_serials_must_be_positive_integers(serial):
    with pytest.raises(ValidationFailed) as err:
        component_code("320508", "0101", serial)  # type: ignore[arg-type]
    assert err.value.field == "serial"


@pytest.mark.parametrize(
    ("county", "fragment"),
    [
        ("32050", "应为 6 位数字"),
        ("32050A", "应为 6 位数字"),
        ("990508", "省级代码 99"),
        ("320500", "不是区县级"),
        ("320008", "不是区县级"),
    ],
)
def test_county_codes_must_be_county_level_gbt2260_codes(county, fragment):
    with pytest.raises(ValidationFailed) as err:
        component_code(county, "0101", 1)
    assert fragment in err.value.message_zh
    assert err.value.field == "county"


@pytest.mark.parametrize("minor", ["0199", "0701", "0312", "101", "01001"])
def test_classes_missing_from_the_catalogue_or_of_the_wrong_width_are_refused(minor):
    with pytest.raises(ValidationFailed) as err:
        component_code("320508", minor, 1)
    assert err.value.field == "minor_class"


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("320508010100001", "实为 15 位"),
        ("320508010100000001", "实为 18 位"),
        ("32050801010000A1", "第15位应为数字"),
        ("", "不能为空"),
        ("3205080101000000", "流水号不能为 000000"),
        ("3205080199000001", "小类 0199"),
        ("32050801099000001", "小类 01099"),
        ("9905080101000001", "省级代码 99"),
        ("3205000101000001", "不是区县级"),
    ],
)
def test_malformed_component_codes_are_refused_with_the_reason(code, fragment):
    with pytest.raises(ValidationFailed) as err:
        parse_component_code(code)
    assert err.value.code == "bad_component_code"
    assert fragment in err.value.message_zh


def test_without_a_catalogue_any_21_extension_class_is_accepted():
    assert parse_component_code("3205082105000009").major == "21"
    with pytest.raises(ValidationFailed):
        parse_component_code("3205082100000009")


def test_with_a_catalogue_only_its_registered_extensions_are_accepted():
    catalogue = load_catalogue()
    catalogue.extend("2101", "屋顶广告")
    assert component_code("320508", "2101", 5, catalogue=catalogue) == "3205082101000005"
    assert parse_component_code("3205082101000005", catalogue=catalogue).minor == "2101"
    with pytest.raises(ValidationFailed):
        parse_component_code("3205082102000005", catalogue=catalogue)
    with pytest.raises(ValidationFailed):
        component_code("320508", "2102", 5, catalogue=catalogue)


def test_the_scheme_follows_the_catalogue_when_one_is_given():
    catalogue = load_catalogue("GB/T 47678.5", "component")
    assert component_code("320508", "02001", 1, catalogue=catalogue) == "32050802001000001"
    with pytest.raises(ValidationFailed) as err:
        parse_component_code("3205080101000001", catalogue=catalogue)
    assert "应为 17 位" in err.value.message_zh


def test_an_event_catalogue_cannot_validate_component_codes():
    with pytest.raises(ValueError):
        parse_component_code("3205080101000001", catalogue=load_catalogue(kind="event"))
