"""Business lines (业务条线, "9+X"): named sets of categories, departments and roles on one grid."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wangge.common.models import TenantMixin, TimestampMixin
from wangge.db import Base


class BusinessLine(TenantMixin, TimestampMixin, Base):
    """A line of work (综治, 城管, 安监, 劳动监察, 市场监管, 消防 …) that a county runs on its grid.

    Categories and departments name their line by `code`; `roles` are the roles that work in
    it. A county switches a line off with `is_active` (its categories then leave the queues).
    """

    __tablename__ = "business_lines"
    __table_args__ = (UniqueConstraint("county_code", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    roles: Mapped[list[Any]] = mapped_column(JSON, default=list)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
