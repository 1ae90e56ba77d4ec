"""Operations commands: check, backup, restore, migrate-db and the scheduled jobs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from wangge.cli import DbOption, app, console, db_app, friendly, out, settings_for

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


@db_app.command("partitions")
@friendly
def db_partitions(
    ahead: int = typer.Option(3, min=0, max=24, help="months after this one to create"),
    database_url: DbOption = None,
) -> None:
    """Create the coming months' partitions and list them (PostgreSQL) 按月分区."""
    from wangge.db import make_engine
    from wangge.ops.partitions import ensure, partitions

    engine = make_engine(settings_for(database_url).database_url)
    try:
        with engine.begin() as conn:
            if conn.dialect.name != "postgresql":
                out.print("SQLite 不分区 SQLite tables are not partitioned")
                return
            created = ensure(conn, ahead=ahead)
            parts = partitions(conn)
    finally:
        engine.dispose()
    table = Table("表 table", "分区 partition", "范围 bounds", "约行数 ~rows")
    for p in parts:
        table.add_row(p.table, p.name, p.bounds, str(p.rows))
    out.print(table)
    out.print(f"新建 created: {', '.join(created) or '-'}")


@db_app.command("detach-partitions")
@friendly
def db_detach_partitions(
    table: str = typer.Option(
        ..., help="patrol_points | case_events (the audit log: `wangge audit archive`)"
    ),
    before: str = typer.Option(..., help="detach the months before this one, e.g. 2025-01"),
    database_url: DbOption = None,
) -> None:
    """Detach old monthly partitions as plain tables, to archive (pg_dump -t) and drop."""
    from wangge.db import make_engine
    from wangge.ops.partitions import detach_before

    try:
        month = datetime.strptime(before, "%Y-%m").date()
    except ValueError:
        console.print(f"[red]--before 应为 年-月，如 2025-01[/] --before must be YYYY-MM: {before}")
        raise typer.Exit(2) from None
    if table == "audit_log":
        console.print(
            "[red]审计日志请用 wangge audit archive（先写链的锚点）[/] "
            "detach the audit log with `wangge audit archive`, which keeps the chain's anchor"
        )
        raise typer.Exit(2)
    engine = make_engine(settings_for(database_url).database_url)
    try:
        with engine.begin() as conn:
            detached = detach_before(conn, table, month)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    out.print(f"已分离 detached: {', '.join(detached) or '-'}")


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
    """Escalate (or urge) overdue cases and warn of those running short (预警); re-runnable.

    The server does this by itself every WANGGE_SWEEP_SECONDS; this runs one round now.
    """
    from wangge.cases.sweeper import sweep_due
    from wangge.db import make_engine, session_factory
    from wangge.ops.leases import new_holder

    settings = settings_for(database_url)
    engine = make_engine(settings.database_url)
    factory = session_factory(engine, audit_key=settings.audit_key)
    try:
        totals = sweep_due(factory, holder=new_holder(), now=_now(now), batch=batch, lease=False)
    finally:
        engine.dispose()
    assert totals is not None  # without the lease a sweep always runs
    out.print(
        f"升级 escalated {totals.escalated}  督办 urged {totals.urged}  "
        f"跳过 skipped {totals.skipped}  预警 warned {totals.warned}"
    )


@jobs_app.command("deliver")
@friendly
def jobs_deliver(
    batch: int | None = typer.Option(
        None, help="messages per transaction (default: 1 on SQLite, 20 on PostgreSQL)"
    ),
    timeout: float | None = typer.Option(None, help="seconds per send (WANGGE_OUTBOX_TIMEOUT)"),
    loop: bool = typer.Option(
        False, "--loop", help="keep delivering until stopped (SIGTERM, Ctrl-C): a service"
    ),
    interval: float | None = typer.Option(
        None, help="seconds between rounds with --loop (WANGGE_DELIVER_SECONDS)"
    ),
    now: NowOption = None,
    database_url: DbOption = None,
) -> None:
    """Deliver due outbox messages: in-app, robots, SMS, webhook (one process at a time)."""
    import signal

    from wangge.cases.outbox import DeliveryReport
    from wangge.db import make_engine, session_factory
    from wangge.notifications.worker import DeliveryWorker, build_channels, deliver_due, policy_for
    from wangge.ops.leases import new_holder

    settings = settings_for(database_url)
    policy = policy_for(settings, batch=batch, timeout=timeout)
    channels = build_channels(settings, timeout=policy.timeout)
    engine = make_engine(settings.database_url)
    factory = session_factory(engine, audit_key=settings.audit_key)
    try:
        if loop:
            from wangge.ops.observe import configure_logging, install_secrets_filter

            configure_logging(settings.log_level, json=settings.log_json)
            install_secrets_filter()
            every = interval if interval is not None else (settings.deliver_seconds or 5.0)
            worker = DeliveryWorker(factory, channels, policy, every)
            for stop in (signal.SIGTERM, signal.SIGINT):  # finish the message in hand, then end
                signal.signal(stop, lambda *_: worker.request_stop())
            out.print(f"投递中（每 {every:g} 秒）delivering every {every:g} s")
            worker.run()
            return
        report = deliver_due(factory, channels, policy, holder=new_holder(), now=_now(now))
    finally:
        engine.dispose()
    if report is None:
        out.print("另一个进程正在投递 another process holds the delivery lease")
        report = DeliveryReport()
    out.print(f"送达 sent {report.sent}  待重试 retry {report.failed}  放弃 dead {report.dead}")
