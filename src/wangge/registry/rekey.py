"""Key rotation of the search hashes: recompute `people.id_hash` / `people.phone_hash`.

The keyed hashes (HMAC, `access.personal_hash`) are the only stored values derived from the
key; both sit beside their clear value, so the new hash is computed from the clear ID number
or phone. The old key is checked against the stored hashes first: a wrong one means the
operator's idea of the deployment's key is wrong, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, Update, bindparam, func, select, update
from sqlalchemy.orm import Session

from wangge.errors import ValidationFailed
from wangge.registry.access import personal_hash
from wangge.registry.models_people import Person

BATCH = 2000


@dataclass
class RehashReport:
    """What a rotation found and did."""

    people: int = 0  # rows looked at
    changed: int = 0  # rows written
    old_key: int = 0  # stored hashes the old key reproduces
    new_key: int = 0  # stored hashes already made with the new key
    other: int = 0  # stored hashes neither key reproduces (recomputed all the same)
    without_clear: int = 0  # stored hashes without their clear value (left as they are)


def rehash_people(
    session: Session,
    *,
    old_key: str,
    new_key: str,
    progress: Callable[[int, int], None] | None = None,
) -> RehashReport:
    """Recompute every ID-number and phone hash with `new_key`; raise when `old_key` is wrong."""
    if not old_key or old_key == new_key:
        raise ValidationFailed(
            "旧密钥为空或与新密钥（WANGGE_PERSONAL_HASH_KEY）相同，请先设置新密钥",
            "the old key is empty or equal to the new one (WANGGE_PERSONAL_HASH_KEY); set the "
            "new key first",
            code="same_hash_key",
        )
    old, new = old_key.encode(), new_key.encode()
    report = RehashReport()
    total = session.scalar(select(func.count()).select_from(Person)) or 0
    statement = _hash_update()
    last = 0
    while rows := _batch_after(session, last):
        updates = _batch_updates(report, rows, old, new)
        if updates:
            session.execute(statement, updates)
        report.people += len(rows)
        report.changed += len(updates)
        last = rows[-1].id
        if progress:
            progress(len(rows), total)
    if report.changed and not report.old_key:
        raise ValidationFailed(
            "旧密钥与库中的散列不符，未做任何修改；请核对 WANGGE_OLD_PERSONAL_HASH_KEY",
            "the old key does not match the stored hashes; nothing was changed (check "
            "WANGGE_OLD_PERSONAL_HASH_KEY)",
            code="wrong_old_hash_key",
        )
    return report


def _hash_update() -> Update:
    """Return the UPDATE of one person's two hashes (executed for many at once)."""
    table = Person.__table__
    assert isinstance(table, Table)  # a declarative model is mapped to a Table
    # updated_at is written back unchanged: a new key is no change of the person's record.
    return (
        update(table)
        .where(table.c.id == bindparam("pid"))
        .values(
            id_hash=bindparam("new_id_hash"),
            phone_hash=bindparam("new_phone_hash"),
            updated_at=bindparam("kept_updated_at"),
        )
    )


def _batch_after(session: Session, last: int) -> Sequence[Any]:
    """Return the next BATCH people after id `last` with their clear values and hashes."""
    return session.execute(
        select(
            Person.id, Person.id_number, Person.id_hash, Person.phone, Person.phone_hash,
            Person.updated_at,
        )
        .where(Person.id > last)
        .order_by(Person.id)
        .limit(BATCH)
    ).all()  # fmt: skip


def _batch_updates(
    report: RehashReport, rows: Sequence[Any], old: bytes, new: bytes
) -> list[dict[str, Any]]:
    """Return the parameters of the rows whose hashes change."""
    updates = []
    for row in rows:
        hashes = [
            _rehashed(report, kind, clear, stored, old, new)
            for kind, clear, stored in (
                ("id", row.id_number, row.id_hash),
                ("phone", row.phone, row.phone_hash),
            )
        ]
        if hashes != [row.id_hash, row.phone_hash]:
            updates.append(
                {"pid": row.id, "new_id_hash": hashes[0], "new_phone_hash": hashes[1],
                 "kept_updated_at": row.updated_at}
            )  # fmt: skip
    return updates


def _rehashed(
    report: RehashReport, kind: str, clear: str | None, stored: str | None, old: bytes, new: bytes
) -> str | None:
    """Return the hash to store for one value, counting what the stored one was made with."""
    if clear is None:
        if stored is not None:
            report.without_clear += 1
        return stored
    fresh = personal_hash(kind, clear, key=new)
    if stored is not None:
        if stored == personal_hash(kind, clear, key=old):
            report.old_key += 1
        elif stored == fresh:
            report.new_key += 1
        else:
            report.other += 1
    return fresh
