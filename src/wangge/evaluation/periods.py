"""Evaluation periods (day, week, month, quarter, year, custom) and their comparisons. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
KINDS = ("day", "week", "month", "quarter", "year", "custom")


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open range of local (Asia/Shanghai) days [first, last + 1 day)."""

    kind: str
    first: date
    last: date

    @property
    def start(self) -> datetime:
        """Return the first moment (aware, Beijing time)."""
        return datetime.combine(self.first, time(), SHANGHAI)

    @property
    def end(self) -> datetime:
        """Return the moment after the period (exclusive)."""
        return datetime.combine(self.last + timedelta(days=1), time(), SHANGHAI)

    @property
    def days(self) -> int:
        """Return the number of days."""
        return (self.last - self.first).days + 1

    @property
    def label(self) -> str:
        """Return a short label: 2026-11, 2026-Q4, 2026-W48, 2026, or the day range."""
        if self.kind == "month":
            return f"{self.first:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.first.year}-Q{(self.first.month - 1) // 3 + 1}"
        if self.kind == "year":
            return str(self.first.year)
        if self.kind == "week":
            y, w, _ = self.first.isocalendar()
            return f"{y}-W{w:02d}"
        if self.kind == "day":
            return self.first.isoformat()
        return f"{self.first.isoformat()}..{self.last.isoformat()}"


def _month_end(y: int, m: int) -> date:
    nxt = date(y + 1, 1, 1) if m == 12 else date(y, m + 1, 1)
    return nxt - timedelta(days=1)


def period_of(kind: str, anchor: date, last: date | None = None) -> Period:
    """Return the period of `kind` containing `anchor` (custom: anchor..last)."""
    if kind == "day":
        return Period(kind, anchor, anchor)
    if kind == "week":
        first = anchor - timedelta(days=anchor.weekday())
        return Period(kind, first, first + timedelta(days=6))
    if kind == "month":
        return Period(kind, anchor.replace(day=1), _month_end(anchor.year, anchor.month))
    if kind == "quarter":
        m = (anchor.month - 1) // 3 * 3 + 1
        return Period(kind, date(anchor.year, m, 1), _month_end(anchor.year, m + 2))
    if kind == "year":
        return Period(kind, date(anchor.year, 1, 1), date(anchor.year, 12, 31))
    if kind == "custom":
        if last is None or last < anchor:
            raise ValueError("a custom period needs last >= first")
        return Period(kind, anchor, last)
    raise ValueError(f"unknown period kind {kind!r}; one of {KINDS}")


def parse_period(text: str, kind: str | None = None) -> Period:
    """Parse 2026-11, 2026-Q4, 2026-W48, 2026, 2026-11-23 or 2026-11-01..2026-11-15."""
    text = text.strip()
    if ".." in text:
        a, b = text.split("..", 1)
        return period_of("custom", date.fromisoformat(a), date.fromisoformat(b))
    if "-Q" in text:
        y, q = text.split("-Q")
        return period_of("quarter", date(int(y), (int(q) - 1) * 3 + 1, 1))
    if "-W" in text:
        y, w = text.split("-W")
        return period_of("week", date.fromisocalendar(int(y), int(w), 1))
    if len(text) == 4:
        return period_of("year", date(int(text), 1, 1))
    if len(text) == 7:
        return period_of("month", date.fromisoformat(text + "-01"))
    return period_of(kind or "day", date.fromisoformat(text))


def previous(p: Period) -> Period:
    """Return the period just before (a custom one: the same number of days before)."""
    if p.kind == "custom":
        return Period("custom", p.first - timedelta(days=p.days), p.first - timedelta(days=1))
    return period_of(p.kind, p.first - timedelta(days=1))


def same_last_year(p: Period) -> Period:
    """Return the same period one year earlier (29 February falls back to the 28th)."""

    def back(d: date) -> date:
        try:
            return d.replace(year=d.year - 1)
        except ValueError:
            return d.replace(year=d.year - 1, day=28)

    if p.kind == "week":
        y, w, _ = p.first.isocalendar()
        try:
            return period_of("week", date.fromisocalendar(y - 1, w, 1))
        except ValueError:
            return period_of("week", date.fromisocalendar(y - 1, 52, 1))
    if p.kind in ("month", "quarter", "year", "day"):
        return period_of(p.kind, back(p.first))
    return Period("custom", back(p.first), back(p.last))
