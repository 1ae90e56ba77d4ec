"""The append-only audit log and the head of its sealed, keyed hash chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from wangge.db import Base


class AuditEntry(Base):
    """One audited act.

    A request writes the entry with `mac` (HMAC of its content under the audit key) and no
    place in the chain; the sealer (`audit.chain.seal`) then gives it `chain_pos` and links it:
    `hash` = HMAC(prev_hash + canonical entry), so edits, removals and insertions break the
    chain. Ids come from the table's sequence, so no request waits for another.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        # The sealer's work list: entries not yet in the chain, in id order.
        Index(
            "ix_audit_log_unsealed",
            "id",
            postgresql_where=text("chain_pos IS NULL"),
            sqlite_where=text("chain_pos IS NULL"),
        ),
        Index("uq_audit_log_chain_pos", "chain_pos", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    county_code: Mapped[str | None] = mapped_column(String(6))
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    mac: Mapped[str | None] = mapped_column(String(64))
    chain_pos: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditHead(Base):
    """The newest sealed entry: its chain position (`last_id`) and hash; only sealers lock it."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
