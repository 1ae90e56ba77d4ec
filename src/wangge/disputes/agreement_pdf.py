"""The 人民调解协议书 of a dispute as a PDF, generated from its record (reportlab, CJK font).

The same font and table style as the evaluation reports and case files (`evaluation.reports`).
Parties are masked unless the caller revealed them (`personal.unmask`, with a reason, audited).
"""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from wangge.common.localtime import local_time
from wangge.evaluation.reports import _styles, _table

OUTCOMES_ZH = {"settled": "调解成功", "failed": "调解失败", "transferred": "转交"}


def _facts(d: dict[str, Any], st: Any) -> list[Any]:
    """The parties, the basic facts, the matter in dispute and the mediation sessions."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph

    parties = [["当事人", "联系电话", "身份证号"]]
    parties += [[p["name"], p["phone"] or "—", p["id_number"] or "—"] for p in d["parties"]]
    story: list[Any] = [
        Paragraph("当事人", st["h2"]),
        _table(parties, [45 * mm, 45 * mm, 70 * mm]),
    ]
    info = [
        ["项目", "内容"],
        ["纠纷类型", d["kind_zh"]],
        ["登记时间", local_time(d["registered_at"]) or "—"],
        ["发生地点", d["address"] or f"{d['lon']:.6f}, {d['lat']:.6f}"],
        ["所在网格", d["grid_code"]],
        ["调解员", d["mediator"]],
    ]
    story += [Paragraph("基本情况", st["h2"]), _table(info, [35 * mm, 125 * mm])]
    story += [
        Paragraph("纠纷主要事实、争议事项", st["h2"]),
        Paragraph(escape(d["summary"]), st["body"]),
    ]
    if d["sessions"]:
        rows = [["日期", "地点", "调解记录"]]
        rows += [[str(s["held_on"]), s["place"], s["notes"][:60]] for s in d["sessions"]]
        story += [Paragraph("调解过程", st["h2"]), _table(rows, [25 * mm, 40 * mm, 95 * mm])]
    return story


def _agreement(d: dict[str, Any], st: Any, county_name: str | None) -> list[Any]:
    """What the parties agreed, how it is carried out, and the signature block."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    outcome = OUTCOMES_ZH.get(d["outcome"] or "", "尚无结果")
    story: list[Any] = [Paragraph("经调解，当事人自愿达成如下协议", st["h2"])]
    story.append(Paragraph(f"调解结果：{outcome}", st["body"]))
    story.append(Paragraph(escape(d["outcome_note"] or "（协议内容待填写）"), st["body"]))
    if d["transferred_to"]:
        story.append(Paragraph(escape(f"转交单位：{d['transferred_to']}"), st["body"]))
    story += [
        Paragraph("履行方式、时限", st["h2"]),
        Paragraph("当事人应按本协议约定履行。本协议一式三份，当事人各执一份，调解组织留存一份。", st["body"]),
        Spacer(1, 16),
    ]  # fmt: skip
    names = "、".join(p["name"] for p in d["parties"])
    signatures = [
        ["当事人（签名）", names],
        ["人民调解员（签名）", d["mediator"]],
        ["调解组织（盖章）", county_name or ""],
        ["日期", local_time(d["outcome_at"])[:10] if d["outcome_at"] else "    年  月  日"],
    ]
    story.append(_table(signatures, [45 * mm, 115 * mm]))
    return story


def agreement_pdf(d: dict[str, Any], *, county_name: str | None = None) -> bytes:
    """Return the agreement PDF of a dispute as read by `service.read` (masked or not)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    st = _styles()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm,
        bottomMargin=18 * mm, title=f"人民调解协议书 {d['id']}",
    )  # fmt: skip
    number = f"{d['grid_code']}-{d['id']:05d}"
    story: list[Any] = [
        Paragraph("人民调解协议书", st["title"]),
        Paragraph(f"编号：{number}", st["body"]),
        Spacer(1, 6),
    ]
    story += _facts(d, st)
    story += _agreement(d, st, county_name)
    story += [
        Spacer(1, 8),
        Paragraph("本协议书由 wangge 根据纠纷登记和调解记录生成；当事人信息"
                  + ("已完整显示（已记录查看理由）。" if not d["masked"] else "已脱敏，签署时请手工填写。"),
                  st["body"]),
    ]  # fmt: skip
    doc.build(story)
    return buf.getvalue()
