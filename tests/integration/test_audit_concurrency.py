"""Appends from several connections at once keep one unbroken chain, on both databases.

Found live: the demo month (a second process) and a login on the server appended at the same
moment on SQLite; both read the same head and the login failed with a duplicate entry id.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, delete, func, select

from wangge.audit.models import AuditEntry, AuditHead
from wangge.audit.service import GENESIS, record, verify_chain
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


def test_concurrent_appenders_each_get_the_next_entry_and_the_chain_verifies(clean_chain):
    factory = session_factory(clean_chain)
    errors: list[BaseException] = []
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
    assert errors == []
    with factory() as s:
        report = verify_chain(s)
        assert report.ok, report.reason_en
        assert report.checked == WRITERS * EACH
