"""Departments (专业部门 / 处置单位) that cases are dispatched to."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from wangge.common.models import TenantMixin, TimestampMixin
from wangge.db import Base


class Department(TenantMixin, TimestampMixin, Base):
    """A responsible department of a county, keyed by a code unique in the deployment."""

    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # Unified social credit code (GB 32100) when known: GB/T 47678 keys 主管部门 by it.
    credit_code: Mapped[str | None] = mapped_column(String(18))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # city | county | street | community: a city-level department (county_code = the city's
    # 6-digit code) serves the counties in `serves_counties` too.
    level: Mapped[str] = mapped_column(String(16), default="county")
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))
    business_line: Mapped[str | None] = mapped_column(String(32))  # BusinessLine.code
    contact: Mapped[str | None] = mapped_column(String(50))
    duty_phone: Mapped[str | None] = mapped_column(String(40))
    serves_counties: Mapped[list[Any]] = mapped_column(JSON, default=list)
