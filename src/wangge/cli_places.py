"""`wangge cases fill-addresses` and `wangge places …` (search, reverse) on the command line."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from wangge.cli import DbOption, app, friendly, out, progress_bar, session_scope, settings_for

cases_app = typer.Typer(help="Cases 案件 (maintenance).", no_args_is_help=True)
places_app = typer.Typer(help="Places 地点: search and reverse geocoding.", no_args_is_help=True)
app.add_typer(cases_app, name="cases")
app.add_typer(places_app, name="places")


@cases_app.command("fill-addresses")
@friendly
def fill_addresses(database_url: DbOption = None) -> None:
    """Give cases reported without an address the address of their position (roads, 门牌)."""
    from wangge.places.fill import count_missing
    from wangge.places.fill import fill_addresses as fill

    with session_scope(settings_for(database_url)) as session:
        total = count_missing(session)
        filled = 0
        with progress_bar() as bar:
            task = bar.add_task("填写地址 filling addresses", total=total)
            for seen, done in fill(session):
                session.commit()  # one chunk per transaction
                filled += done
                bar.advance(task, seen)
    out.print(
        f"已填写 {filled} / {total} 个案件的地址 / filled the address of {filled} of {total} cases"
    )


@places_app.command("search")
@friendly
def search(
    text: str,
    limit: int = typer.Option(10, help="at most this many places"),
    county: str | None = typer.Option(
        None, help="county code 区县代码 (needed when the database holds more than 8)"
    ),
    database_url: DbOption = None,
) -> None:
    """Find places (门牌, roads, communities, grids, cameras) by name, address or code."""
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.places.service import search as find

    with session_scope(settings_for(database_url)) as session:
        table = Table("kind", "name", "address", "lon", "lat", "grid")
        for p in find(session, LOCAL_OPERATOR, text, limit, county):
            table.add_row(
                p.kind, p.name, p.address, f"{p.lon:.6f}", f"{p.lat:.6f}", p.grid_code or ""
            )
        out.print(table)


@places_app.command("import-roads")
@friendly
def import_roads(
    file: Path,
    county: str = typer.Option(..., help="county code 区县代码"),
    name_field: str | None = typer.Option(
        None, help="the column of road names (default 名称/name)"
    ),
    crs: str | None = typer.Option(None, help="the file's coordinate system if it does not say"),
    encoding: str | None = typer.Option(None, help="text encoding of a shapefile's .dbf"),
    database_url: DbOption = None,
) -> None:
    """Replace the county's named roads (the lines addresses name) by those of a GIS file."""
    from wangge.places.roads import import_roads as load

    with session_scope(settings_for(database_url)) as session:
        n, skipped = load(
            session, file, county=county, name_field=name_field, crs=crs, encoding=encoding
        )
    out.print(
        f"已导入 {n} 条道路（跳过无名称或非线要素 {skipped} 个） / imported {n} roads, skipped {skipped}"
    )
