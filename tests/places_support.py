"""A road and buildings with house numbers in the small test world (tests.case_factories)."""

from __future__ import annotations

from shapely.geometry import LineString
from sqlalchemy.orm import Session

from tests.factories import COUNTY, DX, DY, X0, Y0
from wangge.auth.principal import LOCAL_OPERATOR
from wangge.places.roads import save_roads
from wangge.registry.houses import save_building

# 幸福路 runs north-south through both streets at x = X0 + 0.3·DX (about 250 m east of the
# world's west edge); 七里街 runs east-west along the south of community 110108001001.
ROAD_X = X0 + 0.3 * DX
NEAR_LON, NEAR_LAT = ROAD_X + 0.0004, Y0 + 0.7 * DY  # ~35 m east of the road, in GRID1
OTHER_LON, OTHER_LAT = ROAD_X + 0.0004, Y0 + 1.6 * DY  # street 002, community 110108002001


def add_places(session: Session) -> dict[str, int]:
    """Store two roads and a numbered building beside 幸福路 in each street; return their ids."""
    save_roads(
        session,
        COUNTY,
        [
            ("幸福路", LineString([(ROAD_X, Y0), (ROAD_X, Y0 + 2 * DY)])),
            ("七里街", LineString([(X0, Y0 + 0.1 * DY), (X0 + 2 * DX, Y0 + 0.1 * DY)])),
        ],
    )
    near = save_building(
        session, LOCAL_OPERATOR,
        {"name": "1号楼", "address": "幸福路12号", "community_code": "110108001001",
         "lon": NEAR_LON, "lat": NEAR_LAT},
    )  # fmt: skip
    other = save_building(
        session, LOCAL_OPERATOR,
        {"name": "8号楼", "address": "幸福路88号", "community_code": "110108002001",
         "lon": OTHER_LON, "lat": OTHER_LAT},
    )  # fmt: skip
    session.flush()
    return {"near": near.id, "other": other.id}
