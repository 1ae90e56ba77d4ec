"""Area scope, personal-data hashing and masking, and grid assignment for registry records."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import ColumnElement, inspect, or_, select, true
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.auth.scope import scope_clause
from wangge.common.masking import mask_id_number, mask_phone
from wangge.config import Settings
from wangge.divisions.models import Division
from wangge.errors import Forbidden, NotFound, ValidationFailed
from wangge.grids.locating import locate_many
from wangge.grids.models import Grid
from wangge.grids.scope import layer_grid_ids, micro_grid_ids
from wangge.registry.own_grids import require_own_grid

# The key of the search hashes (Settings.personal_hash_key). The app wires its settings'
# key at start-up; commands and scripts read the same environment on first use.
_hash_key: bytes | None = None


def use_hash_key(key: str | None) -> None:
    """Hash with `key` from now on (None: read Settings from the environment on next use)."""
    global _hash_key
    _hash_key = key.encode() if key is not None else None


def _current_key() -> bytes:
    if _hash_key is None:
        settings = Settings()
        try:
            settings.check_personal_hash_key()
        except ValueError as exc:  # a command run in production without its own key
            zh, _, en = str(exc).partition(" / ")
            raise ValidationFailed(zh, en, code="personal_hash_key_required") from None
        use_hash_key(settings.personal_hash_key)
    assert _hash_key is not None
    return _hash_key


def personal_hash(kind: str, normalised: str, *, key: bytes | None = None) -> str:
    """Return the keyed hash (HMAC-SHA256) of a normalised ID number or phone."""
    secret = key if key is not None else _current_key()
    return hmac.new(secret, f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()


def normalise_phone(text: str) -> str:
    """Keep the digits of a phone number, without a +86/0086 prefix."""
    digits = "".join(c for c in text if c.isdigit())
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 11:
            return digits[len(prefix) :]
    return digits


def is_masked_form_of(value: str | None, clear: str | None, kind: str) -> bool:
    """Return True when `value` is the masked form of `clear` (a cell left as exported)."""
    if not value or not clear or "*" not in value:
        return False
    masked = mask_id_number(clear) if kind == "id" else mask_phone(clear)
    return value.strip() == masked


def visible(model: Any, principal: Principal) -> ColumnElement[bool]:
    """Return the SQL filter of rows in the principal's area (community or grid prefixes)."""
    if principal.scope_prefixes is None:
        return true()
    clauses = [scope_clause(model.community_code, principal)]
    # Grid-level posts: the row's current grid of the post's layer (by id, so re-divisions
    # keep it right); a unit grid of the same code as a social grid is another place.
    layered = [("grid_id", "social", p) for p in principal.scope_prefixes if len(p) > 12]
    layered += [("unit_grid_id", "unit", p) for p in principal.unit_grid_scopes]
    for column, layer, prefix in layered:
        grid_ids = layer_grid_ids(layer, prefix)
        # A micro grid's post (微网格长) holds the rows carrying that micro grid.
        micro = micro_grid_ids(prefix) if layer == "social" else None
        if hasattr(model, "grid_id"):
            if hasattr(model, column):
                clauses.append(getattr(model, column).in_(grid_ids))
            if micro is not None and hasattr(model, "micro_grid_id"):
                clauses.append(model.micro_grid_id.in_(micro))
        else:  # rooms follow their building
            from wangge.registry.models_houses import Building

            in_grids = select(Building.id).where(getattr(Building, column).in_(grid_ids))
            clauses.append(model.building_id.in_(in_grids))
            if micro is not None:
                in_micro = select(Building.id).where(Building.micro_grid_id.in_(micro))
                clauses.append(model.building_id.in_(in_micro))
    return or_(*clauses)


_Row = TypeVar("_Row")


def get_in_area(
    session: Session,
    principal: Principal,
    model: type[_Row],
    record_id: int,
    in_area: ColumnElement[bool],
    noun: tuple[str, str],
) -> _Row:
    """Return the record `record_id` of `model` where `in_area` holds, or raise NotFound.

    A record outside the principal's area is not found either: its existence is not told.
    `noun` names the kind in Chinese and English for the message.
    """
    principal.require("registry.read")
    key = inspect(model).primary_key[0]
    found = session.scalar(select(model).where(key == record_id, in_area))
    if found is None:
        zh, en = noun
        raise NotFound(f"{zh} {record_id} 不存在", f"{en} {record_id} does not exist")
    return found


def check_area(
    session: Session,
    principal: Principal,
    community_code: str | None,
    grid_id: int | None,
    micro_grid_id: int | None = None,
) -> None:
    """Refuse a write outside the principal's area (a grid worker: outside his grids; a
    微网格长: outside his micro grid). A row in no community is placed by its grids alone."""
    require_own_grid(session, principal, grid_id, micro_grid_id)
    if principal.contains(community_code or ""):
        return
    for gid in (grid_id, micro_grid_id):  # the row's social grid and micro grid
        code = session.scalar(select(Grid.code).where(Grid.id == gid)) if gid else None
        if code is not None and principal.contains(code, "social"):
            return
    raise Forbidden(
        f"社区 {community_code} 不在您的管辖范围内",
        f"community {community_code} is outside your area",
        code="out_of_scope",
    )


def require_community(session: Session, code: str | None, field: str = "community_code") -> str:
    """Return a community code that exists (a 12-digit code or a community name)."""
    text = (code or "").strip()
    if not text:
        raise ValidationFailed("所属社区不能为空", "the community is required", field=field)
    query = select(Division.code).where(Division.level == "community")
    query = query.where(Division.code == text if text.isdigit() else Division.name == text)
    found = session.scalars(query).all()
    if len(found) != 1:
        raise ValidationFailed(
            f"社区 {text} 不存在" if not found else f"社区名称 {text} 不唯一，请填写社区代码",
            f"community {text} does not exist" if not found else f"community {text} is ambiguous",
            code="unknown_community",
            field=field,
        )
    return found[0]


def locate(
    session: Session, lon: float | None, lat: float | None, county_code: str | None
) -> tuple[int | None, int | None, str | None]:
    """Return (social grid id, unit grid id, community code) of a point in the active grids."""
    if lon is None or lat is None:
        return None, None, None
    found = locate_many(
        session, np.array([lon], dtype=float), np.array([lat], dtype=float),
        county_codes=[county_code] if county_code else None,
    )  # fmt: skip
    social = int(found["social"][0]) if found["social"][0] >= 0 else None
    unit = int(found["unit"][0]) if found["unit"][0] >= 0 else None
    community = None
    for grid_id in (social, unit):
        if grid_id is not None and community is None:
            community = session.scalar(select(Grid.community_code).where(Grid.id == grid_id))
    return social, unit, community


def actor(principal: Principal) -> dict[str, Any]:
    """Return the actor fields of an audit entry."""
    return {"actor": principal.name, "actor_id": principal.user_id}
