"""Division use cases: load, list, read a subtree."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.auth.principal import LOCAL_OPERATOR, Principal
from wangge.auth.scope import ancestor_or_scope_clause
from wangge.common.geo import areas_m2
from wangge.common.shapes import as_multipolygon, require_valid
from wangge.common.spatial import bbox_columns
from wangge.divisions.codes import LEVEL_ZH, ParsedCode, parent_of, parse_division_code
from wangge.divisions.models import Division
from wangge.errors import NotFound, ValidationFailed


@dataclass
class DivisionIn:
    code: str
    name: str
    geom: BaseGeometry | None = None
    parent_code: str | None = None


def check_division(row: DivisionIn) -> tuple[ParsedCode, str | None]:
    """Check one row on its own (name, code and prefix, geometry); return its code and parent."""
    if not row.name or not str(row.name).strip():
        raise ValidationFailed(
            f"区划 {row.code} 缺少名称", f"division {row.code} has no name", field="name"
        )
    parent = row.parent_code or parent_of(parse_division_code(row.code).code)
    p = parse_division_code(row.code, parent)
    if row.geom is not None:
        require_valid(row.geom, f"区划 {p.code}", f"division {p.code}")
    return p, parent


_Parsed = list[tuple[ParsedCode, str | None]]  # each row's code and parent code


def _checked_rows(rows: Sequence[DivisionIn]) -> tuple[_Parsed, dict[str, DivisionIn]]:
    """Each row checked on its own, and each code once; the rows by code."""
    parsed: _Parsed = []
    batch: dict[str, DivisionIn] = {}
    for number, row in enumerate(rows, 1):
        try:
            p, parent = check_division(row)
        except ValidationFailed as exc:
            exc.details.setdefault("row", number)
            raise
        if p.code in batch:
            raise ValidationFailed(
                f"区划编码 {p.code} 重复",
                f"division code {p.code} appears twice",
                field="code",
                details={"row": number},
            )
        batch[p.code] = row
        parsed.append((p, parent))
    return parsed, batch


def _check_parents(session: Session, parsed: _Parsed, batch: dict[str, DivisionIn]) -> None:
    """Every parent is in the batch or already loaded."""
    existing = _existing_codes(session, {parent for _, parent in parsed if parent})
    for number, (p, parent) in enumerate(parsed, 1):
        if parent and parent not in batch and parent not in existing:
            raise ValidationFailed(
                f"区划 {p.code} 的上级区划 {parent} 不存在，请先导入上级",
                f"the parent {parent} of division {p.code} does not exist; load it first",
                code="parent_missing",
                field="parent_code",
                details={"row": number},
            )


def load_divisions(session: Session, rows: Sequence[DivisionIn]) -> list[Division]:
    """Insert or update divisions, all or nothing; parents may come in the same batch.

    An error about one row carries its 1-based position in `details["row"]`.
    """
    parsed, batch = _checked_rows(rows)
    _check_parents(session, parsed, batch)
    given = [batch[p.code].geom for p, _ in parsed]
    geoms = [as_multipolygon(g) if g else None for g in given]
    present = [g for g in geoms if g is not None]
    area_of = dict(zip(map(id, present), areas_m2(present), strict=True)) if present else {}
    out = []
    # Parents first, so foreign keys hold inside the one transaction.
    order = sorted(range(len(parsed)), key=lambda i: len(parsed[i][0].code))
    for i in order:
        p, parent = parsed[i]
        geom = geoms[i]
        values = {
            "level": p.level,
            "name": batch[p.code].name.strip(),
            "parent_code": parent,
            "county_code": p.code[:6],
            "geom": geom,
            "area_m2": float(area_of[id(geom)]) if geom is not None else None,
            **bbox_columns(geom),
        }
        obj = session.get(Division, p.code)
        if obj is None:
            obj = Division(code=p.code, **values)
            session.add(obj)
        else:
            for k, v in values.items():
                setattr(obj, k, v)
        out.append(obj)
        session.flush()
    return out


def _existing_codes(session: Session, codes: Iterable[str]) -> set[str]:
    codes = list(codes)
    if not codes:
        return set()
    return set(session.scalars(select(Division.code).where(Division.code.in_(codes))))


def get_division(session: Session, code: str) -> Division:
    """Return one division or raise NotFound."""
    obj = session.get(Division, code)
    if obj is None:
        raise NotFound(f"区划 {code} 不存在", f"division {code} does not exist")
    return obj


def list_divisions(
    session: Session,
    *,
    parent: str | None = None,
    level: str | None = None,
    principal: Principal = LOCAL_OPERATOR,
) -> list[Division]:
    """List the divisions the principal may see, by parent and level."""
    q = (
        select(Division)
        .where(ancestor_or_scope_clause(Division.code, principal))
        .order_by(Division.code)
    )
    if parent is not None:
        q = q.where(Division.parent_code == parent)
    if level is not None:
        if level not in LEVEL_ZH:
            raise ValidationFailed(
                f"区划级别 {level} 无效，应为 county/street/community",
                f"level {level} is invalid; use county, street or community",
                field="level",
            )
        q = q.where(Division.level == level)
    return list(session.scalars(q))


def subtree(session: Session, code: str, principal: Principal = LOCAL_OPERATOR) -> list[Division]:
    """Return a division and everything below it (codes share the prefix) within scope."""
    root = get_division(session, code)
    q = (
        select(Division)
        .where(
            Division.code.startswith(root.code), ancestor_or_scope_clause(Division.code, principal)
        )
        .order_by(Division.code)
    )
    return list(session.scalars(q))


def communities_of(session: Session, code: str) -> list[Division]:
    """Return the communities at or below a division."""
    return [d for d in subtree(session, code) if d.level == "community"]
