"""Append to and verify the hash-chained audit log.

Appends take the single `audit_head` row by *updating* it first (UPDATE … RETURNING) inside
the caller's transaction, so chain order is commit order and no two writers fork the chain;
record audit entries as the last step of a use case to keep that lock short. Updating before
reading matters on SQLite, where a plain SELECT runs outside the write lock: a server and a
second process (the demo month, a CLI command) appending at once read the same head and the
second insert failed with a duplicate id.

The chain is keyed: each hash is an HMAC-SHA256 under `Settings.audit_key`, a secret the
application holds and the database does not (it reaches the session as `session.info
["audit_key"]`, set by `db.session_factory`). Someone who can write the database but not read
the servers' settings cannot recompute the hashes after changing an entry. A keyed chain still
cannot show that its newest entries were cut off, so an operator exports signed checkpoints of
the head (`wangge audit checkpoint`) to a place the database cannot reach, and
`wangge audit verify --checkpoints FILE` checks the chain against them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator
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
# Development only; `Settings.check_secrets` refuses it when WANGGE_ENV=production.
DEV_AUDIT_KEY = "wangge-development-audit-key"


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


def audit_key(session: Session) -> bytes:
    """The chain's key for this session (the application's setting, or the development key)."""
    return str(session.info.get("audit_key") or DEV_AUDIT_KEY).encode()


def entry_hash(entry: AuditEntry, key: bytes) -> str:
    """Return the hash an entry must carry: HMAC-SHA256 over its predecessor's hash and itself."""
    return hmac.new(key, _canonical(entry), hashlib.sha256).hexdigest()


def legacy_entry_hash(entry: AuditEntry) -> str:
    """The unkeyed sha256 of chains written before the key (`wangge audit seal-legacy`)."""
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
    entry.hash = entry_hash(entry, audit_key(session))
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


def verify_chain(session: Session, checkpoints: Iterable[Checkpoint] = ()) -> ChainReport:
    """Recompute the chain; point at the first entry that was changed, removed or inserted.

    With checkpoints, also prove that each checkpointed entry is still there unchanged (so
    the newest entries were not cut off and the chain was not rebuilt from an old head).
    """
    key = audit_key(session)
    wanted = {c.id: c for c in checkpoints}
    for c in wanted.values():
        if not c.valid(key):
            return ChainReport(
                False, 0, c.id, f"第 {c.id} 条的检查点签名无效", f"checkpoint {c.id} is not signed"
            )
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
        if entry_hash(entry, key) != entry.hash:
            if checked == 1 and legacy_entry_hash(entry) == entry.hash:
                return ChainReport(
                    False,
                    checked,
                    entry.id,
                    "审计链为旧格式（无密钥），请运行 wangge audit seal-legacy",
                    "the chain was written before audit keys; run `wangge audit seal-legacy`",
                )
            return ChainReport(
                False,
                checked,
                entry.id,
                f"第 {entry.id} 条记录内容被修改（或审计密钥不同）",
                f"entry {entry.id} was altered (or the audit key differs)",
            )
        point = wanted.pop(entry.id, None)
        if point is not None and point.hash != entry.hash:
            return ChainReport(
                False,
                checked,
                entry.id,
                f"第 {entry.id} 条记录与检查点不符",
                f"entry {entry.id} differs from its checkpoint",
            )
        prev_hash, prev_id = entry.hash, entry.id
    if wanted:
        first = min(wanted)
        return ChainReport(
            False,
            checked,
            first,
            f"检查点中的第 {first} 条记录已不在链中（链尾被截断）",
            f"checkpointed entry {first} is gone (the end of the chain was cut off)",
        )
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_id, head.last_hash) != (prev_id, prev_hash):
        return ChainReport(
            False, checked, prev_id + 1, "链尾记录被删除", "entries at the end were removed"
        )
    return ChainReport(True, checked)


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at one moment, signed with the audit key; kept outside the database."""

    id: int
    hash: str
    at: str
    mac: str

    @staticmethod
    def sign(key: bytes, entry_id: int, entry_hash_: str, at: str) -> Checkpoint:
        """Return a signed checkpoint of an entry."""
        mac = hmac.new(key, f"checkpoint:{entry_id}:{entry_hash_}:{at}".encode(), "sha256")
        return Checkpoint(entry_id, entry_hash_, at, mac.hexdigest())

    def valid(self, key: bytes) -> bool:
        """Return True when the signature is the key's."""
        expected = Checkpoint.sign(key, self.id, self.hash, self.at).mac
        return hmac.compare_digest(expected, self.mac)


def checkpoint(session: Session) -> Checkpoint | None:
    """Sign the current head (None for an empty chain)."""
    head = session.get(AuditHead, 1)
    if head is None or head.last_id == 0:
        return None
    at = utcnow().astimezone(UTC).isoformat(timespec="seconds")
    return Checkpoint.sign(audit_key(session), head.last_id, head.last_hash, at)


def seal_legacy(session: Session) -> int:
    """Re-sign a chain written before audit keys, after proving it intact; return the count.

    Refused when any entry fails the legacy check: a tampered chain is not blessed.
    """
    key = audit_key(session)
    prev_hash, prev_id, entries = GENESIS, 0, []
    for entry in _entries(session):
        ok = entry.id == prev_id + 1 and entry.prev_hash == prev_hash
        if not ok or entry.hash not in (legacy_entry_hash(entry), entry_hash(entry, key)):
            raise ValueError(f"entry {entry.id} is broken; the chain cannot be sealed")
        prev_hash, prev_id = entry.hash, entry.id
        entries.append(entry)
    prev_hash = GENESIS
    for entry in entries:
        entry.prev_hash = prev_hash
        entry.hash = entry_hash(entry, key)
        prev_hash = entry.hash
    session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(last_id=prev_id, last_hash=prev_hash)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return len(entries)


def record_for(session: Session, principal: Any, action: str, **fields: Any) -> AuditEntry:
    """Append an entry on behalf of a principal (its name and user id as the actor)."""
    return record(
        session, actor=principal.name, actor_id=principal.user_id, action=action, **fields
    )
