"""Migration 0010 links photos already on cases to their case, so their originals stay visible.

SQLite only: the test downgrades and upgrades its own database file, which the shared
PostgreSQL test database (migrated once per run) cannot offer; the backfill reads the JSON
columns through SQLAlchemy, the same on both.
"""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from tests.case_factories import (
    ACCEPTOR,
    HANDLER,
    T0,
    build_world,
    do,
    report,
    take_photo,
    to_dispatched,
)
from wangge.audit.chain import seal_all
from wangge.db import make_engine, session_factory, unit_of_work
from wangge.dbadmin import alembic_config, downgrade, upgrade
from wangge.uploads.models import Upload
from wangge.uploads.service import upload_id_of


def test_upgrading_links_the_photos_already_on_cases_to_their_case(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    with unit_of_work(session_factory(engine)) as s:
        build_world(s)
        case = to_dispatched(s, report(s))
        do(s, case, "department_accept", HANDLER, T0)
        do(s, case, "feed_back", HANDLER, T0, photos=["photo://after"])
        loose = upload_id_of(take_photo(s, ACCEPTOR))
        case_id = case.id
    with engine.begin() as conn:  # a database from before 0010: no link recorded
        conn.execute(text("UPDATE uploads SET case_id = NULL"))
    with session_factory(engine)() as s:
        seal_all(s)  # an operator seals the audit log before going back past migration 0016
    before = ScriptDirectory.from_config(alembic_config(engine)).get_revision("0010").down_revision
    downgrade(engine, str(before))  # through every later migration's downgrade, rows in place
    upgrade(engine)
    with session_factory(engine)() as s:
        linked = dict(s.execute(select(Upload.id, Upload.case_id)).all())
    assert linked.pop(loose) is None
    assert len(linked) == 2 and set(linked.values()) == {case_id}  # report and feed-back photos
    engine.dispose()
