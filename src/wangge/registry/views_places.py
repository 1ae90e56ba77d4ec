"""HTTP routes for buildings, rooms, tenancies and components."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.common.masking import mask_phone
from wangge.registry import components, houses
from wangge.registry.catalogue import DEFAULT_SCHEME, Scheme
from wangge.registry.component_grids import grid_codes, grid_codes_of
from wangge.registry.idempotent import IdempotencyKeyDep, save_once
from wangge.registry.pipeline_classes import install_pipeline_classes, pipeline_classes
from wangge.registry.schemas import (
    BuildingIn,
    ComponentIn,
    ExtensionIn,
    PipelineClassesIn,
    RoomIn,
    TenancyIn,
)

router = APIRouter(prefix="/registry", tags=["registry 基础数据"])


def building_out(b: Any) -> dict[str, Any]:
    """Return a building as JSON."""
    return {
        "id": b.id, "name": b.name, "address": b.address, "community_code": b.community_code,
        "lon": b.lon, "lat": b.lat, "grid_id": b.grid_id, "unit_grid_id": b.unit_grid_id,
        "micro_grid_id": b.micro_grid_id,
        "floors": b.floors, "purpose": b.purpose, "verified_at": b.verified_at,
        "geometry": b.geom.__geo_interface__ if b.geom is not None else None,
    }  # fmt: skip


def room_out(r: Any) -> dict[str, Any]:
    """Return a room as JSON (landlord phone masked)."""
    return {
        "id": r.id, "building_id": r.building_id, "community_code": r.community_code, "unit": r.unit,
        "floor": r.floor, "number": r.number, "area_m2": r.area_m2, "use": r.use,
        "landlord_name": r.landlord_name, "landlord_phone": mask_phone(r.landlord_phone),
    }  # fmt: skip


def component_out(c: Any, codes: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Return a component as JSON."""
    return {
        "id": c.id, "code": c.code, "scheme": c.scheme, "class_code": c.class_code, "name": c.name,
        "community_code": c.community_code, "grid_id": c.grid_id, "unit_grid_id": c.unit_grid_id,
        "lon": c.lon, "lat": c.lat, "network": c.network, "competent_dept": c.competent_dept,
        "owner_dept": c.owner_dept, "owner_department_code": c.owner_department_code,
        "maintenance_dept": c.maintenance_dept, "state": c.state,
        "initial_date": c.initial_date, "change_date": c.change_date, "data_source": c.data_source,
        "note": c.note, "attributes": c.attributes, "verified_at": c.verified_at,
        "geometry": c.geom.__geo_interface__ if c.geom is not None else None,
        **_grid_codes(c, codes),
    }  # fmt: skip


def _grid_codes(c: Any, codes: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """Every grid the component lies in: a pipeline crosses several (registry.component_grids)."""
    if codes is None:
        session = object_session(c)
        codes = grid_codes(session, c) if session is not None else {"social": [], "unit": []}
    return {"grid_codes": codes["social"], "unit_grid_codes": codes["unit"]}


def page_of(session: Session, query: Any, limit: int, offset: int, out: Any) -> dict[str, Any]:
    """Return one page of a list query: the total count and the page's rows through `out`."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = session.scalars(query.limit(limit).offset(offset)).all()
    return {"total": total, "items": [out(i) for i in items]}


@router.get("/buildings")
def list_buildings(
    session: SessionDep,
    principal: PrincipalDep,
    community: str | None = None,
    grid_id: int | None = None,
    q: str | None = None,
    limit: int = Query(100, le=1000),
    offset: int = 0,
) -> dict[str, Any]:
    """List buildings in the caller's area."""  # fmt: skip
    query = houses.buildings_query(principal, community=community, grid_id=grid_id, q=q)
    return page_of(session, query, limit, offset, building_out)


@router.post("/buildings", status_code=201)
def create_building(
    body: BuildingIn, session: SessionDep, principal: PrincipalDep, key: IdempotencyKeyDep = None
) -> Any:
    """Register a building; its position puts it in its grids."""

    def save(data: dict[str, Any]) -> dict[str, Any]:
        return building_out(houses.save_building(session, principal, data))

    path = "/registry/buildings"
    return save_once(session, principal, key, method="POST", path=path, body=body, save=save)


@router.get("/buildings/{building_id}")
def get_building(building_id: int, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Return one building with its rooms."""
    out = building_out(houses.get_building(session, principal, building_id))
    out["rooms"] = [room_out(r) for r in houses.rooms_of(session, principal, building_id)]
    return out


@router.patch("/buildings/{building_id}")
def update_building(
    building_id: int,
    body: BuildingIn,
    session: SessionDep,
    principal: PrincipalDep,
    key: IdempotencyKeyDep = None,
) -> Any:
    """Change a building."""

    def save(data: dict[str, Any]) -> dict[str, Any]:
        return building_out(houses.save_building(session, principal, data, building_id=building_id))

    path = f"/registry/buildings/{building_id}"
    return save_once(session, principal, key, method="PATCH", path=path, body=body, save=save)


@router.get("/rooms")
def list_rooms(
    session: SessionDep,
    principal: PrincipalDep,
    community: str | None = None,
    grid_id: int | None = None,
    building_id: int | None = None,
    use: str | None = None,
    q: str | None = Query(None, description="房号、房东或楼栋名称、地址"),
    limit: int = Query(100, le=1000),
    offset: int = 0,
) -> dict[str, Any]:
    """List rooms in the caller's area (landlord phones masked)."""  # fmt: skip
    query = houses.rooms_query(
        principal, community=community, grid_id=grid_id, building_id=building_id, use=use, q=q
    )
    return page_of(session, query, limit, offset, room_out)


@router.get("/rooms/{room_id}")
def get_room(room_id: int, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Return one room with its building's name and address."""
    room = houses.get_room(session, principal, room_id)
    building = houses.get_building(session, principal, room.building_id)
    return room_out(room) | {"building_name": building.name, "building_address": building.address}


@router.post("/rooms", status_code=201)
def create_room(
    body: RoomIn, session: SessionDep, principal: PrincipalDep, key: IdempotencyKeyDep = None
) -> Any:
    """Add a room to a building."""

    def save(data: dict[str, Any]) -> dict[str, Any]:
        return room_out(houses.save_room(session, principal, data))

    path = "/registry/rooms"
    return save_once(session, principal, key, method="POST", path=path, body=body, save=save)


@router.patch("/rooms/{room_id}")
def update_room(
    room_id: int,
    body: RoomIn,
    session: SessionDep,
    principal: PrincipalDep,
    key: IdempotencyKeyDep = None,
) -> Any:
    """Change a room (use, landlord …)."""

    def save(data: dict[str, Any]) -> dict[str, Any]:
        return room_out(houses.save_room(session, principal, data, room_id=room_id))

    path = f"/registry/rooms/{room_id}"
    return save_once(session, principal, key, method="PATCH", path=path, body=body, save=save)


@router.get("/rooms/{room_id}/tenancies")
def list_tenancies(
    room_id: int, session: SessionDep, principal: PrincipalDep
) -> list[dict[str, Any]]:
    """Return the rental contracts of a room, newest first."""
    return [
        {"id": t.id, "tenant_name": t.tenant_name, "tenant_person_id": t.tenant_person_id,
         "contract_no": t.contract_no, "start_date": t.start_date, "end_date": t.end_date}
        for t in houses.tenancies_of(session, principal, room_id)
    ]  # fmt: skip


@router.post("/rooms/{room_id}/tenancies", status_code=201)
def create_tenancy(
    room_id: int, body: TenancyIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Record a rental contract (the room becomes 出租)."""
    t = houses.add_tenancy(session, principal, room_id, body.model_dump())
    return {"id": t.id, "room_id": t.room_id, "tenant_name": t.tenant_name}


@router.get("/component-classes")
def component_classes(
    session: SessionDep,
    principal: PrincipalDep,
    county: str = "110108",
    scheme: Scheme = DEFAULT_SCHEME,
) -> list[dict[str, Any]]:
    """Return the component catalogue with the county's local extensions (class 21)."""  # fmt: skip
    principal.require("registry.read")
    catalogue = components.catalogue_for(session, county, scheme)
    return [
        {"code": m.code, "name": m.name, "major": m.major, "major_name": catalogue.major(m.major).name,  # type: ignore[union-attr]
         "extension": m.extension, "uncertain": m.uncertain, "network": m.network,
         "geometry": m.geometry}
        for m in catalogue
    ]  # fmt: skip


@router.get("/component-classes/pipelines")
def component_pipeline_classes(
    session: SessionDep,
    principal: PrincipalDep,
    county: str = "110108",
    scheme: Scheme = DEFAULT_SCHEME,
) -> list[dict[str, Any]]:
    """Return the pipeline classes (管线 lines first, then 井盖 …) with their network."""
    principal.require("registry.read")
    return pipeline_classes(components.catalogue_for(session, county, scheme))


@router.post("/component-classes/pipelines")
def install_pipelines(
    body: PipelineClassesIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Add the recommended local pipeline line classes (给水管线 …) missing from the county."""
    added = install_pipeline_classes(session, principal, body.county_code, body.scheme)
    classes = pipeline_classes(components.catalogue_for(session, body.county_code, body.scheme))
    return {"added": added, "classes": classes}


@router.post("/component-classes", status_code=201)
def add_component_class(
    body: ExtensionIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Add a local component class under major class 21."""
    ext = components.add_extension(
        session, principal, body.county_code, body.code, body.name, body.scheme,
        network=body.network, geometry=body.geometry,
    )  # fmt: skip
    return {
        "county_code": ext.county_code,
        "scheme": ext.scheme,
        "code": ext.code,
        "name": ext.name,
        "network": ext.network,
        "geometry": ext.geometry or "point",
    }


@router.get("/components")
def list_components(
    session: SessionDep,
    principal: PrincipalDep,
    class_code: str | None = None,
    major: str | None = None,
    state: str | None = None,
    network: str | None = None,
    community: str | None = None,
    grid_id: int | None = None,
    unit_grid_id: int | None = None,
    code: str | None = None,
    q: str | None = Query(None, description="部件标识码（或其开头）或名称"),
    limit: int = Query(100, le=1000),
    offset: int = 0,
) -> dict[str, Any]:
    """List components in the caller's area."""  # fmt: skip
    query = components.components_query(
        principal, class_code=class_code, major=major, state=state, network=network,
        community=community, grid_id=grid_id, unit_grid_id=unit_grid_id, code=code, q=q,
    )  # fmt: skip
    page = page_of(session, query, limit, offset, lambda c: c)
    codes = grid_codes_of(session, page["items"])  # two queries for the page, not one per row
    page["items"] = [component_out(c, codes[c.id]) for c in page["items"]]
    return page


@router.post("/components", status_code=201)
def create_component(
    body: ComponentIn, session: SessionDep, principal: PrincipalDep, key: IdempotencyKeyDep = None
) -> Any:
    """Register a component; its 16/17-digit code is assigned automatically."""

    def save(data: dict[str, Any]) -> dict[str, Any]:
        county = data.pop("county_code", None)
        return component_out(
            components.save_component(session, principal, data, county_code=county)
        )

    path = "/registry/components"
    return save_once(session, principal, key, method="POST", path=path, body=body, save=save)


@router.get("/components/{component_id}")
def get_component(
    component_id: int, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Return one component."""
    return component_out(components.get_component(session, principal, component_id))


@router.patch("/components/{component_id}")
def update_component(
    component_id: int,
    body: ComponentIn,
    session: SessionDep,
    principal: PrincipalDep,
    key: IdempotencyKeyDep = None,
) -> Any:
    """Change a component (state, departments, position …); the code stays."""

    def save(data: dict[str, Any]) -> dict[str, Any]:
        data.pop("class_code", None)
        data.pop("county_code", None)
        return component_out(
            components.save_component(session, principal, data, component_id=component_id)
        )

    path = f"/registry/components/{component_id}"
    return save_once(session, principal, key, method="PATCH", path=path, body=body, save=save)


@router.delete("/components/{component_id}", status_code=204)
def delete_component(component_id: int, session: SessionDep, principal: PrincipalDep) -> Response:
    """Remove a component; its code is never reused."""
    components.delete_component(session, principal, component_id)
    return Response(status_code=204)
