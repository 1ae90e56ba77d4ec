"""What tells a place index is stale, and which counties a change touched.

`stamp` is a few lookups over the whole database; when it moved, `changed_counties` reads the
rows changed since an index's own stamp and names the counties they are in, so a province's
worker rebuilds the indexes of those counties only (`places.service.place_index`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from wangge.divisions.models import Division
from wangge.grids.locating import active_versions
from wangge.grids.models import Grid, LocatedPoint
from wangge.places.roads import CAMERA_LAYER, ROAD_LAYER
from wangge.registry.models_common import RecordChange
from wangge.registry.models_houses import Building

PLACE_LAYERS = (ROAD_LAYER, CAMERA_LAYER)
# Past this many changed buildings since an index's stamp, rebuilding is as cheap as sorting
# out their counties.
_CHANGES_MAX = 5_000


@dataclass(frozen=True)
class Stamp:
    """What changes when any place may have changed, over the whole database."""

    building_id: int | None
    building_change_id: int | None
    point_count: int
    point_id: int | None
    point_updated: datetime | None
    division_count: int
    division_updated: datetime | None
    versions: tuple[tuple[int, str], ...]  # (id, county) of the active grid versions
    grid_updated: datetime | None


def stamp(session: Session) -> Stamp:
    """What changes when any place may have changed (a few lookups)."""
    points = session.execute(
        select(
            func.count(LocatedPoint.id),
            func.max(LocatedPoint.id),
            func.max(LocatedPoint.updated_at),
        ).where(LocatedPoint.layer.in_(PLACE_LAYERS))
    ).one()
    divisions = session.execute(select(func.count(Division.code), func.max(Division.updated_at)))
    division_count, division_updated = divisions.one()
    return Stamp(
        building_id=session.scalar(select(func.max(Building.id))),
        building_change_id=session.scalar(
            select(RecordChange.id)
            .where(RecordChange.object_type == "building")
            .order_by(RecordChange.id.desc())
            .limit(1)
        ),
        point_count=points[0],
        point_id=points[1],
        point_updated=points[2],
        division_count=division_count,
        division_updated=division_updated,
        versions=tuple((v.id, v.county_code) for v in active_versions(session)),
        grid_updated=session.scalar(select(func.max(Grid.updated_at))),
    )


def changed_counties(session: Session, old: Stamp, new: Stamp) -> set[str] | None:
    """The counties whose places changed from `old` to `new`; None when a change cannot name
    its county (a row deleted, a road outside every grid): every county then rebuilds."""
    counties = {county for _id, county in set(old.versions) ^ set(new.versions)}
    if new.building_id != old.building_id:
        added = select(Building.county_code).where(Building.id > (old.building_id or 0))
        counties |= {c for c in session.scalars(added.distinct()) if c}
    if new.building_change_id != old.building_change_id:
        changed = set(
            session.scalars(
                select(RecordChange.object_id).where(
                    RecordChange.object_type == "building",
                    RecordChange.id > (old.building_change_id or 0),
                )
            )
        )
        if len(changed) > _CHANGES_MAX:
            return None
        found = {
            building_id: county
            for building_id, county in session.execute(
                select(Building.id, Building.county_code).where(Building.id.in_(changed))
            )
        }
        if len(found) < len(changed):
            return None  # a building deleted or merged away: its county is gone with it
        counties |= {c for c in found.values() if c}  # one without a county is in no index
    if (new.point_count, new.point_id, new.point_updated) != (
        old.point_count, old.point_id, old.point_updated
    ):  # fmt: skip
        since: list[ColumnElement[bool]] = [LocatedPoint.id > (old.point_id or 0)]
        if old.point_updated is not None:
            since.append(LocatedPoint.updated_at > old.point_updated)
        points = session.execute(
            select(LocatedPoint.id, LocatedPoint.county_code).where(
                LocatedPoint.layer.in_(PLACE_LAYERS), or_(*since)
            )
        ).all()
        added_points = sum(1 for point_id, _c in points if point_id > (old.point_id or 0))
        if old.point_count + added_points != new.point_count:
            return None  # a road or camera deleted
        counties |= {county for _id, county in points}
    if (new.division_count, new.division_updated) != (old.division_count, old.division_updated):
        if new.division_count < old.division_count or old.division_updated is None:
            return None
        codes = session.scalars(
            select(Division.code).where(Division.updated_at > old.division_updated)
        )
        counties |= {code[:6] for code in codes}
    if new.grid_updated != old.grid_updated:
        grids = select(Grid.county_code)
        if old.grid_updated is not None:
            grids = grids.where(Grid.updated_at > old.grid_updated)
        counties |= set(session.scalars(grids.distinct()))
    return counties
