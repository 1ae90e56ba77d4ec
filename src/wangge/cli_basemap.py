"""`wangge basemap …`: render the district's own basemap into an MBTiles file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from wangge.cli import DbOption, app, friendly, out, progress_bar, session_scope, settings_for

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from wangge.basemap.render import Scene
    from wangge.config import Settings

basemap_app = typer.Typer(help="Basemap tiles 底图瓦片 (docs/basemap.md).", no_args_is_help=True)
app.add_typer(basemap_app, name="basemap")


@basemap_app.command("render")
@friendly
def basemap_render(
    county: str | None = typer.Option(None, help="county code 区县代码 (default: the only one)"),
    output: Path | None = typer.Option(
        None, "--out", help="MBTiles file (default: WANGGE_BASEMAP_MBTILES or var/basemap.mbtiles)"
    ),
    zoom: str = typer.Option("11-16", help="zoom levels to render, e.g. 11-16"),
    lazy: int | None = typer.Option(
        None,
        min=1,
        max=22,
        help="also let the server draw missing tiles up to this zoom on demand (and keep them)",
    ),
    grid_roads: bool = typer.Option(
        False, help="draw grid edges as minor roads (only where grids follow roads, as the demo's)"
    ),
    force: bool = typer.Option(False, help="render again the tiles the file already holds"),
    database_url: DbOption = None,
) -> None:
    """Render roads, water, parks and buildings of a county into an MBTiles basemap."""
    from wangge.basemap.build import render_file
    from wangge.basemap.sources import mbtiles_path
    from wangge.basemap.tiles import count_tiles, parse_zooms
    from wangge.errors import ValidationFailed

    try:
        zooms = parse_zooms(zoom)
    except ValueError as exc:
        zh, _, en = str(exc).partition(" / ")
        raise ValidationFailed(zh, en, field="zoom") from None
    settings = settings_for(database_url)
    target = output or mbtiles_path(settings)
    with session_scope(settings) as session:
        county, name, scene = _county_scene(session, county, grid_roads=grid_roads)
    if scene.bounds is None:
        raise ValidationFailed(
            f"区县 {county} 没有可绘制的数据",
            f"county {county} has nothing to draw",
            field="county",
        )
    with progress_bar() as bar:
        task = bar.add_task(
            f"绘制底图 rendering {name} z{zoom}", total=count_tiles(scene.bounds, zooms)
        )
        done, held = render_file(
            scene, target, county=county, name=name, zooms=zooms, lazy_max_zoom=lazy,
            grid_roads=grid_roads, force=force, progress=lambda n: bar.advance(task, n),
        )  # fmt: skip
    out.print(
        f"{target}: 新绘 rendered {done.tiles} 张 tiles（已有 kept {done.skipped}），"
        f"{done.seconds:.1f} s，{done.bytes / 1024:.0f} KiB；文件共 {held} 张 tiles in the file"
        + (
            f"；缺失的瓦片按需绘制至 z{lazy} / missing tiles drawn on demand up to z{lazy}"
            if lazy
            else ""
        )
    )


def _county_scene(
    session: Session, county: str | None, *, grid_roads: bool
) -> tuple[str, str, Scene]:
    """Return the county (the only one when not named), its name and its scene to draw."""
    from sqlalchemy import select

    from wangge.basemap.scene import load_scene
    from wangge.divisions.models import Division
    from wangge.errors import NotFound, ValidationFailed

    if county is None:
        counties = list(session.scalars(select(Division.code).where(Division.level == "county")))
        if len(counties) != 1:
            raise ValidationFailed(
                f"请用 --county 指定区县（库中有 {len(counties)} 个）",
                f"name the county with --county (the database holds {len(counties)})",
                field="county",
            )
        county = counties[0]
    division = session.get(Division, county)
    if division is None:
        raise NotFound(f"区县 {county} 不存在", f"county {county} does not exist")
    return county, division.name, load_scene(session, county, grid_roads=grid_roads)


DEMO_UP_FRONT = range(11, 14)  # the zooms a first look at the district needs, drawn at once
DEMO_MAX_ZOOM = 18


def prepare_demo_basemap(session: Session, settings: Settings, *, reset: bool = False) -> None:
    """Give the demo its own basemap: a lazy MBTiles file with the low zooms drawn up front.

    The server draws the other tiles on first view (~10–40 ms each) and keeps them, so the
    demo starts as fast as before and shows streets, not grey.
    """
    import time

    from wangge.basemap.build import ensure_lazy_basemap
    from wangge.basemap.scene import load_scene
    from wangge.basemap.sources import mbtiles_path
    from wangge.demo import DEMO_COUNTY, DEMO_NAME

    path = mbtiles_path(settings)
    if reset:
        path.unlink(missing_ok=True)
    if path.exists():
        return
    started = time.monotonic()
    scene = load_scene(session, DEMO_COUNTY, grid_roads=True)
    done = ensure_lazy_basemap(
        scene,
        path,
        county=DEMO_COUNTY,
        name=DEMO_NAME,
        up_front=DEMO_UP_FRONT,
        max_zoom=DEMO_MAX_ZOOM,
        grid_roads=True,
    )
    if done is not None:
        out.print(
            f"底图 basemap {path}: {done.tiles} 张 tiles z{DEMO_UP_FRONT.start}–"
            f"{DEMO_UP_FRONT.stop - 1}，{time.monotonic() - started:.1f} s；"
            f"其余按需绘制 / the rest drawn on demand up to z{DEMO_MAX_ZOOM}"
        )
