"""`wangge grid micro-from-buildings`: draw micro grids (微网格) from a grid's buildings."""

from __future__ import annotations

import typer

from wangge.cli import DbOption, friendly, grid_app, out, session_scope, settings_for


@grid_app.command("micro-from-buildings")
@friendly
def micro_from_buildings_command(
    parent_code: str = typer.Argument(..., help="所属网格编码 / the grid whose buildings are used"),
    mode: str = typer.Option("building", help="building 一楼一格 | group 相邻楼栋成组"),
    margin_m: float = typer.Option(5.0, "--margin", help="外扩米数 / metres around buildings"),
    gap_m: float = typer.Option(30.0, "--gap", help="group: buildings closer than this (m)"),
    version_id: int | None = typer.Option(
        None, "--version", help="a draft version id (default: straight into the version in force)"
    ),
    database_url: DbOption = None,
) -> None:
    """Draw one micro grid per building (or per group of neighbouring buildings) of a grid."""
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.microgrids.service import FromBuildings, micro_from_buildings

    settings = settings_for(database_url)
    plan = FromBuildings(parent_code, mode, margin_m, gap_m, version_id)
    with session_scope(settings) as session:
        report = micro_from_buildings(
            session, LOCAL_OPERATOR, plan, width=settings.grid_sequence_width
        )
    where = "现行版本 active" if report["version_status"] == "active" else "草稿 draft"
    out.print(f"第 {report['version']} 版（{where}）网格 {report['parent']}:")
    for made in report["created"]:
        out.print(f"  {made['code']} {made['name']}  楼栋 buildings {made['buildings']}")
    for table, moved in report["moved"].items():
        out.print(f"  {table}: {moved['moved']} / {moved['total']} 条记录进入或离开微网格 moved")
