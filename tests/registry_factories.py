"""Territory, principals and valid identifiers for the registry tests."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tests.factories import load_territory, quarters
from wangge.auth.principal import Principal
from wangge.common.ids import credit_check_char, id_check_char, org_code_check_char
from wangge.grids.service import GridIn, add_grids, new_version
from wangge.grids.versions import activate_version

A, B = "110108001001", "110108001002"  # two communities of street 110108001
EVERYTHING = frozenset({"registry.read", "registry.write", "personal.unmask", "personal.special"})
CENTER = Principal(name="center", permissions=EVERYTHING, user_id=None)
WORKER_A = Principal(
    name="worker-a",
    permissions=frozenset({"registry.read", "registry.write"}),
    scope_prefixes=frozenset({A}),
)
WORKER_B = Principal(
    name="worker-b",
    permissions=frozenset({"registry.read", "registry.write"}),
    scope_prefixes=frozenset({B}),
)


def id_number(first17: str) -> str:
    """Return a valid 18-character ID number for 17 digits."""
    return first17 + id_check_char(first17)


def credit_code(body8: str = "12345678", region: str = "110108") -> str:
    """Return a valid enterprise credit code."""
    first17 = f"91{region}{body8}{org_code_check_char(body8)}"
    return first17 + credit_check_char(first17)


def setup_grids(session: Session) -> None:
    """Load the test territory with four active social grids in each of communities A and B."""
    load_territory(session)
    version = new_version(session, "110108", "social", "v1")
    rows = [GridIn(kind="basic", geom=g) for c in (A, B) for g in quarters(c)]
    add_grids(session, version, rows, width=3)
    activate_version(session, version.id)


def centre_of(community: str) -> tuple[float, float]:
    """Return a point inside the north-west grid of a community."""
    grid = quarters(community)[0]
    return grid.centroid.x, grid.centroid.y
