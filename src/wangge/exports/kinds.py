"""What can be exported in the background: the case list, each registry list, the audit log.

Each kind says which permission it needs, how many rows its filter gives (for the percent),
how it fills the sheet (calling `progress(rows)` as it goes) and what it writes to the audit
log — the same row functions and audit entries as the direct exports (`cases.export`,
`registry.excel`), so a file made in the background is the file the request would have made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

# Imported here, not in the functions: the worker thread must not import (and compile)
# modules while the main thread does (CPython 3.11's compiler state is not thread-safe).
from wangge.audit import listing
from wangge.audit.listing import AuditFilter
from wangge.audit.service import record_for
from wangge.auth.principal import Principal
from wangge.cases import export as cases_export
from wangge.cases.queries import CaseFilter, search
from wangge.registry import excel
from wangge.registry.sheets import sheet_for

Progress = Callable[[int], None]


def case_filter_json(f: CaseFilter) -> dict[str, Any]:
    out = asdict(f)
    for key in ("since", "until"):
        out[key] = out[key].isoformat() if out[key] else None
    return out


def case_filter_from(data: dict[str, Any]) -> CaseFilter:
    values = dict(data)
    for key in ("since", "until"):
        values[key] = datetime.fromisoformat(values[key]) if values.get(key) else None
    if values.get("grids") is not None:
        values["grids"] = tuple(tuple(pair) for pair in values["grids"])
    return CaseFilter(**values)


@dataclass(frozen=True)
class ExportKind:
    """How one kind of list is exported."""

    permission: str
    title: Callable[[dict[str, Any]], tuple[str, str]]
    file_name: Callable[[dict[str, Any], str], str]  # (params, lang) -> name
    count: Callable[[Session, Principal, dict[str, Any]], int]
    fill: Callable[[Session, Principal, dict[str, Any], Any, Progress], int]
    audit: Callable[[Session, Principal, dict[str, Any], int, dict[str, Any]], None]


# --- the case list -----------------------------------------------------------------------


def _case_count(session: Session, principal: Principal, p: dict[str, Any]) -> int:
    now = datetime.fromisoformat(p["now"])
    total, _ = search(
        session, principal, case_filter_from(p["filter"]), now=now, limit=1, sort=p["sort"]
    )
    return total


def _case_fill(
    session: Session, principal: Principal, p: dict[str, Any], ws: Any, progress: Progress
) -> int:
    return cases_export.fill_sheet(
        session, principal, case_filter_from(p["filter"]), ws,
        now=datetime.fromisoformat(p["now"]), sort=p["sort"], lang=p["lang"],
        unmask=p["unmask"], progress=progress,
    )  # fmt: skip


def _case_audit(
    session: Session, principal: Principal, p: dict[str, Any], rows: int, extra: dict[str, Any]
) -> None:
    cases_export.audit_export(
        session, principal, case_filter_from(p["filter"]), rows, sort=p["sort"],
        unmask=p["unmask"], reason=p.get("reason"), extra=extra,
    )  # fmt: skip


CASES = ExportKind(
    permission="cases.read",
    title=lambda p: ("导出案卷列表", "export of the case list"),
    file_name=lambda p, lang: "cases" if lang == "en" else "案卷",
    count=_case_count,
    fill=_case_fill,
    audit=_case_audit,
)


# --- the registry lists ------------------------------------------------------------------


def _sheet(p: dict[str, Any]) -> Any:
    return sheet_for(p["sheet"])


def _registry_count(session: Session, principal: Principal, p: dict[str, Any]) -> int:
    q = _sheet(p).query(principal, **p["filters"]).order_by(None)
    return int(session.scalar(select(func.count()).select_from(q.subquery())) or 0)


def _registry_fill(
    session: Session, principal: Principal, p: dict[str, Any], ws: Any, progress: Progress
) -> int:
    return excel.fill_export(
        session, principal, _sheet(p), ws, unmask=p["unmask"], every=500, progress=progress,
        **p["filters"],
    )  # fmt: skip


def _registry_audit(
    session: Session, principal: Principal, p: dict[str, Any], rows: int, extra: dict[str, Any]
) -> None:
    excel.audit_export(
        session, principal, _sheet(p), rows, unmask=p["unmask"], reason=p.get("reason"),
        extra=extra, **p["filters"],
    )  # fmt: skip


REGISTRY = ExportKind(
    permission="registry.read",
    title=lambda p: (f"导出{_sheet(p).title}", f"export of {p['sheet']}"),
    file_name=lambda p, lang: p["sheet"] if lang == "en" else _sheet(p).title,
    count=_registry_count,
    fill=_registry_fill,
    audit=_registry_audit,
)


# --- the audit log -----------------------------------------------------------------------


def _audit_count(session: Session, principal: Principal, p: dict[str, Any]) -> int:
    return listing.count_entries(session, principal, AuditFilter.from_json(p["filter"]))


def _audit_fill(
    session: Session, principal: Principal, p: dict[str, Any], ws: Any, progress: Progress
) -> int:
    f = AuditFilter.from_json(p["filter"])
    return listing.fill_sheet(
        session, principal, f, ws, lang=p["lang"], every=1000, progress=progress
    )


def _audit_audit(
    session: Session, principal: Principal, p: dict[str, Any], rows: int, extra: dict[str, Any]
) -> None:
    f = AuditFilter.from_json(p["filter"])
    record_for(
        session, principal, "audit.export", object_type="audit_log",
        detail={"rows": rows, "filters": f.given(), **extra},
    )  # fmt: skip


AUDIT = ExportKind(
    permission="audit.read",
    title=lambda p: ("导出审计日志", "export of the audit log"),
    file_name=lambda p, lang: "audit-log" if lang == "en" else "审计日志",
    count=_audit_count,
    fill=_audit_fill,
    audit=_audit_audit,
)

KINDS: dict[str, ExportKind] = {"cases": CASES, "registry": REGISTRY, "audit": AUDIT}
