"""Tables shared by every registry kind: change history, duplicate decisions, label kinds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wangge.common.models import TenantMixin, utcnow
from wangge.db import Base


class RecordChange(TenantMixin, Base):
    """One change of one registry record: who, when, and old → new per field."""

    __tablename__ = "record_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    object_type: Mapped[str] = mapped_column(String(30), index=True)
    object_id: Mapped[int] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(16))  # create|update|delete|merge|verify
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    # {field: [old, new]}; personal values are stored masked, so history never leaks them.
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DuplicateDecision(TenantMixin, Base):
    """A resolved pair of likely duplicates: merged, or confirmed as two different records."""

    __tablename__ = "registry_duplicate_decisions"
    __table_args__ = (UniqueConstraint("kind", "first_id", "second_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    first_id: Mapped[int] = mapped_column(Integer)  # the smaller id
    second_id: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(16))  # merged|not_duplicate
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))


class LabelKind(Base):
    """A person label a deployment uses (care groups, GB/T 31000 special groups, key youth)."""

    __tablename__ = "registry_label_kinds"

    code: Mapped[str] = mapped_column(String(30), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    group: Mapped[str] = mapped_column(String(16))  # care|special|youth
    # Sensitive labels are shown only to holders of personal.special.
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
