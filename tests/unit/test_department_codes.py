"""Department codes, levels, duty phones and served counties (pure checks)."""

from __future__ import annotations

import pytest

from wangge.departments.codes import (
    check_code,
    check_county,
    check_level,
    check_phone,
    check_serves,
    city_of,
    department_code,
)
from wangge.errors import ValidationFailed


@pytest.mark.parametrize(
    "phone",
    [
        "010-62550000",
        "0594-2345678转801",
        "12345",
        "13812345678",
        "+86 138 1234 5678",
        "(010)62550000",
        "１３８１２３４５６７８",
    ],
)
def test_real_duty_phones_are_accepted(phone):
    assert check_phone(phone)


@pytest.mark.parametrize("phone", ["请打办公室", "110", "010-6255-0000-1234-5678-99", "138x"])
def test_text_that_is_no_phone_is_refused_naming_the_field(phone):
    with pytest.raises(ValidationFailed) as caught:
        check_phone(phone)
    assert caught.value.field == "duty_phone" and caught.value.code == "bad_phone"


def test_codes_follow_the_county_convention_but_any_plain_code_is_accepted():
    assert department_code("110108", "CGW") == check_code("110108-CGW")
    assert check_code("zf_01") == "zf_01"
    for bad in ("城管", "A", "x" * 33, "a b"):
        with pytest.raises(ValidationFailed):
            check_code(bad)


def test_levels_are_read_from_codes_and_chinese_labels():
    assert [check_level(v) for v in ("市", "区", "街道", "社区", "county", "乡镇", "村")] == [
        "city",
        "county",
        "street",
        "community",
        "county",
        "street",
        "community",
    ]
    with pytest.raises(ValidationFailed):
        check_level("省")


def test_a_city_department_belongs_to_a_city_code_and_serves_counties_of_that_city():
    assert city_of("350302") == "350300"
    assert check_county("110100", "city") == "110100"
    for code, level in (("110108", "city"), ("110100", "county"), ("110000", "city")):
        with pytest.raises(ValidationFailed):
            check_county(code, level)
    assert check_serves(["110108", "110105", "110108"], "city", "110100") == ["110105", "110108"]
    with pytest.raises(ValidationFailed) as caught:
        check_serves(["350302"], "city", "110100")
    assert caught.value.code == "serves_other_city"
    with pytest.raises(ValidationFailed) as caught:
        check_serves(["110105"], "county", "110108")
    assert caught.value.code == "serves_not_city"
