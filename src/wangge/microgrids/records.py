"""What lies in a micro grid: its households (people by household) and its cases.

Both lists go through the same scope predicates as every other list (registry.access.visible,
cases.access.visible), narrowed to the rows carrying the micro grid: a 微网格长 sees his
micro grid's records, a community post the same list for any micro grid of his community.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.assignments.models import GridAssignment
from wangge.assignments.service import in_force
from wangge.auth.principal import Principal
from wangge.cases import access as case_access
from wangge.cases.labels import label
from wangge.cases.models import Case
from wangge.cases.vocabulary import FINAL
from wangge.common.masking import mask_id_number, mask_phone
from wangge.errors import NotFound
from wangge.grids.models import Grid, GridVersion
from wangge.grids.scope import MIN_MICRO_CODE
from wangge.registry import access as registry_access
from wangge.registry.models_people import Household, Person

MAX_CASES = 200


def my_micro_grids(session: Session, principal: Principal, on: date) -> list[Grid]:
    """Return the active micro grids a person leads: his micro-grid posts and assignments."""
    codes = {p for p in principal.scope_prefixes or () if len(p) >= MIN_MICRO_CODE}
    if principal.user_id is not None:
        codes |= set(
            session.scalars(
                select(GridAssignment.grid_code).where(
                    GridAssignment.user_id == principal.user_id,
                    GridAssignment.kind == "micro_leader",
                    GridAssignment.layer == "social",
                    in_force(on),
                )
            )
        )
    if not codes:
        return []
    return list(
        session.scalars(
            select(Grid)
            .join(GridVersion, GridVersion.id == Grid.version_id)
            .where(
                Grid.code.in_(sorted(codes)),
                Grid.kind == "micro",
                GridVersion.status == "active",
            )
            .order_by(Grid.code)
        )
    )


def _households(
    session: Session, principal: Principal, grid: Grid
) -> tuple[list[dict[str, Any]], int]:
    """The households living in a micro grid (members masked) and the number of people."""
    people = session.scalars(
        select(Person)
        .where(
            Person.micro_grid_id == grid.id,
            Person.merged_into_id.is_(None),
            registry_access.visible(Person, principal),
        )
        .order_by(Person.household_id, Person.id)
    ).all()
    numbers = dict(
        session.execute(
            select(Household.id, Household.number).where(
                Household.id.in_({p.household_id for p in people if p.household_id})
            )
        ).all()
    )
    by_household: dict[int | None, list[Person]] = defaultdict(list)
    for p in people:
        by_household[p.household_id].append(p)
    households = [
        {
            "id": hid,
            "number": numbers.get(hid) if hid is not None else None,
            "address": members[0].address,
            "members": [
                {
                    "id": p.id,
                    "name": p.name,
                    "relation": p.relation,
                    "id_number": mask_id_number(p.id_number),
                    "phone": mask_phone(p.phone),
                }
                for p in members
            ],
        }
        for hid, members in by_household.items()
    ]
    return households, len(people)


def _cases(session: Session, principal: Principal, grid: Grid) -> list[dict[str, Any]]:
    """The latest cases in a micro grid, newest first."""
    cases = session.scalars(
        select(Case)
        .where(Case.micro_grid_id == grid.id, case_access.visible(principal))
        .order_by(Case.reported_at.desc())
        .limit(MAX_CASES)
    ).all()
    final = {s.value for s in FINAL}
    return [
        {
            "id": c.id,
            "code": c.code,
            "state": c.state,
            "state_label": label("state", c.state),
            "state_label_en": label("state", c.state, "en"),
            "address": c.address,
            "description": c.description[:80],
            "open": c.state not in final,
        }
        for c in cases
    ]


def micro_grid_records(session: Session, principal: Principal, grid: Grid) -> dict[str, Any]:
    """Return a micro grid with its households and cases, as this principal may see them."""
    principal.require("registry.read")
    if not principal.contains(grid.code):
        raise NotFound(f"微网格 {grid.code} 不存在", f"micro grid {grid.code} does not exist")
    households, people = _households(session, principal, grid)
    return {
        "grid": {
            "id": grid.id,
            "code": grid.code,
            "name": grid.name,
            "parent_id": grid.parent_id,
            "community_code": grid.community_code,
        },
        "households": households,
        "people": people,
        "cases": _cases(session, principal, grid),
    }
