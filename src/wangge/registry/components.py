"""Components (城市部件): catalogue per county, codes that are never reused, bulk loading."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Select, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from wangge.audit.service import record
from wangge.auth.principal import Principal
from wangge.common.models import utcnow
from wangge.common.spatial import SRID, bbox_columns
from wangge.errors import NotFound, ValidationFailed
from wangge.grids.locating import locate_many
from wangge.grids.models import Grid
from wangge.registry.access import check_area, locate, require_community, visible
from wangge.registry.catalogue import (
    DEFAULT_SCHEME,
    Catalogue,
    Scheme,
    component_code,
    load_catalogue,
)
from wangge.registry.geometry import anchor, parse_geometry
from wangge.registry.history import log_change, snapshot
from wangge.registry.models_components import (
    NETWORKS,
    STATES,
    Component,
    ComponentClassExtension,
    ComponentSerial,
)
from wangge.registry.people import _choice

MAX_SERIAL = 999_999
TEXT_FIELDS = ("name", "competent_dept", "owner_dept", "maintenance_dept", "data_source", "note")


def catalogue_for(session: Session, county_code: str, scheme: Scheme = DEFAULT_SCHEME) -> Catalogue:
    """Return the component catalogue of a scheme with the county's local extensions."""
    catalogue = load_catalogue(scheme, "component")
    for ext in session.scalars(
        select(ComponentClassExtension)
        .where(
            ComponentClassExtension.county_code == county_code,
            ComponentClassExtension.scheme == scheme,
        )
        .order_by(ComponentClassExtension.code)
    ):
        catalogue.extend(ext.code, ext.name)
    return catalogue


def add_extension(
    session: Session,
    principal: Principal,
    county_code: str,
    code: str,
    name: str,
    scheme: Scheme = DEFAULT_SCHEME,
) -> ComponentClassExtension:
    """Register a local class under major class 21 for a county (checked by the catalogue)."""  # fmt: skip
    principal.require("registry.write")
    catalogue_for(session, county_code, scheme).extend(code, name)
    ext = ComponentClassExtension(
        county_code=county_code, scheme=scheme, code=code, name=name.strip()
    )
    session.add(ext)
    session.flush()
    return ext


def reserve_serials(session: Session, county_code: str, class_code: str, count: int = 1) -> int:
    """Reserve `count` serials of (county, class); return the first. Counters only go up."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(ComponentSerial)
        .values(county_code=county_code, class_code=class_code, last_serial=0)
        .on_conflict_do_nothing()
    )
    # One UPDATE … RETURNING: the row lock makes concurrent imports take disjoint ranges.
    last = session.execute(
        update(ComponentSerial)
        .where(ComponentSerial.county_code == county_code, ComponentSerial.class_code == class_code)
        .values(last_serial=ComponentSerial.last_serial + count)
        .returning(ComponentSerial.last_serial)
    ).scalar_one()
    if last > MAX_SERIAL:
        raise ValidationFailed(
            f"{county_code} 的小类 {class_code} 流水号已用尽（最多 {MAX_SERIAL}）",
            f"serials of class {class_code} in {county_code} are exhausted ({MAX_SERIAL})",
            code="serials_exhausted", field="class_code",
        )  # fmt: skip
    return int(last) - count + 1


def get_component(session: Session, principal: Principal, component_id: int) -> Component:
    """Return a component in the principal's area, or raise NotFound."""
    principal.require("registry.read")
    found = session.scalar(
        select(Component).where(Component.id == component_id, visible(Component, principal))
    )
    if found is None:
        raise NotFound(f"部件 {component_id} 不存在", f"component {component_id} does not exist")
    return found


def _date(value: Any, field: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ValidationFailed(
            f"日期 {value} 无效，应为 YYYY-MM-DD", f"date {value!r} must be YYYY-MM-DD", field=field
        ) from None


def save_component(
    session: Session,
    principal: Principal,
    data: dict[str, Any],
    *,
    component_id: int | None = None,
    county_code: str | None = None,
    audit: bool = True,
) -> Component:
    """Create (code assigned automatically) or update a component; located in its grids."""  # fmt: skip
    principal.require("registry.write")
    comp = get_component(session, principal, component_id) if component_id else Component()
    before = snapshot(comp) if component_id else None
    geom = parse_geometry(
        lon=data.get("lon"), lat=data.get("lat"), wkt=data.get("wkt"),
        geojson=data.get("geometry"), crs=data.get("crs"),
    )  # fmt: skip
    if before is None:
        county = county_code or (str(data.get("community_code") or "")[:6] or None)
        if geom is None:
            raise ValidationFailed("部件必须有位置", "a component needs a location", field="lon")
        if not county:
            raise ValidationFailed("请指定区县", "the county is required", field="county_code")
        scheme: Scheme = data.get("scheme") or DEFAULT_SCHEME
        class_code = str(data.get("class_code") or "").strip()
        catalogue = catalogue_for(session, county, scheme)
        catalogue.require(class_code)
        comp.county_code, comp.scheme, comp.class_code = county, scheme, class_code
        comp.code = component_code(
            county, class_code, reserve_serials(session, county, class_code), catalogue=catalogue
        )
    if geom is not None:
        comp.geom = geom
        for key, value in bbox_columns(geom).items():
            setattr(comp, key, value)
        comp.lon, comp.lat = anchor(geom)
        comp.grid_id, comp.unit_grid_id, comp.community_code = locate(
            session, comp.lon, comp.lat, comp.county_code
        )
    if data.get("community_code") and comp.community_code is None:
        comp.community_code = require_community(session, data["community_code"])
    if comp.community_code is None:
        raise ValidationFailed(
            "部件位置不在任何网格内，请填写所属社区", "the component lies in no grid; give its community",
            code="unlocated", field="lon",
        )  # fmt: skip
    check_area(session, principal, comp.community_code, comp.grid_id)
    for key in TEXT_FIELDS:
        if key in data:
            setattr(comp, key, (str(data[key]).strip() or None) if data[key] is not None else None)
    if data.get("state"):
        state = str(data["state"]).strip()
        if state not in STATES:
            raise ValidationFailed(
                f"部件状态 {state} 无效，应为 {'、'.join(STATES)} 之一",
                f"state {state!r} must be one of {', '.join(STATES)}", code="bad_choice", field="state",
            )  # fmt: skip
        comp.state = state
    elif before is None:
        comp.state = "完好"
    if "network" in data:
        comp.network = (
            _choice(str(data["network"]), NETWORKS, "network", "管线类别")
            if data["network"]
            else None
        )
    for key in ("initial_date", "change_date"):
        if key in data:
            setattr(comp, key, _date(data[key], key))
    if "attributes" in data:
        comp.attributes = data["attributes"] or None
    if before is None:
        session.add(comp)
    elif comp.change_date is None or "change_date" not in data:
        comp.change_date = utcnow().date()
    log_change(
        session, principal, object_type="component", obj=comp,
        action="create" if before is None else "update", before=before, audit=audit,
    )  # fmt: skip
    return comp


def delete_component(session: Session, principal: Principal, component_id: int) -> None:
    """Remove a component; its code is never handed out again (the counter stays)."""
    principal.require("registry.write")
    comp = get_component(session, principal, component_id)
    before = snapshot(comp)
    session.delete(comp)
    log_change(
        session, principal, object_type="component", obj=comp, action="delete", before=before
    )


def components_query(principal: Principal, **filters: Any) -> Select[tuple[Component]]:
    """Return the query of components in the principal's area."""
    principal.require("registry.read")
    query = select(Component).where(visible(Component, principal))
    for key in ("class_code", "state", "network", "grid_id", "unit_grid_id", "code"):
        if filters.get(key):
            query = query.where(getattr(Component, key) == filters[key])
    if filters.get("community"):
        query = query.where(
            Component.community_code.startswith(filters["community"], autoescape=True)
        )
    if filters.get("major"):
        query = query.where(Component.class_code.startswith(filters["major"], autoescape=True))
    return query.order_by(Component.id)


# ------------------------------------------------------------------------ bulk loading

# Per-row columns first, then the ones every row of a load shares.
BULK_COLUMNS = (
    "code", "class_code", "name", "geom", "lon", "lat", "community_code", "grid_id",
    "unit_grid_id", "minx", "miny", "maxx", "maxy",
    "county_code", "scheme", "state", "competent_dept", "owner_dept", "maintenance_dept",
    "network", "data_source", "initial_date", "created_at", "updated_at",
)  # fmt: skip


def _assign_serials(
    classes: np.ndarray, inverse: np.ndarray, counts: np.ndarray, firsts: np.ndarray
) -> np.ndarray:
    # Rank of each row within its class, in input order, without a Python loop.
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(inverse), dtype=np.int64)
    rank[order] = np.arange(len(inverse)) - np.repeat(starts, counts)
    return firsts[inverse] + rank


def _community_of(session: Session, county_code: str, *grid_arrays: np.ndarray) -> list[str | None]:
    rows = session.execute(
        select(Grid.id, Grid.community_code)
        .where(Grid.county_code == county_code)
        .order_by(Grid.id)
    ).all()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    names = np.array([r[1] for r in rows] + [None], dtype=object)
    pick = np.full(len(grid_arrays[0]), len(rows), dtype=np.int64)
    for grids in grid_arrays:
        free = (pick == len(rows)) & (grids >= 0)
        pick[free] = np.searchsorted(ids, grids[free])
    return names[pick].tolist()  # type: ignore[no-any-return]


def bulk_load(
    session: Session,
    principal: Principal,
    *,
    county_code: str,
    class_codes: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    geoms: Sequence[Any] | None = None,
    fields: dict[str, Any] | None = None,
    scheme: Scheme = DEFAULT_SCHEME,
    progress: Callable[[str], None] | None = None,
) -> int:
    """Insert many components at once: codes, grids and geometry computed in numpy, COPY on PG.

    `class_codes` holds one class per row, `lon`/`lat` the anchor points (canonical CRS),
    `geoms` optional lines/polygons (else points), `fields` values shared by every row.
    """  # fmt: skip
    principal.require("registry.write")
    tick = progress or (lambda _m: None)
    n = len(class_codes)
    if n == 0:
        return 0
    catalogue = catalogue_for(session, county_code, scheme)
    classes, inverse, counts = np.unique(
        np.asarray(class_codes, dtype=str), return_inverse=True, return_counts=True
    )
    for code in classes.tolist():
        catalogue.require(code)
    firsts = np.array(
        [
            reserve_serials(session, county_code, c, int(k))
            for c, k in zip(classes.tolist(), counts.tolist(), strict=True)
        ],
        dtype=np.int64,
    )
    serial = _assign_serials(classes, inverse, counts, firsts)
    width = len(classes[0])
    codes = (
        int(county_code) * 10 ** (width + 6) + classes.astype(np.int64)[inverse] * 10**6 + serial
    )
    tick("codes")
    found = locate_many(session, lon, lat, county_codes=[county_code])
    social, unit = found["social"], found["unit"]
    # Rows go in grid by grid: neighbours land in the same GiST and b-tree pages, which
    # keeps the index inserts of a million-row COPY in cache.
    order = np.lexsort((lat, unit))
    codes, inverse, social, unit = codes[order], inverse[order], social[order], unit[order]
    lon, lat = np.asarray(lon, dtype=float)[order], np.asarray(lat, dtype=float)[order]
    communities = _community_of(session, county_code, social, unit)
    tick("grids")
    shapes = shapely.points(lon, lat) if geoms is None else np.asarray(geoms, dtype=object)[order]
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        wkb = shapely.to_wkb(shapely.set_srid(shapes, SRID), hex=True, include_srid=True).tolist()
    else:
        wkb = shapely.to_wkb(shapes).tolist()
    lons, lats = lon.tolist(), lat.tolist()
    points = geoms is None
    bounds = [lons, lats, lons, lats] if points else shapely.bounds(shapes).T.tolist()
    tick("geometry")
    shared = fields or {}
    now = utcnow()
    const = (
        county_code, scheme, shared.get("state", "完好"), shared.get("competent_dept"),
        shared.get("owner_dept"), shared.get("maintenance_dept"), shared.get("network"),
        shared.get("data_source"), shared.get("initial_date"), now, now,
    )  # fmt: skip
    names = shared.get("names")
    name_list: list[str | None] = [names[i] for i in order.tolist()] if names else [None] * n
    social_ids: list[int | None] = [g if g >= 0 else None for g in social.tolist()]
    unit_ids: list[int | None] = [g if g >= 0 else None for g in unit.tolist()]
    class_list = classes.tolist()
    variable = [
        codes.astype(str).tolist(), [class_list[i] for i in inverse.tolist()], name_list, wkb,
        lons, lats, communities, social_ids, unit_ids, *bounds,
    ]  # fmt: skip
    if postgres and n >= REBUILD_AT:
        with _indexes_rebuilt_after(session):
            _copy_rows(session, variable, const)
    elif postgres:
        _copy_rows(session, variable, const)
    else:
        _insert_rows(session, variable, const)
    tick("written")
    record(
        session, actor=principal.name, actor_id=principal.user_id, action="registry.component.bulk_load",
        object_type="component", county_code=county_code, detail={"rows": n, "classes": len(classes)},
    )  # fmt: skip
    return n


# From this many rows on, a PostgreSQL load drops the secondary indexes and foreign keys
# and rebuilds them afterwards (as pg_restore does): one sorted build beats a million
# single-row GiST and b-tree inserts and FK probes. Inside the transaction, so all or nothing.
REBUILD_AT = 100_000


@contextmanager
def _indexes_rebuilt_after(session: Session) -> Iterator[None]:
    run = session.connection().exec_driver_sql
    constraints = run(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'components'::regclass AND contype IN ('f', 'u') ORDER BY contype DESC"
    ).all()
    indexes = run(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
        "WHERE indrelid = 'components'::regclass AND NOT indisprimary AND indexrelid NOT IN "
        "(SELECT conindid FROM pg_constraint WHERE conrelid = 'components'::regclass)"
    ).all()
    for name, _definition in constraints:
        run(f'ALTER TABLE components DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        run(f"DROP INDEX {name}")
    yield
    run("SET LOCAL maintenance_work_mem = '256MB'")
    for _name, definition in indexes:
        run(definition)
    for name, definition in reversed(constraints):
        run(f'ALTER TABLE components ADD CONSTRAINT "{name}" {definition}')


def _copy_text(value: Any) -> str:
    # COPY text format: \N is NULL; backslash, tab and line breaks are escaped.
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return text


# Per variable column: s digits or hex (safe as is), t free text, f float, n nullable id/code.
_KINDS = "sstsffnnnffff"


def _column_text(col: list[Any], kind: str) -> list[str]:
    if kind == "s":
        return col
    if kind == "f":
        return list(map(repr, col))
    if kind == "n":
        return ["\\N" if v is None else str(v) for v in col]
    return list(map(_copy_text, col))


def _copy_rows(session: Session, variable: list[list[Any]], const: tuple[Any, ...]) -> None:
    # Whole columns become text at once and rows are joined in C (str.join over zip):
    # per-row Python work is a single join, which is what makes a million rows cheap.
    columns = [_column_text(col, kind) for col, kind in zip(variable, _KINDS, strict=True)]
    tail = "\t".join(_copy_text(v) for v in const)
    driver = session.connection().connection.driver_connection
    sql = f"COPY components ({', '.join(BULK_COLUMNS)}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(sql) as copy:  # type: ignore[union-attr]
        rows = zip(*columns, itertools.repeat(tail), strict=False)
        while chunk := list(itertools.islice(rows, 100_000)):
            copy.write("\n".join(map("\t".join, chunk)) + "\n")


def _insert_rows(session: Session, variable: list[list[Any]], const: tuple[Any, ...]) -> None:
    # SQLite: executemany in batches, timestamps as the naive UTC text SQLAlchemy writes.
    const = tuple(
        v.replace(tzinfo=None).isoformat(sep=" ") if isinstance(v, datetime) else v for v in const
    )
    placeholders = ", ".join("?" * len(BULK_COLUMNS))
    sql = f"INSERT INTO components ({', '.join(BULK_COLUMNS)}) VALUES ({placeholders})"
    connection = session.connection()
    rows = (row + const for row in zip(*variable, strict=True))
    while batch := list(itertools.islice(rows, 50_000)):
        connection.exec_driver_sql(sql, batch)
