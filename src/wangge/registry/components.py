"""Components (城市部件): catalogue per county, codes that are never reused, bulk loading."""

from __future__ import annotations

from typing import Any, cast, get_args

from sqlalchemy import Select, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.common.models import utcnow
from wangge.common.spatial import bbox_columns
from wangge.departments.service import require_active
from wangge.divisions.models import Division
from wangge.errors import ValidationFailed
from wangge.registry.access import check_area, get_in_area, locate, require_community
from wangge.registry.catalogue import (
    DEFAULT_SCHEME,
    Catalogue,
    MinorClass,
    Scheme,
    load_catalogue,
)
from wangge.registry.component_codes import component_code
from wangge.registry.component_grids import (
    in_grid,
    refresh,
    require_anchored_here,
    require_in_county,
    visible_component,
)
from wangge.registry.fields import choice, parse_date, set_texts
from wangge.registry.geometry import anchor, parse_geometry
from wangge.registry.history import log_change, log_saved, snapshot
from wangge.registry.models_components import (
    NETWORKS,
    STATES,
    Component,
    ComponentClassExtension,
    ComponentSerial,
)

MAX_SERIAL = 999_999
TEXT_FIELDS = ("name", "competent_dept", "owner_dept", "maintenance_dept", "data_source", "note")


def _point(geom: Any) -> str | None:
    # A point component is checked against the county too (lines and areas always are).
    return "部件|component" if geom is not None and geom.geom_type == "Point" else None


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
        catalogue.extend(ext.code, ext.name, network=ext.network, geometry=ext.geometry or "point")
    return catalogue


def add_extension(
    session: Session,
    principal: Principal,
    county_code: str,
    code: str,
    name: str,
    scheme: Scheme = DEFAULT_SCHEME,
    *,
    network: str | None = None,
    geometry: str = "point",
) -> ComponentClassExtension:
    """Register a local class under major class 21 for a county (checked by the catalogue).

    `network` and `geometry="line"` make it a pipeline class (its components must be lines).
    """
    principal.require("registry.write")
    if session.get(Division, county_code) is None or len(county_code) != 6:
        raise ValidationFailed(
            f"区县 {county_code} 不存在",
            f"county {county_code} does not exist",
            field="county_code",
        )
    if network:
        network = choice(network, NETWORKS, "network", "管线类别")
    catalogue_for(session, county_code, scheme).extend(
        code, name, network=network, geometry=geometry
    )
    ext = ComponentClassExtension(
        county_code=county_code, scheme=scheme, code=code, name=name.strip(), network=network,
        geometry=None if geometry == "point" else geometry,
    )  # fmt: skip
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
    in_area = visible_component(principal)
    return get_in_area(session, principal, Component, component_id, in_area, ("部件", "component"))


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
        _assign_code(session, comp, data, geom, county_code)
    if geom is not None:
        _place(session, comp, geom, check_class=before is not None)
    if data.get("community_code") and comp.community_code is None:
        comp.community_code = require_community(session, data["community_code"])
    if comp.community_code is None:
        raise ValidationFailed(
            "部件位置不在任何网格内，请填写所属社区", "the component lies in no grid; give its community",
            code="unlocated", field="lon",
        )  # fmt: skip
    check_area(session, principal, comp.community_code, comp.grid_id)
    _set_fields(session, comp, data, creating=before is None)
    if before is None:
        session.add(comp)
    elif comp.change_date is None or "change_date" not in data:
        comp.change_date = utcnow().date()
    if geom is not None:  # a line or polygon: every grid it crosses (a point: none)
        session.flush()  # the id, for the grid rows
        refresh(session, [comp])
    log_saved(session, principal, object_type="component", obj=comp, before=before, audit=audit)
    return comp


def _assign_code(
    session: Session, comp: Component, data: dict[str, Any], geom: Any, county_code: str | None
) -> None:
    """Give a new component its county, scheme, class and a code with a fresh serial."""
    county = county_code or (str(data.get("community_code") or "")[:6] or None)
    if geom is None:
        raise ValidationFailed("部件必须有位置", "a component needs a location", field="lon")
    if not county:  # the county of the grid the component stands in
        county = (locate(session, *anchor(geom), None)[2] or "")[:6] or None
    if not county:
        raise ValidationFailed("请指定区县", "the county is required", field="county_code")
    require_in_county(session, county, geom, what=_point(geom))  # before a serial is reserved
    scheme: Scheme = data.get("scheme") or DEFAULT_SCHEME
    if scheme not in get_args(Scheme):
        raise ValidationFailed(
            f"编码方案 {scheme} 无效，应为 GB/T 30428.2 或 GB/T 47678.5",
            f"scheme {scheme!r} must be GB/T 30428.2 or GB/T 47678.5", field="scheme",
        )  # fmt: skip
    class_code = str(data.get("class_code") or "").strip()
    catalogue = catalogue_for(session, county, scheme)
    minor = catalogue.require(class_code)
    require_line(minor, geom)
    if minor.network and not data.get("network"):  # a pipeline class names its network
        comp.network = minor.network
    comp.county_code, comp.scheme, comp.class_code = county, scheme, class_code
    comp.code = component_code(
        county, class_code, reserve_serials(session, county, class_code), catalogue=catalogue
    )


def _place(session: Session, comp: Component, geom: Any, *, check_class: bool) -> None:
    """Put the component's geometry, anchor and grids in place (a move checked like a create)."""
    if check_class:
        require_in_county(session, comp.county_code, geom, what=_point(geom))
        scheme = cast(Scheme, comp.scheme)  # checked against Scheme when it was made
        known = catalogue_for(session, comp.county_code, scheme).get(comp.class_code)
        if known is not None:
            require_line(known, geom)
    comp.geom = geom
    for key, value in bbox_columns(geom).items():
        setattr(comp, key, value)
    comp.lon, comp.lat = anchor(geom)
    comp.grid_id, comp.unit_grid_id, comp.community_code = locate(
        session, comp.lon, comp.lat, comp.county_code
    )


def _set_fields(session: Session, comp: Component, data: dict[str, Any], *, creating: bool) -> None:
    """Set the descriptive fields sent (texts, state, owner, network, dates, attributes)."""
    set_texts(comp, data, TEXT_FIELDS)
    if data.get("state"):
        state = str(data["state"]).strip()
        if state not in STATES:
            raise ValidationFailed(
                f"部件状态 {state} 无效，应为 {'、'.join(STATES)} 之一",
                f"state {state!r} must be one of {', '.join(STATES)}", code="bad_choice", field="state",
            )  # fmt: skip
        comp.state = state
    elif creating:
        comp.state = "完好"
    if "owner_department_code" in data:
        comp.owner_department_code = _owner(
            session, comp.county_code, data["owner_department_code"]
        )
    if "network" in data:
        comp.network = (
            choice(str(data["network"]), NETWORKS, "network", "管线类别")
            if data["network"]
            else None
        )
    for key in ("initial_date", "change_date"):
        if key in data:
            setattr(comp, key, parse_date(data[key], key))
    if "attributes" in data:
        comp.attributes = data["attributes"] or None


def require_line(minor: MinorClass, geom: Any) -> None:
    """A line class (给水管线 …) takes lines only: a pipeline is not drawn as one point."""
    if minor.is_line and geom is not None and "LineString" not in geom.geom_type:
        raise ValidationFailed(
            f"小类 {minor.code}（{minor.name}）是线状部件，几何须为线（LineString），"
            f"不能是 {geom.geom_type}",
            f"class {minor.code} ({minor.name}) is a line class: the geometry must be a"
            f" LineString, not a {geom.geom_type}",
            code="line_required", field="geometry",
        )  # fmt: skip


def _owner(session: Session, county_code: str, value: Any) -> str | None:
    """Return the owner department code after checking it may take the county's cases."""
    code = str(value).strip() if value is not None else ""
    if not code:
        return None
    # Cases about the component are dispatched there by default (cases/routing.py).
    require_active(session, county_code, [code], field="owner_department_code")
    return code


def delete_component(session: Session, principal: Principal, component_id: int) -> None:
    """Remove a component; its code is never handed out again (the counter stays)."""
    principal.require("registry.write")
    comp = get_component(session, principal, component_id)
    require_anchored_here(session, principal, comp)
    check_area(session, principal, comp.community_code, comp.grid_id)
    before = snapshot(comp)
    session.delete(comp)
    log_change(
        session, principal, object_type="component", obj=comp, action="delete", before=before
    )


def components_query(principal: Principal, **filters: Any) -> Select[Component]:
    """Return the query of components in the principal's area."""
    principal.require("registry.read")
    query = select(Component).where(visible_component(principal))
    for key in ("class_code", "state", "network", "code"):
        if filters.get(key):
            query = query.where(getattr(Component, key) == filters[key])
    for key in ("grid_id", "unit_grid_id"):  # a pipeline lies in every grid it crosses
        if filters.get(key):
            query = query.where(in_grid(getattr(Component, key), filters[key]))
    if filters.get("community"):
        query = query.where(
            Component.community_code.startswith(filters["community"], autoescape=True)
        )
    if filters.get("major"):
        query = query.where(Component.class_code.startswith(filters["major"], autoescape=True))
    q = (filters.get("q") or "").strip()
    if q:  # a code (or its leading digits) or part of the name
        query = query.where(
            Component.code.startswith(q, autoescape=True)
            | Component.name.contains(q, autoescape=True)
        )
    return query.order_by(Component.id)
