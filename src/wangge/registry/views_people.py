"""HTTP routes for people (实有人口): list and search in the area, detail, audited reveal."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.auth.principal import Principal
from wangge.errors import Forbidden, ValidationFailed
from wangge.registry import people, people_search
from wangge.registry.idempotent import IdempotencyKeyDep, save_once
from wangge.registry.labels import SPECIAL, label_kinds, sensitive_codes
from wangge.registry.models_common import LabelKind
from wangge.registry.quality import duplicate_groups, resolve_duplicate
from wangge.registry.schemas import LabelKindIn, PeopleSearchIn, PersonIn, ResolveIn
from wangge.registry.views_places import page_of

router = APIRouter(prefix="/registry", tags=["registry 基础数据"])


@router.get("/people")
def list_people(
    session: SessionDep,
    principal: PrincipalDep,
    q: str | None = Query(None, description="姓名或地址（身份证号、电话请用 POST /people/search）"),
    community: str | None = None,
    grid_id: int | None = None,
    residence_kind: str | None = None,
    household_id: int | None = None,
    label: str | None = None,
    limit: int = Query(100, le=1000),
    offset: int = 0,
) -> dict[str, Any]:
    """List people in the caller's area (ID numbers and phones masked); 422 for an ID or phone in q."""  # fmt: skip
    people_search.refuse_identifier_in_url(q)
    # Constructed, not validated: the query parameters were checked by FastAPI already.
    search = PeopleSearchIn.model_construct(
        q=q, community=community, grid_id=grid_id, residence_kind=residence_kind,
        household_id=household_id, label=label, limit=limit, offset=offset,
    )  # fmt: skip
    return _people_page(session, principal, search)


@router.post("/people/search")
def search_people(
    body: PeopleSearchIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Search people by name, address, ID number or phone sent in the body, never in the URL."""
    return _people_page(session, principal, body)


def _people_page(session: Session, principal: Principal, search: PeopleSearchIn) -> dict[str, Any]:
    query = people_search.people_query(
        principal, q=search.q, community=search.community, grid_id=search.grid_id,
        residence_kind=search.residence_kind, household_id=search.household_id,
    )  # fmt: skip
    sensitive = sensitive_codes(session)
    label, limit, offset = search.label, search.limit, search.offset
    if label and label in sensitive and not principal.can(SPECIAL):
        raise Forbidden("按特殊人群标签查询需要相应权限", f"filtering by {label} needs {SPECIAL}")
    if not label:
        return page_of(
            session, query, limit, offset, lambda p: people.person_out(p, principal, sensitive)
        )
    # Labels are a JSON list (portable across SQLite and PostgreSQL): filtered here.
    rows = [p for p in session.scalars(query) if label in (p.labels or [])]
    page = rows[offset : offset + limit]
    return {"total": len(rows), "items": [people.person_out(p, principal, sensitive) for p in page]}


@router.post("/people", status_code=201)
def create_person(
    body: PersonIn, session: SessionDep, principal: PrincipalDep, key: IdempotencyKeyDep = None
) -> Any:
    """Register a person (ID number checked; birth date and sex derived; grid_source says
    where the grid comes from). The same Idempotency-Key returns the first answer again."""

    def save(data: dict[str, Any]) -> dict[str, Any]:
        person = people.save_person(session, principal, data)
        return people.person_out(person, principal, sensitive_codes(session))

    path = "/registry/people"
    return save_once(session, principal, key, method="POST", path=path, body=body, save=save)


@router.get("/people/duplicates")
def list_duplicates(session: SessionDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """List likely duplicate people (same ID number; same name, birth date and address)."""
    return duplicate_groups(session, principal)


@router.post("/people/duplicates/resolve")
def resolve(body: ResolveIn, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Merge two records or mark them as different people."""
    return resolve_duplicate(session, principal, body.keep_id, body.other_id, body.action)


@router.get("/people/{person_id}")
def get_person(person_id: int, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Return one person (masked)."""
    person = people.get_person(session, principal, person_id)
    return people.person_out(person, principal, sensitive_codes(session))


@router.patch("/people/{person_id}")
def update_person(
    person_id: int,
    body: PersonIn,
    session: SessionDep,
    principal: PrincipalDep,
    key: IdempotencyKeyDep = None,
) -> Any:
    """Change the fields sent; the history records old → new."""

    def save(data: dict[str, Any]) -> dict[str, Any]:
        person = people.save_person(session, principal, data, person_id=person_id)
        return people.person_out(person, principal, sensitive_codes(session))

    path = f"/registry/people/{person_id}"
    return save_once(session, principal, key, method="PATCH", path=path, body=body, save=save)


@router.delete("/people/{person_id}", status_code=204)
def delete_person(person_id: int, session: SessionDep, principal: PrincipalDep) -> Response:
    """Remove a person (the history keeps the record)."""
    people.delete_person(session, principal, person_id)
    return Response(status_code=204)


@router.get("/people/{person_id}/personal")
def reveal(
    person_id: int,
    session: SessionDep,
    principal: PrincipalDep,
    reason: str = Query(..., description="why the full ID number and phone are needed"),
) -> dict[str, Any]:
    """Return the full ID number and phone (permission personal.unmask; written to the audit log)."""  # fmt: skip
    return people.reveal_person(session, principal, person_id, reason)


@router.get("/people/{person_id}/addresses")
def person_addresses(
    person_id: int, session: SessionDep, principal: PrincipalDep
) -> list[dict[str, Any]]:
    """Return a person's addresses over time."""
    return [
        {"room_id": a.room_id, "address": a.address, "community_code": a.community_code,
         "since": a.since, "until": a.until}
        for a in people.addresses(session, principal, person_id)
    ]  # fmt: skip


@router.get("/label-kinds")
def list_label_kinds(session: SessionDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """List the person labels of this deployment (sensitive ones only for personal.special)."""
    principal.require("registry.read")
    return [
        {"code": k.code, "name": k.name, "group": k.group, "sensitive": k.sensitive, "active": k.active}
        for k in label_kinds(session).values()
        if not k.sensitive or principal.can(SPECIAL)
    ]  # fmt: skip


@router.put("/label-kinds/{code}")
def put_label_kind(
    code: str, body: LabelKindIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Add or change a person label (deployment configuration; needs personal.special)."""
    principal.require("registry.write")
    principal.require(SPECIAL)
    if body.group not in ("care", "special", "youth"):
        raise ValidationFailed("标签分组应为 care、special 或 youth", "bad group", field="group")
    kind = session.scalar(select(LabelKind).where(LabelKind.code == code)) or LabelKind(code=code)
    kind.name, kind.group, kind.sensitive, kind.active = (
        body.name,
        body.group,
        body.sensitive,
        body.active,
    )
    session.add(kind)
    session.flush()
    return {"code": kind.code, "name": kind.name, "group": kind.group, "sensitive": kind.sensitive}
