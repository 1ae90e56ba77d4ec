"""Long underground pipelines of the demo district: drainage, gas and heating mains with owners.

They have a random generator of their own, so the rest of the seeded demo stays as it was;
each is saved through `save_component`, so it is checked against the county and located in
every grid it crosses like a surveyed pipeline.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.auth.principal import LOCAL_OPERATOR
from wangge.cases.standard import department_code
from wangge.departments.models import Department
from wangge.grids.models import Grid, GridVersion
from wangge.registry.components import save_component

# (local class, network, owner department key, name) — the classes come from demo.registry.
MAINS = (
    ("2102", "drainage", "SZSR", "排水干管"),
    ("2102", "drainage", "SZSR", "雨水干管"),
    ("2105", "gas", "CGW", "中压燃气管线"),
    ("2105", "gas", "CGW", "燃气支线"),
    ("2106", "heat", "ZJW", "供热一次管网"),
    ("2106", "heat", "ZJW", "供热二次管网"),
)
STEP_DEG = 0.006  # about 500-650 m per straight run
RUNS = 5


def _area(session: Session, county: str) -> BaseGeometry | None:
    grids = session.scalars(
        select(Grid.geom)
        .join(GridVersion, Grid.version_id == GridVersion.id)
        # The unit grids, as for the other components (their classes exist only then).
        .where(
            GridVersion.county_code == county, GridVersion.status == "active", Grid.kind == "unit"
        )
    ).all()
    return shapely.union_all(list(grids)) if grids else None


def _route(area: BaseGeometry, rng: np.random.Generator) -> BaseGeometry | None:
    """A main of a few straight runs with right-angle turns, cut to the district."""
    minx, miny, maxx, maxy = area.bounds
    for _ in range(50):
        start = rng.uniform((minx, miny), (maxx, maxy))
        if not area.contains(shapely.Point(start)):
            continue
        points, heading = [start], float(rng.integers(0, 4)) * np.pi / 2
        for _run in range(RUNS):
            heading += float(rng.choice([0.0, np.pi / 2, -np.pi / 2], p=[0.6, 0.2, 0.2]))
            step = STEP_DEG * rng.uniform(0.8, 1.1)
            points.append(points[-1] + step * np.array([np.cos(heading), np.sin(heading)]))
        inside = shapely.LineString(points).intersection(area.buffer(-1e-5))
        parts = getattr(inside, "geoms", [inside])
        longest: BaseGeometry | None = max(parts, key=lambda g: g.length) if parts else None
        if longest is not None and longest.geom_type == "LineString" and longest.length > 0.012:
            return shapely.set_precision(longest, 1e-7)
    return None


def build_pipelines(session: Session, county: str, *, seed: int) -> int:
    """Save the demo's long pipelines; return how many (0 without grids or departments)."""
    area = _area(session, county)
    if area is None:
        return 0
    rng = np.random.default_rng([seed, 18])  # its own stream: other demo data unchanged
    saved = 0
    for class_code, network, key, name in MAINS:
        owner = department_code(county, key)
        line = _route(area, rng)
        if line is None or session.get(Department, owner) is None:
            continue
        data = {
            "class_code": class_code, "wkt": line.wkt, "network": network, "name": name,
            "owner_department_code": owner, "data_source": "管线普查", "initial_date": "2019-05-01",
        }  # fmt: skip
        save_component(session, LOCAL_OPERATOR, data, county_code=county, audit=False)
        saved += 1
    return saved
