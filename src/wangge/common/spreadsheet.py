"""Cell values a spreadsheet cannot run as formulas (CSV / formula injection). PURE.

Excel, WPS and LibreOffice treat a cell that starts with `=`, `+`, `-` or `@` (and, in
CSV, a leading tab or carriage return) as a formula, so a registry name such as
`=HYPERLINK("http://…","点击")` would become a live link in every export. Every Excel and
CSV writer of the project passes its cells through `safe_cell`, which puts an apostrophe
in front of such text; numbers stay numbers, and text that is just a number ("-12.5",
"+86") is left alone because a spreadsheet cannot run it.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["FORMULA_TRIGGERS", "restore_cell", "safe_cell"]

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _runnable(text: str) -> bool:
    return text.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(text)


def safe_cell(value: Any) -> Any:
    """Return `value` for a spreadsheet cell: text that would run as a formula gets a `'`."""
    if isinstance(value, str) and _runnable(value):
        return "'" + value
    return value


def restore_cell(value: Any) -> Any:
    """Undo `safe_cell` on a cell read back from an exported file (an edited export re-imported)."""
    if isinstance(value, str) and value.startswith("'") and _runnable(value[1:]):
        return value[1:]
    return value
