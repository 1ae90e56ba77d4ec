"""The demo district: synthetic but realistic divisions, grids of both layers and a point layer."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import numpy as np
from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session, sessionmaker

from wangge.audit.chain import seal_all
from wangge.auth.principal import LOCAL_OPERATOR
from wangge.basemap.features import GREEN_LAYER, WATER_LAYER, save_features
from wangge.cases.categories import DEPARTMENTS, department_code
from wangge.common.localtime import SHANGHAI
from wangge.common.models import utcnow
from wangge.config import Settings
from wangge.demo.disputes import build_dispute_demo
from wangge.demo.employers import build_employer_demo
from wangge.demo.micro_grids import build_micro_demo
from wangge.demo.registry import build_registry_demo
from wangge.demo.resident_services import build_service_demo
from wangge.demo.simulate import MonthSimulation, default_case_count, seed_configuration
from wangge.demo.visits import build_visit_demo
from wangge.departments.checks import DepartmentData
from wangge.departments.models import Department
from wangge.departments.service import create_department
from wangge.divisions.models import Division
from wangge.divisions.service import DivisionIn, load_divisions
from wangge.grids.generate import generate_unit_version
from wangge.grids.locating import locate_many
from wangge.grids.models import Grid, LocatedPoint
from wangge.grids.service import GridIn, add_grids, new_version, version_grids
from wangge.grids.versions import activate_version
from wangge.ops.jobs import RUNNING, Job, advance, fail, find_job, start_job
from wangge.places.roads import save_roads
from wangge.setup import init_county
from wangge.synthetic import SyntheticDistrict, make_district, make_grids, random_points
from wangge.synthetic_roads import house_numbers, make_roads
from wangge.synthetic_water import make_water
from wangge.uploads.service import store_demo_photo
from wangge.uploads.storage import LocalStorage

DEMO_COUNTY = "110108"
DEMO_NAME = "海淀区（演示）"
DEMO_SEED = 20261126
HOUSEHOLDS_PER_KM2 = 9_000  # dense urban Beijing: about 300 households per 0.03 km² grid
UNIT_CELL_M2 = 40_000.0  # 海淀: 430.8 km² in 8,562 unit grids ≈ 50,000 m² each
MONTH_JOB = "demo_month"


def demo_exists(session: Session) -> bool:
    """Return True when the demo county is already loaded."""
    return session.get(Division, DEMO_COUNTY) is not None


def build_demo(
    session: Session,
    settings: Settings,
    *,
    cases: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> str:
    """Load the demo district, activate its grid layers and plan its month; return a summary.

    The month of cases (`cases`, by default 2,000 on SQLite) is only planned here, as a job
    that `run_month` works through, so the server can answer while it fills in.
    """
    tick = progress or (lambda _n: None)
    district = make_district(
        seed=DEMO_SEED,
        area_km2=36.0,
        n_streets=4,
        communities_per_street=6,
        county_code=DEMO_COUNTY,
        county_name=DEMO_NAME,
    )
    # The one setup path of every district (`wangge init`): county, roles, catalogue, lines,
    # response rules; then the district's own divisions, grids and departments.
    init_county(session, DEMO_COUNTY, DEMO_NAME)
    _load_demo_divisions(session, district)
    tick(1)
    width = settings.grid_sequence_width
    _add_social_grids(session, district, width)
    tick(1)
    unit = generate_unit_version(
        session,
        DEMO_COUNTY,
        width=width,
        cell_area_m2=UNIT_CELL_M2,
        name="2026年万米单元网格",
        progress=tick,
    )
    _add_duty_grids(session, unit.id, width)
    activate_version(session, unit.id, width=width)
    n_cameras = _add_cameras(session, district)
    tick(1)
    _add_district_records(session, district, width)
    n_cases = default_case_count(session) if cases is None else cases
    plan_month(session, n_cases)
    # The month's thousands of photo rows share one stored picture.
    store_demo_photo(LocalStorage(settings.upload_dir))
    tick(1)
    n_grids = session.scalar(select(func.count(Grid.id)))
    return (
        f"演示区 {DEMO_NAME}: {len(district.streets)} 个街道, {len(district.communities)} 个社区, "
        f"{n_grids} 个网格, {n_cameras} 个监控点, 面积 {district.area_km2:.1f} km², "
        f"近一月 {n_cases} 个案卷"
    )


def _load_demo_divisions(session: Session, district: SyntheticDistrict) -> None:
    """The county, its streets and their communities."""
    rows = [DivisionIn(DEMO_COUNTY, DEMO_NAME, district.outline)]
    for street in district.streets:
        rows.append(DivisionIn(street.code, street.name, street.geometry, DEMO_COUNTY))
        rows.extend(DivisionIn(c.code, c.name, c.geometry, street.code) for c in street.communities)
    load_divisions(session, rows)


def _add_social_grids(session: Session, district: SyntheticDistrict, width: int) -> None:
    """Divide the district into 120 social grids (a few 专属 ones: schools) and activate them."""
    rng = np.random.default_rng(DEMO_SEED)
    social = new_version(session, DEMO_COUNTY, "social", "2026年社会治理网格划分")
    grids_in = []
    for i, (community, geom) in enumerate(make_grids(district, n_grids=120, seed=DEMO_SEED)):
        households = int(rng.normal(300, 40))
        grids_in.append(
            GridIn(
                kind="exclusive" if i % 37 == 5 else "basic",
                geom=geom,
                community_code=community,
                households=households,
                population=int(households * rng.uniform(2.4, 2.9)),
                land_use="居住" if i % 37 != 5 else "学校",
                responsible_party="网格员",
            )
        )
    add_grids(session, social, grids_in, width=width)
    activate_version(session, social.id, width=width)


def _add_cameras(session: Session, district: SyntheticDistrict) -> int:
    """Place 3,000 video cameras (视频监控) in their grids; return how many."""
    lon, lat = random_points(district, 3000, seed=DEMO_SEED)
    found = locate_many(session, lon, lat, county_codes=[DEMO_COUNTY])
    points = LocatedPoint.__table__
    assert isinstance(points, Table)  # a declarative model is mapped to a Table
    session.execute(
        points.insert(),
        [
            {
                "county_code": DEMO_COUNTY,
                "layer": "视频监控",
                "key": f"SP{i + 1:05d}",
                "lon": float(lon[i]),
                "lat": float(lat[i]),
                "grid_id": int(found["social"][i]) if found["social"][i] >= 0 else None,
                "unit_grid_id": int(found["unit"][i]) if found["unit"][i] >= 0 else None,
                "properties": {"名称": f"监控点{i + 1}"},
            }
            for i in range(len(lon))
        ],
    )
    return len(lon)


def _add_district_records(session: Session, district: SyntheticDistrict, width: int) -> None:
    """The basemap, departments, roads, the registry and every domain's demo records."""
    # Water and parks for the demo's own basemap (wangge.basemap), from a generator of their
    # own: nothing the seed already makes changes.
    water, parks = make_water(district, seed=DEMO_SEED)
    save_features(session, DEMO_COUNTY, WATER_LAYER, water)
    save_features(session, DEMO_COUNTY, GREEN_LAYER, parks)
    _add_departments(session)
    # Named roads and house numbers (门牌), so cases get an address (wangge.places).
    roads = make_roads(district, seed=DEMO_SEED)
    save_roads(session, DEMO_COUNTY, roads)
    build_registry_demo(
        session,
        DEMO_COUNTY,
        seed=DEMO_SEED,
        house_numbers=lambda lon, lat: house_numbers(district, roads, lon, lat),
    )
    build_visit_demo(session, DEMO_COUNTY)  # 走访: a third of one community's households
    # 两网化: two employer reference lists three months apart (coverage, trend, to visit)
    build_employer_demo(
        session, DEMO_COUNTY, seed=DEMO_SEED, today=utcnow().astimezone(SHANGHAI).date()
    )
    build_dispute_demo(session, DEMO_COUNTY, seed=DEMO_SEED)
    build_service_demo(session, DEMO_COUNTY, seed=DEMO_SEED)  # 代办 requests at every step
    build_micro_demo(session, DEMO_COUNTY, width=width)  # 一网多层: micro grids, records in them
    seed_configuration(session, DEMO_COUNTY)


def plan_month(session: Session, n_cases: int) -> Job:
    """Record the demo month (ending now) as a job whose chunks `run_month` works through."""
    now = utcnow()
    month = MonthSimulation(
        session, county_code=DEMO_COUNTY, seed=DEMO_SEED, now=now, n_cases=n_cases
    )
    return start_job(
        session,
        MONTH_JOB,
        DEMO_COUNTY,
        total=month.n_chunks,
        title=(f"模拟近一月 {n_cases} 个案卷", f"simulating a month of {n_cases} cases"),
        detail={"now": now.isoformat(), "n_cases": n_cases, "seed": DEMO_SEED},
    )


def month_pending(session: Session) -> bool:
    """Return True while the demo month has chunks left to run."""
    job = find_job(session, MONTH_JOB, DEMO_COUNTY)
    return job is not None and job.done < job.total


def run_month(
    factory: sessionmaker[Session],
    *,
    progress: Callable[[int, int], None] | None = None,
    pause: float = 0.0,
) -> None:
    """Run the demo month's remaining chunks, one transaction each (resumes after a kill).

    The server may already serve while this runs: each chunk commits its cases and the job's
    progress together, so the pages show whole cases and an exact progress note.
    """
    with factory() as session:
        job = find_job(session, MONTH_JOB, DEMO_COUNTY)
        if job is None or job.done >= job.total:
            return
        month = MonthSimulation(
            session,
            county_code=DEMO_COUNTY,
            seed=int(job.detail["seed"]),
            now=datetime.fromisoformat(job.detail["now"]),
            n_cases=int(job.detail["n_cases"]),
        )
        job.state = RUNNING
        sqlite = session.get_bind().dialect.name == "sqlite"
        for i in range(job.done, month.n_chunks):
            try:
                month.run_chunk(i)
                advance(job, i + 1)
                session.commit()
            except Exception as exc:
                session.rollback()
                fail(job, exc)
                session.commit()
                raise
            if progress:
                progress(i + 1, month.n_chunks)
            if sqlite and pause:
                # SQLite has one write lock and its busy handler polls: without a gap the
                # next chunk takes the lock again before a waiting request gets it.
                time.sleep(pause)
        seal_all(session)  # a month built without a server leaves no entry waiting


def _add_departments(session: Session) -> None:
    """The demo county's departments, created as a clerk's list would create them."""
    for n, (key, name) in enumerate(DEPARTMENTS.items()):
        data = DepartmentData(
            code=department_code(DEMO_COUNTY, key),
            county_code=DEMO_COUNTY,
            name=name,
            level="street" if key == "JDB" else "county",
            duty_phone=f"010-6288-{1200 + n:04d}",
        )
        if session.get(Department, data.code) is None:
            create_department(session, LOCAL_OPERATOR, data, via="demo")


def _add_duty_grids(session: Session, version_id: int, width: int) -> None:
    """Group every 12 unit grids of a community into a duty grid (责任网格) for one supervisor."""
    from wangge.grids.service import get_version

    version = get_version(session, version_id)
    units = version_grids(session, version_id, kinds=["unit"])
    by_community: dict[str, list[str]] = {}
    for g in units:
        by_community.setdefault(g.community_code, []).append(g.code)
    duty = []
    for community, codes in by_community.items():
        for k in range(0, len(codes), 12):
            duty.append(
                GridIn(
                    kind="duty",
                    community_code=community,
                    members=codes[k : k + 12],
                    responsible_party="城管监督员",
                )
            )
    add_grids(session, version, duty, width=width)
