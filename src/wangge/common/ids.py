"""Citizen ID (GB 11643) and unified social credit code (GB 32100) checks. PURE.

Both parsers say which character is wrong, in Chinese and English, so an import report
can point a clerk at the exact cell and position. They are written for million-row
imports: no regular expressions on the hot path, precomputed weights, one pass.

Error messages never repeat the full number: they end up in logs and import reports,
and a citizen ID is personal data (see `wangge.common.masking`).

Algorithms and test vectors: shared/standards/notes.md §5.2 and §5.3.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from operator import mul
from typing import Literal

from wangge.errors import ValidationFailed

__all__ = [
    "CREDIT_CHARSET",
    "CreditCode",
    "IdNumber",
    "credit_check_char",
    "id_check_char",
    "is_valid_credit_code",
    "is_valid_id_number",
    "org_code_check_char",
    "parse_credit_code",
    "parse_id_number",
]

# ---------------------------------------------------------------- GB 11643 citizen ID

# Wi = 2^(17-i) mod 11 for i = 0..16 (ISO 7064 MOD 11-2).
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_ASCII_OFFSET = 48 * sum(_ID_WEIGHTS)
_DIGITS = frozenset("0123456789")
_EARLIEST_BIRTH = date(1900, 1, 1)


@dataclass(frozen=True, slots=True)
class IdNumber:
    """A valid 18-character citizen ID and what it encodes."""

    number: str
    birth_date: date
    sex: Literal["男", "女"]
    region_code: str


# What an error names: the format in Chinese and English, and the error code.
_ID = ("身份证号码", "citizen ID number", "bad_id_number")
_CREDIT = ("统一社会信用代码", "unified social credit code", "bad_credit_code")


def _invalid(
    kind: tuple[str, str, str], zh: str, en: str, field: str, **details: object
) -> ValidationFailed:
    name_zh, name_en, code = kind
    return ValidationFailed(
        f"{name_zh}无效：{zh}", f"invalid {name_en}: {en}", code=code, field=field, details=details
    )


def _normalise(text: str) -> str:
    # Spreadsheets and IME input bring full-width digits and letters; NFKC folds them
    # to ASCII. The isascii() test keeps the common case free of that cost.
    text = text.strip()
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).strip()
    return text.upper()


def id_check_char(first17: str) -> str:
    """Return the GB 11643 check character for 17 ASCII digits."""
    # Weighting the raw ASCII codes and subtracting 48·ΣW once is faster than int() per digit.
    total = sum(map(mul, _ID_WEIGHTS, first17.encode("ascii"))) - _ID_ASCII_OFFSET
    return _ID_CHECK[total % 11]


def parse_id_number(text: str, *, today: date | None = None, field: str = "id_number") -> IdNumber:
    """Validate an 18- or legacy 15-digit citizen ID; raise ValidationFailed naming the fault.

    `today` bounds the birth date; when omitted the system date is used, so pass it
    explicitly for reproducible results (and once per import, not once per row).
    """
    if not isinstance(text, str):
        raise _invalid(_ID, "不是文本", "is not text", field)
    number = _normalise(text)
    length = len(number)
    if length not in (15, 18):
        raise _invalid(
            _ID,
            f"应为 18 位（或 15 位旧号），实为 {length} 位",
            f"must have 18 characters (or 15 for the legacy form), has {length}",
            field,
            length=length,
        )
    _check_id_characters(number, field)
    if length == 18:
        birth = _birth_date(number[6:14], (7, 14), today, field)
        _check_char_18(_ID, number, id_check_char(number[:17]), field)
    else:
        # Legacy IDs (issued before 1999) carry a 2-digit year and were only issued to
        # people born in the 1900s, so the century is always 19.
        birth = _birth_date("19" + number[6:12], (7, 12), today, field)
        first17 = number[:6] + "19" + number[6:15]
        number = first17 + id_check_char(first17)
    sex: Literal["男", "女"] = "男" if (ord(number[16]) - 48) % 2 else "女"
    return IdNumber(number=number, birth_date=birth, sex=sex, region_code=number[:6])


def _check_id_characters(number: str, field: str) -> None:
    """Digits in the body (17, or 15 for a legacy ID), a digit or X as the 18th."""
    body = number[:17] if len(number) == 18 else number
    # Fast path: on an ASCII string isdigit() means 0-9; only a failure pays for the
    # per-character scan that names the position.
    if not (body.isascii() and body.isdigit()):
        index, char = next((i, c) for i, c in enumerate(body) if c not in _DIGITS)
        raise _invalid(
            _ID,
            f"第{index + 1}位应为数字，实为 {char}",
            f"character {index + 1} must be a digit, is {char!r}",
            field,
            position=index + 1,
            actual=char,
        )
    if len(number) == 18 and number[17] not in _DIGITS and number[17] != "X":
        raise _invalid(
            _ID,
            f"第18位校验码应为数字或 X，实为 {number[17]}",
            f"character 18 (check) must be a digit or X, is {number[17]!r}",
            field,
            position=18,
            actual=number[17],
        )


def _check_char_18(kind: tuple[str, str, str], text: str, expected: str, field: str) -> None:
    """The 18th character is the check character computed from the first 17."""
    if expected != text[17]:
        raise _invalid(
            kind,
            f"第18位校验码应为 {expected}，实为 {text[17]}",
            f"check character 18 should be {expected}, is {text[17]}",
            field,
            position=18,
            expected=expected,
            actual=text[17],
        )


def _birth_date(digits: str, span: tuple[int, int], today: date | None, field: str) -> date:
    where_zh = f"第{span[0]}–{span[1]}位出生日期 {digits}"
    where_en = f"birth date {digits} (characters {span[0]}-{span[1]})"
    try:
        birth = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise _invalid(
            _ID,
            f"{where_zh} 不是有效日期",
            f"{where_en} is not a calendar date",
            field,
            position=span[0],
        ) from None
    if birth < _EARLIEST_BIRTH:
        raise _invalid(
            _ID,
            f"{where_zh} 早于 1900 年",
            f"{where_en} is before 1900",
            field,
            position=span[0],
        )
    limit = today if today is not None else date.today()
    if birth > limit:
        raise _invalid(
            _ID,
            f"{where_zh} 晚于今天 {limit.isoformat()}",
            f"{where_en} is after today ({limit.isoformat()})",
            field,
            position=span[0],
        )
    return birth


def is_valid_id_number(text: str, *, today: date | None = None) -> bool:
    """Return True when `text` is a valid citizen ID (18 or legacy 15 characters)."""
    try:
        parse_id_number(text, today=today)
    except ValidationFailed:
        return False
    return True


# ------------------------------------------------- GB 32100 unified social credit code

# 31 symbols: digits and capitals without I, O, S, V, Z (too easily confused).
CREDIT_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUE = {char: value for value, char in enumerate(CREDIT_CHARSET)}
_CREDIT_SET = frozenset(CREDIT_CHARSET)
# Wi = 3^i mod 31.
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# GB 11714 organisation code: weights on the 8 body characters; letters count A=10 … Z=35.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

# Position 1 (登记管理部门) and, where the table is known, position 2 (机构类别).
# Source: notes.md §5.3, marked [M] there; authorities whose categories we could not
# confirm accept any digit 1-9 rather than rejecting real codes.
REGISTRATION_AUTHORITIES: dict[str, str] = {
    "1": "机构编制",
    "2": "外交",
    "3": "司法行政",
    "4": "文化",
    "5": "民政",
    "6": "旅游",
    "7": "宗教",
    "8": "工会",
    "9": "工商/市场监管",
    "A": "中央军委改革和编制办公室",
    "N": "农业",
    "Y": "其他",
}
ORG_TYPES: dict[str, dict[str, str]] = {
    "1": {"1": "机关", "2": "事业单位", "3": "中央编办直管群团", "9": "其他"},
    "5": {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"},
    "9": {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"},
}
_ANY_ORG_TYPE = frozenset("123456789")
# Region prefixes: GB/T 2260 provinces plus 10, used by national-level registrations.
_REGION_PREFIXES = frozenset(
    {
        "10", "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35",
        "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61",
        "62", "63", "64", "65", "71", "81", "82",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class CreditCode:
    """A valid unified social credit code split into its parts."""

    code: str
    registration_authority: str
    org_type: str
    region_code: str
    org_code: str

    @property
    def authority_name(self) -> str:
        """Return the registration authority's name (登记管理部门)."""
        return REGISTRATION_AUTHORITIES[self.registration_authority]

    @property
    def org_type_name(self) -> str | None:
        """Return the organisation type's name (机构类别) when the table is known."""
        return ORG_TYPES.get(self.registration_authority, {}).get(self.org_type)


def credit_check_char(first17: str) -> str:
    """Return the GB 32100 check character for the first 17 characters."""
    total = sum(map(mul, _CREDIT_WEIGHTS, map(_CREDIT_VALUE.__getitem__, first17)))
    return CREDIT_CHARSET[(31 - total % 31) % 31]


def org_code_check_char(body8: str) -> str:
    """Return the GB 11714 check character for an 8-character organisation-code body."""
    total = 0
    for weight, char in zip(_ORG_WEIGHTS, body8, strict=True):
        # int(char, 36) gives 0-9 for digits and A=10 … Z=35, exactly GB 11714's values.
        total += weight * int(char, 36)
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def parse_credit_code(text: str, *, field: str = "credit_code") -> CreditCode:
    """Validate a unified social credit code; raise ValidationFailed naming the bad position."""
    if not isinstance(text, str):
        raise _invalid(_CREDIT, "不是文本", "is not text", field)
    code = _normalise(text)
    if len(code) != 18:
        raise _invalid(
            _CREDIT,
            f"应为 18 位，实为 {len(code)} 位",
            f"must have 18 characters, has {len(code)}",
            field,
            length=len(code),
        )
    _check_credit_characters(code, field)
    authority, org_type = code[0], code[1]
    _check_authority(authority, org_type, field)
    _check_credit_region(code, field)
    _check_credit_check_chars(code, field)
    return CreditCode(
        code=code,
        registration_authority=authority,
        org_type=org_type,
        region_code=code[2:8],
        org_code=code[8:17],
    )


def _check_credit_characters(code: str, field: str) -> None:
    """Only the 31 symbols of the charset."""
    if not _CREDIT_SET.issuperset(code):
        index, char = next((i, c) for i, c in enumerate(code) if c not in _CREDIT_SET)
        never_used = char in "IOSVZ"
        raise _invalid(
            _CREDIT,
            f"第{index + 1}位字符 {char} 不允许"
            + ("（不使用 I、O、S、V、Z）" if never_used else ""),
            f"character {index + 1} ({char!r}) is not allowed"
            + (" (I, O, S, V and Z are never used)" if never_used else ""),
            field,
            position=index + 1,
            actual=char,
        )


def _check_authority(authority: str, org_type: str, field: str) -> None:
    """A known registration authority (position 1) and an organisation type it has (2)."""
    if authority not in REGISTRATION_AUTHORITIES:
        raise _invalid(
            _CREDIT,
            f"第1位登记管理部门代码 {authority} 不存在",
            f"character 1 (registration authority) {authority!r} does not exist",
            field,
            position=1,
            actual=authority,
        )
    allowed = ORG_TYPES.get(authority, _ANY_ORG_TYPE)
    if org_type not in allowed:
        choices = "、".join(sorted(allowed))
        raise _invalid(
            _CREDIT,
            f"第2位机构类别代码 {org_type} 对登记管理部门 {authority} 无效（应为 {choices}）",
            f"character 2 (organisation type) {org_type!r} is invalid for authority "
            f"{authority!r} (expected one of {', '.join(sorted(allowed))})",
            field,
            position=2,
            actual=org_type,
        )


def _check_credit_region(code: str, field: str) -> None:
    """Six digits of a region code (positions 3-8) in a province that exists."""
    for index in range(2, 8):
        if code[index] not in _DIGITS:
            raise _invalid(
                _CREDIT,
                f"第{index + 1}位（行政区划码）应为数字，实为 {code[index]}",
                f"character {index + 1} (region code) must be a digit, is {code[index]!r}",
                field,
                position=index + 1,
                actual=code[index],
            )
    if code[2:4] not in _REGION_PREFIXES:
        raise _invalid(
            _CREDIT,
            f"第3–4位省级代码 {code[2:4]} 不存在",
            f"characters 3-4 (province) {code[2:4]!r} do not exist",
            field,
            position=3,
            actual=code[2:4],
        )


def _check_credit_check_chars(code: str, field: str) -> None:
    """The organisation code's check character (17) and the code's own (18)."""
    org_expected = org_code_check_char(code[8:16])
    if org_expected != code[16]:
        raise _invalid(
            _CREDIT,
            f"第17位（组织机构代码校验码）应为 {org_expected}，实为 {code[16]}"
            "（若第17位无误，则第9–16位有误）",
            f"character 17 (organisation-code check) should be {org_expected}, is {code[16]}"
            " (if it is right, one of characters 9-16 is wrong)",
            field,
            position=17,
            expected=org_expected,
            actual=code[16],
        )
    _check_char_18(_CREDIT, code, credit_check_char(code[:17]), field)


def is_valid_credit_code(text: str) -> bool:
    """Return True when `text` is a valid unified social credit code."""
    try:
        parse_credit_code(text)
    except ValidationFailed:
        return False
    return True
