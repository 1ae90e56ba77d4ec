"""Operations commands: check, backup, restore, migrate-db and the scheduled jobs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from wangge.cli import DbOption, app, console, friendly, out, settings_for

jobs_app = typer.Typer(help="Scheduled jobs 定时任务 (run from cron or a systemd timer).")
app.add_typer(jobs_app, name="jobs")

UploadOption = Annotated[
    Path | None,
    typer.Option("--upload-dir", envvar="WANGGE_UPLOAD_DIR", help="photo directory"),
]
NowOption = Annotated[
    str | None, typer.Option(help="pretend it is this ISO time (UTC if no offset); for tests")
]


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    at = datetime.fromisoformat(value)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@app.command("check")
@friendly
def check(
    only: Annotated[
        list[str] | None, typer.Option(help="case_events | locations | codes | audit")
    ] = None,
    database_url: DbOption = None,
) -> None:
    """Check integrity: case histories, locations in grids, unique codes, the audit chain."""
    from wangge.db import make_engine, session_factory
    from wangge.ops.integrity import check_database

    settings = settings_for(database_url)
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine, audit_key=settings.audit_key)() as session:
            report = check_database(session, only=only)
    finally:
        engine.dispose()
    for name, n in report.counts.items():
        out.print(f"  {name}: {n}")
    if report.ok:
        out.print("[bold green]完整性检查通过[/] integrity check passed")
        return
    console.print(
        f"[bold red]发现 {len(report.problems)} 个问题[/] {len(report.problems)} problems"
    )
    for p in report.problems:
        console.print(f"- [{p.check}] {p.zh}")
        console.print(f"  {p.en}")
    raise typer.Exit(1)


@app.command("backup")
@friendly
def backup_cmd(
    out_file: Annotated[Path, typer.Argument(help="archive to write (.tar.gz)")],
    upload_dir: UploadOption = None,
    database_url: DbOption = None,
) -> None:
    """Back up the database and the photos into one .tar.gz with a manifest."""
    from wangge.ops.backup import backup

    settings = settings_for(database_url)
    result = backup(settings.database_url, upload_dir or settings.upload_dir, out_file)
    rows = sum(t["rows"] for t in result.manifest["tables"].values())
    out.print(
        f"已备份 {len(result.manifest['tables'])} 张表 {rows} 行、{len(result.manifest['uploads'])} "
        f"张照片 → {result.path} / backed up {rows} rows and "
        f"{len(result.manifest['uploads'])} photos"
    )


@app.command("restore")
@friendly
def restore_cmd(
    archive: Annotated[Path, typer.Argument(help="archive made by `wangge backup`")],
    force: bool = typer.Option(False, help="overwrite a database that already holds data"),
    upload_dir: UploadOption = None,
    database_url: DbOption = None,
) -> None:
    """Restore a backup into an empty database and verify counts and checksums."""
    from wangge.ops.backup import restore

    settings = settings_for(database_url)
    manifest = restore(
        archive, settings.database_url, upload_dir or settings.upload_dir, force=force
    )
    out.print(
        f"已恢复并校验 {len(manifest['tables'])} 张表、{len(manifest['uploads'])} 张照片 / "
        f"restored and verified (revision {manifest['revision']}, made {manifest['created_at']})"
    )
    out.print("如版本较旧请运行 wangge db upgrade / run `wangge db upgrade` if it is older")


@app.command("migrate-db")
@friendly
def migrate_db(
    to: str = typer.Option(..., "--to", help="target postgresql://user:pass@host/db"),
    force: bool = typer.Option(False, help="overwrite a target that already holds data"),
    batch: int = typer.Option(2000, help="rows per insert batch"),
    database_url: DbOption = None,
) -> None:
    """Copy the embedded SQLite database into PostgreSQL+PostGIS and compare row counts."""
    from wangge.ops.migrate import migrate_database

    settings = settings_for(database_url)
    report = migrate_database(
        settings.database_url,
        to,
        force=force,
        batch=batch,
        progress=lambda t, n: console.print(f"  {t}: {n}"),
    )
    bad = report.mismatches
    if bad:
        table = Table("table", "source", "target", title="行数不一致 row counts differ")
        for name, (a, b) in bad.items():
            table.add_row(name, str(a), str(b))
        console.print(table)
        raise typer.Exit(1)
    total = sum(a for a, _ in report.counts.values())
    out.print(f"已迁移 {total} 行，行数一致 / migrated {total} rows, counts match")


@jobs_app.command("sweep")
@friendly
def jobs_sweep(
    batch: int = typer.Option(50, help="cases per transaction"),
    now: NowOption = None,
    database_url: DbOption = None,
) -> None:
    """Escalate (or urge) overdue cases, committing every batch; safe to kill and re-run."""
    from wangge.cases.scheduled import sweep_overdue
    from wangge.db import make_engine, session_factory, unit_of_work

    at = _now(now)
    settings = settings_for(database_url)
    engine = make_engine(settings.database_url)
    factory = session_factory(engine, audit_key=settings.audit_key)
    escalated = urged = skipped = 0
    try:
        while True:
            # Each batch commits on its own: a kill loses at most the batch in flight, and the
            # escalation mark written with each event keeps the re-run from repeating any.
            with unit_of_work(factory) as session:
                report = sweep_overdue(session, at, limit=batch)
            escalated += len(report.escalated)
            urged += len(report.urged)
            skipped += len(report.skipped)
            if not report.escalated and not report.urged:
                break
    finally:
        engine.dispose()
    out.print(f"升级 escalated {escalated}  督办 urged {urged}  跳过 skipped {skipped}")


@jobs_app.command("deliver")
@friendly
def jobs_deliver(
    batch: int | None = typer.Option(
        None, help="messages per transaction (default: 1 on SQLite, 20 on PostgreSQL)"
    ),
    timeout: float | None = typer.Option(None, help="seconds per send (WANGGE_OUTBOX_TIMEOUT)"),
    now: NowOption = None,
    database_url: DbOption = None,
) -> None:
    """Deliver due outbox messages (in-app, and webhook when WANGGE_WEBHOOK_URL is set)."""
    from wangge.cases.outbox import Channel, InAppChannel, WebhookChannel, deliver_pending
    from wangge.db import make_engine, session_factory, unit_of_work

    settings = settings_for(database_url)
    wait = timeout or settings.outbox_timeout
    # SQLite has one write lock: a batch that has written one in-app message would hold it
    # while the next webhook hangs, so there every message gets its own short transaction.
    size = batch or (1 if settings.is_sqlite else 20)
    channels: dict[str, Channel] = {"in_app": InAppChannel()}
    if settings.webhook_url:
        channels["webhook"] = WebhookChannel(settings.webhook_url, timeout=wait)
    at = _now(now)
    engine = make_engine(settings.database_url)
    factory = session_factory(engine, audit_key=settings.audit_key)
    sent = failed = dead = 0
    try:
        while True:
            with unit_of_work(factory) as session:
                report = deliver_pending(session, channels, now=at, limit=size, timeout=wait)
            sent, failed, dead = sent + report.sent, failed + report.failed, dead + report.dead
            # Failures are rescheduled into the future, so a run always ends.
            if report.sent + report.failed + report.dead < size:
                break
    finally:
        engine.dispose()
    out.print(f"送达 sent {sent}  待重试 retry {failed}  放弃 dead {dead}")
