"""A PostgreSQL table rebuilt as a fresh copy (`common.table_swap`, what `wangge eval
rebuild-facts` does with the facts and rollups) comes back with everything it had: keys,
indexes, names, its id sequence where it was, grants; a writer that waited for the rebuild
writes into the new table; what cannot be carried over is refused by name."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from tests.conftest import scratch_pg
from wangge.common import table_swap

pytestmark = pytest.mark.postgis

SCHEMA = """
CREATE TABLE owners (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE items (
  id serial PRIMARY KEY,
  owner_id integer NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
  code varchar(8) NOT NULL UNIQUE,
  qty integer NOT NULL DEFAULT 1 CHECK (qty > 0),
  note text
);
CREATE INDEX ix_items_owner_qty ON items (owner_id, qty);
CREATE INDEX ix_items_noted ON items (code) WHERE note IS NOT NULL;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'swap_reader') THEN
    CREATE ROLE swap_reader;
  END IF;
END $$;
GRANT SELECT ON items TO swap_reader;
INSERT INTO owners (name) VALUES ('a'), ('b');
INSERT INTO items (owner_id, code, qty, note) VALUES (1, 'x1', 2, 'n'), (2, 'x2', 3, NULL);
"""

CATALOG = {
    "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'items' ORDER BY 1",
    "constraints": "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE conrelid = 'items'::regclass ORDER BY 1",
    "sequence": "SELECT pg_get_serial_sequence('items', 'id')",
    "grants": "SELECT grantee, privilege_type FROM information_schema.role_table_grants "
    "WHERE table_name = 'items' AND grantee = 'swap_reader'",
    "columns": "SELECT column_name, data_type, is_nullable, column_default "
    "FROM information_schema.columns WHERE table_name = 'items' ORDER BY ordinal_position",
}


@pytest.fixture
def db(worker_id: str) -> Iterator[Engine]:
    for engine in scratch_pg(worker_id, "swap"):
        with engine.begin() as conn:
            conn.execute(text(SCHEMA))
        yield engine


def _catalog(conn: Connection) -> dict[str, list[tuple[object, ...]]]:
    return {k: [tuple(r) for r in conn.execute(text(q))] for k, q in CATALOG.items()}


def _rebuild(conn: Connection, rows: str) -> None:
    table_shape, fresh = table_swap.begin_fresh(conn, "items")
    conn.execute(text(f"INSERT INTO {fresh} (id, owner_id, code, qty) VALUES {rows}"))
    table_swap.swap_in(conn, table_shape, fresh)


def test_a_swapped_table_keeps_its_keys_indexes_names_sequence_and_grants(db: Engine) -> None:
    with db.connect() as conn:
        before = _catalog(conn)
    with db.begin() as conn:
        _rebuild(conn, "(10, 1, 'y1', 5), (11, 2, 'y2', 6)")
    with db.connect() as conn:
        assert _catalog(conn) == before
        rows = conn.execute(text("SELECT id, code, qty FROM items ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(10, "y1", 5), (11, "y2", 6)]
        # the sequence went on where it was (ids are never handed out twice)
        new_id = conn.execute(
            text("INSERT INTO items (owner_id, code) VALUES (1, 'z') RETURNING id")
        ).scalar_one()
        assert new_id == 3
        conn.rollback()
        for bad in (
            "INSERT INTO items (owner_id, code) VALUES (99, 'q')",  # foreign key
            "INSERT INTO items (owner_id, code) VALUES (1, 'y1')",  # unique
            "INSERT INTO items (owner_id, code, qty) VALUES (1, 'q', 0)",  # check
        ):
            with pytest.raises(IntegrityError):
                conn.execute(text(bad))
            conn.rollback()
        # ON DELETE CASCADE came back too
        conn.execute(text("DELETE FROM owners WHERE id = 2"))
        assert conn.execute(text("SELECT count(*) FROM items")).scalar_one() == 1
        conn.rollback()
        assert conn.execute(text("SELECT to_regclass('items__fresh')")).scalar_one() is None


def test_a_rolled_back_rebuild_leaves_the_table_as_it_was(db: Engine) -> None:
    with db.connect() as conn:
        before = _catalog(conn)
        rows = conn.execute(text("SELECT * FROM items ORDER BY id")).all()
        conn.rollback()
        _rebuild(conn, "(10, 1, 'y1', 5)")
        conn.rollback()
        assert _catalog(conn) == before
        assert conn.execute(text("SELECT * FROM items ORDER BY id")).all() == rows


def test_readers_see_the_old_rows_and_a_waiting_writer_lands_in_the_new_table(
    db: Engine,
) -> None:
    written = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with db.begin() as w:
                w.execute(text("SET lock_timeout = '30s'"))
                w.execute(text("INSERT INTO items (owner_id, code) VALUES (1, 'late')"))
            written.set()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    with db.connect() as conn, conn.begin():
        table_shape, fresh = table_swap.begin_fresh(conn, "items")
        conn.execute(text(f"INSERT INTO {fresh} (id, owner_id, code) VALUES (20, 2, 'new')"))
        with db.connect() as reader:  # readers are not blocked and see the old rows
            old = reader.execute(text("SELECT code FROM items ORDER BY id")).scalars().all()
            assert old == ["x1", "x2"]
        thread = threading.Thread(target=writer)
        thread.start()
        assert not written.wait(0.5), "a writer wrote into the table being rebuilt"
        table_swap.swap_in(conn, table_shape, fresh)
    thread.join(30)
    assert not errors, errors
    with db.connect() as conn:
        codes = conn.execute(text("SELECT code FROM items ORDER BY id")).scalars().all()
    assert codes == ["late", "new"] or codes == ["new", "late"]


def test_tables_that_cannot_be_carried_over_are_refused_by_name(db: Engine) -> None:
    with db.connect() as conn, conn.begin():
        with pytest.raises(table_swap.SwapRefused, match=r"owners .*referenced by other tables"):
            table_swap.begin_fresh(conn, "owners")
        conn.rollback()
    with db.begin() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RETURN NEW; END $$; "
                "CREATE TRIGGER t BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION noop()"
            )
        )
    refused = pytest.raises(table_swap.SwapRefused, match=r"items .*triggers")
    with db.connect() as conn, conn.begin(), refused:
        table_swap.begin_fresh(conn, "items")


def test_a_writer_of_a_referenced_table_waits_instead_of_deadlocking_the_swap(db: Engine) -> None:
    # the writer adds an owner, then an item of it: without the referenced table locked up
    # front it would hold `owners` while waiting for `items`, and adding the foreign key at
    # the swap would deadlock (PostgreSQL then aborts the rebuild)
    started = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with db.begin() as w:
                w.execute(text("SET lock_timeout = '30s'"))
                started.set()
                owner = w.execute(
                    text("INSERT INTO owners (name) VALUES ('c') RETURNING id")
                ).scalar_one()
                w.execute(text(f"INSERT INTO items (owner_id, code) VALUES ({owner}, 'w')"))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    with db.connect() as conn, conn.begin():
        table_shape, fresh = table_swap.begin_fresh(conn, "items")
        thread = threading.Thread(target=writer)
        thread.start()
        assert started.wait(10)
        time.sleep(1.5)  # past deadlock_timeout (1 s): the writer is waiting by now
        conn.execute(text(f"INSERT INTO {fresh} (id, owner_id, code) VALUES (30, 1, 'n')"))
        table_swap.swap_in(conn, table_shape, fresh)
    thread.join(30)
    assert not errors, errors
    with db.connect() as conn:
        codes = conn.execute(text("SELECT code FROM items ORDER BY code")).scalars().all()
    assert codes == ["n", "w"]
