"""`wangge registry …`: Excel templates, imports with a row-level report, and exports."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from wangge.cli import (
    DbOption,
    app,
    busy,
    console,
    friendly,
    out,
    progress_bar,
    session_scope,
    settings_for,
)

registry_app = typer.Typer(
    help="Basic data registry 基础数据（人、房、物、组织）.", no_args_is_help=True
)
app.add_typer(registry_app, name="registry")

KIND_HELP = "people | buildings | rooms | components | organisations"


@registry_app.command("template")
@friendly
def template_cmd(
    kind: str = typer.Argument(..., help=KIND_HELP),
    out_file: Path = typer.Argument(..., help="the .xlsx to write"),
    county: str | None = typer.Option(None, help="county whose local component classes to list"),
    database_url: DbOption = None,
) -> None:
    """Write the empty Excel template of a kind (Chinese headers, drop-down code lists)."""
    from wangge.registry.excel import template
    from wangge.registry.sheets import sheet_for

    sheet = sheet_for(kind)
    with session_scope(settings_for(database_url)) as session:
        choices = sheet.choices_for(session, county) if sheet.choices_for else None
        out_file.write_bytes(template(sheet, choices))
    out.print(f"已写出模板 {out_file} / template written")


@registry_app.command("import")
@friendly
def import_cmd(
    kind: str = typer.Argument(..., help=KIND_HELP),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="a filled template (.xlsx)"),
    valid_only: bool = typer.Option(
        False, "--valid-only", help="import the valid rows, report the rest"
    ),
    database_url: DbOption = None,
) -> None:
    """Import a filled template; all or nothing unless --valid-only. Exit 2 when rows were refused."""
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.registry.excel import import_workbook
    from wangge.registry.sheets import sheet_for

    with session_scope(settings_for(database_url)) as session, busy("导入 importing"):
        report = import_workbook(
            session, LOCAL_OPERATOR, sheet_for(kind), file.read_bytes(), valid_only=valid_only,
            file_name=file.name,
        )  # fmt: skip
    if report["errors"]:
        table = Table("行 row", "列 column", "值 value", "原因 reason")
        for e in report["errors"]:
            table.add_row(str(e["row"]), e["column"], e["value"], e["reason"])
        console.print(table)
    state = "已写入" if report["written"] else "未写入（存在错误，全部回滚）"
    out.print(
        f"{state}：共 {report['rows']} 行，新增 {report['created']}，更新 {report['updated']}，"
        f"错误 {len(report['errors'])}"
    )
    if report["errors"]:
        raise typer.Exit(2)


@registry_app.command("export")
@friendly
def export_cmd(
    kind: str = typer.Argument(..., help=KIND_HELP),
    out_file: Path = typer.Argument(..., help="the .xlsx to write"),
    community: str | None = typer.Option(None, help="community / street code prefix"),
    unmask: bool = typer.Option(False, help="full ID numbers and phones (audited; needs --reason)"),
    reason: str | None = typer.Option(None, help="why the full values are needed"),
    database_url: DbOption = None,
) -> None:
    """Export a kind (optionally one area) to Excel; personal data masked unless --unmask."""
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.registry.excel import export_workbook
    from wangge.registry.sheets import sheet_for

    with session_scope(settings_for(database_url)) as session:
        body = export_workbook(
            session, LOCAL_OPERATOR, sheet_for(kind), unmask=unmask, reason=reason,
            community=community,
        )  # fmt: skip
    out_file.write_bytes(body)
    out.print(f"已导出 {out_file} / exported")


OLD_KEY_ENV = "WANGGE_OLD_PERSONAL_HASH_KEY"


@registry_app.command("rehash")
@friendly
def rehash_cmd(database_url: DbOption = None) -> None:
    """Recompute the ID-number and phone search hashes after WANGGE_PERSONAL_HASH_KEY changed.

    The new key is WANGGE_PERSONAL_HASH_KEY; the old one comes from
    WANGGE_OLD_PERSONAL_HASH_KEY or a prompt without echo, never from the command line (shell
    history, process lists). One transaction: all hashes change, or none. Stop the API first.
    """
    import os

    from wangge.errors import ValidationFailed
    from wangge.registry.rekey import rehash_people

    settings = settings_for(database_url)
    try:
        settings.check_personal_hash_key()
    except ValueError as exc:
        zh, _, en = str(exc).partition(" / ")
        raise ValidationFailed(zh, en, code="personal_hash_key_required") from None
    old_key = os.environ.get(OLD_KEY_ENV) or typer.prompt(
        "旧密钥 old key", hide_input=True, default="", show_default=False
    )
    with session_scope(settings) as session, progress_bar() as bar:
        task = bar.add_task("重算散列 rehashing", total=None)
        report = rehash_people(
            session, old_key=old_key, new_key=settings.personal_hash_key,
            progress=lambda n, total: bar.update(task, advance=n, total=total),
        )  # fmt: skip
    out.print(
        f"已用新密钥重算 {report.changed} 人的散列（共 {report.people} 人；旧密钥相符 "
        f"{report.old_key}，已是新密钥 {report.new_key}，两者都不符 {report.other}，"
        f"缺明文未改 {report.without_clear}） / rehashed {report.changed} of {report.people} "
        "people; restart the API processes with the new key"
    )
