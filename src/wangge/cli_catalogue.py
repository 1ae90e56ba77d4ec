"""`wangge catalogue …`: the standard catalogue of case categories and its releases."""

from __future__ import annotations

import typer
from rich.table import Table

from wangge.cli import DbOption, app, friendly, out, session_scope, settings_for

catalogue_app = typer.Typer(help="Case categories catalogue 案件类别目录.", no_args_is_help=True)
app.add_typer(catalogue_app, name="catalogue")


@catalogue_app.command("upgrade")
@friendly
def catalogue_upgrade(
    dry_run: bool = typer.Option(False, "--dry-run", help="show what would change, save nothing"),
    details: bool = typer.Option(False, "--details", help="list every changed category"),
    database_url: DbOption = None,
) -> None:
    """Bring the standard categories to this version's release; local edits are kept."""
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.cases.standard import upgrade_catalogue

    with session_scope(settings_for(database_url)) as session:
        report = upgrade_catalogue(session, dry_run=dry_run, principal=LOCAL_OPERATOR)
    out.print(report.summary_zh())
    out.print(report.summary_en())
    if details and (report.added or report.updated or report.kept):
        table = Table("类别 category", "新增/更新 added/updated", "保留本地修改 kept local edits")
        for code in sorted({*report.added, *report.updated, *report.kept}):
            change = (
                "新增 added" if code in report.added else ", ".join(report.updated.get(code, []))
            )
            table.add_row(code, change, ", ".join(report.kept.get(code, [])))
        out.print(table)


@catalogue_app.command("pipelines")
@friendly
def catalogue_pipelines(
    county: str = typer.Option(..., "--county", help="county code 区县代码 (6 digits)"),
    scheme: str = typer.Option("GB/T 30428.2", "--scheme", help="GB/T 30428.2 or GB/T 47678.5"),
    database_url: DbOption = None,
) -> None:
    """Add the local pipeline line classes (给水管线 … 2101-2109) to a county's components."""
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.registry.components import catalogue_for
    from wangge.registry.pipeline_classes import install_pipeline_classes, pipeline_classes

    with session_scope(settings_for(database_url)) as session:
        added = install_pipeline_classes(session, LOCAL_OPERATOR, county, scheme)  # type: ignore[arg-type]
        rows = pipeline_classes(catalogue_for(session, county, scheme))  # type: ignore[arg-type]
    out.print(f"新增管线小类 {len(added)} 个 / {len(added)} pipeline classes added")
    table = Table("小类 class", "名称 name", "管线类别 network", "几何 geometry")
    for r in rows:
        table.add_row(
            r["code"],
            r["name"],
            r["network_zh"],
            "线 line" if r["geometry"] == "line" else "点 point",
        )
    out.print(table)
