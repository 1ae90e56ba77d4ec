"""Leases: at most one process at a time does a piece of background work, on any database.

A lease is one row (name, holder, expires_at). Taking it is a compare-and-set UPDATE that
succeeds only when the row is free, expired or already ours; the first taker inserts the row.
A holder that dies stops renewing, so its lease lapses after `ttl` and another process takes
over. This works the same on SQLite (one writer at a time) and PostgreSQL (row locks), where
an advisory lock would exist on one of them only. The caller commits.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import String, delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from wangge.cases.models import UTCDateTime
from wangge.common.models import utcnow
from wangge.db import Base, unit_of_work, write_lock_first


class Lease(Base):
    """Who holds a named piece of background work, and until when."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


def new_holder() -> str:
    """Return a holder id unique to this process and object: host, pid and a random part."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(
    session: Session, name: str, holder: str, *, ttl: float, now: datetime | None = None
) -> bool:
    """Take or renew the lease for `ttl` seconds; return False when another holds it."""
    now = now or utcnow()
    until = now + timedelta(seconds=ttl)
    taken = session.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
        .values(holder=holder, expires_at=until)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount:  # type: ignore[attr-defined]
        return True
    if session.get(Lease, name) is not None:
        return False
    savepoint = session.begin_nested()
    try:
        session.add(Lease(name=name, holder=holder, expires_at=until))
        savepoint.commit()
    except IntegrityError:  # another process inserted it first: it holds the lease
        savepoint.rollback()
        return False
    return True


def release(session: Session, name: str, holder: str) -> None:
    """Give the lease up (only if still ours), so another process need not wait for expiry."""
    session.execute(
        delete(Lease)
        .where(Lease.name == name, Lease.holder == holder)
        .execution_options(synchronize_session=False)
    )


class LeaseHold:
    """One round's hold on a named lease, for work done in several transactions.

    `take()` acquires it in a transaction of its own, `renew(session)` in the caller's (so a
    batch written after the lease lapsed is rolled back with it), `release()` at the end.
    `enabled=False` (a command run by hand, safe because its writes are compare-and-set)
    holds nothing and always may go on.
    """

    def __init__(
        self, factory: sessionmaker[Session], name: str, holder: str, *, ttl: float,
        enabled: bool = True,
    ) -> None:  # fmt: skip
        self.factory, self.name, self.holder, self.ttl = factory, name, holder, ttl
        self.enabled = enabled

    def renew(self, session: Session) -> bool:
        """Take or renew the lease in the caller's transaction; False when another holds it."""
        return not self.enabled or acquire(session, self.name, self.holder, ttl=self.ttl)

    def take(self) -> bool:
        """Take the lease in a transaction of its own."""
        with unit_of_work(self.factory) as session:
            write_lock_first(session)
            return self.renew(session)

    def release(self) -> None:
        """Give the lease back (only if still ours)."""
        if self.enabled:
            with unit_of_work(self.factory) as session:
                write_lock_first(session)
                release(session, self.name, self.holder)
