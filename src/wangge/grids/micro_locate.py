"""Keep located records in their micro grids (一网多层) when the social layer changes.

Every located table with a `micro_grid_id` column is re-located after its base grids: the
micro grid holding the record's position inside its base grid. A record whose position lies
in no micro grid keeps the micro grid it was put in by hand (a household placed in a lane)
when a grid of the same code, inside the record's base grid, exists in the new version.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wangge.grids.locating import micro_index_for
from wangge.grids.models import Grid, GridVersion


def micro_tables(specs: Iterable[Any]) -> list[Any]:
    """Return the models of located specs that carry a micro grid (social layer)."""
    return [
        s.model for s in specs if hasattr(s.model, "micro_grid_id") and "social" in s.grid_columns
    ]


def relocate_micro(session: Session, version: GridVersion, specs: Iterable[Any]) -> dict[str, Any]:
    """Put every located record of the county in its micro grid of `version`; count moves."""
    if version.layer != "social":
        return {}
    index = micro_index_for(session, version)
    micro_rows = session.execute(
        select(Grid.id, Grid.code, Grid.parent_id).where(
            Grid.version_id == version.id, Grid.kind == "micro"
        )
    ).all()
    by_code = {code: (gid, parent) for gid, code, parent in micro_rows}
    # Looked up with None too: a record may be in no micro grid.
    codes: dict[int | None, str] = dict(
        session.execute(
            select(Grid.id, Grid.code).where(
                Grid.county_code == version.county_code, Grid.kind == "micro"
            )
        ).all()
    )
    result: dict[str, Any] = {}
    for model in micro_tables(specs):
        q = select(model.id, model.lon, model.lat, model.grid_id, model.micro_grid_id).where(
            model.county_code == version.county_code
        )
        if not micro_rows:  # most counties: only rows still carrying a micro grid can change
            q = q.where(model.micro_grid_id.is_not(None))
        rows = session.execute(q).all()
        if not rows:
            continue
        xy = np.array([(r[1], r[2]) for r in rows], dtype=float)
        parents = np.array([r[3] if r[3] is not None else -1 for r in rows], dtype=np.int64)
        found = np.full(len(rows), -1, dtype=np.int64)
        if index is not None:
            found = index.locate_many(xy[:, 0], xy[:, 1], parents)
        changes = []
        moved = 0
        for row, hit in zip(rows, found.tolist(), strict=True):
            new = hit if hit >= 0 else _kept(by_code, codes.get(row[4]), row[3])
            if new != row[4]:
                changes.append({"id": row[0], "micro_grid_id": new})
                if codes.get(row[4]) != codes.get(new):
                    moved += 1
        if changes:
            session.execute(update(model), changes)
        result[model.__tablename__] = {"total": len(rows), "moved": moved}
    return result


def _kept(
    by_code: dict[str, tuple[int, int | None]], code: str | None, grid_id: int | None
) -> int | None:
    if code is None or code not in by_code:
        return None
    gid, parent = by_code[code]
    return gid if parent == grid_id and grid_id is not None else None
