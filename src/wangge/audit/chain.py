"""Seal audit entries into the keyed hash chain, verify it, and sign checkpoints of its head.

Requests only insert entries (module `audit.service`); `seal` links the entries not yet in the
chain, in id order, behind the newest sealed one. Only sealers lock the `audit_head` row, and a
second sealer finding it locked skips its turn, so sealing never makes a request wait.
An entry is tamper-evident from its write (its MAC); once sealed, the chain also shows entries
removed or inserted. A keyed chain cannot show that its newest entries were cut off, so an
operator exports signed checkpoints of the head (`wangge audit checkpoint`) to a place the
database cannot reach, and `wangge audit verify --checkpoints FILE` checks against them.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from wangge.audit.models import AuditEntry, AuditHead
from wangge.audit.service import (
    GENESIS,
    audit_key,
    entry_hash,
    entry_mac,
    legacy_entry_hash,
)
from wangge.common.models import utcnow

log = logging.getLogger("wangge.audit")

# Entries linked per transaction: big enough to keep up with thousands of entries a second,
# small enough that one seal holds the head for well under a second.
SEAL_BATCH = 5000


def _lock_head(session: Session) -> AuditHead | None:
    """Lock the head for this transaction; None when another sealer holds it (PostgreSQL)."""
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks: take the database's write lock before reading the head.
        session.execute(
            update(AuditHead)
            .where(AuditHead.id == 1)
            .values(last_id=AuditHead.last_id)
            .execution_options(synchronize_session=False)
        )
    return session.scalars(
        select(AuditHead)
        .where(AuditHead.id == 1)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).first()


def seal(session: Session, *, limit: int = SEAL_BATCH) -> int:
    """Link up to `limit` unsealed entries into the chain in id order; return how many.

    An entry whose MAC does not match is not blessed: sealing stops before it (and says so in
    the log) until an operator has looked; `verify_chain` names it.
    """
    head = _lock_head(session)
    if head is None:
        return 0
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.chain_pos.is_(None))
        .order_by(AuditEntry.id)
        .limit(limit)
    ).all()
    key = audit_key(session)
    pos, prev = head.last_id, head.last_hash
    sealed = 0
    for entry in entries:
        if not hmac.compare_digest(entry.mac or "", entry_mac(entry, key)):
            log.error("audit entry %s fails its MAC; sealing stopped before it", entry.id)
            break
        pos += 1
        entry.chain_pos, entry.prev_hash = pos, prev
        entry.hash = prev = entry_hash(entry, key)
        sealed += 1
    head.last_id, head.last_hash = pos, prev
    session.flush()
    return sealed


def seal_all(session: Session, stop: Callable[[], bool] = lambda: False) -> int:
    """Seal until nothing is left or `stop()` (committing each batch); return how many."""
    total = 0
    while True:
        n = seal(session)
        session.commit()
        total += n
        if n < SEAL_BATCH or stop():
            return total


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason_zh: str = ""
    reason_en: str = ""
    unsealed: int = 0


def _place(entry: AuditEntry) -> int:
    """The place of a sealed entry in the chain (`_entries(sealed=True)` yields only those)."""
    assert entry.chain_pos is not None
    return entry.chain_pos


def _entries(session: Session, *, sealed: bool) -> Iterator[AuditEntry]:
    """Sealed entries in chain order, or the waiting ones in id order (the sealer's order)."""
    pos = AuditEntry.chain_pos
    yield from session.scalars(
        select(AuditEntry)
        .where(pos.is_not(None) if sealed else pos.is_(None))
        .order_by(pos if sealed else AuditEntry.id)
        .execution_options(yield_per=2000)
    )


def _broken(checked: int, entry_id: int | None, zh: str, en: str) -> ChainReport:
    return ChainReport(False, checked, entry_id, zh, en)


def _bad_checkpoint(wanted: dict[int, Checkpoint], key: bytes) -> ChainReport | None:
    """Refuse a checkpoint not signed with the audit key (it proves nothing)."""
    for c in wanted.values():
        if not c.valid(key):
            return _broken(
                0, c.id, f"第 {c.id} 条的检查点签名无效", f"checkpoint {c.id} is not signed"
            )
    return None


def _link_fault(
    entry: AuditEntry, key: bytes, *, checked: int, prev_pos: int, prev_hash: str | None
) -> ChainReport | None:
    """Say what is wrong with a sealed entry's place, link or hash (None: nothing)."""
    if _place(entry) != prev_pos + 1:
        return _broken(
            checked, entry.id, f"链上第 {prev_pos + 1} 条记录缺失",
            f"entry {prev_pos + 1} of the chain is missing",
        )  # fmt: skip
    if entry.prev_hash != prev_hash:
        return _broken(
            checked, entry.id, f"第 {entry.id} 条记录的前序哈希不符",
            f"entry {entry.id} does not link to its predecessor",
        )  # fmt: skip
    if entry_hash(entry, key) != entry.hash:
        if checked == 1 and legacy_entry_hash(entry) == entry.hash:
            return _broken(
                checked, entry.id, "审计链为旧格式（无密钥），请运行 wangge audit seal-legacy",
                "the chain was written before audit keys; run `wangge audit seal-legacy`",
            )  # fmt: skip
        return _altered(checked, entry)
    return None


def _altered(checked: int, entry: AuditEntry) -> ChainReport:
    return _broken(
        checked, entry.id, f"第 {entry.id} 条记录内容被修改（或审计密钥不同）",
        f"entry {entry.id} was altered (or the audit key differs)",
    )  # fmt: skip


def _verify_waiting(session: Session, key: bytes, checked: int) -> ChainReport:
    """Check the MAC of every entry still waiting for the sealer, after the sealed chain."""
    waiting = 0
    for entry in _entries(session, sealed=False):
        checked += 1
        waiting += 1
        if not hmac.compare_digest(entry.mac or "", entry_mac(entry, key)):
            return _altered(checked, entry)
    return ChainReport(True, checked, unsealed=waiting)


def verify_chain(session: Session, checkpoints: Iterable[Checkpoint] = ()) -> ChainReport:
    """Recompute the chain and every waiting entry's MAC; point at the first entry that fails.

    With checkpoints, also prove that each checkpointed entry is still there unchanged (so
    the newest entries were not cut off and the chain was not rebuilt from an old head).
    """
    key = audit_key(session)
    wanted = {c.id: c for c in checkpoints}
    unsigned = _bad_checkpoint(wanted, key)
    if unsigned is not None:
        return unsigned
    # The head is read before the entries: a sealer committing while we read (a live server)
    # only adds entries after it, while a chain cut short ends before it.
    head = session.get(AuditHead, 1, populate_existing=True)
    head_pos, head_hash = (head.last_id, head.last_hash) if head is not None else (0, GENESIS)
    head_seen = head_pos == 0
    prev_hash: str | None = GENESIS  # an entry's hash column is nullable
    prev_pos, checked = 0, 0
    for entry in _entries(session, sealed=True):
        checked += 1
        pos = _place(entry)
        anchor = wanted.get(pos - 1) if checked == 1 else None
        if anchor is not None and anchor.hash == entry.prev_hash:
            # the months before were archived (`wangge audit archive`): the chain goes on from
            # the signed checkpoint of the last archived entry
            prev_hash, prev_pos = anchor.hash, anchor.id
            wanted.pop(anchor.id)
        fault = _link_fault(entry, key, checked=checked, prev_pos=prev_pos, prev_hash=prev_hash)
        if fault is not None:
            return fault
        point = wanted.pop(pos, None)
        if point is not None and point.hash != entry.hash:
            return _broken(
                checked, entry.id, f"第 {entry.id} 条记录与检查点不符",
                f"entry {entry.id} differs from its checkpoint",
            )  # fmt: skip
        if pos == head_pos:
            head_seen = entry.hash == head_hash
        prev_hash, prev_pos = entry.hash, pos
    if wanted:
        first = min(wanted)
        return _broken(
            checked, first, f"检查点中的第 {first} 条记录已不在链中（链尾被截断）",
            f"checkpointed entry {first} is gone (the end of the chain was cut off)",
        )  # fmt: skip
    if not head_seen:
        where = head_pos if head_pos <= prev_pos else prev_pos + 1
        return _broken(checked, where, "链尾记录被删除", "entries at the end were removed")
    return _verify_waiting(session, key, checked)


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at one moment, signed with the audit key; kept outside the database.

    `id` is the entry's position in the chain (equal to its id for entries sealed in order).
    """

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


def checkpoint_before(session: Session, cut: datetime) -> Checkpoint | None:
    """Sign the last entry written before `cut` (the anchor the chain goes on from when the
    months before `cut` are archived); None when there is none. Seals what waits first;
    refuses while an entry before `cut` is still unsealed."""
    seal_all(session)
    pos = session.scalar(select(func.max(AuditEntry.chain_pos)).where(AuditEntry.at < cut))
    if pos is None:
        return None
    after = session.scalar(select(func.min(AuditEntry.chain_pos)).where(AuditEntry.at >= cut))
    if after is not None and after != pos + 1:
        # Requests that crossed the boundary were sealed out of time order: archiving there
        # would leave a hole in the chain that stays in the database.
        raise ValueError(
            f"审计链在 {cut:%Y-%m-%d} 前后交错（第 {after} 条在前），请换一个月份归档 / "
            f"the chain interleaves across {cut:%Y-%m-%d} (entry {after}); archive another month"
        )
    entry = session.scalars(select(AuditEntry).where(AuditEntry.chain_pos == pos)).one()
    at = utcnow().astimezone(UTC).isoformat(timespec="seconds")
    return Checkpoint.sign(audit_key(session), int(pos), str(entry.hash), at)


def checkpoint(session: Session) -> Checkpoint | None:
    """Seal what waits, then sign the head (None for an empty chain)."""
    seal_all(session)
    head = session.get(AuditHead, 1, populate_existing=True)
    if head is None or head.last_id == 0:
        return None
    at = utcnow().astimezone(UTC).isoformat(timespec="seconds")
    return Checkpoint.sign(audit_key(session), head.last_id, head.last_hash, at)


def seal_legacy(session: Session) -> int:
    """Re-sign a chain written before audit keys, after proving it intact; return the count.

    Refused when any entry fails the legacy check: a tampered chain is not blessed.
    """
    key = audit_key(session)
    prev_hash, prev_pos, entries = GENESIS, 0, []
    for entry in _entries(session, sealed=True):
        ok = _place(entry) == prev_pos + 1 and entry.prev_hash == prev_hash
        if not ok or entry.hash not in (legacy_entry_hash(entry), entry_hash(entry, key)):
            raise ValueError(f"entry {entry.id} is broken; the chain cannot be sealed")
        prev_hash, prev_pos = entry.hash, _place(entry)
        entries.append(entry)
    prev_hash = GENESIS
    for entry in entries:
        entry.prev_hash = prev_hash
        entry.hash = entry_hash(entry, key)
        prev_hash = entry.hash
    session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(last_id=prev_pos, last_hash=prev_hash)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return len(entries)
