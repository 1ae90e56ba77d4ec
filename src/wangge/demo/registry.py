"""Synthetic basic data for the demo district: people, households, buildings, components, employers.

Rows go in with bulk INSERTs (not through the per-record services) so the demo stays fast;
every ID number and credit code carries a valid check character.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import shapely
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from wangge.auth.principal import LOCAL_OPERATOR
from wangge.common.ids import credit_check_char, id_check_char, org_code_check_char
from wangge.common.models import utcnow
from wangge.demo.pipelines import build_pipelines
from wangge.grids.models import Grid, GridVersion
from wangge.registry.access import personal_hash
from wangge.registry.bulk import bulk_load
from wangge.registry.catalogue import load_catalogue
from wangge.registry.components import add_extension
from wangge.registry.models import Building, Household, Organisation, Person, PersonAddress, Room

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国玉兰文辉志红海燕宇浩然子涵欣怡梓轩雨萱"
PIPELINES = {"2101": "给水管线", "2102": "排水管线", "2103": "电力管线",
             "2104": "通信管线", "2105": "燃气管线", "2106": "热力管线"}  # fmt: skip
NETWORK_OF = dict(
    zip(PIPELINES, ("water", "drainage", "power", "telecom", "gas", "heat"), strict=True)
)
SUFFIX = {"enterprise": "", "social": "志愿者协会", "party": "党支部"}
INDUSTRIES = ("餐饮", "零售", "建筑", "物业管理", "软件和信息技术", "教育培训", "制造", "物流")


def _points_in(geom: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    minx, miny, maxx, maxy = geom.bounds
    shapely.prepare(geom)
    found: list[np.ndarray] = []
    while sum(len(f) for f in found) < n:
        xy = rng.uniform((minx, miny), (maxx, maxy), size=(4 * n, 2))
        found.append(xy[shapely.contains_xy(geom, xy[:, 0], xy[:, 1])])
    return np.concatenate(found)[:n]


def _id_number(rng: np.random.Generator, county: str, birth: date, male: bool) -> str:
    seq = int(rng.integers(0, 50)) * 2 + (1 if male else 0)
    first17 = f"{county}{birth:%Y%m%d}{int(rng.integers(0, 10))}{seq % 100:02d}"
    return first17 + id_check_char(first17)


def _credit_code(rng: np.random.Generator, county: str, kind: str) -> str:
    body = "".join(str(d) for d in rng.integers(0, 10, size=8))
    head = {"enterprise": "91", "individual": "92", "social": "52", "party": "13"}.get(kind, "91")
    first17 = f"{head}{county}{body}{org_code_check_char(body)}"
    return first17 + credit_check_char(first17)


def build_registry_demo(
    session: Session,
    county: str,
    *,
    seed: int,
    components: int = 3000,
    house_numbers: Callable[[np.ndarray, np.ndarray], list[str | None]] | None = None,
) -> str:
    """Load synthetic registry data into the demo county's active grids; return a summary.

    `house_numbers` gives buildings near a named road their 门牌 (e.g. 幸福路37号).
    """
    rng = np.random.default_rng(seed)
    now = utcnow()
    grids = _basic_grids(session, county)
    buildings, b_rows = _buildings(session, rng, county, grids, now, house_numbers)
    rooms, r_rows = _rooms(session, rng, county, buildings, b_rows, now)
    n_people = _people(session, rng, county, rooms, r_rows, now)
    n_comp = _components(session, rng, county, components)
    n_comp += build_pipelines(session, county, seed=seed)  # long mains crossing many grids
    n_org = _organisations(session, rng, county, grids, now)
    return f"{len(buildings)} 栋楼, {len(rooms)} 套房屋, {n_people} 名实有人口, {n_comp} 个部件, {n_org} 个组织"


def _basic_grids(session: Session, county: str) -> Sequence[Grid]:
    """The basic grids of the county's active social version."""
    social = session.scalar(
        select(GridVersion).where(
            GridVersion.county_code == county,
            GridVersion.layer == "social",
            GridVersion.status == "active",
        )
    )
    if social is None:
        return []
    return session.scalars(
        select(Grid).where(Grid.version_id == social.id, Grid.kind == "basic")
    ).all()


def _buildings(
    session: Session,
    rng: np.random.Generator,
    county: str,
    grids: Sequence[Grid],
    now: datetime,
    house_numbers: Callable[[np.ndarray, np.ndarray], list[str | None]] | None,
) -> tuple[Sequence[int], list[dict[str, Any]]]:
    """Buildings: 3-5 per grid, apartment blocks of 6-18 floors; their ids and rows."""
    b_rows: list[dict[str, Any]] = []
    for grid in grids:
        k = int(rng.integers(3, 6))
        for j, (x, y) in enumerate(_points_in(grid.geom, k, rng), start=1):
            b_rows.append({
                "county_code": county, "community_code": grid.community_code, "name": f"{grid.code[-3:]}-{j}号楼",
                "address": f"{grid.name}{j}号楼", "lon": float(x), "lat": float(y), "grid_id": grid.id,
                "geom": shapely.Point(x, y), "minx": float(x), "miny": float(y), "maxx": float(x), "maxy": float(y),
                "floors": int(rng.integers(6, 19)), "purpose": "住宅", "created_at": now, "updated_at": now,
                "verified_at": now - timedelta(days=int(rng.integers(0, 600))),
            })  # fmt: skip
    if house_numbers is not None and b_rows:
        numbers = house_numbers(
            np.array([b["lon"] for b in b_rows]), np.array([b["lat"] for b in b_rows])
        )
        for b, number in zip(b_rows, numbers, strict=True):
            b["address"] = number or b["address"]
    buildings = (
        session.scalars(insert(Building).returning(Building.id), b_rows).all() if b_rows else []
    )
    return buildings, b_rows


def _rooms(
    session: Session,
    rng: np.random.Generator,
    county: str,
    buildings: Sequence[int],
    b_rows: list[dict[str, Any]],
    now: datetime,
) -> tuple[Sequence[int], list[dict[str, Any]]]:
    """Rooms: 2 units × 2 rooms on 3 sampled floors per building; 15% rented, 8% vacant."""
    r_rows: list[dict[str, Any]] = []
    for bid, b in zip(buildings, b_rows, strict=True):
        for unit in ("1", "2"):
            for floor in sorted(
                rng.choice(np.arange(1, b["floors"] + 1), size=3, replace=False).tolist()
            ):
                for door in (1, 2):
                    use = rng.choice(["owner_occupied", "rented", "vacant"], p=[0.77, 0.15, 0.08])
                    r_rows.append({
                        "county_code": county, "community_code": b["community_code"], "building_id": bid,
                        "unit": unit, "floor": floor, "number": f"{floor}{door:02d}",
                        "area_m2": round(float(rng.uniform(45, 140)), 1), "use": str(use),
                        "landlord_name": _name(rng) if use == "rented" else None,
                        "landlord_phone": _phone(rng) if use == "rented" else None,
                        "created_at": now, "updated_at": now, "_b": b,
                    })  # fmt: skip
    rooms = session.scalars(
        insert(Room).returning(Room.id), [{k: v for k, v in r.items() if k != "_b"} for r in r_rows]
    ).all() if r_rows else []  # fmt: skip
    return rooms, r_rows


def _phone(rng: np.random.Generator) -> str:
    return (
        f"1{int(rng.choice([3, 5, 8]))}{int(rng.integers(0, 10))}{int(rng.integers(10**7, 10**8))}"
    )


def _name(rng: np.random.Generator) -> str:
    given = "".join(rng.choice(list(GIVEN), size=int(rng.integers(1, 3))))
    return str(rng.choice(list(SURNAMES))) + given


def _people(
    session: Session,
    rng: np.random.Generator,
    county: str,
    rooms: Sequence[int],
    r_rows: list[dict[str, Any]],
    now: Any,
) -> int:
    h_rows, members = [], []
    for rid, r in zip(rooms, r_rows, strict=True):
        if r["use"] == "vacant":
            continue
        h_rows.append({"county_code": county, "number": f"H{rid:07d}", "community_code": r["community_code"],
                       "room_id": rid, "created_at": now, "updated_at": now})  # fmt: skip
        members.append((rid, r))
    households = (
        session.scalars(insert(Household).returning(Household.id), h_rows).all() if h_rows else []
    )
    today = now.date()
    p_rows: list[dict[str, Any]] = []
    labels = ["elderly_alone", "disabled", "low_income", "left_behind", "released", "key_youth"]
    label_p = [0.03, 0.02, 0.015, 0.01, 0.002, 0.003]
    for hid, (rid, r) in zip(households, members, strict=True):
        b = r["_b"]
        floating = r["use"] == "rented"
        for k in range(int(rng.integers(1, 5))):
            age = int(rng.integers(25, 80)) if k < 2 else int(rng.integers(1, 30))
            birth = today - timedelta(days=age * 365 + int(rng.integers(0, 365)))
            male = bool(rng.integers(0, 2))
            region = (
                county
                if not floating
                else str(rng.choice(["130102", "410105", "370102", "510104"]))
            )
            number = _id_number(rng, region, birth, male)
            phone = (
                f"1{int(rng.choice([3, 5, 8]))}{int(rng.integers(0, 10))}{int(rng.integers(10**7, 10**8))}"
                if age >= 16
                else None
            )
            p_rows.append({
                "county_code": county, "name": _name(rng), "id_number": number, "id_hash": personal_hash("id", number),
                "birth_date": birth, "sex": "男" if male else "女", "phone": phone,
                "phone_hash": personal_hash("phone", phone) if phone else None,
                "residence_kind": "floating" if floating else "registered", "household_id": hid,
                "relation": "户主" if k == 0 else ("配偶" if k == 1 else "子女"), "room_id": rid,
                "address": f"{b['address']}{r['unit']}单元{r['number']}室", "community_code": b["community_code"],
                "grid_id": b["grid_id"], "lon": b["lon"], "lat": b["lat"],
                "labels": [c for c, p in zip(labels, label_p, strict=True) if rng.random() < p],
                "verified_at": b["verified_at"], "created_at": now, "updated_at": now,
            })  # fmt: skip
    ids = session.scalars(insert(Person).returning(Person.id), p_rows).all() if p_rows else []
    if ids:
        session.execute(insert(PersonAddress), [
            {"county_code": county, "person_id": pid, "room_id": p["room_id"], "address": p["address"],
             "community_code": p["community_code"], "since": now}
            for pid, p in zip(ids, p_rows, strict=True)
        ])  # fmt: skip
    return len(ids)


def _components(session: Session, rng: np.random.Generator, county: str, n: int) -> int:
    grids = session.scalars(
        select(Grid)
        .join(GridVersion, Grid.version_id == GridVersion.id)
        .where(
            GridVersion.county_code == county, GridVersion.status == "active", Grid.kind == "unit"
        )
    ).all()
    if not grids:
        return 0
    area = shapely.union_all([g.geom for g in grids])
    xy = _points_in(area, n, rng)
    classes = np.array([m.code for m in load_catalogue()])
    picked = classes[rng.integers(0, len(classes), size=n)]
    total = bulk_load(
        session, LOCAL_OPERATOR, county_code=county, class_codes=picked, lon=xy[:, 0], lat=xy[:, 1],
        fields={"data_source": "普查", "maintenance_dept": "区市政市容养护中心", "initial_date": date(2024, 6, 1)},
    )  # fmt: skip
    # Underground pipelines as line layers under local classes 21xx, each with its owner.
    for code, name in PIPELINES.items():
        add_extension(
            session, LOCAL_OPERATOR, county, code, name, network=NETWORK_OF[code], geometry="line"
        )
        starts = _points_in(area, 20, rng)
        lines = [shapely.LineString([p, p + rng.uniform(-0.004, 0.004, size=2)]) for p in starts]
        lines = [line for line in lines if area.covers(line)]  # bulk_load refuses the rest
        if not lines:
            continue
        mids = np.array([line.interpolate(0.5, normalized=True).coords[0] for line in lines])
        total += bulk_load(
            session, LOCAL_OPERATOR, county_code=county, class_codes=np.array([code] * len(lines)),
            lon=mids[:, 0], lat=mids[:, 1], geoms=lines,
            fields={"network": NETWORK_OF[code], "owner_dept": f"{name[:2]}公司", "data_source": "管线普查"},
        )  # fmt: skip
    return total


def _organisations(
    session: Session, rng: np.random.Generator, county: str, grids: Sequence[Grid], now: Any
) -> int:
    rows = []
    for i, grid in enumerate(grids):
        for j in range(3):
            kind = "enterprise" if j < 2 else ("social" if i % 2 else "party")
            x, y = _points_in(grid.geom, 1, rng)[0]
            employees = int(rng.integers(3, 300)) if kind == "enterprise" else None
            rows.append({
                "county_code": county, "kind": kind, "community_code": grid.community_code,
                "name": grid.name + ("商贸有限公司", "科技有限公司", SUFFIX[kind])[j],
                "credit_code": _credit_code(rng, county, kind), "legal_rep": _name(rng),
                "address": f"{grid.name}{j + 1}号", "lon": float(x), "lat": float(y), "grid_id": grid.id,
                "industry": str(rng.choice(INDUSTRIES)) if kind == "enterprise" else None,
                "employees": employees,
                "contracts_signed": int(employees * rng.uniform(0.6, 1.0)) if employees else None,
                "insured": int(employees * rng.uniform(0.5, 1.0)) if employees else None,
                "integrity_grade": str(rng.choice(["A", "B", "C"], p=[0.7, 0.25, 0.05])) if employees else None,
                "created_at": now, "updated_at": now,
            })  # fmt: skip
    if rows:
        session.execute(insert(Organisation), rows)
    return len(rows)
