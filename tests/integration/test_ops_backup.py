"""Backup and restore on both databases, and moving the SQLite demo into PostgreSQL."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from tests.case_factories import SUPERVISOR, T0, report
from tests.ops_support import fresh_database, seed_world
from wangge.cases.models import Case
from wangge.db import make_engine, session_factory, unit_of_work
from wangge.errors import Conflict, ValidationFailed
from wangge.ops.backup import backup, read_manifest, restore
from wangge.ops.integrity import check_database
from wangge.ops.migrate import migrate_database
from wangge.ops.snapshot import manifest_tables

BOTH = ["sqlite", pytest.param("postgis", marks=[pytest.mark.postgis, pytest.mark.slow])]
PHOTOS = {"ab/abcdef.jpg": b"\xff\xd8 not really a jpeg", "cd/cdef01.webp": b"RIFF....WEBP"}


def _photos(root: Path) -> Path:
    for rel, data in PHOTOS.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def _tables(url: str) -> dict:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return manifest_tables(conn)
    finally:
        engine.dispose()


def _partition_rows(url: str) -> dict[str, int]:
    """Rows in each partition of the partitioned tables (nothing on SQLite)."""
    if url.startswith("sqlite"):
        return {}
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            names = conn.execute(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relkind = 'p'"
                )
            ).scalars()
            return {n: conn.execute(text(f"SELECT count(*) FROM {n}")).scalar_one() for n in names}
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", BOTH)
def test_a_backup_restored_into_a_fresh_database_has_the_same_rows_checksums_and_photos(
    kind, tmp_path
):
    with fresh_database(kind, tmp_path) as source, fresh_database(kind, tmp_path) as target:
        seed_world(source, cases=5)
        uploads = _photos(tmp_path / "uploads")
        archive = tmp_path / "wangge.tar.gz"
        made = backup(source, uploads, archive).manifest
        assert made["tables"]["cases"]["rows"] == 5 and len(made["uploads"]) == 2

        restore(archive, target, tmp_path / "restored")

        assert _tables(target) == made["tables"] == _tables(source)
        # The months come back as they were (pg_dump writes each month's table and its rows):
        # every row in the partition it was in, none newly waiting in a default partition.
        months = _partition_rows(target)
        assert months == _partition_rows(source)
        assert kind == "sqlite" or sum(k for n, k in months.items() if "events_p" in n) > 0
        for rel, data in PHOTOS.items():
            assert (tmp_path / "restored" / rel).read_bytes() == data
        engine = make_engine(target)
        with session_factory(engine)() as s:
            assert check_database(s).ok
        engine.dispose()


@pytest.mark.parametrize("kind", BOTH)
def test_a_restore_refuses_a_database_that_already_holds_data(kind, tmp_path):
    with fresh_database(kind, tmp_path) as source, fresh_database(kind, tmp_path) as target:
        seed_world(source, cases=1)
        seed_world(target, cases=2)
        archive = backup(source, tmp_path / "none", tmp_path / "b.tar.gz").path
        with pytest.raises(Conflict):
            restore(archive, target, tmp_path / "restored")
        assert _tables(target)["cases"]["rows"] == 2
        restore(archive, target, tmp_path / "restored", force=True)
        assert _tables(target)["cases"]["rows"] == 1


def test_a_restore_whose_data_does_not_match_the_manifest_fails(tmp_path):
    with fresh_database("sqlite", tmp_path) as source, fresh_database("sqlite", tmp_path) as target:
        seed_world(source, cases=2)
        archive = backup(source, tmp_path / "none", tmp_path / "b.tar.gz").path
        manifest = read_manifest(archive)
        manifest["tables"]["cases"]["sha256"] = "0" * 64
        forged = tmp_path / "forged.tar.gz"
        with tarfile.open(archive) as old, tarfile.open(forged, "w:gz") as new:
            for member in old.getmembers():
                if member.name == "manifest.json":
                    data = json.dumps(manifest).encode()
                    member.size = len(data)
                    new.addfile(member, io.BytesIO(data))
                else:
                    new.addfile(member, old.extractfile(member))
        with pytest.raises(ValidationFailed) as err:
            restore(forged, target, tmp_path / "restored")
        assert "cases" in err.value.message_en


def test_the_backup_and_restore_commands_round_trip_a_sqlite_database(tmp_path):
    with fresh_database("sqlite", tmp_path) as source, fresh_database("sqlite", tmp_path) as target:
        seed_world(source, cases=3)
        uploads = _photos(tmp_path / "uploads")
        from wangge.cli import app

        runner = CliRunner()
        archive = tmp_path / "nightly.tar.gz"
        made = runner.invoke(
            app, ["backup", str(archive), "--database-url", source, "--upload-dir", str(uploads)]
        )
        assert made.exit_code == 0, made.output
        back = runner.invoke(
            app,
            [
                "restore",
                str(archive),
                "--database-url",
                target,
                "--upload-dir",
                str(tmp_path / "r"),
            ],
        )
        assert back.exit_code == 0, back.output
        assert _tables(target) == _tables(source)
        checked = runner.invoke(app, ["check", "--database-url", target])
        assert checked.exit_code == 0, checked.output


@pytest.mark.postgis
@pytest.mark.slow
def test_the_sqlite_demo_moves_into_postgresql_with_geometry_sequences_and_counts(tmp_path):
    with fresh_database("sqlite", tmp_path) as source, fresh_database("postgis", tmp_path) as pg:
        seed_world(source, cases=6)
        report_ = migrate_database(source, pg, batch=3)
        assert report_.mismatches == {}
        assert report_.counts["cases"] == (6, 6) and report_.counts["grids"][0] > 0
        engine = make_engine(pg)
        try:
            with engine.connect() as conn:
                srid, kind = conn.execute(
                    text("SELECT ST_SRID(geom), GeometryType(geom) FROM grids LIMIT 1")
                ).one()
                assert srid == 4490 and kind in {"POLYGON", "MULTIPOLYGON"}
                inside = conn.execute(
                    text(
                        "SELECT count(*) FROM cases c JOIN grids g ON g.id = c.grid_id "
                        "WHERE ST_Intersects(g.geom, ST_SetSRID(ST_Point(c.lon, c.lat), 4490))"
                    )
                ).scalar()
                assert inside == 6
                # the copied events are in their months' partitions (made before the copy),
                # none left in the default one for the first `ensure` to move
                for table in ("case_events", "case_event_facts"):
                    assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                    waiting = conn.execute(text(f"SELECT count(*) FROM {table}_pdefault"))
                    assert waiting.scalar() == 0, table
            # Sequences moved past the copied ids: a new case gets a fresh id.
            with unit_of_work(session_factory(engine)) as s:
                new = report(s, SUPERVISOR, at=T0)
                s.flush()
                assert new.id > 6
                assert s.scalar(select(func.count()).select_from(Case)) == 7
            with session_factory(engine)() as s:
                assert check_database(s).ok
        finally:
            engine.dispose()


@pytest.mark.postgis
@pytest.mark.slow
def test_moving_into_a_postgresql_database_that_holds_data_needs_force(tmp_path):
    with fresh_database("sqlite", tmp_path) as source, fresh_database("postgis", tmp_path) as pg:
        seed_world(source, cases=1)
        seed_world(pg, cases=2)
        with pytest.raises(Conflict):
            migrate_database(source, pg)
        assert migrate_database(source, pg, force=True).counts["cases"] == (1, 1)
