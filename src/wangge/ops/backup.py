"""`wangge backup` / `wangge restore`: one .tar.gz with the database, the photos and a manifest.

The manifest lists each table's row count and content checksum and each photo's sha256. On
SQLite the database is copied with the online backup API (readers and writers carry on); on
PostgreSQL pg_dump -Fc runs on a snapshot exported from the transaction that computes the
checksums, so manifest and dump describe the same instant. A restore refuses a non-empty
target (unless forced) and verifies counts, checksums and photos before it reports success.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from wangge import __version__
from wangge.db import make_engine, normalize_url
from wangge.errors import Conflict, ValidationFailed
from wangge.ops.snapshot import has_data, has_tables, manifest_tables

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite"
PG_MEMBER = "database.pgdump"
UPLOADS = "uploads"


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: dict[str, Any]


def sqlite_path(url: str) -> Path:
    """Return the file of a sqlite:/// URL."""
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ValidationFailed("内存数据库无法备份", "an in-memory database cannot be backed up")
    return Path(database)


def libpq_url(url: str) -> str:
    """Return a URL that pg_dump and pg_restore understand (no +driver)."""
    return (
        make_url(normalize_url(url))
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def upload_files(root: Path) -> dict[str, str]:
    """Return {relative path: sha256} of every stored photo (temp files skipped)."""
    if not root.is_dir():
        return {}
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.startswith(".up-"):
            out[path.relative_to(root).as_posix()] = _sha256(path)
    return out


def _revision(conn: Connection) -> str | None:
    try:
        # alembic_version.version_num is a VARCHAR column.
        return cast(
            "str | None", conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        )
    except Exception:
        return None


def backup(database_url: str, upload_dir: Path, out: Path) -> BackupResult:
    """Write a consistent archive of the database and the photos to `out`."""
    url = normalize_url(database_url)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wangge-backup-") as tmp:
        if url.startswith("sqlite"):
            dialect = "sqlite"
            member, tables, revision = _dump_sqlite(url, Path(tmp) / SQLITE_MEMBER)
        else:
            dialect = "postgresql"
            member, tables, revision = _dump_postgresql(url, Path(tmp) / PG_MEMBER)
        photos = upload_files(Path(upload_dir))
        manifest = {
            "format": FORMAT,
            "wangge_version": __version__,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "dialect": dialect,
            "revision": revision,
            "database_file": member.name,
            "database_sha256": _sha256(member),
            "tables": tables,
            "uploads": photos,
        }
        _write_archive(out, manifest, member, Path(upload_dir), photos)
    return BackupResult(out, manifest)


# The database file in the archive, its tables' row counts and its Alembic revision.
_Dump = tuple[Path, dict[str, dict[str, Any]], str | None]


def _dump_sqlite(url: str, member: Path) -> _Dump:
    """Copy the SQLite database with its online backup (a consistent copy while in use)."""
    _copy_sqlite(sqlite_path(url), member)
    engine = make_engine(f"sqlite:///{member}")
    try:
        with engine.connect() as conn:
            return member, manifest_tables(conn), _revision(conn)
    finally:
        engine.dispose()


def _dump_postgresql(url: str, member: Path) -> _Dump:
    """Run pg_dump on an exported snapshot, so the counts and the dump see the same data."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar()
            dump = subprocess.run(
                [
                    "pg_dump",
                    "-Fc",
                    "--no-owner",
                    "--no-acl",
                    f"--snapshot={snapshot}",
                    "-f",
                    str(member),
                    f"--dbname={libpq_url(url)}",
                ],
                capture_output=True,
                text=True,
            )
            if dump.returncode != 0:
                raise RuntimeError(f"pg_dump failed: {dump.stderr.strip()}")
            tables = manifest_tables(conn)
            revision = _revision(conn)
            conn.rollback()
            return member, tables, revision
    finally:
        engine.dispose()


def _write_archive(
    out: Path, manifest: dict[str, Any], member: Path, upload_dir: Path, photos: dict[str, str]
) -> None:
    partial = out.with_name(out.name + ".partial")
    with tarfile.open(partial, "w:gz") as tar:
        data = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        tar.add(member, arcname=member.name)
        for rel in photos:
            tar.add(upload_dir / rel, arcname=f"{UPLOADS}/{rel}")
    # A crash while writing leaves a .partial file, never a truncated archive under the name.
    os.replace(partial, out)


def _copy_sqlite(source: Path, target: Path) -> None:
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def read_manifest(archive: Path) -> dict[str, Any]:
    """Return the manifest of an archive."""
    with tarfile.open(archive, "r:gz") as tar:
        member = tar.extractfile(MANIFEST)
        if member is None:
            raise ValidationFailed("备份文件缺少清单", "the archive has no manifest")
        return json.loads(member.read())  # type: ignore[no-any-return]


def restore(
    archive: Path, database_url: str, upload_dir: Path, *, force: bool = False
) -> dict[str, Any]:
    """Restore an archive into an empty database and upload directory, then verify it."""
    url = normalize_url(database_url)
    with tempfile.TemporaryDirectory(prefix="wangge-restore-") as tmp:
        work = Path(tmp)
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(work, filter="data")
        manifest: dict[str, Any] = json.loads((work / MANIFEST).read_text())
        if manifest.get("format") != FORMAT:
            raise ValidationFailed(
                "不支持的备份格式", f"unsupported backup format {manifest.get('format')}"
            )
        member = work / manifest["database_file"]
        if _sha256(member) != manifest["database_sha256"]:
            raise ValidationFailed(
                "备份中的数据库文件已损坏", "the database file in the archive is corrupt"
            )
        target_dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
        if manifest["dialect"] != target_dialect:
            raise ValidationFailed(
                f"备份来自 {manifest['dialect']}，不能直接恢复到 {target_dialect}（请用 wangge migrate-db）",
                f"the backup is from {manifest['dialect']}, the target is {target_dialect} "
                "(use `wangge migrate-db`)",
            )
        _refuse_non_empty(url, force)
        if target_dialect == "sqlite":
            _restore_sqlite(member, sqlite_path(url))
        else:
            _restore_postgresql(member, url, force=force)
        _restore_uploads(work / UPLOADS, Path(upload_dir), force=force)
    problems = verify(manifest, url, Path(upload_dir))
    if problems:
        raise ValidationFailed(
            "恢复后校验不一致：" + "；".join(problems),
            "restored data does not match the manifest: " + "; ".join(problems),
        )
    return manifest


def _refuse_non_empty(url: str, force: bool) -> None:
    if force:
        return
    if url.startswith("sqlite") and not sqlite_path(url).exists():
        return
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            # pg_restore creates the tables itself, so any existing schema is in the way.
            busy = has_data(conn) if url.startswith("sqlite") else has_tables(conn)
    finally:
        engine.dispose()
    if busy:
        raise Conflict(
            "目标数据库已有数据；确认覆盖请加 --force",
            "the target database already holds data or tables; pass --force to overwrite it",
            code="target_not_empty",
        )


def _restore_sqlite(member: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    _copy_sqlite(member, target)


def _restore_postgresql(member: Path, url: str, *, force: bool) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            if force:
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    run = subprocess.run(
        [
            "pg_restore",
            "--no-owner",
            "--no-acl",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={libpq_url(url)}",
            str(member),
        ],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        raise RuntimeError(f"pg_restore failed: {run.stderr.strip()}")


def _restore_uploads(src: Path, dst: Path, *, force: bool) -> None:
    if not src.is_dir():
        return
    dst.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.rglob("*")):
        if not path.is_file():
            continue
        target = dst / path.relative_to(src)
        if target.exists() and not force:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def verify(manifest: dict[str, Any], url: str, upload_dir: Path) -> list[str]:
    """Compare a database and photo directory with a manifest; return the differences."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            tables = manifest_tables(conn)
    finally:
        engine.dispose()
    problems = []
    for name, want in manifest["tables"].items():
        got = tables.get(name)
        if got is None:
            problems.append(f"table {name} missing")
        elif got["rows"] != want["rows"]:
            problems.append(f"table {name}: {got['rows']} rows, expected {want['rows']}")
        elif got["sha256"] != want["sha256"]:
            problems.append(f"table {name}: content checksum differs")
    photos = upload_files(upload_dir)
    for rel, digest in manifest["uploads"].items():
        if photos.get(rel) != digest:
            problems.append(f"photo {rel} missing or different")
    return problems
