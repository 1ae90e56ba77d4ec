"""The formal case file (案卷) of one case as PDF: particulars, timeline, deadlines, photos."""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.cases.labels import label
from wangge.cases.models import Case, CaseEvent, CasePart, Category, events_of
from wangge.common.localtime import local_time
from wangge.evaluation.reports import FONT, _styles, _table


def _t(at: Any) -> str:
    return local_time(at) or "—"


def _zh(kind: str, value: str | None) -> str:
    return label(kind, value) or "—"


def _photo(storage: Any, session: Session, ref: str) -> bytes | None:
    """Return the public copy of an uploaded photo, if `ref` names an upload we hold."""
    if storage is None:
        return None
    from wangge.uploads.models import Upload

    upload_id = ref.rsplit("/", 1)[-1].split(".")[0].removeprefix("upload:")
    row = session.get(Upload, upload_id)
    if row is None:
        return None
    try:
        return storage.get(row.public_key)  # type: ignore[no-any-return]
    except Exception:  # a missing file leaves the reference listed, without the picture
        return None


def _info_rows(case: Case, category: Category | None) -> list[list[Any]]:
    """The basic facts of the case, one row each."""
    return [
        ["项目", "内容"],
        ["问题类别", f"{case.category_code} {category.name if category else ''}"],
        ["大类", category.major_name if category else "—"],
        ["问题来源", label("source", case.source)],
        ["问题描述", case.description[:80]],
        ["地址", case.address or "—"],
        ["位置", f"{case.lon:.6f}, {case.lat:.6f}"],
        ["社区", case.community_code or "—"],
        ["部件编码", case.component_code or "—"],
        ["上报时间", _t(case.reported_at)],
        ["当前状态", _zh("state", case.state)],
        ["结案时间", _t(case.closed_at)],
        ["满意度", _zh("satisfaction", case.rating)],
        ["当前阶段时限", _t(case.deadline)],
    ]


def _part_rows(parts: list[CasePart]) -> list[list[Any]]:
    """Each handling department: lead or assisting, state, deadline, extension, rework."""
    rows: list[list[Any]] = [
        ["处置部门", "主办/协办", "状态", "处置时限", "延期（小时）", "返工次数", "反馈时间"]
    ]
    for p in parts:
        rows.append([p.department_code, "主办" if p.lead else "协办",
                     _zh("state", p.state), _t(p.deadline),
                     f"{p.extension_hours:g}", p.rework_count, _t(p.fed_back_at)])  # fmt: skip
    return rows


def _timeline_rows(events: list[CaseEvent]) -> list[list[Any]]:
    """Each event: when, which step, which post and person, the state change, the note."""
    timeline: list[list[Any]] = [["时间", "环节", "岗位", "人员", "部门", "状态变化", "说明"]]
    for e in events:
        timeline.append(
            [_t(e.at), _zh("action", e.action), _zh("role", e.role), e.actor_id,
             e.part or "", f"{_zh('state', e.from_state)}→"
             f"{_zh('state', e.to_state)}", (e.note or "")[:30]]
        )  # fmt: skip
    return timeline


def _photo_story(session: Session, refs: list[str], storage: Any, st: Any) -> list[Any]:
    """The photos section: each stored picture with its reference, or a note it is missing."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, Paragraph

    story: list[Any] = [Paragraph("照片", st["h2"])]
    for ref in refs:
        data = _photo(storage, session, ref)
        if data is not None:
            story.append(
                Image(io.BytesIO(data), width=80 * mm, height=60 * mm, kind="proportional")
            )
        story.append(Paragraph(f"照片：{ref}" + ("" if data else "（文件未存储）"), st["body"]))
    return story


def case_pdf(session: Session, case: Case, *, storage: Any = None) -> bytes:
    """Return the case file PDF: who did what and when, part deadlines, photos if stored."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    st = _styles()
    category = session.get(Category, case.category_code)
    events = list(
        session.scalars(
            select(CaseEvent).where(*events_of(case)).order_by(CaseEvent.at, CaseEvent.id)
        )
    )
    parts = list(session.scalars(select(CasePart).where(CasePart.case_id == case.id)))
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=15 * mm, bottomMargin=15 * mm, title=f"案卷 {case.code}")  # fmt: skip
    story: list[Any] = [Paragraph(f"案卷 {case.code or case.id}", st["title"])]
    story += [
        Paragraph("基本信息", st["h2"]),
        _table(_info_rows(case, category), [35 * mm, 140 * mm]),
    ]
    if parts:
        story += [Paragraph("处置部门与时限", st["h2"]), _table(_part_rows(parts))]
    story += [Paragraph("办理过程", st["h2"]), _table(_timeline_rows(events))]
    refs = list(case.photos or []) + [a for e in events for a in (e.attachments or [])]
    if refs:
        story += _photo_story(session, refs, storage, st)
    story += [
        Spacer(1, 8),
        Paragraph("本案卷由 wangge 根据不可更改的案卷事件记录生成。", st["body"]),
    ]
    doc.build(story)
    return buf.getvalue()


__all__ = ["FONT", "case_pdf"]
