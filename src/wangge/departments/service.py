"""Departments as data: the checks every user of a department code makes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.departments.models import Department
from wangge.errors import ValidationFailed


def require_active(
    session: Session, county_code: str, codes: Sequence[str], *, field: str
) -> None:
    """Refuse codes that are not active departments of the county (named in the error)."""
    known = set(
        session.scalars(
            select(Department.code).where(
                Department.code.in_(list(codes)),
                Department.county_code == county_code,
                Department.is_active.is_(True),
            )
        )
    )
    missing = [c for c in codes if c not in known]
    if missing:
        raise ValidationFailed(
            f"区县 {county_code} 没有这些在用部门：{missing}",
            f"county {county_code} has no active departments {missing}",
            code="unknown_department",
            field=field,
        )
