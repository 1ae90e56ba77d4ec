"""Published evaluations (frozen snapshots, one row per version) and the stored monthly reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wangge.cases.models import UTCDateTime
from wangge.db import Base


class EvaluationPublication(Base):
    """One published version of a county's evaluation of a period (migration 0020).

    `data` is the snapshot of what was published (the chosen rankings and the credit list),
    written once and never updated: a correction is a new row with the next `version` and a
    reason, and the public page shows the newest version beside the list of earlier ones.
    """

    __tablename__ = "evaluation_publications"
    __table_args__ = (
        UniqueConstraint("county_code", "period", "version"),
        Index("ix_evaluation_publications_county_code_published_at", "county_code", "published_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6))
    period: Mapped[str] = mapped_column(String(32))  # the period's label: 2026-11, 2026-Q4, 2026
    period_kind: Mapped[str] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(Integer)
    object_types: Mapped[list[str]] = mapped_column(JSON)
    include_credit: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(String(500))  # required from version 2 on
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_by: Mapped[str] = mapped_column(String(64))
    published_by_id: Mapped[int | None] = mapped_column(Integer)


class EvaluationReport(Base):
    """A report file produced automatically after a period closed (one per county, period, kind)."""

    __tablename__ = "evaluation_reports"
    __table_args__ = (UniqueConstraint("county_code", "period", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6))
    period: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(8))  # xlsx | pdf
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
