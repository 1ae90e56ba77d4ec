"""`wangge grid divide|rebalance|split|merge`: automatic division and hand edits → new versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from wangge.cli import (
    CrsOption,
    DbOption,
    busy,
    friendly,
    grid_app,
    out,
    session_scope,
    settings_for,
)
from wangge.cli_grid import OverrideOption, activate_audited

BuildingsOption = typer.Option(
    ..., help="buildings: points or footprints with 户数/人口/权重/专属 columns"
)
LinesOption = typer.Option(
    None,
    help="lines the grids follow (roads, rivers, walls); a class column (等级/class/highway) "
    "makes main roads and rivers barriers and alleys crossable (docs/division.md)",
)
LineRolesOption = typer.Option(
    None,
    "--line-roles",
    help='classes the table lacks, by role: "主干道=barrier,支路=boundary,巷道=crossable" '
    '("*=boundary" for every unknown class)',
)
SitesOption = typer.Option(None, help="exclusive sites (专属网格) as polygons")


def _print_quality(report: dict[str, Any]) -> None:
    t = report["totals"]
    out.print(
        f"网格 {t['grids']} 个（专属 {t['exclusive']}），户数 {t['households']}，"
        f"容差内 {t['share_within']:.1%}，偏差 {t['dev_min']:+.0%} … {t['dev_max']:+.0%}"
    )
    if report["unmet"]:
        table = Table("网格 grid", "值 value", "原因 reason")
        for u in report["unmet"]:
            table.add_row(u["code"] or "", f"{u['value']:g}", u["reason_zh"])
        out.print(table)


@grid_app.command("divide")
@friendly
def grid_divide(
    county: str = typer.Option(..., help="county code"),
    buildings: Path = BuildingsOption,
    lines: Path | None = LinesOption,
    line_roles: str | None = LineRolesOption,
    sites: Path | None = SitesOption,
    community: list[str] = typer.Option(None, help="only these communities (repeatable)"),
    target: float = typer.Option(300, help="target per grid (e.g. 300 households)"),
    measure: str = typer.Option("households", help="households | residents | weight"),
    tolerance: float = typer.Option(0.10, help="allowed deviation (0.10 = ±10%)"),
    never_cross: bool = typer.Option(False, help="never let a grid cross a line, even to balance"),
    plot: Path | None = typer.Option(None, help="draw the result to this PNG"),
    report: Path | None = typer.Option(None, help="write the quality report as JSON"),
    activate: bool = typer.Option(False, help="activate the new version right away"),
    override_reason: OverrideOption = None,
    crs: CrsOption = None,
    database_url: DbOption = None,
) -> None:
    """Divide communities into grids balanced by households, following roads; a new draft version."""
    from wangge.grids.dividing import divide_county, read_buildings, read_lines, read_sites

    settings = settings_for(database_url)
    b, ln, st = (
        read_buildings(buildings, crs=crs),
        read_lines(lines, line_roles, crs=crs),
        read_sites(sites, crs=crs),
    )
    with session_scope(settings) as session, busy("自动划分 dividing"):
        version, division, frame = divide_county(
            session,
            county,
            buildings=b,
            lines=ln,
            sites=st,
            target=target,
            measure=measure,
            tolerance=tolerance,
            allow_crossing=not never_cross,
            communities=community or None,
            width=settings.grid_sequence_width,
        )
        out.print(f"新版本 id={version.id}（第 {version.number} 版）")
        _print_quality(version.report or {})
        if report:
            report.write_text(json.dumps(version.report, ensure_ascii=False, indent=1), "utf-8")
        if plot:
            from wangge.grids.partition_plot import plot_division

            plot_division(division, [frame.forward(g) for g in ln.followed()], plot)
            out.print(f"示意图 {plot}")
        if activate:
            width = settings.grid_sequence_width
            activate_audited(session, version.id, width=width, override_reason=override_reason)


@grid_app.command("rebalance")
@friendly
def grid_rebalance(
    version: int = typer.Argument(..., help="version to rebalance"),
    buildings: Path = BuildingsOption,
    lines: Path | None = LinesOption,
    line_roles: str | None = LineRolesOption,
    target: float = typer.Option(300),
    measure: str = typer.Option("households"),
    tolerance: float = typer.Option(0.10),
    crs: CrsOption = None,
    database_url: DbOption = None,
) -> None:
    """Move boundary buildings between neighbouring grids until all are within tolerance."""
    from wangge.grids.dividing import read_buildings, read_lines, rebalance_version

    settings = settings_for(database_url)
    b, ln = read_buildings(buildings, crs=crs), read_lines(lines, line_roles, crs=crs)
    with session_scope(settings) as session, busy("调整均衡 rebalancing"):
        new, moves = rebalance_version(
            session,
            version,
            buildings=b,
            lines=ln,
            target=target,
            measure=measure,
            tolerance=tolerance,
            width=settings.grid_sequence_width,
        )
        out.print(f"新版本 id={new.id}，移动 {len(moves)} 栋楼 / {len(moves)} buildings moved")
        for m in moves[:50]:
            out.print(f"  {m['building']}: {m['from']} → {m['to']}")
        _print_quality(new.report or {})


def _edit(
    op: str,
    version: int,
    codes: list[str],
    parts: int,
    buildings: Path,
    crs: str | None,
    database_url: str | None,
) -> None:
    from wangge.grids.dividing import edit_version, read_buildings

    settings = settings_for(database_url)
    b = read_buildings(buildings, crs=crs)
    with session_scope(settings) as session:
        new = edit_version(
            session,
            version,
            op=op,
            codes=codes,
            parts=parts,
            buildings=b,
            width=settings.grid_sequence_width,
        )
        out.print(f"新版本 id={new.id}（{new.name}）")
        _print_quality(new.report or {})


@grid_app.command("split")
@friendly
def grid_split(
    version: int,
    code: str,
    parts: int = typer.Option(2, help="into how many grids"),
    buildings: Path = BuildingsOption,
    crs: CrsOption = None,
    database_url: DbOption = None,
) -> None:
    """Split a grid into balanced parts by hand (a new draft version)."""
    _edit("split", version, [code], parts, buildings, crs, database_url)


@grid_app.command("merge")
@friendly
def grid_merge(
    version: int,
    codes: list[str] = typer.Argument(..., help="two or more neighbouring grid codes"),
    buildings: Path = BuildingsOption,
    crs: CrsOption = None,
    database_url: DbOption = None,
) -> None:
    """Merge neighbouring grids by hand (a new draft version)."""
    _edit("merge", version, codes, 2, buildings, crs, database_url)
