"""The case list's filters and sort as query parameters: one parser for the API list, the Excel
export and the console page, so the three read the same address the same way."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import Query

from wangge.cases.queries import LIGHTS, SORTS, CaseFilter
from wangge.common.localtime import SHANGHAI
from wangge.errors import ValidationFailed

# A period outside these years is a typing error (and beyond them datetime arithmetic breaks).
_FIRST, _LAST = date(2000, 1, 1), date(2099, 12, 31)


def _given(value: str | None) -> str | None:
    """Return the value, or None for an empty form field (a select left on 全部)."""
    value = (value or "").strip()
    return value or None


def form_day(value: str | None, name: str) -> date | None:
    """Return a YYYY-MM-DD form field as a date (None when empty); a clear error otherwise."""
    value = _given(value)
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        day = None
    if day is None or not _FIRST <= day <= _LAST:
        raise ValidationFailed(
            f"日期 {name} 应为 {_FIRST}–{_LAST} 间的 YYYY-MM-DD：{value!r}",
            f"{name} must be a date YYYY-MM-DD between {_FIRST} and {_LAST}: {value!r}",
            code="invalid_date",
            field=name,
        )
    return day


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), SHANGHAI)


def _aware(value: datetime | None) -> datetime | None:
    # A time without a zone counts as UTC, as everywhere in the platform (common/localtime.py).
    if value is not None and value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _one_of(value: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    value = _given(value)
    if value is not None and value not in allowed:
        raise ValidationFailed(
            f"{name} 只能是 {'、'.join(allowed)}：{value!r}",
            f"{name} must be one of {', '.join(allowed)}: {value!r}",
            code="invalid_choice",
            field=name,
        )
    return value


def case_filter(
    state: Annotated[list[str] | None, Query(description="状态，可重复")] = None,
    category: Annotated[str | None, Query(description="类别编码或大类编码前缀")] = None,
    prefix: Annotated[str | None, Query(description="区划或网格编码前缀")] = None,
    street: Annotated[str | None, Query(max_length=12, description="街道编码")] = None,
    community: Annotated[str | None, Query(max_length=12, description="社区编码")] = None,
    grid: Annotated[
        str | None, Query(max_length=32, description="网格编码（社会治理网格）")
    ] = None,
    source: Annotated[str | None, Query(description="来源")] = None,
    department: Annotated[str | None, Query(description="处置部门编码")] = None,
    light: Annotated[str | None, Query(description="亮灯 green | yellow | red")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    date_from: Annotated[
        str | None, Query(alias="from", description="上报日期起 YYYY-MM-DD（北京时间，含）")
    ] = None,
    date_to: Annotated[
        str | None, Query(alias="to", description="上报日期止 YYYY-MM-DD（北京时间，含）")
    ] = None,
    overdue: bool | None = None,
    queue: str | None = None,
    line: Annotated[str | None, Query(description="business line code (业务条线)")] = None,
    q: Annotated[str | None, Query(max_length=100, description="编码、地址或描述中的文字")] = None,
) -> CaseFilter:
    """Read the case list's filters from the query (empty fields mean no filter)."""
    first, last = form_day(date_from, "from"), form_day(date_to, "to")
    return CaseFilter(
        state=[s for s in state or () if s.strip()] or None,
        category=_given(category),
        prefix=_given(prefix),
        source=_given(source),
        since=_later(_aware(since), _start_of(first) if first else None),
        until=_earlier(_aware(until), _start_of(last + timedelta(days=1)) if last else None),
        overdue=overdue,
        department=_given(department),
        queue=_given(queue),
        line=_given(line),
        street=_given(street),
        community=_given(community),
        grid=_given(grid),
        light=_one_of(light, LIGHTS, "light"),
        text=_given(q),
    )


def case_sort(
    sort: Annotated[
        str | None,
        Query(description="reported（上报时间，新在前）| deadline（时限）| overdue（超期时长）"),
    ] = None,
) -> str:
    """Read the list's order (default: newest report first)."""
    return _one_of(sort, SORTS, "sort") or SORTS[0]
