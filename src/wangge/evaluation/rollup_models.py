"""Per-day, per-object rollups of the evaluation counts (see `evaluation.rollups`)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wangge.db import Base

# count columns: c0 counts the object's member rows (so an object with every count zero
# still appears, as in the query over the facts), c1..cN the counts of `sql.groups` in order
WIDTH = 10
COUNT_COLUMNS = [f"c{i}" for i in range(WIDTH + 1)]


class EvaluationRollup(Base):
    """What the fact rows of one local day (`day`) add to one object's counts from `eff_day`.

    A fact row's counts can change after it happened (the case is closed, found late ...);
    each change is a row whose `eff_day` is the local day it happened, so a period ending at
    the midnight before day E reads `day` in the period and `eff_day < E`. Rows are signed
    deltas without a unique key: the case service inserts them (no hot row to update) and
    `rollups.compact` sums each day's rows into one per key from time to time.

    Every delta is also kept once per month (`span` "m": `day` the month's first day,
    `eff_day` raised to its last day, as a period holding the whole month ends after it):
    a month, quarter or year reads a few rows per object and month instead of one per day.
    """

    __tablename__ = "evaluation_rollups"
    __table_args__ = (
        Index("ix_evaluation_rollups_county_code_span_day", "county_code", "span", "day"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6))
    span: Mapped[str] = mapped_column(String(1), default="d")  # "d" a day, "m" a month
    day: Mapped[date] = mapped_column(Date)
    eff_day: Mapped[date] = mapped_column(Date)
    object_type: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64))
    c0: Mapped[int] = mapped_column(Integer, default=0)
    c1: Mapped[int] = mapped_column(Integer, default=0)
    c2: Mapped[int] = mapped_column(Integer, default=0)
    c3: Mapped[int] = mapped_column(Integer, default=0)
    c4: Mapped[int] = mapped_column(Integer, default=0)
    c5: Mapped[int] = mapped_column(Integer, default=0)
    c6: Mapped[int] = mapped_column(Integer, default=0)
    c7: Mapped[int] = mapped_column(Integer, default=0)
    c8: Mapped[int] = mapped_column(Integer, default=0)
    c9: Mapped[int] = mapped_column(Integer, default=0)
    c10: Mapped[int] = mapped_column(Integer, default=0)
