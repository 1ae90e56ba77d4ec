"""A small world for case tests: territory, active grids, categories, departments, people."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from PIL import Image
from sqlalchemy.orm import Session

from tests.factories import COUNTY, DX, DY, X0, Y0, load_territory, quarters
from wangge.auth.principal import Principal
from wangge.auth.roles import DEFAULT_ROLES
from wangge.cases.categories import DEPARTMENTS, department_code, seed_categories
from wangge.cases.deadlines import SHANGHAI
from wangge.cases.models import Case
from wangge.cases.reporting import CaseIn, create_case
from wangge.cases.service import act
from wangge.cases.vocabulary import Action
from wangge.departments.models import Department
from wangge.grids.service import GridIn, add_grids, new_version
from wangge.grids.versions import activate_version
from wangge.uploads.service import UPLOADS_PATH, demo_photo, photo_ref

# Monday 23 November 2026, 09:00 in Beijing: a plain working day.
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)
CGW = department_code(COUNTY, "CGW")
SZSR = department_code(COUNTY, "SZSR")
YLLH = department_code(COUNTY, "YLLH")
# Inside grid 110108001001001 (north-west quarter of community 110108001001).
LON, LAT = X0 + 0.25 * DX, Y0 + 0.75 * DY
# Inside community 110108002001 (street 002).
OTHER_LON, OTHER_LAT = X0 + 0.5 * DX, Y0 + 1.5 * DY
GRID1 = "110108001001001"


def build_world(session: Session) -> None:
    """Load territory, activate a social grid layer, seed categories and departments."""
    load_territory(session)
    version = new_version(session, COUNTY, "social", "v1")
    grids = [
        GridIn(kind="basic", geom=g, community_code=c)
        for c in ("110108001001", "110108001002", "110108002001")
        for g in _quarters(c)
    ]
    add_grids(session, version, grids, width=3)
    activate_version(session, version.id)
    seed_categories(session)
    for key, name in DEPARTMENTS.items():
        session.add(Department(code=department_code(COUNTY, key), name=name, county_code=COUNTY))
    session.flush()


def _quarters(community: str) -> list[Any]:
    if community in ("110108001001", "110108001002", "110108002001"):
        return quarters(community)
    raise KeyError(community)


def person(
    uid: int, *roles: str, scope: set[str] | None = None, dept: str | None = None
) -> Principal:
    """Return a principal with roles, an area scope (None: all) and a department."""
    perms = {p for r in roles for p in DEFAULT_ROLES[r][1]}
    return Principal(
        name=f"user{uid}",
        permissions=frozenset(perms),
        user_id=uid,
        roles=frozenset(roles),
        scope_prefixes=frozenset(scope) if scope is not None else None,
        department_codes=frozenset({dept}) if dept else frozenset(),
        via="session",
    )


ACCEPTOR = person(1, "acceptor", scope={COUNTY})
SHIFT = person(2, "shift_leader", scope={COUNTY})
DISPATCHER = person(3, "dispatcher", scope={COUNTY})
SUPERVISOR = person(4, "supervisor", scope={GRID1})
HANDLER = person(5, "department", dept=CGW)
OTHER_HANDLER = person(6, "department", dept=SZSR)
LEADER = person(7, "leader", scope={COUNTY})
CITIZEN = person(8, "citizen", scope=set())
GRID_LEADER = person(9, "grid_leader", "supervisor", scope={GRID1})
FAR_SUPERVISOR = person(10, "supervisor", scope={"110108002001"})
GREEN_HANDLER = person(11, "department", dept=YLLH)


def report(
    session: Session,
    who: Principal = SUPERVISOR,
    *,
    at: datetime = T0,
    category: str = "E0102",
    lon: float = LON,
    lat: float = LAT,
    description: str = "路边有暴露垃圾",
    **kw: Any,
) -> Case:
    """Report a case through the service."""
    data = CaseIn(
        category_code=category,
        description=description,
        lon=lon,
        lat=lat,
        photos=[take_photo(session, who, at)],
        **kw,
    )
    return create_case(session, data, who, now=at)


def jpeg() -> bytes:
    """Return a small real JPEG (the upload API decodes what it stores)."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (122, 156, 198)).save(out, format="JPEG")
    return out.getvalue()


def take_photo(session: Session, who: Principal, at: datetime = T0) -> str:
    """Return the reference of a real upload by `who` at `at` (sharing the demo picture)."""
    return photo_ref(demo_photo(session, principal=who, at=at).id)


def do(
    session: Session,
    case: Case,
    action: Action | str,
    who: Principal,
    at: datetime,
    **payload: Any,
) -> Case:
    """Act with the case's current version.

    Photo labels (anything but an upload reference, e.g. "photo://after") stand for fresh
    photos `who` uploads at `at`: the service accepts only real uploads of the actor.
    """
    if payload.get("photos"):
        payload["photos"] = [
            p if p.startswith(UPLOADS_PATH) else take_photo(session, who, at)
            for p in payload["photos"]
        ]
    return act(
        session, case.id, action, who, expected_version=case.version, payload=payload, now=at
    )


def to_dispatched(session: Session, case: Case, at: datetime = T0, **dispatch: Any) -> Case:
    """Walk a supervisor's report to `dispatched` (accept, file, dispatch)."""
    do(session, case, "accept", ACCEPTOR, at)
    do(session, case, "file", SHIFT, at)
    return do(session, case, "dispatch", DISPATCHER, at, **({"department": CGW} | dispatch))


def register_component(
    session: Session, class_code: str = "0101", lon: float = LON, lat: float = LAT
) -> str:
    """Register a component (城市部件) in the world's county; return its code."""
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.registry.components import save_component

    data = {"class_code": class_code, "lon": lon, "lat": lat}
    return save_component(session, LOCAL_OPERATOR, data, county_code=COUNTY).code
