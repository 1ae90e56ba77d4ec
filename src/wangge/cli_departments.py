"""`wangge department …`: a county's departments from the command line (as the local operator)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from wangge.cli import DbOption, app, busy, console, friendly, out, session_scope, settings_for

department_app = typer.Typer(help="Departments 部门（专业部门、处置单位）.", no_args_is_help=True)
app.add_typer(department_app, name="department")

LEVEL_HELP = "city 市 | county 区 | street 街道 | community 社区"


@department_app.command("add")
@friendly
def add_cmd(
    county: str = typer.Option(..., help="county code; for --level city, any county of the city"),
    name: str = typer.Option(..., "--name", help="department name 部门名称"),
    code: str | None = typer.Option(None, help="code, unique (default: {county}-{KEY})"),
    key: str | None = typer.Option(None, help="short key for the default code, e.g. CGW"),
    level: str = typer.Option("county", help=LEVEL_HELP),
    parent: str | None = typer.Option(None, help="parent department code 上级部门编码"),
    line: str | None = typer.Option(None, help="business line code or name 业务条线"),
    contact: str | None = typer.Option(None, help="contact person 联系人"),
    phone: str | None = typer.Option(None, help="duty phone 值班电话"),
    credit_code: str | None = typer.Option(None, help="unified social credit code"),
    serves: list[str] = typer.Option([], help="for a city-level department: a county it serves"),
    database_url: DbOption = None,
) -> None:
    """Create a department (a city-level one belongs to the city of --county and serves it)."""
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.departments.checks import DepartmentData
    from wangge.departments.codes import check_level, city_of
    from wangge.departments.service import create_department, suggest_code

    city = check_level(level) == "city"
    with session_scope(settings_for(database_url)) as session:
        dept = create_department(
            session,
            LOCAL_OPERATOR,
            DepartmentData(
                code=code or suggest_code(session, county, key),
                county_code=city_of(county) if city else county,
                name=name,
                level=level,
                parent_code=parent,
                business_line=line,
                contact=contact,
                duty_phone=phone,
                credit_code=credit_code,
                serves_counties=list(serves) or ([county] if city else []),
            ),
        )
        made = dept.code
    out.print(f"已创建部门 {made}（{name}） / department {made} created")


@department_app.command("list")
@friendly
def list_cmd(
    county: str | None = typer.Option(
        None, help="a county: its departments and city ones serving it"
    ),
    level: str | None = typer.Option(None, help=LEVEL_HELP),
    line: str | None = typer.Option(None, help="business line code"),
    active: bool | None = typer.Option(None, "--active/--inactive", help="only active / inactive"),
    q: str | None = typer.Option(None, "--q", help="code, name, contact or phone contains"),
    database_url: DbOption = None,
) -> None:
    """List departments."""
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.departments.service import list_departments

    with session_scope(settings_for(database_url)) as session:
        rows = list_departments(
            session, LOCAL_OPERATOR, county=county, level=level, line=line, active=active, q=q
        )
        table = Table(
            "编码 code",
            "名称 name",
            "层级 level",
            "区县 county",
            "上级 parent",
            "条线 line",
            "值班电话 phone",
            "状态 state",
        )
        for d in rows:
            table.add_row(
                d.code,
                d.name,
                d.level,
                d.county_code + (f" → {'、'.join(d.serves_counties)}" if d.serves_counties else ""),
                d.parent_code or "",
                d.business_line or "",
                d.duty_phone or "",
                "在用 active" if d.is_active else "[red]停用 inactive[/]",
            )
    out.print(table)
    out.print(f"共 {len(rows)} 个部门 / {len(rows)} departments")


@department_app.command("template")
@friendly
def template_cmd(out_file: Path = typer.Argument(..., help="the .xlsx to write")) -> None:
    """Write the empty Excel list (headers, and an example row on a second sheet)."""
    from wangge.departments.excel import template

    out_file.write_bytes(template())
    out.print(f"已写出模板 {out_file} / template written")


@department_app.command("import")
@friendly
def import_cmd(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="an .xlsx list"),
    county: str = typer.Option(..., help="the county the list belongs to"),
    database_url: DbOption = None,
) -> None:
    """Create or update departments from Excel; all or nothing (exit 2 listing every bad row)."""
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.departments.excel_import import import_workbook
    from wangge.errors import ValidationFailed

    try:
        with session_scope(settings_for(database_url)) as session, busy("导入部门 importing"):
            report = import_workbook(
                session, LOCAL_OPERATOR, file.read_bytes(), county=county, file_name=file.name
            )
    except ValidationFailed as exc:
        errors = exc.details.get("errors") or []
        if errors:
            table = Table("行 row", "列 column", "值 value", "原因 reason")
            for e in errors:
                table.add_row(
                    str(e["row"]), e["column"], e["value"], f"{e['reason_zh']}\n{e['reason_en']}"
                )
            console.print(table)
            console.print(f"[bold red]未导入[/] {len(errors)} 处错误，全部回滚 / nothing imported")
            raise typer.Exit(2) from None
        raise
    out.print(
        f"已导入 {report['file']}：{report['rows']} 行，新建 {len(report['created'])}，"
        f"更新 {len(report['updated'])}，未变 {report['unchanged']} / imported: "
        f"{len(report['created'])} created, {len(report['updated'])} updated"
    )


@department_app.command("export")
@friendly
def export_cmd(
    out_file: Path = typer.Argument(..., help="the .xlsx to write"),
    county: str | None = typer.Option(
        None, help="one county (and the city departments serving it)"
    ),
    database_url: DbOption = None,
) -> None:
    """Export departments to Excel (the same columns the import reads)."""
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.departments.excel import export

    with session_scope(settings_for(database_url)) as session:
        out_file.write_bytes(export(session, LOCAL_OPERATOR, county))
    out.print(f"已导出 {out_file} / exported")


def _set_active(code: str, active: bool, database_url: str | None) -> None:
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.departments.service import get_department, set_active

    with session_scope(settings_for(database_url)) as session:
        dept = get_department(session, LOCAL_OPERATOR, code)
        set_active(session, LOCAL_OPERATOR, dept, active)
        name = dept.name
    state = "已恢复 / reactivated" if active else "已停用 / deactivated"
    out.print(f"{state}: {code}（{name}）")


@department_app.command("deactivate")
@friendly
def deactivate_cmd(code: str, database_url: DbOption = None) -> None:
    """Deactivate a department: no new dispatches, rules, posts or keys; history kept."""
    _set_active(code, False, database_url)


@department_app.command("reactivate")
@friendly
def reactivate_cmd(code: str, database_url: DbOption = None) -> None:
    """Reactivate a department."""
    _set_active(code, True, database_url)
