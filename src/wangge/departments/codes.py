"""Department codes, levels, duty phones and served counties: built and checked here. PURE.

A department's code is unique in the deployment. The convention is `{county}-{KEY}`
(110108-CGW, see `department_code`), but any 2–32 characters of `A-Z a-z 0-9 _ -` are
accepted so that a city can keep the codes its other systems already use.
"""

from __future__ import annotations

import re
import unicodedata

from wangge.divisions.codes import PROVINCES, parse_division_code
from wangge.errors import ValidationFailed

CODE_PATTERN = r"[A-Za-z0-9_-]{2,32}"
_CODE = re.compile(CODE_PATTERN)
# level → (Chinese label used in spreadsheets, English), from the top down.
LEVELS: dict[str, tuple[str, str]] = {
    "city": ("市", "city"),
    "county": ("区", "county"),
    "street": ("街道", "street"),
    "community": ("社区", "community"),
}
# What people type in the 层级 column besides the labels above.
_LEVEL_WORDS = {
    "区县": "county",
    "县": "county",
    "乡镇": "street",
    "镇": "street",
    "村": "community",
}
_PHONE = re.compile(r"\+?[0-9(][0-9 ().\-]*(?:(?:转|ext\.?|x|#)\s*([0-9]{1,6}))?", re.IGNORECASE)
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 5, 13  # 12345-style hotlines … +86 mobiles


def department_code(county_code: str, key: str) -> str:
    """Return the conventional code of a county's department for a short key (110108-CGW)."""
    return f"{county_code}-{key}"


def key_of(text: str) -> str:
    """Return a short key made of the characters a code may hold (upper case), or ''."""
    return re.sub(r"[^A-Za-z0-9_]", "", text).upper()[:25]


def check_code(code: str, field: str = "code") -> str:
    """Return the code, or refuse one that is not 2–32 of A-Z a-z 0-9 _ -."""
    text = (code or "").strip()
    if not _CODE.fullmatch(text):
        raise ValidationFailed(
            f"部门编码 {text!r} 无效：应为 2–32 位字母、数字、_ 或 -（如 110108-CGW）",
            f"department code {text!r} is invalid: 2-32 of A-Z a-z 0-9 _ - (e.g. 110108-CGW)",
            code="bad_department_code",
            field=field,
        )
    return text


def check_level(value: str, field: str = "level") -> str:
    """Return the level code for a code or a Chinese label (市/区/街道/社区)."""
    text = (value or "").strip()
    if text in LEVELS:
        return text
    for level, (zh, en) in LEVELS.items():
        if text in (zh, en.capitalize()):
            return level
    if text in _LEVEL_WORDS:
        return _LEVEL_WORDS[text]
    raise ValidationFailed(
        f"层级 {text!r} 无效，应为 市、区、街道、社区 之一",
        f"level {text!r} is invalid: one of city, county, street, community",
        code="bad_level",
        field=field,
    )


def city_of(county_code: str) -> str:
    """Return the code of the city (prefecture) a county belongs to: 110108 → 110100."""
    return county_code[:4] + "00"


def check_city_code(code: str, field: str = "county_code") -> str:
    """Refuse a code that is not a city (prefecture) code such as 110100 or 350300."""
    text = (code or "").strip()
    if not (
        len(text) == 6
        and text.isdigit()
        and text[:2] in PROVINCES
        and text[2:4] != "00"
        and text[4:] == "00"
    ):
        raise ValidationFailed(
            f"市级部门的区划代码 {text!r} 应为地市代码（6 位，以 00 结尾，如 110100）",
            f"a city-level department's code {text!r} must be a city code (6 digits "
            "ending in 00, e.g. 110100)",
            code="bad_city_code",
            field=field,
        )
    return text


def check_county(county_code: str, level: str, field: str = "county_code") -> str:
    """A city-level department belongs to a city code, every other level to a county code."""
    if level == "city":
        return check_city_code(county_code, field)
    text = (county_code or "").strip()
    if len(text) != 6:
        raise ValidationFailed(
            f"区县代码 {text!r} 应为 6 位数字",
            f"county code {text!r} must have 6 digits",
            code="bad_code",
            field=field,
        )
    try:
        parse_division_code(text)
    except ValidationFailed as exc:
        hint_zh = "；地市代码只用于层级为“市”的部门" if text.endswith("00") else ""
        hint_en = "; a city code is for city-level departments only" if hint_zh else ""
        raise ValidationFailed(
            exc.message_zh + hint_zh, exc.message_en + hint_en, code=exc.code, field=field
        ) from None
    return text


def check_serves(
    counties: list[str], level: str, city_code: str, field: str = "serves_counties"
) -> list[str]:
    """Return the served counties: only a city-level department serves some, each of its city."""
    cleaned = sorted({str(c).strip() for c in counties if str(c).strip()})
    if cleaned and level != "city":
        raise ValidationFailed(
            "只有市级部门可以填写服务区县",
            "only a city-level department serves other counties",
            code="serves_not_city",
            field=field,
        )
    for county in cleaned:
        check_county(county, "county", field)
        if level == "city" and city_of(county) != city_code:
            raise ValidationFailed(
                f"服务区县 {county} 不属于 {city_code}",
                f"served county {county} is not in city {city_code}",
                code="serves_other_city",
                field=field,
            )
    return cleaned


def check_phone(value: str, field: str = "duty_phone") -> str:
    """Return a duty phone (full-width digits made plain), or refuse text that is no phone.

    Accepted: mobiles, landlines with area code and extension (0594-2345678转801), service
    numbers (12345) and +86 forms; 5–13 digits before any extension.
    """
    text = unicodedata.normalize("NFKC", value or "").strip()
    match = _PHONE.fullmatch(text)
    main = text[: match.start(1)] if match and match.group(1) else text
    digits = sum(c.isdigit() for c in main)
    if match is None or not MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS:
        raise ValidationFailed(
            f"值班电话 {text!r} 不是电话号码（{MIN_PHONE_DIGITS}–{MAX_PHONE_DIGITS} 位数字，"
            "可含区号、分机）",
            f"duty phone {text!r} is not a phone number ({MIN_PHONE_DIGITS}-"
            f"{MAX_PHONE_DIGITS} digits, area code and extension allowed)",
            code="bad_phone",
            field=field,
        )
    return text
