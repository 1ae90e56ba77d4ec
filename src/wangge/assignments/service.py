"""Who serves which grid (网格员配置): record, end and read grid assignments.

An assignment is in force on a day d when `starts_on <= d` and (`ends_on` is None or
`d <= ends_on`): `ends_on` is the last day served. The grid is named by its code in one
layer and must be a grid of that layer's active version when the assignment is made.
Readers: "我的网格员" (`people_of_grid`), the grid worker's tasks (`assigned_grids`), the
patrol denominator of the evaluation (`patrol_duties`) and the 准入清单 (`is_grid_worker`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, Select, false, or_, select, true
from sqlalchemy.orm import Session

from wangge.assignments.models import KINDS, GridAssignment
from wangge.audit.service import record_for
from wangge.auth.models import User
from wangge.auth.principal import Principal
from wangge.errors import Conflict, Forbidden, NotFound, ValidationFailed
from wangge.grids.models import Grid, GridVersion

LAYERS = {"social": ("社会治理网格", "social grid"), "unit": ("单元网格/责任网格", "unit grid")}
# The kinds with a patrol duty (巡查): grid workers, not the grid's leaders.
PATROL_KINDS = ("full_time", "part_time")


@dataclass(frozen=True)
class Served:
    """One assignment in force, with the person's public name and work phone."""

    assignment: GridAssignment
    name: str
    phone: str | None


def in_force(on: date) -> ColumnElement[bool]:
    """SQL: the assignment is in force on the day `on`."""
    return (GridAssignment.starts_on <= on) & (
        GridAssignment.ends_on.is_(None) | (GridAssignment.ends_on >= on)
    )


def _overlapping(first: date, last: date | None) -> ColumnElement[bool]:
    cond = GridAssignment.ends_on.is_(None) | (GridAssignment.ends_on >= first)
    return cond if last is None else cond & (GridAssignment.starts_on <= last)


def area_condition(principal: Principal) -> ColumnElement[bool]:
    """SQL: the assignment's grid lies in the principal's area (per layer for grid scopes)."""
    if principal.scope_prefixes is None:
        return true()
    conds: list[ColumnElement[bool]] = []
    for p in principal.scope_prefixes:
        if len(p) <= 12:
            conds.append(GridAssignment.grid_code.startswith(p, autoescape=True))
        else:
            conds.append(
                (GridAssignment.layer == "social")
                & GridAssignment.grid_code.startswith(p, autoescape=True)
            )
    for p in principal.unit_grid_scopes:
        conds.append(
            (GridAssignment.layer == "unit")
            & GridAssignment.grid_code.startswith(p, autoescape=True)
        )
    return or_(*conds) if conds else false()


def active_grid(session: Session, code: str, layer: str) -> Grid:
    """Return the grid with this code in the active version of the layer (422 otherwise)."""
    if layer not in LAYERS:
        raise ValidationFailed(
            f"网格层（layer）只能是 social 或 unit，而不是 {layer}",
            f"field layer: must be social or unit, not {layer!r}",
            field="layer",
        )
    grid = session.scalars(
        select(Grid)
        .join(GridVersion, GridVersion.id == Grid.version_id)
        .where(GridVersion.layer == layer, GridVersion.status == "active", Grid.code == code)
    ).first()
    if grid is None:
        raise ValidationFailed(
            f"网格编码（grid_code）{code} 不在{LAYERS[layer][0]}的现行版本中",
            f"field grid_code: {code} is not a grid of the active {LAYERS[layer][1]} version",
            code="unknown_grid",
            field="grid_code",
        )
    return grid


def _require_area(principal: Principal, code: str, layer: str) -> None:
    principal.require("users.manage")
    if not principal.contains(code, layer):
        raise Forbidden(
            f"网格 {code} 不在您的管辖范围内",
            f"grid {code} is outside your area",
            code="out_of_scope",
            field="grid_code",
        )


def _user(session: Session, user_id: int | None, username: str | None) -> User:
    user = None
    if user_id is not None:
        user = session.get(User, user_id)
    elif username:
        user = session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.is_active:
        who = user_id if user_id is not None else username
        raise ValidationFailed(
            f"用户（user_id）{who} 不存在或已停用",
            f"field user_id: user {who} does not exist or is deactivated",
            code="unknown_user",
            field="user_id",
        )
    return user


def _check_dates(starts_on: date, ends_on: date | None) -> None:
    if ends_on is not None and ends_on < starts_on:
        raise ValidationFailed(
            f"结束日期（ends_on）{ends_on} 早于开始日期 {starts_on}",
            f"field ends_on: {ends_on} is before the start {starts_on}",
            code="ends_before_start",
            field="ends_on",
        )


def add_assignment(
    session: Session,
    principal: Principal,
    *,
    grid_code: str,
    kind: str,
    starts_on: date,
    layer: str = "social",
    ends_on: date | None = None,
    user_id: int | None = None,
    username: str | None = None,
) -> GridAssignment:
    """Record that a person serves a grid from `starts_on` (to `ends_on`, inclusive)."""
    principal.require("users.manage")
    if kind not in KINDS:
        raise ValidationFailed(
            f"类型（kind）只能是 {'、'.join(f'{k} {v[0]}' for k, v in KINDS.items())}",
            f"field kind: must be one of {', '.join(KINDS)}",
            field="kind",
        )
    grid = active_grid(session, grid_code, layer)
    _require_area(principal, grid_code, layer)
    user = _user(session, user_id, username)
    _check_dates(starts_on, ends_on)
    row = GridAssignment(
        county_code=grid.county_code,
        user_id=user.id,
        grid_code=grid_code,
        layer=layer,
        kind=kind,
        starts_on=starts_on,
        ends_on=ends_on,
    )
    _refuse_twin(session, row, user)
    session.add(row)
    session.flush()
    record_for(
        session,
        principal,
        "assignment.create",
        object_type="grid_assignment",
        object_id=row.id,
        county_code=row.county_code,
        detail={
            "user": user.username,
            "grid": grid_code,
            "layer": layer,
            "kind": kind,
            "starts_on": str(starts_on),
            "ends_on": str(ends_on) if ends_on else None,
        },
    )
    return row


def _refuse_twin(session: Session, row: GridAssignment, user: User) -> None:
    """Refuse a second assignment of the person to the grid in the same kind and period."""
    twin = session.scalars(
        select(GridAssignment).where(
            GridAssignment.user_id == user.id,
            GridAssignment.kind == row.kind,
            GridAssignment.layer == row.layer,
            GridAssignment.grid_code == row.grid_code,
            _overlapping(row.starts_on, row.ends_on),
        )
    ).first()
    if twin is not None:
        raise Conflict(
            f"{user.display_name} 已是网格 {row.grid_code} 的{KINDS[row.kind][0]}"
            f"（配置 {twin.id}，自 {twin.starts_on} 起），同一时段不能重复配置",
            f"{user.username} already serves grid {row.grid_code} as {KINDS[row.kind][1]} "
            f"(assignment {twin.id}, from {twin.starts_on}) in that period",
            code="duplicate_assignment",
            field="grid_code",
            details={"assignment": twin.id},
        )


def get_assignment(session: Session, principal: Principal, assignment_id: int) -> GridAssignment:
    """Return an assignment in the principal's area, or NotFound."""
    row = session.scalars(
        select(GridAssignment).where(GridAssignment.id == assignment_id, area_condition(principal))
    ).first()
    if row is None:
        raise NotFound(
            f"网格员配置 {assignment_id} 不存在",
            f"grid assignment {assignment_id} does not exist",
        )
    return row


def end_assignment(
    session: Session, principal: Principal, assignment_id: int, *, ends_on: date
) -> GridAssignment:
    """End an assignment: `ends_on` is the last day served (not before the start)."""
    row = get_assignment(session, principal, assignment_id)
    _require_area(principal, row.grid_code, row.layer)
    _check_dates(row.starts_on, ends_on)
    if row.ends_on is not None and row.ends_on < ends_on:
        raise Conflict(
            f"网格员配置 {row.id} 已于 {row.ends_on} 结束",
            f"grid assignment {row.id} already ended on {row.ends_on}",
            code="already_ended",
            field="ends_on",
        )
    before = row.ends_on
    row.ends_on = ends_on
    session.flush()
    record_for(
        session,
        principal,
        "assignment.end",
        object_type="grid_assignment",
        object_id=row.id,
        county_code=row.county_code,
        detail={"ends_on": str(ends_on), "before": str(before) if before else None},
    )
    return row


def list_assignments(
    session: Session,
    principal: Principal,
    *,
    grid_code: str | None = None,
    user_id: int | None = None,
    county_code: str | None = None,
    layer: str | None = None,
    on: date | None = None,
    limit: int = 500,
) -> list[tuple[GridAssignment, User]]:
    """Return assignments in the principal's area, filtered; `on`: only those in force that day."""
    q = (
        select(GridAssignment, User)
        .join(User, User.id == GridAssignment.user_id)
        .where(area_condition(principal))
        .order_by(GridAssignment.grid_code, GridAssignment.kind, GridAssignment.id)
    )
    if grid_code:
        q = q.where(GridAssignment.grid_code.startswith(grid_code, autoescape=True))
    if user_id is not None:
        q = q.where(GridAssignment.user_id == user_id)
    if county_code:
        q = q.where(GridAssignment.county_code == county_code)
    if layer:
        q = q.where(GridAssignment.layer == layer)
    if on is not None:
        q = q.where(in_force(on))
    return [(a, u) for a, u in session.execute(q.limit(limit)).all()]


def select_mine(user_id: int, on: date) -> Select[GridAssignment, User]:
    """SELECT of a person's assignments in force on a day, with the user row."""
    return (
        select(GridAssignment, User)
        .join(User, User.id == GridAssignment.user_id)
        .where(GridAssignment.user_id == user_id, in_force(on))
        .order_by(GridAssignment.layer, GridAssignment.grid_code, GridAssignment.id)
    )


def assigned_grids(session: Session, user_id: int | None, on: date) -> list[tuple[str, str]]:
    """Return the (layer, grid code) pairs a person serves on a day."""
    if user_id is None:
        return []
    rows = session.execute(
        select(GridAssignment.layer, GridAssignment.grid_code)
        .where(GridAssignment.user_id == user_id, in_force(on))
        .distinct()
        .order_by(GridAssignment.layer, GridAssignment.grid_code)
    ).all()
    return [(layer, code) for layer, code in rows]


def is_grid_worker(session: Session, user_id: int | None, on: date) -> bool:
    """Return True when the person serves a social grid on that day (the 准入清单 applies)."""
    if user_id is None:
        return False
    return (
        session.scalar(
            select(GridAssignment.id)
            .where(
                GridAssignment.user_id == user_id,
                GridAssignment.layer == "social",
                in_force(on),
            )
            .limit(1)
        )
        is not None
    )


def people_of_grid(session: Session, grid_code: str, on: date) -> list[Served]:
    """Return the people serving a social grid (and its micro grids) on a day, leaders first."""
    order = {k: i for i, k in enumerate(("leader", "full_time", "part_time", "micro_leader"))}
    rows = session.execute(
        select(GridAssignment, User.display_name, User.phone)
        .join(User, User.id == GridAssignment.user_id)
        .where(
            GridAssignment.layer == "social",
            GridAssignment.grid_code.startswith(grid_code, autoescape=True),
            User.is_active.is_(True),
            in_force(on),
        )
        .order_by(GridAssignment.grid_code, GridAssignment.id)
    ).all()
    out = [Served(a, name, phone) for a, name, phone in rows]
    return sorted(out, key=lambda s: (len(s.assignment.grid_code), order.get(s.assignment.kind, 9)))


def patrol_duties(
    session: Session, first: date, last: date, *, county: str | None = None
) -> dict[str, list[tuple[str, date, date | None]]] | None:
    """Return per worker the social grids (ids) he must patrol and from/to which day.

    None when the county (or, without one, the deployment) has no social-layer assignment at
    all: the evaluation then keeps counting the grids each worker patrolled. A micro grid
    stands for its parent grid (patrol points are located in the tiling grids).
    """
    scope = select(GridAssignment.id).where(GridAssignment.layer == "social")
    if county:
        scope = scope.where(GridAssignment.county_code == county)
    if session.scalar(scope.limit(1)) is None:
        return None
    q = select(GridAssignment).where(
        GridAssignment.layer == "social",
        GridAssignment.kind.in_(PATROL_KINDS),
        _overlapping(first, last),
        GridAssignment.starts_on <= last,
    )
    if county:
        q = q.where(GridAssignment.county_code == county)
    rows = list(session.scalars(q))
    codes = {a.grid_code for a in rows}
    ids: dict[str, str] = {}
    if codes:
        for code, gid, parent in session.execute(
            select(Grid.code, Grid.id, Grid.parent_id)
            .join(GridVersion, GridVersion.id == Grid.version_id)
            .where(
                GridVersion.layer == "social",
                GridVersion.status == "active",
                Grid.code.in_(sorted(codes)),
            )
        ):
            ids[code] = str(parent if parent is not None else gid)
    out: dict[str, list[tuple[str, date, date | None]]] = defaultdict(list)
    for a in rows:
        if a.grid_code in ids:
            out[str(a.user_id)].append((ids[a.grid_code], a.starts_on, a.ends_on))
    return dict(out)


def kind_label(kind: str) -> str:
    """Return the Chinese name of a kind (专职网格员 …)."""
    return KINDS.get(kind, (kind, kind))[0]
