"""Organisations (组织): employers, social and party organisations; the employer file."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wangge.common.models import TenantMixin, TimestampMixin, utcnow
from wangge.db import Base

ORG_KINDS = {
    "enterprise": "企业", "individual": "个体工商户", "institution": "机关事业单位",
    "social": "社会组织", "party": "党组织",
}  # fmt: skip
# 守法诚信等级 of the labour-inspection file: A 守法诚信, B 基本守法诚信, C 不守法诚信.
GRADES = ("A", "B", "C")


class Organisation(TenantMixin, TimestampMixin, Base):
    """An enterprise, employer, social or party organisation located in a grid."""

    __tablename__ = "organisations"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="enterprise")
    name: Mapped[str] = mapped_column(String(200), index=True)
    credit_code: Mapped[str | None] = mapped_column(String(18), index=True)
    legal_rep: Mapped[str | None] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(30))
    address: Mapped[str | None] = mapped_column(String(200))
    community_code: Mapped[str] = mapped_column(String(12), index=True)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grids.id", ondelete="SET NULL"), index=True
    )
    unit_grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grids.id", ondelete="SET NULL"), index=True
    )
    # The micro grid (微网格: a lane, a building) holding it inside its grid, if any.
    micro_grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grids.id", ondelete="SET NULL"), index=True
    )
    industry: Mapped[str | None] = mapped_column(String(50))
    employees: Mapped[int | None] = mapped_column(Integer)
    contracts_signed: Mapped[int | None] = mapped_column(Integer)
    insured: Mapped[int | None] = mapped_column(Integer)
    integrity_grade: Mapped[str | None] = mapped_column(String(1))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Inspection(TenantMixin, Base):
    """A labour inspection of an employer, with findings and violations."""

    __tablename__ = "org_inspections"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    inspected_on: Mapped[date] = mapped_column(Date)
    inspector: Mapped[str | None] = mapped_column(String(100))
    findings: Mapped[str | None] = mapped_column(Text)
    violations: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IntegrityGrade(TenantMixin, Base):
    """An integrity grade (守法诚信等级) in force from a date; the latest is current."""

    __tablename__ = "org_integrity_grades"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    grade: Mapped[str] = mapped_column(String(1))
    valid_from: Mapped[date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
