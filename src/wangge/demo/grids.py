"""The demo's grids: the active social grids the demo's records and posts are placed in."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.grids.models import Grid, GridVersion


def active_social_grids(session: Session, *where: Any) -> Sequence[Grid]:
    """Return the grids of the active social versions that match `where`, by code."""
    return session.scalars(
        select(Grid)
        .join(GridVersion, GridVersion.id == Grid.version_id)
        .where(GridVersion.layer == "social", GridVersion.status == "active", *where)
        .order_by(Grid.code)
    ).all()
