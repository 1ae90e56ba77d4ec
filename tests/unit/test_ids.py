"""GB 11643 citizen IDs and GB 32100 unified social credit codes (notes.md §5.2, §5.3)."""

from __future__ import annotations

from datetime import date

import pytest

from wangge.common.ids import (
    CREDIT_CHARSET,
    credit_check_char,
    id_check_char,
    is_valid_credit_code,
    is_valid_id_number,
    org_code_check_char,
    parse_credit_code,
    parse_id_number,
)
from wangge.errors import ValidationFailed

TODAY = date(2026, 11, 26)
GOOD_IDS = ["360426199101010071", "120103198806018241"]
GOOD_CODES = ["91110108551385082Q", "91110000600037341L"]


def _id(first17: str) -> str:
    """Complete 17 digits with their correct check character."""
    return first17 + id_check_char(first17)


def _refusal(text: str, **kwargs: object) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as err:
        parse_id_number(text, today=TODAY, **kwargs)  # type: ignore[arg-type]
    return err.value


def _credit_refusal(text: str) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as err:
        parse_credit_code(text)
    return err.value


# ------------------------------------------------------------------------ citizen ID


@pytest.mark.parametrize(
    ("number", "birth", "sex", "region"),
    [
        ("360426199101010071", date(1991, 1, 1), "男", "360426"),
        ("120103198806018241", date(1988, 6, 1), "女", "120103"),
    ],
)
def test_known_good_ids_give_birth_date_sex_and_region(number, birth, sex, region):
    parsed = parse_id_number(number, today=TODAY)
    assert parsed.number == number
    assert parsed.birth_date == birth
    assert parsed.sex == sex
    assert parsed.region_code == region


def test_known_bad_id_names_the_check_character_and_what_it_should_be():
    err = _refusal("360426199101010072")
    assert err.code == "bad_id_number"
    assert err.field == "id_number"
    assert "第18位校验码应为 1，实为 2" in err.message_zh
    assert "should be 1, is 2" in err.message_en
    assert err.details == {"position": 18, "expected": "1", "actual": "2"}


def test_a_check_character_that_should_be_x_is_reported_as_x():
    good = _id("11010119900307002")
    assert good.endswith("X")
    err = _refusal(good[:17] + "2")
    assert "第18位校验码应为 X，实为 2" in err.message_zh


def test_lowercase_x_is_accepted_and_returned_uppercase():
    parsed = parse_id_number("11010119900307002x", today=TODAY)
    assert parsed.number == "11010119900307002X"


@pytest.mark.parametrize("good", GOOD_IDS)
def test_every_single_character_alteration_of_a_good_id_is_detected(good):
    alterations = 0
    for position in range(18):
        for char in "0123456789XA":
            if char == good[position]:
                continue
            altered = good[:position] + char + good[position + 1 :]
            with pytest.raises(ValidationFailed) as err:
                parse_id_number(altered, today=TODAY)
            # Every refusal points at a position, so an import report can show it.
            assert "position" in err.value.details, altered
            alterations += 1
    assert alterations == 18 * 11


def test_a_non_digit_names_its_position_and_character():
    err = _refusal("36042619910101A071")
    assert "第15位应为数字，实为 A" in err.message_zh
    assert err.details["position"] == 15


def test_x_is_refused_anywhere_but_the_last_position():
    err = _refusal("36042619910101X071")
    assert err.details["position"] == 15


@pytest.mark.parametrize("length", [0, 14, 16, 17, 19])
def test_wrong_lengths_are_refused_with_the_actual_length(length):
    err = _refusal("1" * length)
    assert f"实为 {length} 位" in err.message_zh
    assert err.details == {"length": length}


@pytest.mark.parametrize("birth", ["19910230", "19900229", "19911301", "19910001", "19910100"])
def test_impossible_birth_dates_are_refused_even_with_a_right_check_digit(birth):
    err = _refusal(_id(f"360426{birth}007"))
    assert f"第7–14位出生日期 {birth} 不是有效日期" in err.message_zh
    assert err.details["position"] == 7


def test_a_leap_day_birth_date_is_accepted():
    assert parse_id_number(_id("36042620000229007"), today=TODAY).birth_date == date(2000, 2, 29)


def test_a_birth_date_after_today_is_refused():
    err = _refusal(_id("36042620261127007"))
    assert "晚于今天 2026-11-26" in err.message_zh


def test_a_birth_date_of_today_is_accepted():
    assert parse_id_number(_id("36042620261126007"), today=TODAY).birth_date == TODAY


def test_today_decides_what_counts_as_the_future():
    number = _id("36042620261127007")
    assert parse_id_number(number, today=date(2026, 11, 27)).birth_date == date(2026, 11, 27)


def test_a_birth_date_before_1900_is_refused():
    err = _refusal(_id("36042618991231007"))
    assert "早于 1900 年" in err.message_zh


def test_a_legacy_15_digit_id_is_converted_to_18_digits_with_its_check_character():
    parsed = parse_id_number("360426910101007", today=TODAY)
    assert parsed.number == "360426199101010071"
    assert parsed.birth_date == date(1991, 1, 1)
    assert parsed.sex == "男"


def test_a_legacy_id_with_an_impossible_date_names_its_date_characters():
    err = _refusal("360426910230007")
    assert "第7–12位出生日期 19910230 不是有效日期" in err.message_zh


def test_a_legacy_id_with_a_letter_names_the_position():
    assert _refusal("36042691010100A").details["position"] == 15


def test_spaces_and_full_width_digits_from_spreadsheets_are_tolerated():
    assert (
        parse_id_number(" ３６０４２６１９９１０１０１００７１ ", today=TODAY).number == GOOD_IDS[0]
    )


def test_error_messages_never_repeat_the_full_id_number():
    err = _refusal("360426199101010072")
    assert "360426199101010072" not in str(err)
    assert "360426199101010072" not in repr(err.to_dict())


def test_the_field_name_can_be_set_for_other_columns():
    assert _refusal("1", field="legal_person_id").field == "legal_person_id"


def test_non_text_input_is_refused_not_crashed_on():
    assert _refusal(360426199101010071).code == "bad_id_number"  # type: ignore[arg-type]


def test_is_valid_id_number_answers_without_raising():
    assert is_valid_id_number(GOOD_IDS[0], today=TODAY)
    assert not is_valid_id_number("360426199101010072", today=TODAY)


# ------------------------------------------------------------- unified social credit code


@pytest.mark.parametrize(
    ("code", "region", "org_code"),
    [
        ("91110108551385082Q", "110108", "551385082"),
        ("91110000600037341L", "110000", "600037341"),
    ],
)
def test_known_good_credit_codes_split_into_their_parts(code, region, org_code):
    parsed = parse_credit_code(code)
    assert parsed.code == code
    assert parsed.registration_authority == "9"
    assert parsed.org_type == "1"
    assert parsed.region_code == region
    assert parsed.org_code == org_code
    assert parsed.authority_name == "工商/市场监管"
    assert parsed.org_type_name == "企业"


def test_check_helpers_reproduce_the_published_vectors():
    assert credit_check_char("91110108551385082") == "Q"
    assert org_code_check_char("55138508") == "2"


def test_organisation_code_checks_of_10_and_11_become_x_and_0():
    # 10000018: 3·1 + 4·1 + 2·8 = 23, 23 mod 11 = 1, 11 - 1 = 10 -> X.
    assert org_code_check_char("10000018") == "X"
    # 10000004: 3·1 + 2·4 = 11, 11 mod 11 = 0, 11 - 0 = 11 -> 0.
    assert org_code_check_char("10000004") == "0"
    assert parse_credit_code("9132050810000018XG").org_code == "10000018X"
    assert parse_credit_code("91320508100000040W").org_code == "100000040"


@pytest.mark.parametrize("good", GOOD_CODES)
def test_every_single_character_alteration_of_a_good_credit_code_is_detected(good):
    alterations = 0
    for position in range(18):
        for char in CREDIT_CHARSET + "IOSVZ":
            if char == good[position]:
                continue
            altered = good[:position] + char + good[position + 1 :]
            with pytest.raises(ValidationFailed) as err:
                parse_credit_code(altered)
            assert "position" in err.value.details, altered
            alterations += 1
    assert alterations == 18 * 35


def test_a_wrong_check_character_names_position_18_and_the_right_one():
    err = _credit_refusal("91110108551385082R")
    assert err.code == "bad_credit_code"
    assert err.field == "credit_code"
    assert "第18位校验码应为 Q，实为 R" in err.message_zh
    assert err.details == {"position": 18, "expected": "Q", "actual": "R"}


def test_a_broken_organisation_code_names_position_17():
    err = _credit_refusal("91110108551385083Q")
    assert "第17位（组织机构代码校验码）应为 2，实为 3" in err.message_zh
    assert err.details["position"] == 17


@pytest.mark.parametrize("letter", list("IOSVZ"))
def test_letters_never_used_in_credit_codes_are_named_with_their_position(letter):
    err = _credit_refusal("91110108" + letter + "51385082Q")
    assert f"第9位字符 {letter} 不允许" in err.message_zh
    assert "I、O、S、V、Z" in err.message_zh


def test_an_unknown_registration_authority_is_refused_at_position_1():
    err = _credit_refusal("B1110108551385082Q")
    assert "第1位登记管理部门代码 B 不存在" in err.message_zh


def test_an_organisation_type_outside_the_authoritys_table_is_refused_at_position_2():
    err = _credit_refusal("94110108551385082Q")
    assert "第2位机构类别代码 4 对登记管理部门 9 无效" in err.message_zh


def test_a_letter_in_the_region_code_is_refused_with_its_position():
    err = _credit_refusal("9111A108551385082Q")
    assert "第5位（行政区划码）应为数字，实为 A" in err.message_zh


def test_an_unknown_province_in_the_region_code_is_refused():
    assert "省级代码 99" in _credit_refusal("91990108551385082Q").message_zh


def test_a_wrong_length_is_refused_with_the_actual_length():
    assert "实为 17 位" in _credit_refusal("91110108551385082").message_zh


def test_lowercase_and_surrounding_spaces_are_tolerated():
    assert parse_credit_code("  91110108551385082q ").code == "91110108551385082Q"


def test_is_valid_credit_code_answers_without_raising():
    assert is_valid_credit_code(GOOD_CODES[0])
    assert not is_valid_credit_code("91110108551385082R")
