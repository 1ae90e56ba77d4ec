"""Evaluation commands: `wangge eval month 2026-11 --out report.xlsx|.pdf`, case files, hot spots."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from wangge.cli import (
    DbOption,
    app,
    friendly,
    out,
    progress_bar,
    session_scope,
    settings_for,
)

eval_app = typer.Typer(help="Evaluation 综合评价: monthly reports, case files, hot spots.")
app.add_typer(eval_app, name="eval")

CountyOption = Annotated[str | None, typer.Option(help="county code (6 digits); default: all")]
JobsOption = Annotated[
    int,
    typer.Option(min=1, help="database connections deriving at once (PostgreSQL, whole database)"),
]


@eval_app.command("month")
@friendly
def month(
    period: Annotated[str, typer.Argument(help="2026-11 (or 2026-Q4, 2026, 2026-W48, a..b)")],
    output: Annotated[Path | None, typer.Option("--out", help="report.xlsx or report.pdf")] = None,
    county: CountyOption = None,
    database_url: DbOption = None,
) -> None:
    """Evaluate a month (or any period), print the rankings' heads, write the report."""
    from wangge.evaluation import analysis, reports, service
    from wangge.evaluation.facts import OPEN_COUNTS
    from wangge.evaluation.indicators import OBJECT_ZH
    from wangge.evaluation.periods import parse_period

    p = parse_period(period)
    with session_scope(settings_for(database_url)) as session:
        result = service.compare(session, p, county=county)
        tr = None
        if output is not None and output.suffix.lower() == ".pdf":
            tr = analysis.trend(
                session, p, bucket="day" if p.days <= 31 else "month", county=county
            )
    table = Table(title=f"综合评价 {p.label}")
    for col in ("对象", "数量", "第一名", "综合指标值", "等级", "期末超期"):
        table.add_column(col)
    for object_type, rows in result["objects"].items():
        top = rows[0] if rows else None
        # 超期未处置 (departments) / 超期未结案 (areas, reporting workers) at the period's end
        keys = {names[0] for names in OPEN_COUNTS.values()} & {k for r in rows for k in r["counts"]}
        late = sum(r["counts"].get(k, 0) for r in rows for k in keys)
        table.add_row(
            OBJECT_ZH[object_type], str(len(rows)), top["name"] if top else "-",
            str(top["score"]) if top else "-", (top["grade"] or "-") if top else "-",
            str(late) if keys else "-",
        )  # fmt: skip
    out.print(table)
    if output is None:
        return
    suffix = output.suffix.lower()
    if suffix == ".xlsx":
        output.write_bytes(reports.monthly_xlsx(result))
    elif suffix == ".pdf":
        output.write_bytes(reports.monthly_pdf(result, tr))
    else:
        raise typer.BadParameter("--out must end in .xlsx or .pdf")
    out.print(f"已写出 {output} / report written")


@eval_app.command("case")
@friendly
def case_file(
    case_id: Annotated[int, typer.Argument(help="case id")],
    output: Annotated[Path, typer.Option("--out", help="file.pdf")],
    upload_dir: Annotated[Path | None, typer.Option(envvar="WANGGE_UPLOAD_DIR")] = None,
    database_url: DbOption = None,
) -> None:
    """Write the formal case file (案卷) of one case as PDF."""
    from wangge.cases.models import Case
    from wangge.errors import NotFound
    from wangge.evaluation.casefile import case_pdf
    from wangge.uploads.storage import LocalStorage

    with session_scope(settings_for(database_url)) as session:
        case = session.get(Case, case_id)
        if case is None:
            raise NotFound(f"案卷 {case_id} 不存在", f"case {case_id} does not exist")
        storage = LocalStorage(upload_dir) if upload_dir else None
        output.write_bytes(case_pdf(session, case, storage=storage))
    out.print(f"已写出 {output} / case file written")


@eval_app.command("rebuild-facts")
@friendly
def rebuild_facts(
    county: CountyOption = None, database_url: DbOption = None, jobs: JobsOption = 2
) -> None:
    """Recompute the stored evaluation facts and rollups from the case events; readers see
    the old ones and case actions wait until the new ones are in place (one transaction)."""
    from sqlalchemy import func, select

    from wangge.cases.models import Case
    from wangge.evaluation import stored

    with session_scope(settings_for(database_url)) as session:
        q = select(func.count()).select_from(Case)
        if county:
            q = q.where(Case.county_code == county)
        total = session.scalar(q) or 0
        with progress_bar() as bar:
            task = bar.add_task("案卷的考核事实 / facts of cases", total=total)
            n = stored.rebuild(
                session, county=county, jobs=jobs, progress=lambda k: bar.advance(task, k)
            )
    out.print(f"已重建 {n} 条考核事实 / {n} evaluation facts rebuilt")


@eval_app.command("rebuild-rollups")
@friendly
def rebuild_rollups(
    county: CountyOption = None, database_url: DbOption = None, jobs: JobsOption = 2
) -> None:
    """Recompute the per-day evaluation rollups from the stored facts (one transaction)."""
    from wangge.evaluation import stored
    from wangge.evaluation.indicators import EvalConfig

    with session_scope(settings_for(database_url)) as session:
        if not stored.usable(session, EvalConfig()):
            out.print(
                "考核事实未建立，请先运行 wangge eval rebuild-facts / "
                "the evaluation facts are not built: run `wangge eval rebuild-facts` first"
            )
            raise typer.Exit(1)
        n = stored.rebuild_rollups(session, county=county, jobs=jobs)
    out.print(f"已重建 {n} 条考核日汇总 / {n} evaluation rollup rows rebuilt")


@eval_app.command("compact-rollups")
@friendly
def compact_rollups(database_url: DbOption = None) -> None:
    """Sum the evaluation rollups' delta rows into one row per day and object."""
    from wangge.evaluation import rollups

    with session_scope(settings_for(database_url)) as session:
        n = rollups.compact(session)
    out.print(f"已合并 {n} 行 / {n} rollup rows merged")
