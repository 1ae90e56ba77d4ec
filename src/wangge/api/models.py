"""Request bookkeeping kept in the database so any API node can serve any request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wangge.common.models import utcnow
from wangge.db import Base


class IdempotencyKey(Base):
    """The first response to a POST with an Idempotency-Key, replayed for every retry."""

    __tablename__ = "idempotency_keys"

    owner: Mapped[str] = mapped_column(String(80), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )


class RateCounter(Base):
    """Requests counted per key (IP, phone hash) in a fixed time window."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    window: Mapped[int] = mapped_column(Integer, primary_key=True)  # window number since epoch
    count: Mapped[int] = mapped_column(Integer, default=0)
