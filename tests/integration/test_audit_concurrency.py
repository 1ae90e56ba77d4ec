"""Appends from several connections at once, with a sealer running beside them, keep one
unbroken chain, on both databases.

Found live: the demo month (a second process) and a login on the server appended at the same
moment on SQLite; both read the same head and the login failed with a duplicate entry id.
Since issue 15 appends lock nothing shared; the sealer links them shortly after, so an entry
that commits after a later id was sealed is chained behind it, never lost.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, delete, event, func, select

from wangge.audit.chain import seal, seal_all, verify_chain
from wangge.audit.models import AuditEntry, AuditHead
from wangge.audit.sealer import Sealer
from wangge.audit.service import GENESIS, record
from wangge.db import session_factory

WRITERS, EACH = 4, 25


@pytest.fixture
def clean_chain(engine: Engine):
    """The tests commit for real: start from an empty chain and leave one behind."""

    def reset() -> None:
        with session_factory(engine)() as s:
            s.execute(delete(AuditEntry))
            s.execute(delete(AuditHead))
            s.add(AuditHead(id=1, last_id=0, last_hash=GENESIS))
            s.commit()

    reset()
    yield engine
    reset()


def _append_concurrently(factory, errors: list[BaseException]) -> None:
    start = threading.Barrier(WRITERS)

    def append(n: int) -> None:
        start.wait()
        try:
            for i in range(EACH):
                with factory() as s:
                    s.execute(select(func.count()).select_from(AuditEntry)).scalar()  # a read
                    record(s, actor=f"writer{n}", action="test.append", detail={"i": i})
                    s.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_concurrent_appenders_with_a_sealer_beside_them_leave_one_verified_chain(clean_chain):
    factory = session_factory(clean_chain)
    errors: list[BaseException] = []
    sealer = Sealer(factory, interval=0.01).start()
    try:
        _append_concurrently(factory, errors)
    finally:
        sealer.stop()  # seals what is left
    assert errors == []
    with factory() as s:
        report = verify_chain(s)
        assert report.ok, report.reason_en
        assert (report.checked, report.unsealed) == (WRITERS * EACH, 0)
        positions = s.scalars(select(AuditEntry.chain_pos).order_by(AuditEntry.chain_pos)).all()
        assert positions == list(range(1, WRITERS * EACH + 1))
        assert s.get(AuditHead, 1).last_id == WRITERS * EACH


def test_waiting_entries_verify_by_their_mac_and_a_changed_one_is_never_sealed(clean_chain):
    factory = session_factory(clean_chain)
    with factory() as s:
        for i in range(5):
            record(s, actor="writer", action="test.append", detail={"i": i})
        s.commit()
        assert seal(s, limit=2) == 2  # two sealed, three wait
        s.commit()
        report = verify_chain(s)
        assert report.ok and (report.checked, report.unsealed) == (5, 3)
        waiting = s.scalars(
            select(AuditEntry).where(AuditEntry.chain_pos.is_(None)).order_by(AuditEntry.id)
        ).all()
        victim = waiting[1]
        victim.actor = "someone-else"  # what an attacker with database access does
        s.commit()
        broken = verify_chain(s)
        assert not broken.ok and broken.first_broken_id == victim.id
        assert f"第 {victim.id} 条" in broken.reason_zh
        assert seal_all(s) == 1  # the entry before it; the changed one is not blessed
        assert verify_chain(s).first_broken_id == victim.id


def test_two_sealers_at_once_never_fork_the_chain(clean_chain):
    factory = session_factory(clean_chain)
    with factory() as s:
        for i in range(300):
            record(s, actor="writer", action="test.append", detail={"i": i})
        s.commit()
    start = threading.Barrier(2)
    sealed: list[int] = []

    def run() -> None:
        start.wait()
        with factory() as s:
            sealed.append(seal_all(s))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(sealed) == 300
    with factory() as s:
        report = verify_chain(s)
        assert report.ok and report.unsealed == 0, report.reason_en


def test_a_verify_while_a_live_server_seals_is_not_reported_as_a_cut_chain(clean_chain):
    """Found by CI: `audit verify` read the entries, a server's sealer then committed more,
    and the head read after them was ahead: "entries at the end were removed" on a sound
    chain. Here a sealer links two more entries before each of the verifier's queries."""
    factory = session_factory(clean_chain)
    with factory() as s:
        for i in range(12):
            record(s, actor="writer", action="test.append", detail={"i": i})
        s.commit()
        assert seal(s, limit=2) == 2
        s.commit()
    sealed_meanwhile: list[int] = []

    def seal_two_more(conn, cursor, statement, *args) -> None:
        if "audit_log" in statement or "audit_head" in statement:
            with factory() as other:
                sealed_meanwhile.append(seal(other, limit=2))
                other.commit()

    with factory() as s:
        connection = s.connection()
        event.listen(connection, "before_cursor_execute", seal_two_more)
        try:
            report = verify_chain(s)
        finally:
            event.remove(connection, "before_cursor_execute", seal_two_more)
    assert sum(sealed_meanwhile) >= 4, "the sealer did not run between the verifier's reads"
    assert report.ok, report.reason_en


def test_sealed_entries_removed_from_the_end_are_reported(clean_chain):
    factory = session_factory(clean_chain)
    with factory() as s:
        for i in range(6):
            record(s, actor="writer", action="test.append", detail={"i": i})
        s.commit()
        seal_all(s)
        assert verify_chain(s).ok
        s.execute(delete(AuditEntry).where(AuditEntry.chain_pos > 4))  # an attacker's delete
        s.commit()
        report = verify_chain(s)
    assert not report.ok and report.first_broken_id == 5
    assert "链尾记录被删除" in report.reason_zh and "removed" in report.reason_en
