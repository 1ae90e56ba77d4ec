"""Registry records in micro grids (微网格, 一网多层): locate, carry and move households.

A record's micro grid lies in its grid: a building gets the micro grid holding its position,
a resident the micro grid of his building (or, without a room, the one he was put in by hand,
while it still lies in his grid), an organisation the micro grid at its position.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.errors import NotFound, ValidationFailed
from wangge.grids.locating import locate_many
from wangge.grids.models import Grid, GridVersion
from wangge.registry.access import check_area
from wangge.registry.history import log_change, snapshot
from wangge.registry.models_houses import Building, Room
from wangge.registry.models_people import Household, Person


def micro_at(
    session: Session, lon: float | None, lat: float | None, county_code: str | None
) -> int | None:
    """Return the id of the active micro grid holding a point (None: none there)."""
    if lon is None or lat is None:
        return None
    found = locate_many(
        session, np.array([lon], dtype=float), np.array([lat], dtype=float),
        county_codes=[county_code] if county_code else None, micro=True,
    )  # fmt: skip
    hit = int(found["micro"][0])
    return hit if hit >= 0 else None


def residence_micro_grid(session: Session, person: Person) -> int | None:
    """Return the micro grid a resident carries: his building's, else his own if still valid."""
    if person.room_id is not None:
        building_id = session.scalar(select(Room.building_id).where(Room.id == person.room_id))
        if building_id is not None:
            return session.scalar(select(Building.micro_grid_id).where(Building.id == building_id))
    if person.micro_grid_id is None or person.grid_id is None:
        return None
    parent = session.scalar(select(Grid.parent_id).where(Grid.id == person.micro_grid_id))
    return person.micro_grid_id if parent == person.grid_id else None


def active_micro_grid(session: Session, code: str) -> Grid:
    """Return the active micro grid with this code (422 when there is none)."""
    grid = session.scalars(
        select(Grid)
        .join(GridVersion, GridVersion.id == Grid.version_id)
        .where(
            Grid.code == code,
            Grid.kind == "micro",
            GridVersion.layer == "social",
            GridVersion.status == "active",
        )
    ).first()
    if grid is None:
        raise ValidationFailed(
            f"微网格编码（micro_grid_code）{code} 不是现行版本中的微网格",
            f"field micro_grid_code: {code} is not a micro grid of the active version",
            code="unknown_micro_grid",
            field="micro_grid_code",
        )
    return grid


def move_household(
    session: Session, principal: Principal, household_id: int, micro_grid_code: str | None
) -> list[Person]:
    """Put every member of a household into a micro grid of its community (None: out of any).

    The micro grid must lie in the household's community (and the members in its grid): a
    micro grid of another community is refused with nothing written.
    """
    principal.require("registry.write")
    household = session.get(Household, household_id)
    if household is None:
        raise NotFound(f"户 {household_id} 不存在", f"household {household_id} does not exist")
    members = list(
        session.scalars(
            select(Person).where(Person.household_id == household.id).order_by(Person.id)
        )
    )
    target = active_micro_grid(session, micro_grid_code) if micro_grid_code else None
    if target is not None and target.community_code != household.community_code:
        raise ValidationFailed(
            f"微网格 {target.code} 属于社区 {target.community_code}，户 {household.number} 在社区 "
            f"{household.community_code}，不能跨社区移入",
            f"micro grid {target.code} lies in community {target.community_code}; household "
            f"{household.number} lives in community {household.community_code} and cannot be "
            "moved into another community's micro grid",
            code="micro_grid_other_community",
            field="micro_grid_code",
        )
    for person in members:
        check_area(session, principal, person.community_code, person.grid_id, person.micro_grid_id)
        if target is not None and person.grid_id not in (None, target.parent_id):
            raise ValidationFailed(
                f"微网格 {target.code} 不在 {person.name} 所在的网格内",
                f"micro grid {target.code} does not lie in the grid of household member "
                f"{person.id}",
                code="micro_grid_other_grid",
                field="micro_grid_code",
            )
    for person in members:
        before = snapshot(person)
        person.micro_grid_id = target.id if target is not None else None
        if target is not None and person.grid_id is None:
            person.grid_id = target.parent_id
        log_change(
            session, principal, object_type="person", obj=person, action="update", before=before
        )
    session.flush()
    return members


def relocate_building_residents(session: Session, building: Building) -> None:
    """Give the residents of a building the building's micro grid (after it moved)."""
    rooms = select(Room.id).where(Room.building_id == building.id)
    session.execute(
        update(Person)
        .where(Person.room_id.in_(rooms))
        .values(micro_grid_id=building.micro_grid_id)
        .execution_options(synchronize_session=False)
    )
