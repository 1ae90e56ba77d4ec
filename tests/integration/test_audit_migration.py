"""Migration 0016 keeps a chain written the old way (head row per append) verifiable, and
lets the new writes (sealed later) continue it; going back is refused while entries wait.

SQLite only: the test downgrades and upgrades its own database file (see
test_uploads_migration.py); the migration's PostgreSQL branch (sequence moved past the
old ids) is covered by every PostgreSQL test that writes audit entries after `upgrade`.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from wangge.audit.chain import seal_all, verify_chain
from wangge.audit.service import record
from wangge.db import make_engine, session_factory, unit_of_work
from wangge.dbadmin import downgrade, upgrade


def test_an_old_chain_is_kept_and_continued_and_downgrade_waits_for_the_sealer(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    upgrade(engine)
    factory = session_factory(engine, audit_key="k" * 20)
    with unit_of_work(factory) as s:
        for i in range(5):
            record(s, actor="old", action="test.old", detail={"i": i})
    with factory() as s:
        seal_all(s)
    downgrade(engine, "0015")  # the layout before sealing: hashes by id order, no MACs
    with engine.connect() as conn:
        cols = {r[1] for r in conn.execute(text("PRAGMA table_info(audit_log)"))}
    assert "chain_pos" not in cols and "mac" not in cols
    upgrade(engine)
    with unit_of_work(factory) as s:
        assert verify_chain(s).ok and verify_chain(s).checked == 5  # old entries, position = id
        for i in range(3):
            record(s, actor="new", action="test.new", detail={"i": i})
    with factory() as s:
        report = verify_chain(s)
        assert report.ok and (report.checked, report.unsealed) == (8, 3)
    with pytest.raises(RuntimeError, match="not sealed"):
        downgrade(engine, "0015")
    with factory() as s:
        assert seal_all(s) == 3
        report = verify_chain(s)
        assert report.ok and (report.checked, report.unsealed) == (8, 0)
    engine.dispose()
