"""`wangge user …` and `wangge audit …`: accounts and the audit chain from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from wangge.cli import DbOption, app, console, friendly, out, session_scope, settings_for

if TYPE_CHECKING:
    from wangge.audit.chain import Checkpoint

user_app = typer.Typer(help="Accounts 账号.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log 审计日志.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")


@user_app.command("create")
@friendly
def user_create(
    username: str,
    name: str = typer.Option(..., "--name", help="display name 姓名"),
    role: str = typer.Option(
        ..., help="admin|acceptor|shift_leader|dispatcher|supervisor|grid_leader|department|leader"
    ),
    scope: str | None = typer.Option(None, help="division or grid code prefix (area of the post)"),
    department: str | None = typer.Option(None, help="department code (for department handlers)"),
    layer: str | None = typer.Option(
        None, help="for a grid-code scope: social (default) or unit (a unit or duty grid)"
    ),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
    database_url: DbOption = None,
) -> None:
    """Create a user with one post."""
    from wangge.auth.service import assign_post, create_user, seed_roles

    with session_scope(settings_for(database_url)) as session:
        seed_roles(session)
        user = create_user(session, username=username, password=password, display_name=name)
        assign_post(session, user, role, scope=scope, department=department, layer=layer)
    out.print(f"已创建用户 {username}（{role} {scope or department or '全区'}）")


@user_app.command("list")
@friendly
def user_list(database_url: DbOption = None) -> None:
    """List users and their posts."""
    from sqlalchemy import select

    from wangge.auth.models import Post, User

    with session_scope(settings_for(database_url)) as session:
        table = Table("id", "username", "name", "posts", "locked")
        for user in session.scalars(select(User).order_by(User.id)):
            posts = session.scalars(select(Post).where(Post.user_id == user.id)).all()
            table.add_row(
                str(user.id),
                user.username,
                user.display_name,
                ", ".join(
                    f"{p.role_code}@{'unit:' if p.scope_layer == 'unit' else ''}"
                    f"{p.scope_prefix or p.department_code or '*'}"
                    for p in posts
                ),
                str(user.locked_until or ""),
            )
        out.print(table)


@audit_app.command("verify")
@friendly
def audit_verify(
    checkpoints: Path | None = typer.Option(
        None, help="file of checkpoints written by `wangge audit checkpoint` (JSON lines)"
    ),
    database_url: DbOption = None,
) -> None:
    """Recompute the keyed audit chain (and check it against checkpoints); exit 1 if broken."""
    from wangge.audit.chain import verify_chain

    points = _read_checkpoints(checkpoints) if checkpoints else []
    with session_scope(settings_for(database_url)) as session:
        report = verify_chain(session, points)
    if report.ok:
        out.print(f"审计链完整，共 {report.checked} 条 / chain intact, {report.checked} entries")
        if report.unsealed:
            out.print(
                f"其中 {report.unsealed} 条待封存（签名有效）/ {report.unsealed} not sealed yet "
                "(their MACs hold); `wangge audit seal` seals them"
            )
        if points:
            out.print(f"与 {len(points)} 个检查点一致 / matches {len(points)} checkpoints")
        return
    console.print(f"[bold red]审计链断裂[/] 第 {report.first_broken_id} 条：{report.reason_zh}")
    console.print(f"[red]chain broken[/] at entry {report.first_broken_id}: {report.reason_en}")
    raise typer.Exit(1)


def _read_checkpoints(path: Path) -> list[Checkpoint]:
    import json

    from wangge.audit.chain import Checkpoint

    points: list[Checkpoint] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            points.append(Checkpoint(**json.loads(line)))
        except (ValueError, TypeError):
            console.print(
                f"[bold red]错误[/] {path} 第 {n} 行不是检查点 / line {n} is no checkpoint"
            )
            raise typer.Exit(2) from None
    return points


@audit_app.command("seal")
@friendly
def audit_seal(database_url: DbOption = None) -> None:
    """Link the entries written since the last seal into the chain (servers do it every second)."""
    from wangge.audit.chain import seal_all

    with session_scope(settings_for(database_url)) as session:
        n = seal_all(session)
    out.print(f"已封存 {n} 条审计记录 / {n} audit entries sealed")


@audit_app.command("checkpoint")
@friendly
def audit_checkpoint(
    out_file: Path | None = typer.Option(
        None, "--out", help="append the checkpoint to this file (keep it off the database host)"
    ),
    database_url: DbOption = None,
) -> None:
    """Sign the chain's current head with the audit key and print it (or append it to a file)."""
    import dataclasses
    import json

    from wangge.audit.chain import checkpoint

    with session_scope(settings_for(database_url)) as session:
        point = checkpoint(session)
    if point is None:
        out.print("审计链为空 / the chain is empty")
        return
    line = json.dumps(dataclasses.asdict(point))
    if out_file:
        with out_file.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
        out.print(f"检查点：第 {point.id} 条 → {out_file} / checkpoint of entry {point.id} written")
    else:
        print(line)


@audit_app.command("archive")
@friendly
def audit_archive(
    before: str = typer.Option(..., help="archive the months before this one, e.g. 2025-01"),
    checkpoint_out: Path = typer.Option(
        ..., help="append the signed anchor of the last archived entry here (keep it off-host)"
    ),
    database_url: DbOption = None,
) -> None:
    """Detach the audit log's months before `--before` (PostgreSQL) for pg_dump and DROP.

    The chain then starts inside the database: `wangge audit verify --checkpoints FILE`
    goes on from the signed anchor written to `--checkpoint-out`.
    """
    import dataclasses
    import json
    from datetime import datetime

    from wangge.audit.chain import checkpoint_before
    from wangge.common.localtime import SHANGHAI
    from wangge.ops.partitions import detach_before

    try:
        month = datetime.strptime(before, "%Y-%m").date()
    except ValueError:
        console.print(f"[red]--before 应为 年-月，如 2025-01[/] --before must be YYYY-MM: {before}")
        raise typer.Exit(2) from None
    cut = datetime(month.year, month.month, 1, tzinfo=SHANGHAI)
    with session_scope(settings_for(database_url)) as session:
        if session.connection().dialect.name != "postgresql":
            out.print("SQLite 不分区，无可归档 / SQLite is not partitioned: nothing to detach")
            return
        try:
            point = checkpoint_before(session, cut)
        except ValueError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(1) from None
        if point is not None:  # written before anything is detached: never an anchorless cut
            with checkpoint_out.open("a", encoding="utf-8") as f:
                f.write(json.dumps(dataclasses.asdict(point)) + "\n")
        detached = detach_before(session.connection(), "audit_log", month)
    anchor = f"第 {point.id} 条 entry {point.id}" if point else "-"
    out.print(f"已分离 detached: {', '.join(detached) or '-'}；锚点 anchor: {anchor}")


@audit_app.command("seal-legacy")
@friendly
def audit_seal_legacy(database_url: DbOption = None) -> None:
    """Re-sign, with the audit key, a chain written before audit keys (after checking it)."""
    from wangge.audit.chain import seal_legacy

    try:
        with session_scope(settings_for(database_url)) as session:
            n = seal_legacy(session)
    except ValueError as exc:
        console.print(f"[bold red]审计链已损坏，未封存[/] chain broken, not sealed: {exc}")
        raise typer.Exit(1) from None
    out.print(f"已用审计密钥重新签名 {n} 条记录 / {n} entries re-signed with the audit key")
