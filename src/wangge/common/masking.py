"""Masking of personal data for lists, exports and logs (脱敏). PURE.

The rules follow common government practice: an ID number keeps its region (first 6)
and last 4 characters, a mobile number its network prefix and last 4 digits, a name
its surname, an address everything down to the building or community.

`scrub` finds ID and phone numbers inside free text; `PersonalDataFilter` runs it on
every log record. It errs on the side of masking: any standalone run of 17 digits plus
a digit or X is treated as an ID number whether or not its check digit is right, because
a mistyped ID number is still personal data; so is a 15-digit run whose characters 7-12
read as a date (legacy IDs).
"""

from __future__ import annotations

import logging
import re
from typing import overload

__all__ = [
    "PersonalDataFilter",
    "contains_personal_identifier",
    "mask_address",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "scrub",
]

_STAR = "*"


@overload
def mask_id_number(value: str) -> str: ...
@overload
def mask_id_number(value: None) -> None: ...
def mask_id_number(value: str | None) -> str | None:
    """Keep the first 6 and last 4 characters of an ID number: 110101********1234."""
    if not value:
        return value
    text = value.strip()
    if len(text) < 15:
        # Too short to be a whole ID number: nothing in it is safe to show.
        return _STAR * len(text)
    return text[:6] + _STAR * (len(text) - 10) + text[-4:]


# Separators people put inside phone numbers: spaces, dashes and dots, ASCII or full-width.
_SEP = r"[-\s.．－]"
# `\d` rather than [0-9]: full-width digits (１３８…) typed on Chinese keyboards count too.
_MOBILE = rf"(?:(?:[+＋]86|0086|86){_SEP}?)?[1１][3-9３-９]\d(?:{_SEP}?\d){{8}}"
_MOBILE_FULL = re.compile(_MOBILE)
_LANDLINE_FULL = re.compile(
    r"(?P<area>\(?0[1-9][0-9]{1,2}\)?)(?P<sep>[-\s]?)(?P<local>[0-9]{7,8})"
    r"(?P<ext>(?:[-转#][0-9]{1,6})?)"
)


@overload
def mask_phone(value: str) -> str: ...
@overload
def mask_phone(value: None) -> None: ...
def mask_phone(value: str | None) -> str | None:
    """Mask a mobile (138****1234) or a landline keeping its area code (010-****5678)."""
    if not value:
        return value
    text = value.strip()
    if _MOBILE_FULL.fullmatch(text):
        return _mask_mobile(text)
    match = _LANDLINE_FULL.fullmatch(text)
    if match:
        area, sep, local = match["area"], match["sep"], match["local"]
        if not sep and not area.endswith(")"):
            # Written without a separator the split is ambiguous; China's rule is that
            # 010 and 02x are three-digit area codes and every other one has four.
            digits = area + local
            cut = 3 if digits[1] in "12" else 4
            area, local = digits[:cut], digits[cut:]
            if not 7 <= len(local) <= 8:
                return _mask_digits_keep_last(text, 4)
        return area + sep + _STAR * (len(local) - 4) + local[-4:] + match["ext"]
    return _mask_digits_keep_last(text, 4)


def _mask_mobile(text: str) -> str:
    # The number is the last 11 digits (a +86 prefix goes before): star its digits 4-7,
    # whatever separators sit between them.
    digits = [i for i, char in enumerate(text) if char.isdigit()][-11:]
    hidden = set(digits[3:7])
    return "".join(_STAR if i in hidden else char for i, char in enumerate(text))


def _mask_digits_keep_last(text: str, keep: int) -> str:
    # Fallback for unrecognised formats: every digit but the last `keep` becomes a star.
    total = sum(char.isdigit() for char in text)
    out = []
    seen = 0
    for char in text:
        if char.isdigit():
            seen += 1
            out.append(char if seen > total - keep else _STAR)
        else:
            out.append(char)
    return "".join(out)


# Two-character surnames; a name that starts with one keeps both characters.
_COMPOUND_SURNAMES = frozenset(
    {
        "欧阳", "太史", "端木", "上官", "司马", "东方", "独孤", "南宫", "万俟", "闻人", "夏侯",
        "诸葛", "尉迟", "公羊", "赫连", "澹台", "皇甫", "宗政", "濮阳", "公冶", "太叔", "申屠",
        "公孙", "慕容", "仲孙", "钟离", "长孙", "宇文", "司徒", "鲜于", "司空", "闾丘", "子车",
        "亓官", "司寇", "巫马", "公西", "颛孙", "壤驷", "公良", "漆雕", "乐正", "宰父", "谷梁",
        "拓跋", "夹谷", "轩辕", "令狐", "段干", "百里", "呼延", "东郭", "南门", "羊舌", "微生",
        "公户", "公玉", "公仪", "梁丘", "公仲", "公上", "公门", "公山", "公坚", "左丘", "公伯",
        "西门", "公祖", "第五", "公乘", "贯丘", "公皙", "南荣", "东里", "东宫", "仲长", "子书",
        "子桑", "即墨", "达奚", "褚师",
    }
)  # fmt: skip
# Separators inside transliterated minority or foreign names stay visible.
_NAME_SEPARATORS = frozenset("·•・. ")


@overload
def mask_name(value: str) -> str: ...
@overload
def mask_name(value: None) -> None: ...
def mask_name(value: str | None) -> str | None:
    """Keep the surname and star the given name: 张三丰 -> 张**, 欧阳娜娜 -> 欧阳**."""
    if not value:
        return value
    text = value.strip()
    if len(text) <= 1:
        # A single character may be the whole name; showing it would unmask it.
        return _STAR * len(text)
    keep = 2 if len(text) >= 3 and text[:2] in _COMPOUND_SURNAMES else 1
    return text[:keep] + "".join(
        char if char in _NAME_SEPARATORS else _STAR for char in text[keep:]
    )


# A building: a number or letter followed by 号楼/栋/幢/座/号院 ("12栋", "A座", "3号楼").
_BUILDING = re.compile(r"[0-9０-９A-Za-zＡ-Ｚａ-ｚ]+(?:号楼|号院|栋|幢|座)")
# Place-name endings that stop short of a house: community, estate, village, road.
_PLACE = re.compile(
    r"(?:社区|小区|新村|花园|家园|公寓|大厦|广场|村|组|路|街|巷|弄|胡同|里|苑|园|庄|坊|城)"
)
_HOUSE_CHARS = re.compile(r"[0-9０-９A-Za-zＡ-Ｚａ-ｚ]")


@overload
def mask_address(value: str) -> str: ...
@overload
def mask_address(value: None) -> None: ...
def mask_address(value: str | None) -> str | None:
    """Keep an address down to the building or community and star house and room numbers.

    养育巷社区12栋3单元502室 -> 养育巷社区12栋*单元***室; 人民路88号 -> 人民路**号.
    Numbers written in Chinese characters (三单元) are not recognised.
    """
    if not value:
        return value
    text = value.strip()
    cut = 0
    buildings = list(_BUILDING.finditer(text))
    if buildings:
        cut = buildings[-1].end()
    else:
        places = list(_PLACE.finditer(text))
        if places:
            cut = places[-1].end()
    return text[:cut] + _HOUSE_CHARS.sub(_STAR, text[cut:])


# ------------------------------------------------------------------- free text and logs

# Lookarounds on digits only, so "身份证360426…" and "id=360426…" are both caught.
# A 15-digit run must carry a plausible YYMMDD: 15-digit unit-grid codes are logged all
# the time, while legacy IDs were all replaced by 18-digit ones years ago. `\d` also
# matches full-width digits; phones may be split by spaces, dashes or dots anywhere.
_SCRUB = re.compile(
    r"(?P<id18>(?<!\d)[1-9１-９]\d{16}[\dXxＸｘ](?!\d))"
    r"|(?P<id15>(?<!\d)[1-9１-９]\d{7}(?:[0０][1-9１-９]|[1１][0-2０-２])"
    r"(?:[0０][1-9１-９]|[12１２]\d|[3３][01０１])\d{3}(?!\d))"
    rf"|(?P<mobile>(?<!\d){_MOBILE}(?!\d))"
    r"|(?P<landline>(?<!\d)(?P<area>[(（]?[0０][1-9１-９]\d{1,2}[)）]?)"
    rf"(?:{_SEP}|(?<=[)）]))\d{{3,4}}{_SEP}?\d{{4}}(?!\d))"
)
# Passport and travel-permit numbers: one or two letters and 7-9 digits (E12345678).
_PASSPORT = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{1,2}\d{7,9}(?![A-Za-z0-9])")


def _scrub_match(match: re.Match[str]) -> str:
    found = match.group()
    if match.lastgroup in ("id18", "id15"):
        return mask_id_number(found)
    if match.lastgroup == "mobile":
        return _mask_mobile(found)
    # A landline keeps its area code and last 4 digits.
    area = match["area"]
    return area + _mask_digits_keep_last(found[len(area) :], 4)


def scrub(text: str) -> str:
    """Mask every ID number (18 or 15 characters) and phone number found in free text."""
    if not text:
        return text
    return _SCRUB.sub(_scrub_match, text)


def contains_personal_identifier(text: str) -> bool:
    """Return True when text holds an ID, phone or passport number (kept out of URLs)."""
    return bool(text) and bool(_SCRUB.search(text) or _PASSPORT.search(text))


class PersonalDataFilter(logging.Filter):
    """Logging filter that masks ID and phone numbers in messages, arguments and tracebacks.

    Attach it to handlers (`handler.addFilter(PersonalDataFilter())`): a filter on a
    logger does not see records propagated from its children. Values passed in
    `extra=` are not inspected.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub the record in place and always let it through."""
        try:
            message = record.getMessage()
        except Exception:
            # A broken format string. Logging's own error report would print the raw
            # arguments to stderr unmasked, so keep the record with both parts scrubbed.
            record.msg = f"{scrub(str(record.msg))} | args: {scrub(repr(record.args))}"
            record.args = None
            return True
        clean = scrub(message)
        if clean != message:
            # Fold the arguments into the message: an argument that is an int (a phone
            # number, say) cannot be masked in place behind a %d.
            record.msg = clean
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True
