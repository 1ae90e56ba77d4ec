"""Publishing a county's evaluation of a period: a frozen snapshot, versioned and audited.

What is published is what the console shows the county (the same `service.compare` and
`analysis.unit_credit`), copied into `evaluation_publications.data` at the moment of
publishing. Later changes to cases, names or limits never touch it; a correction is a new
version with a reason (audited), and the earlier versions stay readable.

Only what the county chose is copied: the object types' rankings (people only when chosen,
and then their names and figures only, never an id, a phone or a post) and, if chosen, the
unit credit list without its case ids. Every publication also freezes the county's headline
figures and those of each public category (`statistics`: counts and rates, no names), which
Open311 `/statistics` serves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wangge.audit.service import record_for
from wangge.auth.principal import Principal
from wangge.divisions.models import Division
from wangge.errors import Conflict, Forbidden, NotFound, ValidationFailed
from wangge.evaluation import analysis, service, statistics
from wangge.evaluation.facts import OPEN_COUNTS
from wangge.evaluation.indicators import OBJECT_FORMULA
from wangge.evaluation.periods import Period, parse_period
from wangge.evaluation.publication_models import EvaluationPublication

PERIOD_KINDS = ("month", "quarter", "year")
# Object types in the order pages list them; people last (published only when chosen).
ORDER = ("street", "community", "grid", "department", "grid_worker", "supervisor", "acceptor",
         "shift_leader", "dispatcher")  # fmt: skip
PEOPLE = ("grid_worker", "supervisor", "acceptor", "shift_leader", "dispatcher")
CREDIT_FIELDS = ("name", "address", "credit_code", "cases", "open", "score", "grade")


def parse(label: str) -> Period:
    """Parse a month, quarter or year label; refuse anything else with a clear message."""
    try:
        period = parse_period(label)
    except ValueError:
        period = None
    if period is None or period.kind not in PERIOD_KINDS:
        raise ValidationFailed(
            f"期间格式有误：{label}（应为 2026-11、2026-Q4 或 2026）",
            f"field period: {label!r} is not a month, quarter or year (2026-11, 2026-Q4, 2026)",
            field="period",
        )
    return period


def county_name(session: Session, county: str) -> str | None:
    """Return the county's name, or None when no such county exists."""
    return session.scalar(
        select(Division.name).where(Division.code == county, Division.level == "county")
    )


def _snapshot_row(object_type: str, row: dict[str, Any]) -> dict[str, Any]:
    out = {
        "rank": row.get("rank"), "name": row.get("name"), "score": row["score"],
        "grade": row["grade"], "change_previous": row.get("change_previous"),
        "rates": dict(row["rates"]),
        "open": {k: row["counts"].get(k, 0) for k in OPEN_COUNTS.get(
            "supervisor" if object_type in PEOPLE else object_type, ()) if k in row["counts"]},
    }  # fmt: skip
    if object_type not in PEOPLE:  # area and department codes are public; people's ids are not
        out["key"] = row["key"]
    return out


def snapshot(
    session: Session,
    period: Period,
    county: str,
    *,
    now: datetime,
    object_types: list[str],
    credit: bool,
) -> dict[str, Any]:
    """Return what a publication freezes: the chosen rankings and the credit list."""
    result = service.compare(session, period, county=county, as_of=now)
    rankings = {
        t: [_snapshot_row(t, r) for r in result["objects"].get(t, [])] for t in object_types
    }
    units = None
    if credit:
        units = [
            {k: u.get(k) for k in CREDIT_FIELDS}
            for u in analysis.unit_credit(session, period, county=county)
        ]
    return {
        "period": result["period"],
        "previous": result["previous"],
        "rankings": rankings,
        "credit": units,
        # the county's and each public category's headline figures, for Open311 /statistics
        "statistics": statistics.compute(session, period, county),
    }


def _check_types(object_types: list[str]) -> list[str]:
    unknown = [t for t in object_types if t not in OBJECT_FORMULA]
    if unknown:
        raise ValidationFailed(
            f"未知的评价对象：{'、'.join(unknown)}",
            f"field object_types: unknown {unknown}; one of {list(ORDER)}",
            field="object_types",
        )
    return [t for t in ORDER if t in object_types]


def _check_county(session: Session, principal: Principal, county: str) -> None:
    """Refuse an unknown county, or one not wholly in the principal's scope."""
    if county_name(session, county) is None:
        raise NotFound(f"区县 {county} 不存在", f"no county {county}", field="county")
    if not principal.contains(county):
        raise Forbidden(
            f"只能发布本人所辖整个区县的评价（{county}）",
            f"you may publish only for a whole county in your scope ({county})",
        )


def _ended_period(period_label: str, now: datetime) -> Period:
    """Parse a period that has ended: only a closed period is published."""
    period = parse(period_label)
    if period.end > now:
        raise ValidationFailed(
            f"期间 {period.label} 尚未结束，结束后才能发布",
            f"period {period.label} has not ended yet; publish it once it has",
            code="period_open", field="period",
        )  # fmt: skip
    return period


def _latest_and_reason(
    session: Session, county: str, period: Period, reason: str | None
) -> tuple[int | None, str | None]:
    """Return the latest published version and the cleaned reason a correction must give."""
    latest = session.scalar(
        select(func.max(EvaluationPublication.version)).where(
            EvaluationPublication.county_code == county,
            EvaluationPublication.period == period.label,
        )
    )
    reason = (reason or "").strip() or None
    if latest is not None and (reason is None or len(reason) < 2):
        raise ValidationFailed(
            f"{period.label} 已发布第 {latest} 版；更正须说明理由",
            f"{period.label} is already published (version {latest}); a correction needs a reason",
            code="reason_required", field="reason",
        )  # fmt: skip
    if reason is not None and len(reason) > 500:
        raise ValidationFailed("理由不能超过 500 字", "field reason: at most 500 characters",
                               field="reason")  # fmt: skip
    return latest, reason


def _add_version(session: Session, row: EvaluationPublication, period: Period) -> None:
    """Add the new version; Conflict if another admin published it a moment ago."""
    savepoint = session.begin_nested()
    try:
        session.add(row)
        savepoint.commit()
    except IntegrityError:  # another admin published this version a moment ago
        savepoint.rollback()
        raise Conflict(
            f"{period.label} 刚刚由他人发布了新版本，请刷新后再试",
            f"someone else just published {period.label}; reload and try again",
            code="version_conflict",
        ) from None


def publish(
    session: Session,
    principal: Principal,
    *,
    county: str,
    period_label: str,
    object_types: list[str],
    credit: bool,
    reason: str | None,
    now: datetime,
) -> EvaluationPublication:
    """Publish (or correct) a county's evaluation of a closed period; return the new version."""
    principal.require("evaluation.publish")
    _check_county(session, principal, county)
    period = _ended_period(period_label, now)
    types = _check_types(object_types)
    if not types and not credit:
        raise ValidationFailed(
            "请至少选择一类排名或单位信用名单",
            "choose at least one ranking or the unit credit list",
            field="object_types",
        )
    latest, reason = _latest_and_reason(session, county, period, reason)
    data = snapshot(session, period, county, now=now, object_types=types, credit=credit)
    row = EvaluationPublication(
        county_code=county, period=period.label, period_kind=period.kind,
        version=(latest or 0) + 1, object_types=types, include_credit=credit, data=data,
        reason=reason, published_at=now, published_by=principal.name,
        published_by_id=principal.user_id,
    )  # fmt: skip
    _add_version(session, row, period)
    record_for(
        session, principal, "evaluation.republish" if latest else "evaluation.publish",
        object_type="evaluation_publication", object_id=row.id, county_code=county,
        reason=reason,
        detail={"period": period.label, "version": row.version, "object_types": types,
                "credit": credit, "replaces_version": latest},
    )  # fmt: skip
    return row


def listing(session: Session, county: str, period: str | None = None) -> list[Any]:
    """Return a county's publications, newest period and version first."""
    q = select(EvaluationPublication).where(EvaluationPublication.county_code == county)
    if period:
        q = q.where(EvaluationPublication.period == period)
    return list(
        session.scalars(
            q.order_by(
                EvaluationPublication.published_at.desc(), EvaluationPublication.version.desc()
            )
        )
    )


def summary(row: EvaluationPublication) -> dict[str, Any]:
    """Return a publication without its figures (lists, audit views)."""
    return {
        "id": row.id, "county": row.county_code, "period": row.period,
        "period_kind": row.period_kind, "version": row.version,
        "object_types": list(row.object_types), "credit": row.include_credit,
        "reason": row.reason, "published_at": row.published_at.isoformat(),
    }  # fmt: skip


def public_view(session: Session, county: str, period: str | None = None,
                version: int | None = None) -> dict[str, Any]:  # fmt: skip
    """Return what the public page shows: one version (default the newest of the newest
    period published) with its figures, the versions of that period and the periods."""
    name = county_name(session, county)
    if name is None:
        raise NotFound(f"区县 {county} 不存在", f"no county {county}")
    rows = listing(session, county)
    periods = list(dict.fromkeys(r.period for r in rows))
    chosen = period or (periods[0] if periods else None)
    versions = [r for r in rows if r.period == chosen]
    if period is not None and not versions:
        raise NotFound(
            f"{county} 未发布 {period} 的评价", f"{period} is not published for {county}"
        )
    shown = versions[0] if versions else None
    if version is not None:
        shown = next((r for r in versions if r.version == version), None)
        if shown is None:
            raise NotFound(f"没有第 {version} 版", f"no version {version}")
    return {
        "county": county, "county_name": name, "periods": periods,
        "versions": [summary(r) for r in versions],
        "publication": None if shown is None else summary(shown) | {"data": shown.data},
    }  # fmt: skip
