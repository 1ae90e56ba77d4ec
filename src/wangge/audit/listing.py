"""The audit log as auditors read it: filters, pages (newest first), seal status, unmasking.

One filter (`AuditFilter`, read from the query by `audit_filter`) serves the console page,
its Excel export (a background job) and the count, so the page's address is the export's.
A scoped administrator reads only the acts of the accounts of his area
(`auth.admin.visible_user_ids`), as the API's `GET /auth/audit` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, TypeVarTuple

import orjson
from fastapi import Query
from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from wangge.audit.models import AuditEntry
from wangge.auth.principal import Principal
from wangge.cases.filters import form_day
from wangge.common.localtime import SHANGHAI, local_time
from wangge.common.spreadsheet import safe_cell
from wangge.errors import ValidationFailed

READ = "audit.read"
UNMASK_ACTION = "personal.unmask"
# (key, Chinese header, English header) of the exported sheet.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("id", "序号", "Id"),
    ("at", "时间", "Time"),
    ("actor", "操作人", "Actor"),
    ("action", "操作", "Action"),
    ("object_type", "对象类型", "Object type"),
    ("object_id", "对象编号", "Object id"),
    ("county_code", "区县", "County"),
    ("reason", "理由", "Reason"),
    ("sealed", "封存", "Sealed"),
    ("detail", "详情", "Detail"),
)


@dataclass(frozen=True)
class AuditFilter:
    """What the auditor asked for; every field optional, all combined."""

    actor: str | None = None
    action: str | None = None  # exact, or a family with a trailing '*' (registry.*)
    object_type: str | None = None
    object_id: str | None = None
    date_from: date | None = None  # Beijing dates, both included
    date_to: date | None = None
    unmask_only: bool = False  # personal data read in full (with reasons)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("date_from", "date_to"):
            out[key] = out[key].isoformat() if out[key] else None
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditFilter:
        days = {k: date.fromisoformat(data[k]) if data.get(k) else None
                for k in ("date_from", "date_to")}  # fmt: skip
        return cls(**{**data, **days})

    def given(self) -> dict[str, Any]:
        """The filters set, for the audit entry of a read or an export."""
        return {k: v for k, v in self.to_json().items() if v not in (None, False, "")}


def _text(value: str | None, name: str, limit: int = 64) -> str | None:
    value = (value or "").strip()
    if len(value) > limit:
        raise ValidationFailed(
            f"{name} 不能超过 {limit} 个字符", f"{name} must be at most {limit} characters",
            field=name,
        )  # fmt: skip
    return value or None


def audit_filter(
    actor: Annotated[str | None, Query(description="操作人（用户名）")] = None,
    action: Annotated[
        str | None, Query(description="操作，如 case.export；registry.* 为一类")
    ] = None,
    object_type: Annotated[str | None, Query(description="对象类型")] = None,
    object_id: Annotated[str | None, Query(description="对象编号")] = None,
    date_from: Annotated[
        str | None, Query(alias="from", description="起 YYYY-MM-DD（北京时间）")
    ] = None,
    date_to: Annotated[
        str | None, Query(alias="to", description="止 YYYY-MM-DD（北京时间，含）")
    ] = None,
    unmask: Annotated[bool, Query(description="只看查看完整个人信息的记录")] = False,
) -> AuditFilter:
    """Read the audit list's filters from the query (empty fields mean no filter)."""
    first, last = form_day(date_from, "from"), form_day(date_to, "to")
    if first and last and first > last:
        raise ValidationFailed(
            f"起始日期 {first} 晚于截止日期 {last}", f"from {first} is after to {last}",
            code="invalid_period", field="from",
        )  # fmt: skip
    return AuditFilter(
        actor=_text(actor, "actor"),
        action=_text(action, "action"),
        object_type=_text(object_type, "object_type"),
        object_id=_text(object_id, "object_id"),
        date_from=first,
        date_to=last,
        unmask_only=unmask,
    )


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), SHANGHAI)


def unmasking() -> ColumnElement[bool]:
    """Entries where personal data was read in full: reveals, and exports with full values."""
    return or_(
        AuditEntry.action == UNMASK_ACTION,
        and_(AuditEntry.action.like("%.export"), AuditEntry.reason.is_not(None)),
    )


_Ts = TypeVarTuple("_Ts")


def _where(q: Select[*_Ts], f: AuditFilter, visible_ids: set[int] | None) -> Select[*_Ts]:
    if visible_ids is not None:
        q = q.where(AuditEntry.actor_id.in_(visible_ids))
    if f.actor:
        q = q.where(AuditEntry.actor == f.actor)
    if f.action and f.action.endswith("*"):
        q = q.where(AuditEntry.action.startswith(f.action[:-1], autoescape=True))
    elif f.action:
        q = q.where(AuditEntry.action == f.action)
    if f.object_type:
        q = q.where(AuditEntry.object_type == f.object_type)
    if f.object_id:
        q = q.where(AuditEntry.object_id == f.object_id)
    if f.date_from:
        q = q.where(AuditEntry.at >= _start(f.date_from))
    if f.date_to:
        q = q.where(AuditEntry.at < _start(f.date_to + timedelta(days=1)))
    if f.unmask_only:
        q = q.where(unmasking())
    return q


# Without a period, the action suggestions come from this many recent days: the log grows by
# millions of rows a month, and a DISTINCT over all of it would read every month's partition.
SUGGEST_DAYS = 90


def actions_seen(session: Session, f: AuditFilter, today: date) -> list[str]:
    """The actions logged in the filter's period (or the last `SUGGEST_DAYS` days), sorted."""
    first = f.date_from or today - timedelta(days=SUGGEST_DAYS)
    q = select(AuditEntry.action).distinct().where(AuditEntry.at >= _start(first))
    if f.date_to:
        q = q.where(AuditEntry.at < _start(f.date_to + timedelta(days=1)))
    return list(session.scalars(q.order_by(AuditEntry.action)))


def visible_ids(session: Session, principal: Principal) -> set[int] | None:
    """The accounts whose acts the reader may see (None: all); checks the permission."""
    from wangge.auth.admin import visible_user_ids

    principal.require(READ)
    return visible_user_ids(session, principal)


def count_entries(session: Session, principal: Principal, f: AuditFilter) -> int:
    ids = visible_ids(session, principal)
    return int(session.scalar(_where(select(func.count(AuditEntry.id)), f, ids)) or 0)


def page(
    session: Session, principal: Principal, f: AuditFilter, *, limit: int, offset: int = 0
) -> list[AuditEntry]:
    """One page of the filtered log, newest first."""
    ids = visible_ids(session, principal)
    q = _where(select(AuditEntry), f, ids).order_by(AuditEntry.id.desc())
    return list(session.scalars(q.limit(limit).offset(offset)))


def entries(session: Session, principal: Principal, f: AuditFilter) -> Iterator[AuditEntry]:
    """Every entry of the filter, newest first, streamed."""
    ids = visible_ids(session, principal)
    q = _where(select(AuditEntry), f, ids).order_by(AuditEntry.id.desc())
    yield from session.scalars(q.execution_options(yield_per=2000))


def row(entry: AuditEntry, lang: str = "zh") -> dict[str, Any]:
    """One entry as shown in the page and the sheet (the log itself is already scrubbed)."""
    sealed = entry.chain_pos is not None
    return {
        "id": entry.id,
        "at": local_time(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "object_type": entry.object_type or "",
        "object_id": entry.object_id or "",
        "county_code": entry.county_code or "",
        "reason": entry.reason or "",
        "sealed": ("sealed" if lang == "en" else "已封存")
        if sealed
        else ("waiting" if lang == "en" else "待封存"),
        "detail": orjson.dumps(entry.detail, option=orjson.OPT_SORT_KEYS).decode()
        if entry.detail
        else "",
    }


def fill_sheet(
    session: Session,
    principal: Principal,
    f: AuditFilter,
    ws: Any,
    *,
    lang: str = "zh",
    every: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Append the header and the filtered entries to `ws`; call `progress(rows)` as it goes."""
    en = lang == "en"
    ws.append([c[2] if en else c[1] for c in COLUMNS])
    count = 0
    for entry in entries(session, principal, f):
        values = row(entry, lang)
        ws.append([safe_cell(values[key]) for key, _, _ in COLUMNS])
        count += 1
        if progress is not None and count % every == 0:
            progress(count)
    return count
