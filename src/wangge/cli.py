"""The `wangge` command: database, server, demo, divisions, grids and point lookup.

Start-up matters (issue 19: `wangge grid divide` on a county in under 2 s): the command
modules import at the top only typer and rich; SQLAlchemy, the settings, the models, Alembic,
the web app and the libraries of one command are imported inside the commands that use them.
`tests/unit/test_cli_startup.py` keeps it so.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from wangge.errors import DomainError

if TYPE_CHECKING:
    from rich.progress import Progress
    from sqlalchemy.orm import ORMExecuteState, Session

    from wangge.config import Settings

app = typer.Typer(help="wangge 网格化服务管理信息平台 command line.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic).", no_args_is_help=True)
division_app = typer.Typer(help="Administrative divisions 行政区划.", no_args_is_help=True)
grid_app = typer.Typer(help="Grids and their versions 网格.", no_args_is_help=True)
points_app = typer.Typer(help="Point layers kept in their grids 点图层.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(division_app, name="division")
app.add_typer(grid_app, name="grid")
app.add_typer(points_app, name="points")

console = Console(stderr=True)
out = Console()
F = TypeVar("F", bound=Callable[..., Any])

DbOption = Annotated[
    str | None, typer.Option("--database-url", envvar="WANGGE_DATABASE_URL", help="SQLAlchemy URL")
]
CrsOption = Annotated[
    str | None,
    typer.Option(help="Input CRS when the file has none: EPSG:4490, EPSG:4326, GCJ02, BD09"),
]
EncodingOption = Annotated[
    str | None, typer.Option(help="DBF encoding (GBK, UTF-8); default: detect")
]


def settings_for(database_url: str | None) -> Settings:
    """Return settings, with the database URL from the option when given.

    Every command that touches the database starts here, so this is where the command line
    registers the cross-package hooks (`wangge.wiring`; not at import: `--help` stays light).
    """
    from wangge.config import Settings
    from wangge.wiring import wire

    wire()
    return Settings(database_url=database_url) if database_url else Settings()


def friendly(fn: F) -> F:
    """Print domain errors as a clear bilingual message and exit non-zero."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            console.print(f"[bold red]错误[/] {exc.message_zh}")
            console.print(f"[red]Error[/] {exc.message_en}")
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def session_scope(settings: Settings, *, migrate: bool = True) -> Iterator[Session]:
    """One transaction for one command; the schema is upgraded first (when behind)."""
    from sqlalchemy import event

    from wangge.db import make_engine, session_factory, unit_of_work
    from wangge.models import import_all_models

    _ensure_parent_dir(settings.database_url)
    engine = make_engine(settings.database_url)
    if migrate:
        from wangge.dbadmin import upgrade_if_behind

        upgrade_if_behind(engine)
    import_all_models()  # as the migration environment did: every foreign key resolves
    try:
        with unit_of_work(session_factory(engine, audit_key=settings.audit_key)) as session:
            event.listen(session, "after_flush", _mark_write)
            event.listen(session, "do_orm_execute", _mark_dml)
            yield session
            if session.info.get("wrote"):
                _audit_command(session)
    finally:
        engine.dispose()


def _mark_write(session: Session, _context: object) -> None:
    session.info["wrote"] = True


def _mark_dml(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info["wrote"] = True


def _audit_command(session: Session) -> None:
    """Every command that wrote is in the audit log: who ran what, with which options."""
    import getpass

    from wangge.audit.service import record

    try:  # typer ships its own copy of click; fall back to click for older typer
        from typer._click.globals import get_current_context
    except ImportError:  # pragma: no cover
        # older typer: click's own function, a different type to mypy than typer's copy
        from click import get_current_context  # type: ignore[no-redef]
    ctx = get_current_context(silent=True)
    params = {
        k: str(v)
        for k, v in (ctx.params if ctx else {}).items()
        if v not in (None, False, ()) and "password" not in k and k != "database_url"
    }
    record(
        session,
        actor=f"cli:{getpass.getuser()}",
        action="cli." + (ctx.command_path.replace(" ", ".") if ctx else "command"),
        detail=params,
    )


def _ensure_parent_dir(url: str) -> None:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


def progress_bar() -> Progress:
    """A progress bar for long operations."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


@contextmanager
def busy(description: str) -> Iterator[None]:
    """A spinner with elapsed time for work whose length is not known in advance."""
    with progress_bar() as bar:
        bar.add_task(description, total=None)
        yield


# --- database -------------------------------------------------------------------------


@db_app.command("upgrade")
@friendly
def db_upgrade(database_url: DbOption = None) -> None:
    """Create or upgrade the schema to the newest revision."""
    from wangge.db import make_engine
    from wangge.dbadmin import current_revision, upgrade

    settings = settings_for(database_url)
    _ensure_parent_dir(settings.database_url)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    out.print(f"schema at revision {current_revision(engine)}")


@db_app.command("current")
def db_current(database_url: DbOption = None) -> None:
    """Print the schema revision and whether it is the newest."""
    from wangge.db import make_engine
    from wangge.dbadmin import current_revision, head_revision

    engine = make_engine(settings_for(database_url).database_url)
    cur, head = current_revision(engine), head_revision(engine)
    out.print(
        f"current {cur} / head {head}" + ("" if cur == head else "  (run `wangge db upgrade`)")
    )
    if cur != head:
        raise typer.Exit(1)


@app.command()
@friendly
def init(
    county: str = typer.Option(..., help="county code 区县代码 (6 digits, e.g. 110108)"),
    name: str | None = typer.Option(None, help="county name 区县名称 (when it is new)"),
    database_url: DbOption = None,
) -> None:
    """Make a database ready for a county: schema, roles, catalogue, lines, response rules."""
    from wangge.setup import init_county

    with session_scope(settings_for(database_url)) as session:
        report = init_county(session, county, name)
    out.print(
        f"区县 {county} 已就绪 / county {county} is ready: "
        f"{'新建区县 / county added, ' if report.county_added else ''}"
        f"新增类别 {report.categories_added} / categories added"
        + "".join(f", {k} {v}" for k, v in report.extra.items())
    )
    out.print(
        "下一步 / next: wangge division import …; wangge grid import …; "
        "wangge department import …; wangge user create …"
    )


# --- server and demo ------------------------------------------------------------------


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = typer.Option(1, help="worker processes (use several on PostgreSQL)"),
    database_url: DbOption = None,
) -> None:
    """Start the web server on an existing database."""
    import os

    import uvicorn

    from wangge.ops import workers as processes

    settings = settings_for(database_url)
    os.environ["WANGGE_DATABASE_URL"] = settings.database_url
    options: dict[str, Any] = {"timeout_worker_healthcheck": settings.worker_healthcheck_seconds}
    if workers > 1 and processes.reuse_port_available():
        # Each worker on its own socket: the kernel spreads connections evenly over them.
        processes.serve("wangge.main:create_app", host=host, port=port, workers=workers, **options)
        return
    uvicorn.run(
        "wangge.main:create_app", factory=True, host=host, port=port, workers=workers, **options
    )


@app.command()
@friendly
def demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    reset: bool = typer.Option(False, help="rebuild the demo database"),
    serve_after: bool = typer.Option(True, "--serve/--no-serve", help="start the server after"),
    cases: int | None = typer.Option(
        None, min=1, help="cases in the simulated month (default 2000 on SQLite, 1000 on PG)"
    ),
    database_url: DbOption = None,
) -> None:
    """Build the demo district (once) and start the server; the month fills in beside it."""
    from rich.table import Table

    from wangge.demo import DEMO_COUNTY, build_demo, demo_exists, month_pending
    from wangge.demo.users import DEMO_PASSWORD, create_demo_users

    settings = settings_for(database_url)
    if settings.is_sqlite and reset:
        Path(settings.database_url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    with session_scope(settings) as session:
        if not demo_exists(session):
            with progress_bar() as bar:
                task = bar.add_task("构建演示区 building demo district", total=None)
                summary = build_demo(
                    session, settings, cases=cases, progress=lambda n: bar.advance(task, n)
                )
            out.print(summary)
        users = create_demo_users(session, DEMO_COUNTY)
        from wangge.cli_basemap import prepare_demo_basemap  # streets, not grey

        prepare_demo_basemap(session, settings, reset=reset)
        pending = month_pending(session)
    if pending and not serve_after:
        _run_demo_month(settings)
    table = Table(
        "用户名 username", "岗位 role", "范围 scope", title=f"演示账号（密码均为 {DEMO_PASSWORD}）"
    )
    for row in users:
        table.add_row(*row)
    out.print(table)
    site = f"http://{host}:{port}"
    out.print(f"\n[bold green]wangge 已启动[/] 指挥中心 Console: {site}/console （用户名见上表）")
    out.print(f"网格员手机页 Grid worker: {site}/m   市民 Citizens: {site}/citizen")
    out.print(f"大屏 Dashboard: {site}/dashboard   接口文档 API docs: {site}/docs")
    if serve_after:
        import os

        os.environ.setdefault("WANGGE_DEMO_MODE", "true")  # the demo's placeholders are fine
        if pending:
            _start_demo_month(settings)
        serve(host=host, port=port, workers=1, database_url=settings.database_url)


def _run_demo_month(settings: Settings, *, beside_server: bool = False) -> None:
    from wangge.db import make_engine, session_factory
    from wangge.demo import run_month

    engine = make_engine(settings.database_url)
    try:
        with progress_bar() as bar:
            task = bar.add_task("模拟近一月案卷 simulating the month", total=None)
            run_month(
                session_factory(engine, audit_key=settings.audit_key),
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                pause=0.1 if beside_server else 0.0,
            )
    finally:
        engine.dispose()


def _start_demo_month(settings: Settings) -> None:
    """Run the month in a second process while this one serves (two cores, no shared GIL)."""
    import subprocess

    log = settings.upload_dir.parent / "demo-month.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as sink:
        subprocess.Popen(
            [sys.executable, "-m", "wangge", "demo-month", "--database-url", settings.database_url],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    out.print(
        f"近一月案卷正在后台模拟，页面顶部显示进度（日志 {log}） / the month of cases is being "
        "simulated in the background; pages show the progress"
    )


@app.command("demo-month", hidden=True)
@friendly
def demo_month(database_url: DbOption = None) -> None:
    """Run what is left of the demo month (started by `wangge demo`)."""
    _run_demo_month(settings_for(database_url), beside_server=True)


# --- divisions ------------------------------------------------------------------------


@division_app.command("import")
@friendly
def division_import(
    file: Path,
    crs: CrsOption = None,
    encoding: EncodingOption = None,
    database_url: DbOption = None,
) -> None:
    """Load divisions (code, name[, parent]) from GeoJSON, GPKG, zipped Shapefile, CSV, XLSX."""
    from wangge.grids.importing import import_divisions

    with session_scope(settings_for(database_url)) as session, busy("导入区划 importing"):
        n = import_divisions(session, file, crs=crs, encoding=encoding)
    out.print(f"已导入 {n} 个区划 / imported {n} divisions")


@division_app.command("list")
@friendly
def division_list(
    parent: str | None = None, level: str | None = None, database_url: DbOption = None
) -> None:
    """List divisions."""
    from rich.table import Table

    from wangge.divisions.service import list_divisions

    with session_scope(settings_for(database_url)) as session:
        table = Table("code", "level", "name", "area km²")
        for d in list_divisions(session, parent=parent, level=level):
            table.add_row(d.code, d.level, d.name, f"{(d.area_m2 or 0) / 1e6:.3f}")
        out.print(table)


# --- points ---------------------------------------------------------------------------


@points_app.command("import")
@friendly
def points_import(
    file: Path,
    county: str = typer.Option(..., help="county code"),
    layer: str = typer.Option(..., help="layer name, e.g. 部件 or cameras"),
    crs: CrsOption = None,
    encoding: EncodingOption = None,
    database_url: DbOption = None,
) -> None:
    """Import a point layer and assign every point to its grids (kept across re-divisions)."""
    from wangge.grids.importing import import_points

    with session_scope(settings_for(database_url)) as session, busy("导入点位 importing points"):
        n = import_points(session, file, county=county, layer=layer, crs=crs, encoding=encoding)
    out.print(f"已导入 {n} 个点 / imported {n} points")


def main() -> None:
    """Entry point used by `python -m wangge`."""
    app(prog_name="wangge")


from wangge import (  # noqa: E402,F401  (register the subcommands)
    cli_admin,
    cli_basemap,
    cli_catalogue,
    cli_departments,
    cli_divide,
    cli_eval,
    cli_grid,
    cli_lines,
    cli_micro,
    cli_notify,
    cli_ops,
    cli_places,
    cli_registry,
    cli_rules,
)

if __name__ == "__main__":
    sys.exit(main())  # type: ignore[func-returns-value]
