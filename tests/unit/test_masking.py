"""Masking of personal data in lists, exports and logs."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from wangge.common.masking import (
    PersonalDataFilter,
    contains_personal_identifier,
    mask_address,
    mask_id_number,
    mask_name,
    mask_phone,
    scrub,
)

ID = "360426199101010071"
PHONE = "13812341234"


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("110101199003071234", "110101********1234"),
        ("11010119900307002x", "110101********002x"),
        ("110101900307123", "110101*****7123"),
        (" 110101199003071234 ", "110101********1234"),
        ("1101011990", "**********"),
        ("", ""),
    ],
)
def test_id_numbers_keep_the_first_six_and_last_four_characters(raw, masked):
    assert mask_id_number(raw) == masked


def test_masking_none_returns_none_so_empty_cells_stay_empty():
    assert mask_id_number(None) is None
    assert mask_phone(None) is None
    assert mask_name(None) is None
    assert mask_address(None) is None


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("13812341234", "138****1234"),
        ("138-1234-1234", "138-****-1234"),
        ("138 1234 1234", "138 **** 1234"),
        ("+86 13812341234", "+86 138****1234"),
        ("+8613812341234", "+86138****1234"),
    ],
)
def test_mobile_numbers_keep_the_network_prefix_and_last_four_digits(raw, masked):
    assert mask_phone(raw) == masked


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("010-12345678", "010-****5678"),
        ("0512-65123456", "0512-****3456"),
        ("0512-6512345", "0512-***2345"),
        ("(0512)65123456", "(0512)****3456"),
        ("0512 65123456", "0512 ****3456"),
        ("010-12345678-801", "010-****5678-801"),
        # Without a separator: 010 and 02x have three digits, other area codes four.
        ("01012345678", "010****5678"),
        ("02112345678", "021****5678"),
        ("051265123456", "0512****3456"),
    ],
)
def test_landlines_keep_the_area_code_and_last_four_digits(raw, masked):
    assert mask_phone(raw) == masked


def test_unrecognised_phone_formats_still_hide_all_but_four_digits():
    assert mask_phone("65123456") == "****3456"
    assert mask_phone("ext. 123456789") == "ext. *****6789"


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("张三丰", "张**"),
        ("张三", "张*"),
        ("欧阳娜娜", "欧阳**"),
        ("司马光", "司马*"),
        ("欧阳", "欧*"),
        ("买买提·艾力", "买**·**"),
        ("张", "*"),
        (" 李四 ", "李*"),
    ],
)
def test_names_keep_only_the_surname(raw, masked):
    assert mask_name(raw) == masked


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        (
            "江苏省苏州市姑苏区金阊街道养育巷社区12栋3单元502室",
            "江苏省苏州市姑苏区金阊街道养育巷社区12栋*单元***室",
        ),
        ("阳光小区5号楼2门301", "阳光小区5号楼*门***"),
        ("苏州市姑苏区人民路88号", "苏州市姑苏区人民路**号"),
        ("养育巷88号3单元502室", "养育巷**号*单元***室"),
        ("幸福村3组25号", "幸福村3组**号"),
        ("阳光小区12-3-502", "阳光小区**-*-***"),
        ("建国路88号现代城A座1801", "建国路88号现代城A座****"),
        ("姑苏区养育巷社区", "姑苏区养育巷社区"),
        ("88号", "**号"),
    ],
)
def test_addresses_keep_the_building_or_community_and_hide_house_numbers(raw, masked):
    assert mask_address(raw) == masked


def test_scrub_masks_the_id_number_and_phone_inside_a_log_line():
    line = f"2026-11-26 04:37:55 INFO 登记 张三 身份证{ID}，电话{PHONE}，备注：已核实"
    clean = scrub(line)
    assert ID not in clean
    assert PHONE not in clean
    assert clean == (
        "2026-11-26 04:37:55 INFO 登记 张三 身份证360426********0071，电话138****1234，备注：已核实"
    )


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("id=11010119900307002X;", "id=110101********002X;"),
        ("旧号 360426910101007 已升位", "旧号 360426*****1007 已升位"),
        ("tel:+86 138-1234-1234", "tel:+86 138-****-1234"),
        ("座机 010-12345678 转", "座机 010-****5678 转"),
        (f"{ID} {ID}", "360426********0071 360426********0071"),
    ],
)
def test_scrub_finds_every_form_of_id_and_phone_number(text, masked):
    assert scrub(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-26 04:37:55,123 case 12345 closed in 1234567 ms",
        "order 1234567890123 and 12345678901234567890",
        "2026-11-26 12:00 版本 v1.2.3",
    ],
)
def test_scrub_leaves_dates_times_and_other_lengths_alone(text):
    assert scrub(text) == text


def test_scrub_masks_a_fifteen_digit_run_only_when_it_reads_as_a_legacy_id():
    assert scrub("旧号 110101900307123") == "旧号 110101*****7123"
    # A 15-digit unit-grid code: characters 7-12 (019044) are no YYMMDD date.
    assert scrub("grid 320508019044001") == "grid 320508019044001"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("电话１３８００１３８０００请回电", "电话１３８****８０００请回电"),
        ("电话 138.0013.8000", "电话 138.****.8000"),
        ("电话 138 0013 8000", "电话 138 **** 8000"),
        ("电话 138-0013-8000", "电话 138-****-8000"),
        ("电话 1380 013 8000", "电话 138* *** 8000"),
        ("电话 ＋86 138．0013．8000", "电话 ＋86 138．****．8000"),
        ("身份证１１０１０１１９９００３０７１２３４", "身份证１１０１０１********１２３４"),
        ("座机 010.6552.1234", "座机 010.****.1234"),
        ("座机（０１０）６５５２１２３４", "座机（０１０）****１２３４"),
    ],
)
def test_scrub_finds_full_width_dotted_and_spaced_numbers(text, masked):
    assert scrub(text) == masked


@pytest.mark.parametrize(
    ("raw", "masked"),
    [("138.1234.1234", "138.****.1234"), ("１３８１２３４１２３４", "１３８****１２３４")],
)
def test_mask_phone_keeps_dotted_and_full_width_mobiles_readable(raw, masked):
    assert mask_phone(raw) == masked


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (ID, True),
        ("138-1234-1234", True),
        ("护照 E12345678", True),
        ("张三", False),
        ("1101080101000001", False),  # a component code
        ("东门公交站", False),
    ],
)
def test_personal_identifiers_are_recognised_in_search_texts(text, found):
    assert contains_personal_identifier(text) is found


def test_scrub_is_idempotent():
    once = scrub(f"{ID} {PHONE}")
    assert scrub(once) == once


# ----------------------------------------------------------------------- logging filter


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(PersonalDataFilter())
    logger = logging.getLogger("wangge.tests.masking")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    yield logger, stream
    logger.removeHandler(handler)


def test_the_filter_masks_id_numbers_passed_as_arguments(log):
    logger, stream = log
    logger.info("登记人员 %s 电话 %s", ID, PHONE)
    assert stream.getvalue() == "INFO 登记人员 360426********0071 电话 138****1234\n"


def test_the_filter_masks_numbers_written_into_the_message_itself(log):
    logger, stream = log
    logger.warning(f"重复身份证 {ID}")
    assert ID not in stream.getvalue()
    assert "360426********0071" in stream.getvalue()


def test_the_filter_masks_a_phone_passed_as_an_integer_behind_percent_d(log):
    logger, stream = log
    logger.info("回访 %d", 13812341234)
    assert stream.getvalue() == "INFO 回访 138****1234\n"


def test_the_filter_masks_mapping_arguments(log):
    logger, stream = log
    logger.info("人员 %(id)s", {"id": ID})
    assert stream.getvalue() == "INFO 人员 360426********0071\n"


def test_the_filter_masks_id_numbers_inside_tracebacks(log):
    logger, stream = log
    try:
        raise ValueError(f"bad row {ID}")
    except ValueError:
        logger.exception("import failed")
    output = stream.getvalue()
    assert "Traceback" in output
    assert "ValueError: bad row 360426********0071" in output
    assert ID not in output


def test_the_filter_keeps_lazy_arguments_when_there_is_nothing_to_mask(log):
    logger, _stream = log
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keeper = Keep()
    keeper.addFilter(PersonalDataFilter())
    logger.addHandler(keeper)
    try:
        logger.info("case %s closed", "C-2026-0001")
    finally:
        logger.removeHandler(keeper)
    assert records[0].msg == "case %s closed"
    assert records[0].args == ("C-2026-0001",)


def test_a_broken_format_string_is_logged_masked_instead_of_raising(log):
    logger, stream = log
    logger.info("人员 %d", ID)
    assert stream.getvalue() == "INFO 人员 %d | args: ('360426********0071',)\n"


def test_the_filter_never_drops_a_record(log):
    logger, stream = log
    logger.info("没有个人信息")
    assert PersonalDataFilter().filter(logging.makeLogRecord({"msg": ID})) is True
    assert stream.getvalue() == "INFO 没有个人信息\n"
