"""`wangge user …` and `wangge audit …`: accounts and the audit chain from the command line."""

from __future__ import annotations

import typer
from rich.table import Table
from sqlalchemy import select

from wangge.cli import DbOption, app, console, friendly, out, session_scope, settings_for

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
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
    database_url: DbOption = None,
) -> None:
    """Create a user with one post."""
    from wangge.auth.service import assign_post, create_user, seed_roles

    with session_scope(settings_for(database_url)) as session:
        seed_roles(session)
        user = create_user(session, username=username, password=password, display_name=name)
        assign_post(session, user, role, scope=scope, department=department)
    out.print(f"已创建用户 {username}（{role} {scope or department or '全区'}）")


@user_app.command("list")
@friendly
def user_list(database_url: DbOption = None) -> None:
    """List users and their posts."""
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
                    f"{p.role_code}@{p.scope_prefix or p.department_code or '*'}" for p in posts
                ),
                str(user.locked_until or ""),
            )
        out.print(table)


@audit_app.command("verify")
@friendly
def audit_verify(database_url: DbOption = None) -> None:
    """Recompute the audit hash chain; exit 1 and name the first broken entry."""
    from wangge.audit.service import verify_chain

    with session_scope(settings_for(database_url)) as session:
        report = verify_chain(session)
    if report.ok:
        out.print(f"审计链完整，共 {report.checked} 条 / chain intact, {report.checked} entries")
        return
    console.print(f"[bold red]审计链断裂[/] 第 {report.first_broken_id} 条：{report.reason_zh}")
    console.print(f"[red]chain broken[/] at entry {report.first_broken_id}: {report.reason_en}")
    raise typer.Exit(1)
