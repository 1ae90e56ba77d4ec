"""`wangge line …` (business lines, 9+X) and `wangge assignment …` (who serves which grid)."""

from __future__ import annotations

from datetime import date
from typing import overload

import typer
from rich.table import Table

from wangge.cli import DbOption, app, friendly, out, session_scope, settings_for

line_app = typer.Typer(help="Business lines 业务条线 (9+X).", no_args_is_help=True)
assignment_app = typer.Typer(help="Grid assignments 网格员配置.", no_args_is_help=True)
app.add_typer(line_app, name="line")
app.add_typer(assignment_app, name="assignment")

CountyOption = typer.Option(..., "--county", help="county code 区县代码 (6 digits)")


@line_app.command("list")
@friendly
def line_list(
    county: str | None = typer.Option(None, help="county code"), database_url: DbOption = None
) -> None:
    """List the business lines, switched on or off, with their number of categories."""
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.lines.service import list_lines

    with session_scope(settings_for(database_url)) as session:
        table = Table("county", "code", "name", "on", "standard", "categories", "roles")
        for r in list_lines(session, LOCAL_OPERATOR, county_code=county):
            table.add_row(
                r["county_code"],
                r["code"],
                r["name"],
                "是 on" if r["is_active"] else "否 off",
                "9" if r["standard"] else "X",
                str(r["categories"]),
                ",".join(r["roles"]),
            )
        out.print(table)


@line_app.command("add")
@friendly
def line_add(
    code: str,
    name: str,
    county: str = CountyOption,
    role: list[str] = typer.Option([], "--role", help="a role that works in the line (repeat)"),
    category: list[str] = typer.Option(
        [], "--category", help="a case category that belongs to the line (repeat)"
    ),
    database_url: DbOption = None,
) -> None:
    """Add a local line (X) to a county."""
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.lines.service import create_line

    with session_scope(settings_for(database_url)) as session:
        create_line(
            session,
            LOCAL_OPERATOR,
            county_code=county,
            code=code,
            name=name,
            roles=role,
            categories=category,
        )
    out.print(f"已新增业务条线 {code} {name}（区县 {county}）/ line {code} added")


def _switch(code: str, county: str, on: bool, database_url: str | None) -> None:
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.lines.service import find_line, update_line

    with session_scope(settings_for(database_url)) as session:
        line = find_line(session, county, code)
        update_line(session, LOCAL_OPERATOR, line, {"is_active": on})
    state = "启用 / switched on" if on else "停用 / switched off"
    out.print(f"业务条线 {code}（区县 {county}）已{state}")


@line_app.command("enable")
@friendly
def line_enable(code: str, county: str = CountyOption, database_url: DbOption = None) -> None:
    """Switch a line on in a county."""
    _switch(code, county, True, database_url)


@line_app.command("disable")
@friendly
def line_disable(code: str, county: str = CountyOption, database_url: DbOption = None) -> None:
    """Switch a line off in a county: its categories leave the queues and cannot be reported."""
    _switch(code, county, False, database_url)


@overload
def _day(text: str, option: str) -> date: ...
@overload
def _day(text: str | None, option: str) -> date | None: ...
def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        from wangge.errors import ValidationFailed

        raise ValidationFailed(
            f"{option} 应为日期 YYYY-MM-DD，而不是 {text}",
            f"{option} must be a date YYYY-MM-DD, not {text!r}",
            field=option.lstrip("-").replace("-", "_"),
        ) from None


@assignment_app.command("add")
@friendly
def assignment_add(
    username: str,
    grid: str = typer.Option(..., "--grid", help="grid code 网格编码"),
    kind: str = typer.Option(
        "full_time",
        help="full_time 专职网格员 | part_time 兼职网格员 | leader 网格长 | micro_leader 微网格长",
    ),
    layer: str = typer.Option("social", help="social (default) or unit"),
    starts_on: str = typer.Option(..., "--from", help="first day served (YYYY-MM-DD)"),
    ends_on: str | None = typer.Option(None, "--to", help="last day served (YYYY-MM-DD)"),
    database_url: DbOption = None,
) -> None:
    """Record that a person serves a grid."""
    from wangge.assignments.service import add_assignment
    from wangge.auth.principal import LOCAL_OPERATOR

    with session_scope(settings_for(database_url)) as session:
        row = add_assignment(
            session,
            LOCAL_OPERATOR,
            username=username,
            grid_code=grid,
            layer=layer,
            kind=kind,
            starts_on=_day(starts_on, "--from"),
            ends_on=_day(ends_on, "--to"),
        )
        rid = row.id
    out.print(f"已配置 {username} → 网格 {grid}（{kind}）/ assignment {rid} added")


@assignment_app.command("list")
@friendly
def assignment_list(
    grid: str | None = typer.Option(None, help="grid code (or prefix)"),
    username: str | None = typer.Option(None, help="only this person"),
    county: str | None = typer.Option(None, help="county code"),
    on: str | None = typer.Option(None, help="only those in force on this day (YYYY-MM-DD)"),
    database_url: DbOption = None,
) -> None:
    """List who serves which grid."""
    from sqlalchemy import select

    from wangge.assignments.service import kind_label, list_assignments
    from wangge.auth.models import User
    from wangge.auth.principal import LOCAL_OPERATOR

    with session_scope(settings_for(database_url)) as session:
        uid = None
        if username:
            uid = session.scalar(select(User.id).where(User.username == username)) or -1
        table = Table("id", "grid", "layer", "kind", "user", "name", "from", "to")
        for a, u in list_assignments(
            session,
            LOCAL_OPERATOR,
            grid_code=grid,
            user_id=uid,
            county_code=county,
            on=_day(on, "--on"),
        ):
            table.add_row(
                str(a.id),
                a.grid_code,
                a.layer,
                f"{a.kind} {kind_label(a.kind)}",
                u.username,
                u.display_name,
                str(a.starts_on),
                str(a.ends_on or ""),
            )
        out.print(table)


@assignment_app.command("end")
@friendly
def assignment_end(
    assignment_id: int,
    ends_on: str = typer.Option(..., "--on", help="last day served (YYYY-MM-DD)"),
    database_url: DbOption = None,
) -> None:
    """End an assignment on its last day served."""
    from wangge.assignments.service import end_assignment
    from wangge.auth.principal import LOCAL_OPERATOR

    with session_scope(settings_for(database_url)) as session:
        end_assignment(session, LOCAL_OPERATOR, assignment_id, ends_on=_day(ends_on, "--on"))
    out.print(f"网格员配置 {assignment_id} 已于 {ends_on} 结束 / assignment ended")
