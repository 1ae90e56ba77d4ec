import pytest

from wangge.divisions.codes import (
    check_grid_code,
    community_kind,
    grid_code,
    normalize_division_code,
    parent_of,
    parse_division_code,
    street_kind,
)
from wangge.errors import ValidationFailed


def test_county_street_and_community_codes_are_recognised_by_length():
    assert parse_division_code("110108").level == "county"
    assert parse_division_code("110108001").level == "street"
    assert parse_division_code("110108001001").level == "community"


def test_padded_twelve_digit_codes_are_normalised():
    assert normalize_division_code("110108000000") == "110108"
    assert normalize_division_code("110108001000") == "110108001"
    assert normalize_division_code("110108001002") == "110108001002"


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("11010", "长度为 5"),
        ("1101080011", "长度为 10"),
        ("11010A", "只能包含数字"),
        ("990108", "省级代码 99"),
        ("110100", "地市级"),
        ("110108000001", "街道乡镇段 000"),
        ("110108001000000", "长度为 15"),
    ],
)
def test_malformed_codes_are_refused_with_the_reason(code, fragment):
    with pytest.raises(ValidationFailed) as err:
        parse_division_code(code)
    assert fragment in err.value.message_zh
    assert err.value.message_en


def test_a_community_must_share_the_prefix_of_its_parent():
    parse_division_code("110108001002", "110108001")
    with pytest.raises(ValidationFailed) as err:
        parse_division_code("110108001002", "110108002")
    assert "前缀与上级区划 110108002 不一致" in err.value.message_zh
    assert err.value.field == "parent_code"


def test_parent_is_derived_from_the_prefix():
    assert parent_of("110108001002") == "110108001"
    assert parent_of("110108001") == "110108"
    assert parent_of("110108") is None


def test_township_and_committee_types_follow_the_statistical_ranges():
    assert street_kind("001") == "街道"
    assert street_kind("101") == "镇"
    assert street_kind("201") == "乡"
    assert community_kind("001") == "居民委员会"
    assert community_kind("201") == "村民委员会"
    assert parse_division_code("110108101201").kind_zh == "村民委员会"


def test_grid_codes_append_a_sequence_of_the_configured_width():
    assert grid_code("110108001001", 7, 2) == "11010800100107"
    assert grid_code("110108001001", 7, 3) == "110108001001007"


def test_a_sequence_that_does_not_fit_the_width_is_refused():
    with pytest.raises(ValidationFailed) as err:
        grid_code("110108001001", 100, 2)
    assert err.value.code == "sequence_overflow"


def test_grid_code_checks_length_prefix_and_zero_sequence():
    check_grid_code("110108001001007", "110108001001", 3)
    with pytest.raises(ValidationFailed, match="15"):
        check_grid_code("11010800100107", "110108001001", 3)
    with pytest.raises(ValidationFailed) as err:
        check_grid_code("110108001002007", "110108001001", 3)
    assert "所属社区编码 110108001001" in err.value.message_zh
    with pytest.raises(ValidationFailed, match="0"):
        check_grid_code("110108001001000", "110108001001", 3)
    check_grid_code("11010800100100701", "110108001001", 3, micro=True)


def test_grid_and_micro_grid_codes_are_built_and_read_in_one_place():
    from wangge.divisions.codes import (
        community_of,
        grid_code,
        grid_sequence,
        micro_grid_code,
        parent_grid_of,
    )

    grid = grid_code("110108001001", 7, 3)
    micro = micro_grid_code(grid, 12)
    assert (grid, micro) == ("110108001001007", "11010800100100712")
    assert community_of(micro) == community_of(grid) == "110108001001"
    assert grid_sequence(grid) == 7 and grid_sequence(micro, 3) == 7
    assert parent_grid_of(micro) == grid
    with pytest.raises(ValidationFailed, match="微网格序号 100"):
        micro_grid_code(grid, 100)
