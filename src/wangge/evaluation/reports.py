"""The monthly evaluation report as Excel (native charts) and PDF (charts drawn server-side)."""

from __future__ import annotations

import io
from typing import Any

from wangge.common.spreadsheet import safe_cell
from wangge.evaluation.facts import OPEN_COUNTS
from wangge.evaluation.glossary import name, table
from wangge.evaluation.indicators import OBJECT_ZH

SHEET_ORDER = ("department", "street", "community", "grid", "grid_worker", "supervisor",
               "acceptor", "shift_leader", "dispatcher")  # fmt: skip
FONT = "STSong-Light"


# the counts of clocks open past their deadline at the period's end, shown beside the rates
OPEN_KEYS = tuple(dict.fromkeys(k for names in OPEN_COUNTS.values() for k in names))


def _columns(rows: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    counts: list[str] = []
    rates: list[str] = []
    for r in rows:
        counts += [k for k in r["counts"] if k not in counts]
        rates += [k for k in r["rates"] if k not in rates]
    shown = [k for k in OPEN_KEYS if k in counts]
    return shown + [k for k in counts if k not in shown], rates


def _fmt(v: Any) -> Any:
    return "无数据" if v is None else v


def _grade_summary(result: dict[str, Any]) -> list[tuple[str, int, float | None, list[int]]]:
    """Per object type: its name, how many, the mean score (None: none scored), A-E and none."""
    out: list[tuple[str, int, float | None, list[int]]] = []
    for object_type in SHEET_ORDER:
        rows = result["objects"].get(object_type, [])
        scores = [r["score"] for r in rows if r["score"] is not None]
        grades = [r["grade"] for r in rows]
        mean = sum(scores) / len(scores) if scores else None
        counts = [*(grades.count(g) for g in "ABCDE"), grades.count(None)]
        out.append((OBJECT_ZH[object_type], len(rows), mean, counts))
    return out


_SUMMARY_HEAD = ["评价对象", "数量", "平均综合指标值", "A", "B", "C", "D", "E", "无数据"]


def _object_sheet(wb: Any, object_type: str, rows: list[dict[str, Any]]) -> None:
    """One object type's sheet: its ranked rows and a bar chart of the scores."""
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Font

    ws = wb.create_sheet(OBJECT_ZH[object_type])
    counts, rates = _columns(rows)
    header = ["排名", "编码", "名称", "综合指标值", "评价等级", "环比变化", "同比变化"]
    header += [name(k) for k in rates + counts]  # the glossary's names
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in rows:
        # Names and codes come from the database (people, departments): never formulas.
        ws.append([safe_cell(v) for v in (
            [_fmt(r.get("rank")), r["key"], r.get("name", r["key"]), _fmt(r["score"]),
             _fmt(r["grade"]), _fmt(r.get("change_previous")),
             _fmt(r.get("change_last_year"))]
            + [_fmt(r["rates"].get(k)) for k in rates]
            + [r["counts"].get(k, 0) for k in counts]
        )])  # fmt: skip
    ws.column_dimensions["C"].width = 24
    scored = sum(1 for r in rows if r["score"] is not None)
    if scored:
        chart = BarChart()
        chart.title = f"{OBJECT_ZH[object_type]}综合指标值"
        chart.y_axis.title = "分"
        n = min(scored, 30)
        chart.add_data(Reference(ws, min_col=4, min_row=1, max_row=n + 1), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=3, min_row=2, max_row=n + 1))
        chart.width, chart.height = 24, 10
        ws.add_chart(chart, f"A{len(rows) + 4}")


def monthly_xlsx(result: dict[str, Any]) -> bytes:
    """Return the workbook: a summary sheet, then one sheet per object type with a bar chart."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.worksheet.worksheet import Worksheet

    wb = Workbook()
    summary = wb.active
    assert isinstance(summary, Worksheet)  # a new workbook opens on one plain worksheet
    summary.title = "概览"
    label = result["period"]["label"]
    summary.append([f"综合评价报告 {label}"])
    summary["A1"].font = Font(bold=True, size=14)
    summary.append(list(_SUMMARY_HEAD))
    for zh, n, mean, grades in _grade_summary(result):
        summary.append([zh, n, round(mean, 2) if mean is not None else "无数据", *grades])
    for object_type in SHEET_ORDER:
        _object_sheet(wb, object_type, result["objects"].get(object_type, []))
    terms = wb.create_sheet("指标说明")  # the glossary: each name beside its formula
    terms.append(["指标", "计算公式", "方向"])
    for term in table("zh"):
        terms.append([term["name"], term["formula"], term["direction"]])
    terms.column_dimensions["A"].width = 18
    terms.column_dimensions["B"].width = 90
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _styles() -> Any:
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("t", parent=base["Title"], fontName=FONT, fontSize=18),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], fontName=FONT),
        "body": ParagraphStyle("b", parent=base["BodyText"], fontName=FONT, fontSize=9, leading=13),
    }


def _table(data: list[list[Any]], widths: list[float] | None = None) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    # flowables (a wrapped Paragraph) stay as they are; everything else is printed as text
    cells = [[c if hasattr(c, "wrap") else ("" if c is None else str(c)) for c in row]
             for row in data]  # fmt: skip
    t = Table(cells, colWidths=widths, repeatRows=1)
    t.setStyle(
        TableStyle([
            ("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 8),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde6f0")),
            ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
        ])
    )  # fmt: skip
    return t


def bar_chart(labels: list[str], values: list[float], title: str) -> Any:
    """Return a reportlab Drawing with a bar chart (Chinese labels in the CID font)."""
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.shapes import Drawing, String

    d = Drawing(480, 200)
    c = VerticalBarChart()
    c.x, c.y, c.width, c.height = 40, 40, 420, 130
    c.data = [values or [0]]
    c.valueAxis.valueMin, c.valueAxis.valueMax = 0, 100
    c.categoryAxis.categoryNames = labels or [""]
    c.categoryAxis.labels.fontName = FONT
    c.categoryAxis.labels.fontSize = 6
    c.categoryAxis.labels.angle = 30
    c.categoryAxis.labels.boxAnchor = "ne"
    c.valueAxis.labels.fontSize = 7
    d.add(c)
    d.add(String(240, 185, title, fontName=FONT, fontSize=10, textAnchor="middle"))
    return d


def line_chart(labels: list[str], series: list[list[float]], title: str) -> Any:
    """Return a reportlab Drawing with a line chart."""
    from reportlab.graphics.charts.linecharts import HorizontalLineChart
    from reportlab.graphics.shapes import Drawing, String

    d = Drawing(480, 200)
    c = HorizontalLineChart()
    c.x, c.y, c.width, c.height = 40, 40, 420, 130
    c.data = [s or [0] for s in series] or [[0]]
    c.categoryAxis.categoryNames = labels or [""]
    c.categoryAxis.labels.fontSize = 6
    c.categoryAxis.labels.angle = 30
    c.categoryAxis.labels.boxAnchor = "ne"
    c.valueAxis.valueMin = 0
    d.add(c)
    d.add(String(240, 185, title, fontName=FONT, fontSize=10, textAnchor="middle"))
    return d


def _object_pages(object_type: str, rows: list[dict[str, Any]], st: Any) -> list[Any]:
    """One object type's pages of the PDF: its scores' bar chart and its ranked table."""
    from reportlab.platypus import PageBreak, Paragraph

    story: list[Any] = [PageBreak(), Paragraph(f"{OBJECT_ZH[object_type]}评价", st["h2"])]
    scored = [r for r in rows if r["score"] is not None][:20]
    if scored:
        story.append(
            bar_chart([str(r.get("name", r["key"]))[:10] for r in scored],
                      [r["score"] for r in scored], f"{OBJECT_ZH[object_type]}综合指标值")
        )  # fmt: skip
    rate_keys = list(rows[0]["rates"])
    open_keys = [k for k in OPEN_KEYS if any(k in r["counts"] for r in rows)]
    data = [["排名", "名称", "综合指标值", "等级", "环比",
             *[name(k) for k in rate_keys + open_keys]]]  # fmt: skip
    for r in rows[:60]:
        data.append(
            [r.get("rank") or "-", str(r.get("name", r["key"]))[:24],
             _fmt(r["score"]), _fmt(r["grade"]), _fmt(r.get("change_previous")),
             *[_fmt(r["rates"].get(k)) for k in rate_keys],
             *[r["counts"].get(k, 0) for k in open_keys]]
        )  # fmt: skip
    story.append(_table(data))
    return story


def monthly_pdf(result: dict[str, Any], trend: list[dict[str, Any]] | None = None) -> bytes:
    """Return the PDF report: summary, a chart and a ranked table per object type, in Chinese."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

    st = _styles()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm,
                            title=f"综合评价报告 {result['period']['label']}")  # fmt: skip
    story: list[Any] = [
        Paragraph(f"综合评价报告（{result['period']['label']}）", st["title"]),
        Paragraph(
            f"评价期间：{result['period']['first']} 至 {result['period']['last']}。"
            "各项比率按 CJ/T 292 / GB/T 30428 的口径由案卷事件重新计算；分母为零记为“无数据”。"
            "按期与否以案卷当时显示的期限（工作日历）为准；期末仍超期的处置计为超期未处置，"
            "并计入处置率、按期处置率的分母（结转超期未处置数），期末仍超期未结案的案卷计为超期未结案。"
            "等级：A ≥ 90，B ≥ 75，C ≥ 60，D ≥ 40，E < 40。区域综合指标中按期结案率权重 40% 为推定值。",
            st["body"],
        ),
        Spacer(1, 6),
    ]
    head: list[list[Any]] = [list(_SUMMARY_HEAD)]
    for zh, n, mean, grades in _grade_summary(result):
        head.append([zh, n, f"{mean:.2f}" if mean is not None else "无数据", *grades])
    story.append(_table(head))
    if trend:
        story += [
            Spacer(1, 8),
            line_chart([t["label"][5:] for t in trend], [[t["reported"] for t in trend]],
                       "案件量趋势（上报数）"),
            line_chart([t["label"][5:] for t in trend],
                       [[t["close_on_time_rate"] or 0 for t in trend]], "按期结案率趋势（%）"),
        ]  # fmt: skip
    for object_type in SHEET_ORDER:
        rows = result["objects"].get(object_type, [])
        if rows:
            story += _object_pages(object_type, rows, st)
    story += [PageBreak(), Paragraph("指标说明", st["h2"])]
    story.append(_table([["指标", "计算公式", "方向"]]
                        + [[g["name"], Paragraph(g["formula"], st["body"]), g["direction"]]
                           for g in table("zh")], widths=[90, 520, 60]))  # fmt: skip
    doc.build(story)
    return buf.getvalue()
