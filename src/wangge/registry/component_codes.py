"""Component identifiers (部件标识码): build, split and check them. PURE.

- GB/T 30428.2: 16 digits = 6 county + 2 major + 2 minor + 6 serial.
- GB/T 47678.5: 17 digits = 6 county + 2 major + 3 minor + 6 serial.

Example: 3205080101000001 = 320508 (姑苏区) + 01 公用设施 + 01 上水井盖 + serial 000001.
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

from wangge.divisions.codes import PROVINCES
from wangge.errors import ValidationFailed
from wangge.registry.catalogue import (
    DEFAULT_SCHEME,
    EXTENSION_MAJOR,
    MINOR_WIDTH,
    Catalogue,
    Scheme,
    check_scheme_kind,
    load_catalogue,
)

SERIAL_WIDTH = 6


@cache
def _standard_components(scheme: str) -> Catalogue:
    # Private and never returned, so nobody can extend the shared instance.
    return load_catalogue(scheme, "component")  # type: ignore[arg-type]


class ComponentCode(NamedTuple):
    """A parsed component identifier; `minor` is the full class code (e.g. 0101)."""

    county: str
    major: str
    minor: str
    serial: int
    scheme: Scheme


def _code_error(zh: str, en: str, field: str, **details: object) -> ValidationFailed:
    return ValidationFailed(
        f"部件标识码无效：{zh}",
        f"invalid component identifier: {en}",
        code="bad_component_code",
        field=field,
        details=details,
    )


def _check_county(county: str, field: str) -> None:
    if not (len(county) == 6 and county.isascii() and county.isdigit()):
        raise _code_error(
            f"区县代码 {county!r} 应为 6 位数字",
            f"county code {county!r} must be 6 digits",
            field,
        )
    if county[:2] not in PROVINCES:
        raise _code_error(
            f"区县代码 {county} 的省级代码 {county[:2]} 不存在",
            f"county code {county}: province {county[:2]} does not exist",
            field,
        )
    if county[2:4] == "00" or county[4:6] == "00":
        raise _code_error(
            f"{county} 不是区县级行政区划代码（第3–4位与第5–6位不能为 00）",
            f"{county} is not a county-level division code (digits 3-4 and 5-6 must not be 00)",
            field,
        )


def _check_class(class_code: str, scheme: Scheme, catalogue: Catalogue | None, field: str) -> None:
    if catalogue is not None:
        if catalogue.kind != "component" or catalogue.scheme != scheme:
            raise ValueError(f"need a {scheme} component catalogue, got {catalogue!r}")
        if class_code not in catalogue:
            raise _code_error(
                f"小类 {class_code} 不在 {scheme} 部件目录（含本地扩展）中",
                f"class {class_code} is not in the {scheme} component catalogue (with extensions)",
                field,
                class_code=class_code,
            )
        return
    # Without a catalogue the local extensions are unknown, so any 21 class is accepted.
    if class_code.startswith(EXTENSION_MAJOR) and int(class_code[2:]) != 0:
        return
    if class_code not in _standard_components(scheme):
        raise _code_error(
            f"小类 {class_code} 不在 {scheme} 部件目录中，也不是 21 大类的本地扩展",
            f"class {class_code} is neither in the {scheme} component catalogue"
            " nor a local extension under major class 21",
            field,
            class_code=class_code,
        )


def component_code(
    county: str,
    minor_class: str,
    serial: int,
    scheme: Scheme | None = None,
    *,
    catalogue: Catalogue | None = None,
) -> str:
    """Build a component identifier: 16 digits (GB/T 30428.2) or 17 (GB/T 47678.5).

    `minor_class` is the full class code (0101, or 01001 in GB/T 47678.5). Pass the
    city's `catalogue` to accept only its registered extensions instead of any 21 class.
    The scheme defaults to the catalogue's, else GB/T 30428.2.
    """
    if scheme is None:
        scheme = catalogue.scheme if catalogue is not None else DEFAULT_SCHEME
    check_scheme_kind(scheme, "component")
    _check_county(county, "county")
    width = 2 + MINOR_WIDTH[scheme]
    if not (len(minor_class) == width and minor_class.isascii() and minor_class.isdigit()):
        raise _code_error(
            f"{scheme} 的小类代码应为 {width} 位数字，实为 {minor_class!r}",
            f"a {scheme} class code has {width} digits, got {minor_class!r}",
            "minor_class",
        )
    _check_class(minor_class, scheme, catalogue, "minor_class")
    if isinstance(serial, bool) or not isinstance(serial, int) or not 1 <= serial < 10**6:
        raise _code_error(
            f"流水号应为 1–999999 的整数，实为 {serial!r}",
            f"the serial must be an integer in 1-999999, got {serial!r}",
            "serial",
        )
    return f"{county}{minor_class}{serial:0{SERIAL_WIDTH}d}"


def parse_component_code(
    code: str, *, catalogue: Catalogue | None = None, field: str = "component_code"
) -> ComponentCode:
    """Split and validate a component identifier; the scheme follows from its length."""
    text = code.strip() if isinstance(code, str) else ""
    if not (text.isascii() and text.isdigit()):
        bad = next(((i, c) for i, c in enumerate(text) if not ("0" <= c <= "9")), (0, ""))
        raise _code_error(
            f"第{bad[0] + 1}位应为数字，实为 {bad[1]!r}" if text else "不能为空",
            f"character {bad[0] + 1} must be a digit, is {bad[1]!r}" if text else "is empty",
            field,
        )
    scheme: Scheme
    if len(text) == 16:
        scheme = "GB/T 30428.2"
    elif len(text) == 17:
        scheme = "GB/T 47678.5"
    else:
        raise _code_error(
            f"应为 16 位（GB/T 30428.2）或 17 位（GB/T 47678.5），实为 {len(text)} 位",
            f"must have 16 (GB/T 30428.2) or 17 (GB/T 47678.5) digits, has {len(text)}",
            field,
            length=len(text),
        )
    if catalogue is not None and catalogue.scheme != scheme:
        expected = 16 if catalogue.scheme == "GB/T 30428.2" else 17
        raise _code_error(
            f"本地目录采用 {catalogue.scheme}，标识码应为 {expected} 位，实为 {len(text)} 位",
            f"the catalogue uses {catalogue.scheme}: identifiers have {expected} digits,"
            f" this one has {len(text)}",
            field,
            length=len(text),
        )
    width = 2 + MINOR_WIDTH[scheme]
    county, class_code, serial = text[:6], text[6 : 6 + width], text[6 + width :]
    _check_county(county, field)
    _check_class(class_code, scheme, catalogue, field)
    if int(serial) == 0:
        raise _code_error(
            f"第{7 + width}–{len(text)}位流水号不能为 000000",
            f"the serial (digits {7 + width}-{len(text)}) must not be 000000",
            field,
        )
    return ComponentCode(county, class_code[:2], class_code, int(serial), scheme)
