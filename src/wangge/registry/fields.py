"""Checks of one form field shared by the registry's records (texts, choices, dates)."""

from __future__ import annotations

from datetime import date
from typing import Any

from wangge.errors import ValidationFailed


def choice(value: str, choices: dict[str, str], field: str, what: str) -> str:
    """Return the code of a choice given by its code or its Chinese label."""
    text = value.strip()
    for code, label in choices.items():
        if text in (code, label):
            return code
    raise ValidationFailed(
        f"{what} {text} 无效，应为 {'、'.join(choices.values())} 之一",
        f"{field} {text!r} must be one of {', '.join(choices)}",
        code="bad_choice", field=field,
    )  # fmt: skip


def parse_date(value: Any, field: str) -> date | None:
    """Return a date from a date or YYYY-MM-DD text (None for a blank)."""
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ValidationFailed(
            f"日期 {value} 无效，应为 YYYY-MM-DD", f"date {value!r} must be YYYY-MM-DD", field=field
        ) from None


def required_text(value: Any, field: str, zh: str, en: str) -> str:
    """Return the stripped text of a required field; refuse a blank with the given message."""
    text = str(value or "").strip()
    if not text:
        raise ValidationFailed(zh, en, field=field)
    return text


def set_texts(obj: Any, data: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Set the optional text fields sent, stripped; a blank one becomes None."""
    for key in keys:
        if key in data:
            setattr(obj, key, (str(data[key]).strip() or None) if data[key] is not None else None)
