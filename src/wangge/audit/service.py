"""Append to the audit log: one INSERT per entry, no lock shared with other requests.

Each entry carries a MAC (HMAC-SHA256 of its content under `Settings.audit_key`, a secret the
application holds and the database does not; it reaches the session as `session.info
["audit_key"]`, set by `db.session_factory`), so an entry changed in the database is found
even before it is chained. A sealer (`audit.chain.seal`, run every second by each server and
by `wangge audit seal`) then links entries, in id order, into the keyed hash chain that shows
removals and insertions too (module `audit.chain`).

Before this, every append locked the single `audit_head` row until commit; with every report,
login and action audited, that one row lock serialised the whole platform (issue 15).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from wangge.audit.models import AuditEntry
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


def _content(entry: AuditEntry) -> list[Any]:
    return [
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


def _canonical(entry: AuditEntry) -> bytes:
    # The chained form (unchanged since the first chain, so old entries still verify).
    return orjson.dumps([entry.prev_hash, entry.id, *_content(entry)], option=orjson.OPT_SORT_KEYS)


def audit_key(session: Session) -> bytes:
    """The chain's key for this session (the application's setting, or the development key)."""
    return str(session.info.get("audit_key") or DEV_AUDIT_KEY).encode()


def entry_hash(entry: AuditEntry, key: bytes) -> str:
    """Return the hash a sealed entry must carry: HMAC over its predecessor's hash and itself."""
    return hmac.new(key, _canonical(entry), hashlib.sha256).hexdigest()


def entry_mac(entry: AuditEntry, key: bytes) -> str:
    """Return the MAC an entry carries from its write: HMAC over its content.

    The id is not covered: the database gives it at INSERT, and computing the MAC after would
    cost a second statement per entry; the chain covers the id once the entry is sealed.
    """
    body = orjson.dumps(["entry", *_content(entry)], option=orjson.OPT_SORT_KEYS)
    return hmac.new(key, body, hashlib.sha256).hexdigest()


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
    """Add one entry in the caller's transaction (written with it, sealed shortly after)."""
    entry = AuditEntry(
        at=(at or utcnow()).astimezone(UTC),
        actor=actor,
        actor_id=actor_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        county_code=county_code,
        reason=_scrubbed(reason),
        detail=_scrubbed(detail),
    )
    # A JSON round trip first, so the MAC is over what the database will give back.
    if entry.detail is not None:
        entry.detail = orjson.loads(orjson.dumps(entry.detail))
    entry.mac = entry_mac(entry, audit_key(session))
    session.add(entry)
    session.flush()  # as before the sealer: callers read the use case's rows right after
    return entry


def record_for(session: Session, principal: Any, action: str, **fields: Any) -> AuditEntry:
    """Append an entry on behalf of a principal (its name and user id as the actor)."""
    return record(
        session, actor=principal.name, actor_id=principal.user_id, action=action, **fields
    )
