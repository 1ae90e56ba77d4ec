"""Console pages of the basic-data registry (基础数据): lists, search, detail, history, Excel.

Reads go through the registry services (the area scope is in their SQL, masking in their
serialisers); unmasking, imports, exports and verification are calls from the page to the
audited /api/v1/registry routes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wangge.api.deps import SessionDep
from wangge.auth.principal import Principal
from wangge.divisions.models import Division
from wangge.errors import DomainError
from wangge.grids.models import Grid, GridVersion
from wangge.registry import houses, organisations, people, people_search
from wangge.registry import views as registry_api
from wangge.registry.labels import label_kinds
from wangge.registry.models_houses import Building
from wangge.registry.models_people import Person
from wangge.web.registry_display import (
    ACTIONS,
    CODED_COLUMNS,
    DETAIL_FIELDS,
    PAGE_SIZE,
    TABS,
    Tab,
    history_rows,
    shown,
)
from wangge.web.views import MeDep, render

router = APIRouter(include_in_schema=False)
READ = "registry.read"


def _login(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


def _communities(session: Session, me: Principal) -> list[tuple[str, str]]:
    """Return the (code, name) of the communities the user may look at."""
    query = select(Division.code, Division.name).where(Division.level == "community")
    counties = me.county_codes()
    if counties is not None:
        query = query.where(Division.county_code.in_(counties))
    rows = session.execute(query.order_by(Division.code)).all()
    return [(c, n) for c, n in rows if me.covers(c)]


def _grids(session: Session, me: Principal, community: str | None) -> list[tuple[int, str]]:
    """Return the (id, code + name) of the active social grids in scope (or in one community)."""
    query = (
        select(Grid.id, Grid.code, Grid.name)
        .join(GridVersion, GridVersion.id == Grid.version_id)
        .where(GridVersion.status == "active", GridVersion.layer == "social")
    )
    if community:
        query = query.where(Grid.community_code.startswith(community, autoescape=True))
    counties = me.county_codes()
    if counties is not None:
        query = query.where(Grid.county_code.in_(counties))
    rows = session.execute(query.order_by(Grid.code)).all()
    return [(i, f"{c} {n}") for i, c, n in rows if me.covers(c)]


def _grid_codes(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Grid.id, Grid.code).where(Grid.id.in_(ids))).all())


def _decorate(session: Session, rows: list[dict[str, Any]], names: dict[str, str]) -> None:
    """Add the community name, grid code, building name and position shown in tables."""
    grids = _grid_codes(session, {r["grid_id"] for r in rows if r.get("grid_id")})
    buildings = {r["building_id"] for r in rows if r.get("building_id")}
    building_names = (
        dict(
            session.execute(
                select(Building.id, Building.name).where(Building.id.in_(buildings))
            ).all()
        )
        if buildings
        else {}
    )
    for r in rows:
        code = r.get("community_code") or ""
        r["community"] = f"{names.get(code, '')} {code}".strip()
        r["grid"] = grids.get(r.get("grid_id") or 0, "")
        if r.get("building_id"):
            r["building_name"] = building_names.get(r["building_id"], "")
        if r.get("lon") is not None and r.get("lat") is not None:
            r["position"] = f"{r['lon']:.6f}, {r['lat']:.6f}"


def _filters(params: Mapping[str, Any], tab: Tab) -> dict[str, str]:
    """Return the page's filters by their API names (also the export's parameters)."""
    keys = ["q", "community", "grid_id", *(f.param for f in tab.filters)]
    return {k: str(params[k]).strip() for k in keys if str(params.get(k) or "").strip()}


def _service_filters(tab: Tab, filters: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {tab.service_names.get(k, k): v for k, v in filters.items()}
    if "grid_id" in out:
        out["grid_id"] = int(out["grid_id"]) if str(out["grid_id"]).isdigit() else -1
    return out


@router.get("/console/registry")
def registry_home() -> RedirectResponse:
    return RedirectResponse("/console/registry/people", status_code=303)


@router.get("/console/registry/{kind}")
def registry_list(kind: str, request: Request, session: SessionDep, me: MeDep) -> Response:
    if me is None:
        return _login(request)
    tab = TABS.get(kind)
    filters = _filters(request.query_params, tab) if tab else {}
    try:
        # An ID or phone number in a URL stays in browser history and server logs: the
        # page's search box sends it in a POST body (registry_search) instead.
        people_search.refuse_identifier_in_url(filters.get("q"), kind)
    except DomainError as exc:
        page = render(
            request, "message.html", me, title="基础数据",
            message=f"{exc.message_zh} / {exc.message_en}", here=f"/console/registry/{kind}",
        )  # fmt: skip
        page.status_code = exc.status
        return page
    return _list_page(request, session, me, kind, filters, request.query_params.get("offset"))


@router.post("/console/registry/{kind}/search")
def registry_search(
    kind: str,
    request: Request,
    session: SessionDep,
    me: MeDep,
    body: Annotated[dict[str, str | int | None], Body()],
) -> Response:
    """The list page for a search sent in a body (registry.js swaps its results in)."""
    if me is None:
        return _login(request)
    tab = TABS.get(kind)
    filters = _filters(body, tab) if tab else {}
    return _list_page(request, session, me, kind, filters, str(body.get("offset") or "0"))


def _list_page(
    request: Request,
    session: Session,
    me: Principal,
    kind: str,
    filters: dict[str, str],
    raw_offset: str | None,
) -> Response:
    tab = TABS.get(kind)
    if not me.can(READ) or tab is None:
        message = "没有查看基础数据的权限" if tab else f"未知的数据类别 {kind}"
        return render(request, "message.html", me, title="基础数据", message=message)
    offset = int(raw_offset) if raw_offset and raw_offset.isdigit() else 0
    try:
        query = tab.query(me, **_service_filters(tab, filters))
    except DomainError as exc:
        return render(request, "message.html", me, title="基础数据", message=exc.message_zh)
    total = int(
        session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    )
    records = session.scalars(query.limit(PAGE_SIZE).offset(offset)).all()
    rows = [tab.out(session, me, r) for r in records]
    communities = _communities(session, me)
    _decorate(session, rows, dict(communities))
    counties = me.county_codes()
    # Links (pages, export, the address bar) carry the filters, but never an identifier.
    private_q = people_search.is_identifier_query(filters.get("q"), kind)
    linked = {k: v for k, v in filters.items() if not (k == "q" and private_q)}
    return render(
        request,
        "console_registry.html",
        me,
        tab=tab,
        tabs=TABS,
        rows=rows,
        total=total,
        offset=offset,
        page_size=PAGE_SIZE,
        filters=filters,
        communities=communities,
        grids=_grids(session, me, filters.get("community")),
        shown=shown,
        coded=CODED_COLUMNS,
        query_string=urlencode(linked),
        here=f"/console/registry/{kind}" + (f"?{urlencode(linked)}" if linked else ""),
        private_q=private_q,
        county=sorted(counties)[0] if counties else "",
        can_write=me.can("registry.write"),
    )


def _extras(session: Session, me: Principal, kind: str, obj: Any) -> dict[str, Any]:
    """Return what a detail page shows beside the fields (rooms, addresses, inspections …)."""
    if kind == "people":
        return {"addresses": people.addresses(session, me, obj.id)}
    if kind == "buildings":
        rooms = [TABS["rooms"].out(session, me, r) for r in houses.rooms_of(session, me, obj.id)]
        return {"rooms": rooms}
    if kind == "rooms":
        residents = session.scalars(
            select(Person)
            .where(Person.room_id == obj.id, Person.merged_into_id.is_(None))
            .order_by(Person.id)
        )
        return {
            "residents": [TABS["people"].out(session, me, p) for p in residents],
            "tenancies": houses.tenancies_of(session, me, obj.id),
        }
    if kind == "organisations":
        return organisations.employer_file(session, me, obj.id)
    return {}


def _coded(session: Session, changes: list[dict[str, Any]]) -> dict[str, dict[Any, str]]:
    """Return the names of the label codes and grid ids that appear in a history."""
    ids = {
        v
        for c in changes
        for f in ("grid_id", "unit_grid_id")
        for v in c["changes"].get(f, ())
        if isinstance(v, int)
    }
    grids: dict[Any, str] = dict(_grid_codes(session, ids))
    labels: dict[Any, str] = {code: k.name for code, k in label_kinds(session).items()}
    return {"labels": labels, "grid_id": grids, "unit_grid_id": grids}


@router.get("/console/registry/{kind}/{record_id}")
def registry_record(
    kind: str, record_id: int, request: Request, session: SessionDep, me: MeDep
) -> Response:
    if me is None:
        return _login(request)
    tab = TABS.get(kind)
    if tab is None:
        return render(
            request, "message.html", me, title="基础数据", message=f"未知的数据类别 {kind}"
        )
    try:
        _object_type, loader = registry_api.OBJECT_TYPES[kind]
        obj = loader(session, me, record_id)
        changes = registry_api.record_history(kind, record_id, session, me)
        extras = _extras(session, me, kind, obj)
    except DomainError as exc:
        return render(request, "message.html", me, title="基础数据", message=exc.message_zh)
    row = tab.out(session, me, obj)
    communities = _communities(session, me)
    _decorate(session, [row], dict(communities))
    if kind == "rooms":
        _decorate(session, extras["residents"], dict(communities))
    return render(
        request,
        "console_registry_record.html",
        me,
        tab=tab,
        row=row,
        fields=DETAIL_FIELDS[kind],
        changes=history_rows(kind, changes, _coded(session, changes)),
        actions=ACTIONS,
        extras=extras,
        shown=shown,
        coded=CODED_COLUMNS,
        can_unmask=kind == "people" and me.can(people.UNMASK),
        can_write=me.can("registry.write"),
    )
