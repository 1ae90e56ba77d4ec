"""`wangge grid …` and `wangge locate`: import, export, validate, generate, activate, lookup."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from wangge.cli import (
    CrsOption,
    DbOption,
    EncodingOption,
    app,
    busy,
    console,
    friendly,
    grid_app,
    out,
    progress_bar,
    session_scope,
    settings_for,
)
from wangge.errors import Conflict, ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

VersionArg = Annotated[int, typer.Argument(help="version id (see `wangge grid versions`)")]
OverrideOption = Annotated[
    str | None,
    typer.Option(
        "--override-reason",
        help="activate although validation finds problems (gaps, overlaps …): why (audited)",
    ),
]


def activate_audited(
    session: Session,
    version_id: int,
    *,
    width: int,
    override_reason: str | None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Activate a version from the command line; audited like the HTTP route, override included."""
    import getpass

    from wangge.audit.service import record
    from wangge.grids.versions import activate_version

    try:
        report = activate_version(
            session, version_id, width=width, override_reason=override_reason, progress=progress
        )
    except Conflict as exc:
        if exc.code == "validation_problems":  # say how to give the reason here
            exc.message_zh += "（命令行：--override-reason 理由）"
            exc.message_en += " (on the command line: --override-reason REASON)"
        raise
    record(
        session,
        actor=f"cli:{getpass.getuser()}",
        action="grid_version.activate",
        object_type="grid_version",
        object_id=version_id,
        reason=(report.get("override") or {}).get("reason"),
        detail={k: v for k, v in report.items() if k != "diff"},
    )
    return report


def _print_report(report: dict[str, Any]) -> None:
    diff = report["diff"]
    out.print(f"版本 {report['previous']} → {report['version']}")
    for key, zh in [
        ("new", "新增"),
        ("retired", "撤销"),
        ("split", "拆分"),
        ("merged", "合并"),
        ("reshaped", "调整"),
        ("redrawn", "重划"),
        ("unchanged", "未变"),
    ]:
        out.print(f"  {zh} {key}: {len(diff[key])}")
    for table, moved in report.get("moved", {}).items():
        out.print(
            f"  {table}: {moved['moved']} / {moved['total']} 条记录改变网格 moved, "
            f"{moved['unlocated']} 不在任何网格 unlocated"
        )


@grid_app.command("import")
@friendly
def grid_import(
    file: Path,
    county: str = typer.Option(..., help="county code (6 digits)"),
    kind: str = typer.Option("basic", help="basic|exclusive|micro|unit|duty (or a 类型 column)"),
    name: str = typer.Option("导入版本", help="version name"),
    activate: bool = typer.Option(False, help="activate the new version right away"),
    override_reason: OverrideOption = None,
    crs: CrsOption = None,
    encoding: EncodingOption = None,
    database_url: DbOption = None,
) -> None:
    """Import grids as a new draft version (all or nothing); validate, then activate."""
    from wangge.grids.importing import grid_count, import_grids
    from wangge.grids.versions import validate_version

    settings = settings_for(database_url)
    with session_scope(settings) as session, busy("导入网格 importing grids"):
        version = import_grids(
            session,
            file,
            county=county,
            kind=kind,
            version_name=name,
            width=settings.grid_sequence_width,
            crs=crs,
            encoding=encoding,
        )
        out.print(
            f"已导入 {grid_count(session, version.id)} 个网格为版本 id={version.id} "
            f"(第 {version.number} 版, {version.layer})"
        )
        problems = validate_version(session, version.id, width=settings.grid_sequence_width)
        out.print(
            f"校验发现 {len(problems)} 个问题 / {len(problems)} problems "
            f"(`wangge grid validate {version.id}`)"
        )
        if activate:
            width = settings.grid_sequence_width
            _print_report(
                activate_audited(session, version.id, width=width, override_reason=override_reason)
            )


@grid_app.command("attributes")
@friendly
def grid_attributes(
    file: Path,
    version: int = typer.Option(..., help="version id"),
    database_url: DbOption = None,
) -> None:
    """Update grid attributes (户数, 人口, 用地类别, 责任主体 …) from a CSV/XLSX keyed by 网格编码."""
    from wangge.grids.importing import update_grid_attributes

    with session_scope(settings_for(database_url)) as session:
        n = update_grid_attributes(session, file, version_id=version)
    out.print(f"已更新 {n} 个网格的属性 / updated {n} grids")


@grid_app.command("validate")
@friendly
def grid_validate(
    version: VersionArg,
    json_out: Path | None = typer.Option(None, "--json", help="write the report as JSON"),
    database_url: DbOption = None,
) -> None:
    """Report gaps, overlaps, slivers, invalid geometries, grids crossing communities, bad codes."""
    from wangge.grids.versions import problem_dicts, validate_version

    settings = settings_for(database_url)
    with session_scope(settings) as session, busy("校验 validating"):
        problems = validate_version(session, version, width=settings.grid_sequence_width)
    if json_out:
        json_out.write_text(
            json.dumps(problem_dicts(problems), ensure_ascii=False, indent=1), "utf-8"
        )
    table = Table("类型 kind", "网格 grids", "位置 location", "面积 m²", "说明")
    for p in problems[:200]:
        loc = f"{p.location[0]:.6f},{p.location[1]:.6f}" if p.location else ""
        table.add_row(
            p.kind, ",".join(p.keys), loc, f"{p.area_m2:.1f}" if p.area_m2 else "", p.message_zh
        )
    out.print(table)
    out.print(f"共 {len(problems)} 个问题 / {len(problems)} problems")
    if problems:
        raise typer.Exit(1)


@grid_app.command("generate")
@friendly
def grid_generate(
    county: str = typer.Option(..., help="county code"),
    community: list[str] = typer.Option(None, help="only these communities (repeatable)"),
    cell_area: float = typer.Option(10_000.0, help="cell area in m² (万米单元网格: 10000)"),
    lines: Path | None = typer.Option(None, help="line layer to cut along (roads, rivers)"),
    name: str | None = typer.Option(None, help="version name"),
    activate: bool = typer.Option(False, help="activate the new version right away"),
    override_reason: OverrideOption = None,
    database_url: DbOption = None,
) -> None:
    """Generate unit grids clipped to the communities as a new draft version."""
    from wangge.common.gisio import read_features
    from wangge.grids.generate import generate_unit_version
    from wangge.grids.importing import grid_count

    settings = settings_for(database_url)
    line_geoms = [f.geometry for f in read_features(lines).features] if lines else []
    if any(g is not None and "LineString" not in g.geom_type for g in line_geoms):
        raise ValidationFailed(
            "切割图层必须是线", "the --lines layer must contain lines", field="lines"
        )
    with session_scope(settings) as session, progress_bar() as bar:
        task = bar.add_task("生成单元网格 generating", total=None)
        version = generate_unit_version(
            session,
            county,
            width=settings.grid_sequence_width,
            cell_area_m2=cell_area,
            lines=line_geoms,
            communities=community or None,
            name=name,
            progress=lambda n: bar.advance(task, n),
        )
        out.print(f"生成 {grid_count(session, version.id)} 个单元网格，版本 id={version.id}")
        if activate:
            width = settings.grid_sequence_width
            _print_report(
                activate_audited(session, version.id, width=width, override_reason=override_reason)
            )


@grid_app.command("activate")
@friendly
def grid_activate(
    version: VersionArg, override_reason: OverrideOption = None, database_url: DbOption = None
) -> None:
    """Put a version in force (or roll back to an old one); located records move with it.

    A version with validation problems is refused (the problems are listed) unless
    --override-reason says why it must go into force anyway; the reason is audited.
    """
    settings = settings_for(database_url)
    with session_scope(settings) as session:
        with busy("启用并迁移落点 activating"):
            report = activate_audited(
                session,
                version,
                width=settings.grid_sequence_width,
                override_reason=override_reason,
                progress=console.print,
            )
        _print_report(report)


@grid_app.command("versions")
@friendly
def grid_versions(county: str | None = None, database_url: DbOption = None) -> None:
    """List grid versions."""
    from sqlalchemy import select

    from wangge.grids.models import GridVersion

    with session_scope(settings_for(database_url)) as session:
        table = Table("id", "county", "layer", "no.", "name", "status", "activated")
        q = select(GridVersion).order_by(GridVersion.id)
        if county:
            q = q.where(GridVersion.county_code == county)
        for v in session.scalars(q):
            table.add_row(
                str(v.id),
                v.county_code,
                v.layer,
                str(v.number),
                v.name,
                v.status,
                v.activated_at.isoformat(timespec="seconds") if v.activated_at else "",
            )
        out.print(table)


@grid_app.command("diff")
@friendly
def grid_diff(old: VersionArg, new: VersionArg, database_url: DbOption = None) -> None:
    """Compare two versions: new, retired, split, merged, reshaped grids."""
    from wangge.grids.service import get_version
    from wangge.grids.versions import compare_versions

    with session_scope(settings_for(database_url)) as session:
        report = compare_versions(session, get_version(session, old), get_version(session, new))
    out.print_json(data={k: v for k, v in report["diff"].items() if k != "pairs"})


@grid_app.command("export")
@friendly
def grid_export(
    target: Path,
    version: int | None = typer.Option(None, help="version id (default: the active one)"),
    county: str | None = typer.Option(None, help="county (with --layer) when no version is given"),
    layer: str = typer.Option("social", help="social | unit"),
    crs: str = typer.Option(
        "EPSG:4490", help="output CRS: EPSG:4490, EPSG:4326, GCJ02, BD09, EPSG:45xx"
    ),
    encoding: str = typer.Option("UTF-8", help="DBF encoding for Shapefiles (UTF-8 or GBK)"),
    database_url: DbOption = None,
) -> None:
    """Export grids to .geojson, .gpkg, .zip (Shapefile), .csv or .xlsx."""
    from wangge.grids.exporting import export_version

    with session_scope(settings_for(database_url)) as session:
        n = export_version(
            session,
            target,
            version_id=version,
            county=county,
            layer=layer,
            crs=crs,
            encoding=encoding,
        )
    out.print(f"已导出 {n} 个网格到 {target} / exported {n} grids")


@grid_app.command("locate")
@friendly
def grid_locate(
    lon: float = typer.Option(..., help="longitude"),
    lat: float = typer.Option(..., help="latitude"),
    crs: str = typer.Option("EPSG:4490", help="EPSG:4490, EPSG:4326, GCJ02, BD09"),
    database_url: DbOption = None,
) -> None:
    """Which grid is this point in?"""
    from wangge.grids.locating import locate_point

    with session_scope(settings_for(database_url)) as session:
        found = locate_point(session, lon, lat, crs=crs, micro=True)  # 微网格 too
        for layer, grid in found.items():
            out.print(
                f"{layer}: {grid.code + ' ' + grid.name if grid else '（不在任何网格内 none）'}"
            )
    if not any(found.values()):
        raise typer.Exit(1)


@app.command("locate")
@friendly
def locate_table(
    source: Path,
    target: Path,
    crs: CrsOption = None,
    county: str | None = typer.Option(None, help="limit to one county"),
    database_url: DbOption = None,
) -> None:
    """Add grid codes to every row of a CSV/XLSX with lon/lat columns (millions of rows)."""
    import numpy as np
    from shapely.geometry import Point

    from wangge.common.gisio import read_features, write_table
    from wangge.grids.locating import grid_codes, locate_many

    fs = read_features(source, crs=crs)
    points: list[Point] = []
    for f in fs.features:
        if not isinstance(f.geometry, Point):
            raise ValidationFailed(
                f"第 {f.number} 行没有点坐标", f"row {f.number} has no point", field="geometry"
            )
        points.append(f.geometry)
    lon = np.array([p.x for p in points])
    lat = np.array([p.y for p in points])
    with session_scope(settings_for(database_url)) as session, progress_bar() as bar:
        task = bar.add_task("定位 locating", total=len(lon) * 2)
        found = locate_many(
            session,
            lon,
            lat,
            county_codes=[county] if county else None,
            progress=lambda n: bar.advance(task, n),
        )
        codes = grid_codes(session, np.concatenate([found["social"], found["unit"]]).tolist())
    rows = []
    for i, f in enumerate(fs.features):
        rows.append(
            {
                **f.properties,
                "网格编码": codes.get(int(found["social"][i]), ""),
                "单元网格编码": codes.get(int(found["unit"][i]), ""),
            }
        )
    columns = [*fs.fields, "网格编码", "单元网格编码"]
    write_table(target, rows, columns)
    missing = int((found["social"] < 0).sum())
    out.print(f"已定位 {len(rows)} 行，写入 {target}；{missing} 行不在任何网格内")
