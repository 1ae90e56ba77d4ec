"""Small hand-built territories for tests: a county, two streets, three communities."""

from __future__ import annotations

from shapely.geometry import Polygon, box
from sqlalchemy.orm import Session

from wangge.divisions.service import DivisionIn, load_divisions

COUNTY = "110108"
# About 1.1 km x 0.85 km cells near Beijing; lon/lat degrees.
X0, Y0, DX, DY = 116.30, 39.95, 0.01, 0.01
COMMUNITIES = {
    "110108001001": box(X0, Y0, X0 + DX, Y0 + DY),
    "110108001002": box(X0 + DX, Y0, X0 + 2 * DX, Y0 + DY),
    "110108002001": box(X0, Y0 + DY, X0 + 2 * DX, Y0 + 2 * DY),
}


def load_territory(session: Session) -> None:
    """Load the county, its two streets and three communities."""
    load_divisions(
        session,
        [
            DivisionIn(COUNTY, "海淀区", box(X0, Y0, X0 + 2 * DX, Y0 + 2 * DY)),
            DivisionIn("110108001", "甲街道", box(X0, Y0, X0 + 2 * DX, Y0 + DY)),
            DivisionIn("110108002", "乙街道", box(X0, Y0 + DY, X0 + 2 * DX, Y0 + 2 * DY)),
            *[DivisionIn(code, f"社区{code[-3:]}", geom) for code, geom in COMMUNITIES.items()],
        ],
    )


def quarters(community: str) -> list[Polygon]:
    """Split a community box into 2x2 grids."""
    minx, miny, maxx, maxy = COMMUNITIES[community].bounds
    mx, my = (minx + maxx) / 2, (miny + maxy) / 2
    return [
        box(minx, my, mx, maxy),
        box(mx, my, maxx, maxy),
        box(minx, miny, mx, my),
        box(mx, miny, maxx, my),
    ]
