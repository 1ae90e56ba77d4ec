"""Bulk loading of components: a million rows with codes, grids and geometry in one COPY.

Per-row Python work is kept to a join: codes come from integer arithmetic in numpy, grids
from GridIndex.locate_many, geometry from vectorised shapely, and the COPY text is built
column by column.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.audit.service import record
from wangge.auth.principal import Principal
from wangge.common.models import utcnow
from wangge.common.spatial import SRID
from wangge.errors import ValidationFailed
from wangge.grids.locating import locate_many
from wangge.grids.models import Grid
from wangge.registry.catalogue import DEFAULT_SCHEME, Catalogue, Scheme
from wangge.registry.component_grids import require_all_in_county
from wangge.registry.components import catalogue_for, reserve_serials

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
    serials: np.ndarray = firsts[inverse] + rank
    return serials


def _point_wkb(lon: np.ndarray, lat: np.ndarray, *, srid: int | None) -> list[Any]:
    """Return point WKB built in numpy: hex EWKB with the SRID (PostGIS) or raw bytes (SQLite)."""
    # Byte order 01 (little endian), type 1 (Point) with the 0x20000000 SRID flag, SRID, x, y.
    head = b"\x01\x01\x00\x00\x20" + srid.to_bytes(4, "little") if srid else b"\x01\x01\x00\x00\x00"
    n, width = len(lon), len(head) + 16
    buf = np.empty((n, width), dtype=np.uint8)
    buf[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    buf[:, len(head) : len(head) + 8] = (
        np.ascontiguousarray(lon, dtype="<f8").view(np.uint8).reshape(n, 8)
    )
    buf[:, len(head) + 8 :] = np.ascontiguousarray(lat, dtype="<f8").view(np.uint8).reshape(n, 8)
    if srid:
        text = buf.tobytes().hex()
        step = 2 * width
        return [text[i : i + step] for i in range(0, n * step, step)]
    raw = buf.tobytes()
    return [raw[i : i + width] for i in range(0, n * width, width)]


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
    if geoms is not None:  # before any serial is reserved: a refused batch leaves nothing
        require_all_in_county(session, county_code, geoms)
    classes, inverse, counts = np.unique(
        np.asarray(class_codes, dtype=str), return_inverse=True, return_counts=True
    )
    _require_classes(catalogue_for(session, county_code, scheme), classes, lines=geoms is not None)
    codes = _component_codes(session, county_code, classes, inverse, counts)
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
    postgres = session.get_bind().dialect.name == "postgresql"
    shapes = None if geoms is None else np.asarray(geoms, dtype=object)[order]
    wkb, bounds = _geometry_columns(lon, lat, shapes, postgres=postgres)
    tick("geometry")
    names = (fields or {}).get("names")
    class_list = classes.tolist()
    variable = [
        codes.astype(str).tolist(), [class_list[i] for i in inverse.tolist()],
        [names[i] for i in order.tolist()] if names else [None] * n, wkb,
        lon.tolist(), lat.tolist(), communities, _ids_or_none(social), _ids_or_none(unit),
        *bounds,
    ]  # fmt: skip
    _write_rows(session, variable, _shared_values(county_code, scheme, fields), tick)
    if shapes is not None:  # lines and polygons: every grid they cross
        _locate_spread(session, codes.astype(str).tolist())
    record(
        session, actor=principal.name, actor_id=principal.user_id, action="registry.component.bulk_load",
        object_type="component", county_code=county_code, detail={"rows": n, "classes": len(classes)},
    )  # fmt: skip
    return n


def _require_classes(catalogue: Catalogue, classes: np.ndarray, *, lines: bool) -> None:
    """Refuse an unknown class, and a line class loaded as anchor points only."""
    for code in classes.tolist():
        minor = catalogue.require(code)
        if not lines and minor.is_line:  # a pipeline is a line, never one anchor point
            raise ValidationFailed(
                f"小类 {code}（{minor.name}）是线状部件，批量装载须提供线几何",
                f"class {code} ({minor.name}) is a line class: bulk loading needs line geometries",
                code="line_required", field="geometry",
            )  # fmt: skip


def _component_codes(
    session: Session,
    county_code: str,
    classes: np.ndarray,
    inverse: np.ndarray,
    counts: np.ndarray,
) -> np.ndarray:
    """Return the codes of the rows: county, class and a serial reserved per class."""
    firsts = np.array(
        [
            reserve_serials(session, county_code, c, int(k))
            for c, k in zip(classes.tolist(), counts.tolist(), strict=True)
        ],
        dtype=np.int64,
    )
    serial = _assign_serials(classes, inverse, counts, firsts)
    width = len(classes[0])
    codes: np.ndarray = (
        int(county_code) * 10 ** (width + 6) + classes.astype(np.int64)[inverse] * 10**6 + serial
    )
    return codes


def _geometry_columns(
    lon: np.ndarray, lat: np.ndarray, shapes: np.ndarray | None, *, postgres: bool
) -> tuple[list[Any], list[list[float]]]:
    """Return the WKB column and the four bounding-box columns (points when no shapes)."""
    lons, lats = lon.tolist(), lat.tolist()
    if shapes is None:
        return _point_wkb(lon, lat, srid=SRID if postgres else None), [lons, lats, lons, lats]
    if postgres:
        wkb = shapely.to_wkb(shapely.set_srid(shapes, SRID), hex=True, include_srid=True).tolist()
    else:
        wkb = shapely.to_wkb(shapes).tolist()
    return wkb, shapely.bounds(shapes).T.tolist()


def _ids_or_none(grids: np.ndarray) -> list[int | None]:
    return [g if g >= 0 else None for g in grids.tolist()]


def _shared_values(
    county_code: str, scheme: Scheme, fields: dict[str, Any] | None
) -> tuple[Any, ...]:
    """Return the values every row of a load shares, in the order of BULK_COLUMNS' tail."""
    shared = fields or {}
    now = utcnow()
    return (
        county_code, scheme, shared.get("state", "完好"), shared.get("competent_dept"),
        shared.get("owner_dept"), shared.get("maintenance_dept"), shared.get("network"),
        shared.get("data_source"), shared.get("initial_date"), now, now,
    )  # fmt: skip


def _write_rows(
    session: Session,
    variable: list[list[Any]],
    const: tuple[Any, ...],
    tick: Callable[[str], None],
) -> None:
    """COPY on PostgreSQL (a large load rebuilds the indexes after), INSERT on SQLite."""
    if session.get_bind().dialect.name != "postgresql":
        _insert_rows(session, variable, const)
        tick("insert")
    elif len(variable[0]) >= REBUILD_AT:
        with _indexes_rebuilt_after(session):
            _copy_rows(session, variable, const)
            tick("copy")
        tick("index rebuild")
    else:
        _copy_rows(session, variable, const)
        tick("copy")


def _locate_spread(session: Session, codes: list[str]) -> None:
    from wangge.registry.component_grids import refresh_ids
    from wangge.registry.models_components import Component

    ids: list[int] = []
    for start in range(0, len(codes), 1000):
        chunk = codes[start : start + 1000]
        ids.extend(session.scalars(select(Component.id).where(Component.code.in_(chunk))))
    refresh_ids(session, ids)


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
    done: dict[int, list[str]] = {}  # point bounds reuse the lon/lat lists: format them once
    columns = []
    for col, kind in zip(variable, _KINDS, strict=True):
        if id(col) not in done:
            done[id(col)] = _column_text(col, kind)
        columns.append(done[id(col)])
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
