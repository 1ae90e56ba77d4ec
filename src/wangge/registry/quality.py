"""Data quality: completeness (信息完整率) and freshness per grid/community/street; duplicates."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.common.models import utcnow
from wangge.errors import ValidationFailed
from wangge.grids.locating import grid_codes
from wangge.registry.access import visible
from wangge.registry.history import log_change, snapshot
from wangge.registry.models_common import DuplicateDecision
from wangge.registry.models_components import Component
from wangge.registry.models_houses import Building
from wangge.registry.models_organisations import Organisation
from wangge.registry.models_people import Person, PersonAddress

# The fields a complete record has, per kind (the basis of 信息完整率).
REQUIRED: dict[str, tuple[Any, tuple[str, ...]]] = {
    "people": (Person, ("name", "id_number", "phone", "address", "room_id", "household_id", "relation")),
    "buildings": (Building, ("name", "address", "geom", "floors", "purpose", "grid_id")),
    "components": (
        Component,
        ("name", "geom", "unit_grid_id", "competent_dept", "owner_dept", "maintenance_dept",
         "initial_date", "data_source"),
    ),
    "organisations": (
        Organisation,
        ("name", "credit_code", "legal_rep", "phone", "address", "industry", "employees",
         "contracts_signed", "insured"),
    ),
}  # fmt: skip
LEVELS = {"grid": None, "community": 12, "street": 9}


def completeness(
    session: Session,
    principal: Principal,
    kind: str,
    *,
    level: str = "community",
    fresh_days: int = 365,
) -> list[dict[str, Any]]:
    """Return, per area, records, completeness rate, verified share and the oldest verification."""
    principal.require("registry.read")
    if kind not in REQUIRED or level not in LEVELS:
        raise ValidationFailed(
            f"不支持的类别 {kind} 或层级 {level}", f"unsupported kind {kind} or level {level}",
            field="kind" if kind not in REQUIRED else "level",
        )  # fmt: skip
    model, fields = REQUIRED[kind]
    filled = sum(case((getattr(model, f).is_not(None), 1), else_=0) for f in fields)
    cutoff = utcnow() - timedelta(days=fresh_days)
    query = select(
        model.community_code, model.grid_id, func.count(), func.sum(filled),
        func.sum(case((model.verified_at >= cutoff, 1), else_=0)), func.min(model.verified_at),
    ).where(visible(model, principal), model.community_code.is_not(None))  # fmt: skip
    if model is Person:
        query = query.where(Person.merged_into_id.is_(None))
    rows = session.execute(query.group_by(model.community_code, model.grid_id)).all()
    codes = grid_codes(session, [r[1] for r in rows if r[1] is not None]) if level == "grid" else {}
    groups: dict[str, list[Any]] = defaultdict(lambda: [0, 0, 0, None])
    for community, grid_id, count, total, fresh, oldest in rows:
        width = LEVELS[level]
        key = community[:width] if width else codes.get(grid_id, f"{community}（未入格）")
        g = groups[key]
        g[0] += count
        g[1] += int(total or 0)
        g[2] += int(fresh or 0)
        if oldest is not None and (g[3] is None or oldest < g[3]):
            g[3] = oldest
    return [
        {
            "area": key, "records": count,
            "completeness": round(total / (count * len(fields)), 4) if count else 0.0,
            "fresh_share": round(fresh / count, 4) if count else 0.0,
            "oldest_verified_at": oldest,
        }
        for key, (count, total, fresh, oldest) in sorted(groups.items())
    ]  # fmt: skip


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def duplicate_groups(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Return likely duplicate people: same ID number, or same name + birth date + address."""
    principal.require("registry.read")
    base = select(Person.id, Person.id_hash, Person.name, Person.birth_date, Person.address).where(
        visible(Person, principal), Person.merged_into_id.is_(None)
    )
    rows = session.execute(base).all()
    decided = {
        (d.first_id, d.second_id)
        for d in session.scalars(
            select(DuplicateDecision).where(DuplicateDecision.kind == "people")
        )
    }
    keys: dict[tuple[str, Any], list[int]] = defaultdict(list)
    for pid, id_hash, name, birth, address in rows:
        if id_hash:
            keys[("same_id_number", id_hash)].append(pid)
        if birth and address:
            norm = "".join(address.split())
            keys[("same_name_birth_address", (name, birth, norm))].append(pid)
    groups = []
    seen: set[tuple[int, ...]] = set()
    for (reason, _key), ids in keys.items():
        ids = sorted(ids)
        pairs = [_pair(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :]]
        if len(ids) < 2 or all(p in decided for p in pairs) or tuple(ids) in seen:
            continue
        seen.add(tuple(ids))
        groups.append({"reason": reason, "ids": ids})
    return groups


def resolve_duplicate(
    session: Session, principal: Principal, keep_id: int, other_id: int, action: str
) -> dict[str, Any]:
    """Merge `other` into `keep` (gaps filled, addresses moved, labels joined) or mark them distinct."""
    from wangge.registry.people import get_person

    principal.require("registry.write")
    if action not in ("merge", "not_duplicate") or keep_id == other_id:
        raise ValidationFailed(
            "操作应为 merge 或 not_duplicate，且两条记录不同",
            "action must be merge or not_duplicate, on two different records", field="action",
        )  # fmt: skip
    keep, other = get_person(session, principal, keep_id), get_person(session, principal, other_id)
    first, second = _pair(keep.id, other.id)
    if action == "merge":
        before_keep, before_other = snapshot(keep), snapshot(other)
        for field in ("id_number", "id_hash", "birth_date", "sex", "phone", "phone_hash", "household_id",
                      "relation", "room_id", "address", "nationality"):  # fmt: skip
            if getattr(keep, field) is None and getattr(other, field) is not None:
                setattr(keep, field, getattr(other, field))
        keep.labels = sorted(set(keep.labels or []) | set(other.labels or []))
        for row in session.scalars(
            select(PersonAddress).where(PersonAddress.person_id == other.id)
        ):
            row.person_id = keep.id
        other.merged_into_id = keep.id
        log_change(
            session, principal, object_type="person", obj=keep, action="merge", before=before_keep
        )
        log_change(
            session,
            principal,
            object_type="person",
            obj=other,
            action="merge",
            before=before_other,
            audit=False,
        )
    existing = session.scalar(
        select(DuplicateDecision).where(
            and_(
                DuplicateDecision.kind == "people",
                DuplicateDecision.first_id == first,
                DuplicateDecision.second_id == second,
            )
        )
    )
    if existing is None:
        session.add(
            DuplicateDecision(
                kind="people", first_id=first, second_id=second, decision="merged" if action == "merge" else action,
                actor=principal.name, county_code=keep.county_code,
            )
        )  # fmt: skip
    else:
        existing.decision = "merged" if action == "merge" else action
    session.flush()
    return {"kept": keep.id, "other": other.id, "decision": action}
