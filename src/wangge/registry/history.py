"""Change history of registry records (old → new per field) and the audit entry of a write."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.audit.service import record
from wangge.auth.principal import Principal
from wangge.common.masking import mask_id_number, mask_phone
from wangge.registry.models_common import RecordChange

# Personal fields are stored masked in the history: it is shown to every reader.
_MASKS = {"id_number": mask_id_number, "phone": mask_phone, "landlord_phone": mask_phone}
_SKIP = {
    "id_hash",
    "phone_hash",
    "created_at",
    "updated_at",
    "geom",
    "minx",
    "miny",
    "maxx",
    "maxy",
}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return sorted(value)
    return value


def snapshot(obj: Any) -> dict[str, Any]:
    """Return the column values of an ORM object, JSON-ready, without hashes and geometry."""
    return {c.key: _plain(getattr(obj, c.key)) for c in obj.__table__.columns if c.key not in _SKIP}


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Return {field: [old, new]} for the fields that changed, personal values masked."""
    changes: dict[str, list[Any]] = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            mask = _MASKS.get(key)
            changes[key] = [mask(old), mask(new)] if mask else [old, new]
    return changes


def log_change(
    session: Session,
    principal: Principal,
    *,
    object_type: str,
    obj: Any,
    action: str,
    before: dict[str, Any] | None,
    audit: bool = True,
) -> RecordChange | None:
    """Write the history row of a change (nothing when nothing changed) and its audit entry."""
    session.flush()
    after = snapshot(obj) if action != "delete" else {}
    changes = diff(before or {}, after)
    if not changes and action == "update":
        return None
    row = RecordChange(
        county_code=obj.county_code,
        object_type=object_type,
        object_id=obj.id,
        action=action,
        actor=principal.name,
        actor_id=principal.user_id,
        changes=changes,
    )
    session.add(row)
    if audit:
        record(
            session,
            actor=principal.name,
            actor_id=principal.user_id,
            action=f"registry.{object_type}.{action}",
            object_type=object_type,
            object_id=obj.id,
            county_code=obj.county_code,
            detail={"fields": sorted(changes)},
        )
    return row


def log_saved(
    session: Session,
    principal: Principal,
    *,
    object_type: str,
    obj: Any,
    before: dict[str, Any] | None,
    audit: bool = True,
) -> RecordChange | None:
    """Log a save: a create when there was no record before, else an update."""
    action = "create" if before is None else "update"
    return log_change(
        session, principal, object_type=object_type, obj=obj, action=action, before=before,
        audit=audit,
    )  # fmt: skip


def history(session: Session, object_type: str, object_id: int) -> list[RecordChange]:
    """Return the changes of one record, oldest first."""
    return list(
        session.scalars(
            select(RecordChange)
            .where(RecordChange.object_type == object_type, RecordChange.object_id == object_id)
            .order_by(RecordChange.id)
        )
    )
