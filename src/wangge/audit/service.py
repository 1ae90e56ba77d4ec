"""Append to and verify the hash-chained audit log.

Appends take the single `audit_head` row by *updating* it first (UPDATE … RETURNING) inside
the caller's transaction, so chain order is commit order and no two writers fork the chain;
record audit entries as the last step of a use case to keep that lock short. Updating before
reading matters on SQLite, where a plain SELECT runs outside the write lock: a server and a
second process (the demo month, a CLI command) appending at once read the same head and the
second insert failed with a duplicate id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wangge.audit.models import AuditEntry, AuditHead
from wangge.common.masking import scrub
from wangge.common.models import utcnow

GENESIS = "0" * 64


def _utc_text(at: datetime) -> str:
    # SQLite returns naive datetimes, PostgreSQL aware ones: hash the UTC wall time either way.
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def _canonical(entry: AuditEntry) -> bytes:
    body = [
        entry.prev_hash,
        entry.id,
        _utc_text(entry.at),
        entry.actor,
        entry.actor_id,
        entry.action,
        entry.object_type,
        entry.object_id,
        entry.county_code,
        entry.reason,
        entry.detail,
    ]
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def entry_hash(entry: AuditEntry) -> str:
    """Return the hash an entry must carry: sha256 over its predecessor's hash and itself."""
    return hashlib.sha256(_canonical(entry)).hexdigest()


def _scrubbed(value: Any) -> Any:
    # Defence in depth: no full ID number or phone reaches the log, whatever a caller passes.
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(v) for v in value]
    return value


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    actor_id: int | None = None,
    object_type: str | None = None,
    object_id: str | int | None = None,
    county_code: str | None = None,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one entry to the chain inside the caller's transaction."""
    last_id, last_hash = session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(last_id=AuditHead.last_id + 1)
        .returning(AuditHead.last_id, AuditHead.last_hash)
        .execution_options(synchronize_session=False)
    ).one()
    at = (at or utcnow()).astimezone(UTC)
    entry = AuditEntry(
        id=last_id,
        at=at,
        actor=actor,
        actor_id=actor_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        county_code=county_code,
        reason=_scrubbed(reason),
        detail=_scrubbed(detail),
        prev_hash=last_hash,
    )
    entry.hash = entry_hash(entry)
    session.add(entry)
    session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(last_hash=entry.hash)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason_zh: str = ""
    reason_en: str = ""


def _entries(session: Session) -> Iterator[AuditEntry]:
    yield from session.scalars(
        select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=2000)
    )


def verify_chain(session: Session) -> ChainReport:
    """Recompute the chain; point at the first entry that was changed, removed or inserted."""
    prev_hash, prev_id, checked = GENESIS, 0, 0
    for entry in _entries(session):
        checked += 1
        if entry.id != prev_id + 1:
            return ChainReport(
                False,
                checked,
                entry.id,
                f"第 {prev_id + 1} 条记录缺失",
                f"entry {prev_id + 1} is missing",
            )
        if entry.prev_hash != prev_hash:
            return ChainReport(
                False,
                checked,
                entry.id,
                f"第 {entry.id} 条记录的前序哈希不符",
                f"entry {entry.id} does not link to its predecessor",
            )
        if entry_hash(entry) != entry.hash:
            return ChainReport(
                False,
                checked,
                entry.id,
                f"第 {entry.id} 条记录内容被修改",
                f"entry {entry.id} was altered",
            )
        prev_hash, prev_id = entry.hash, entry.id
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_id, head.last_hash) != (prev_id, prev_hash):
        return ChainReport(
            False, checked, prev_id + 1, "链尾记录被删除", "entries at the end were removed"
        )
    return ChainReport(True, checked)


def record_for(session: Session, principal: Any, action: str, **fields: Any) -> AuditEntry:
    """Append an entry on behalf of a principal (its name and user id as the actor)."""
    return record(
        session, actor=principal.name, actor_id=principal.user_id, action=action, **fields
    )
