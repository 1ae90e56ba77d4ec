"""Division and grid codes: GB/T 2260 counties, 12-digit statistical codes, grid codes. PURE.

County 6 digits (GB/T 2260) → street/township +3 (GB/T 10114) → community/village +3
(the NBS 12-digit statistical code) → grid + a 2- or 3-digit sequence → micro grid +2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wangge.errors import ValidationFailed

LEVELS = ("county", "street", "community")
LEVEL_LENGTH = {"county": 6, "street": 9, "community": 12}
LEVEL_ZH = {"county": "区县", "street": "街道乡镇", "community": "社区村"}
MICRO_WIDTH = 2

# GB/T 2260 province prefixes (two digits) in use today.
PROVINCES = frozenset(
    {
        "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36",
        "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62",
        "63", "64", "65", "71", "81", "82",
    }
)  # fmt: skip

_DIGITS = re.compile(r"^[0-9]+$")


@dataclass(frozen=True)
class ParsedCode:
    code: str
    level: str
    kind_zh: str


def _fail(code: str, zh: str, en: str, field: str = "code") -> ValidationFailed:
    return ValidationFailed(
        f"编码 {code}：{zh}", f"code {code}: {en}", code="bad_code", field=field
    )


def normalize_division_code(raw: str) -> str:
    """Strip padding: '110108000000' → '110108', '110108001000' → '110108001'."""
    code = str(raw).strip()
    if len(code) == 12 and _DIGITS.match(code):
        if code.endswith("000000"):
            return code[:6]
        if code.endswith("000"):
            return code[:9]
    return code


def street_kind(segment: str) -> str:
    """Return the township type of a 3-digit street segment (NBS rules)."""
    n = int(segment)
    if 1 <= n <= 99:
        return "街道"
    if 100 <= n <= 199:
        return "镇"
    if 200 <= n <= 399:
        return "乡"
    if 400 <= n <= 599:
        return "政企合一单位"
    return ""


def community_kind(segment: str) -> str:
    """Return the committee type of a 3-digit community segment (NBS rules)."""
    n = int(segment)
    if 1 <= n <= 199:
        return "居民委员会"
    if 200 <= n <= 399:
        return "村民委员会"
    if 400 <= n <= 999:
        return "虚拟社区/特殊区域"
    return ""


def parse_division_code(raw: str, parent: str | None = None) -> ParsedCode:
    """Validate a division code (and its prefix against `parent`); raise ValidationFailed."""
    code = normalize_division_code(raw)
    if not _DIGITS.match(code):
        raise _fail(code, "只能包含数字", "must contain digits only")
    level = {6: "county", 9: "street", 12: "community"}.get(len(code))
    if level is None:
        raise _fail(
            code,
            f"长度为 {len(code)}，应为 6（区县）、9（街道乡镇）或 12（社区村）位",
            f"has {len(code)} digits; expected 6 (county), 9 (street) or 12 (community)",
        )
    if code[:2] not in PROVINCES:
        raise _fail(
            code, f"省级代码 {code[:2]} 不存在", f"province prefix {code[:2]} does not exist"
        )
    if code[4:6] == "00":
        raise _fail(
            code, "第5-6位为00，这是地市级而非区县级代码", "digits 5-6 are 00: not a county"
        )
    kind = "区县"
    if level == "street":
        kind = street_kind(code[6:9])
        if not kind:
            raise _fail(
                code, f"街道乡镇段 {code[6:9]} 不在 001-599 范围内", "street segment out of 001-599"
            )
    elif level == "community":
        if code[6:9] == "000" or not street_kind(code[6:9]):
            raise _fail(
                code, f"街道乡镇段 {code[6:9]} 无效", f"street segment {code[6:9]} is invalid"
            )
        kind = community_kind(code[9:12])
        if not kind:
            raise _fail(code, "社区村段不能为 000", "community segment must not be 000")
    if parent is not None:
        expected = LEVELS[LEVELS.index(level) - 1] if level != "county" else None
        if expected is None:
            raise _fail(
                code, "区县不应有上级区划", "a county has no parent division", "parent_code"
            )
        if len(parent) != LEVEL_LENGTH[expected] or not code.startswith(parent):
            raise _fail(
                code,
                f"前缀与上级区划 {parent} 不一致",
                f"prefix does not match the parent division {parent}",
                "parent_code",
            )
    return ParsedCode(code=code, level=level, kind_zh=kind)


def parent_of(code: str) -> str | None:
    """Return the parent division code implied by the prefix."""
    return {12: code[:9], 9: code[:6]}.get(len(code))


def grid_code(community_code: str, sequence: int, width: int) -> str:
    """Build a grid code: the 12-digit community code plus a zero-padded sequence."""
    if not 1 <= sequence < 10**width:
        raise ValidationFailed(
            f"社区 {community_code} 的网格序号 {sequence} 超出 {width} 位编码范围",
            f"grid sequence {sequence} of community {community_code} does not fit {width} digits",
            code="sequence_overflow",
        )
    return f"{community_code}{sequence:0{width}d}"


def micro_grid_code(parent_code: str, sequence: int) -> str:
    """Build a micro grid's code: its grid's code plus a 2-digit sequence (一网多层)."""
    if not 1 <= sequence < 10**MICRO_WIDTH:
        raise ValidationFailed(
            f"网格 {parent_code} 的微网格序号 {sequence} 超出 {MICRO_WIDTH} 位编码范围",
            f"micro grid sequence {sequence} of grid {parent_code} does not fit "
            f"{MICRO_WIDTH} digits",
            code="sequence_overflow",
        )
    return f"{parent_code}{sequence:0{MICRO_WIDTH}d}"


def community_of(grid_code: str) -> str:
    """The community a grid (or micro grid) code belongs to: its first 12 digits."""
    return grid_code[:12]


def grid_sequence(grid_code: str, width: int | None = None) -> int:
    """The sequence of a grid within its community (the `width` digits after the 12)."""
    digits = grid_code[12:] if width is None else grid_code[12 : 12 + width]
    return int(digits or 0)


def parent_grid_of(micro_code: str) -> str:
    """The grid a micro grid code lies in."""
    return micro_code[:-MICRO_WIDTH]


def check_grid_code(code: str, community_code: str, width: int, *, micro: bool = False) -> None:
    """Check a grid (or micro-grid) code against its community and the sequence width."""
    length = 12 + width + (MICRO_WIDTH if micro else 0)
    if not _DIGITS.match(code):
        raise _fail(code, "网格编码只能包含数字", "grid codes contain digits only")
    if len(code) != length:
        raise _fail(
            code,
            f"网格编码应为 {length} 位（社区编码 12 位 + 序号 {width} 位），实际 {len(code)} 位",
            f"grid code must have {length} digits (12 + {width} sequence), has {len(code)}",
        )
    if not code.startswith(community_code):
        raise _fail(
            code,
            f"网格编码前 12 位应为所属社区编码 {community_code}",
            f"the first 12 digits must be the community code {community_code}",
        )
    if int(code[12 : 12 + width]) == 0:
        raise _fail(code, "网格序号不能为 0", "grid sequence must not be 0")
