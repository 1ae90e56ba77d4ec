"""HTTP routes for organisations and the employer file (一企一档)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.common.masking import mask_phone
from wangge.registry import organisations
from wangge.registry.idempotent import IdempotencyKeyDep, save_once
from wangge.registry.schemas import GradeIn, InspectionIn, OrganisationIn
from wangge.registry.views_places import page_of

router = APIRouter(prefix="/registry", tags=["registry 基础数据"])


def organisation_out(o: Any) -> dict[str, Any]:
    """Return an organisation as JSON (phone masked)."""
    return {
        "id": o.id, "kind": o.kind, "name": o.name, "credit_code": o.credit_code,
        "legal_rep": o.legal_rep, "phone": mask_phone(o.phone), "address": o.address,
        "community_code": o.community_code, "grid_id": o.grid_id, "lon": o.lon, "lat": o.lat,
        "micro_grid_id": o.micro_grid_id,
        "industry": o.industry, "employees": o.employees, "contracts_signed": o.contracts_signed,
        "insured": o.insured, "integrity_grade": o.integrity_grade, "verified_at": o.verified_at,
    }  # fmt: skip


@router.get("/organisations")
def list_organisations(
    session: SessionDep,
    principal: PrincipalDep,
    kind: str | None = None,
    q: str | None = None,
    community: str | None = None,
    grid_id: int | None = None,
    integrity_grade: str | None = None,
    credit_code: str | None = None,
    limit: int = Query(100, le=1000),
    offset: int = 0,
) -> dict[str, Any]:
    """List organisations in the caller's area."""  # fmt: skip
    query = organisations.organisations_query(
        principal, kind=kind, q=q, community=community, grid_id=grid_id,
        integrity_grade=integrity_grade, credit_code=credit_code,
    )  # fmt: skip
    return page_of(session, query, limit, offset, organisation_out)


@router.post("/organisations", status_code=201)
def create_organisation(
    body: OrganisationIn,
    session: SessionDep,
    principal: PrincipalDep,
    key: IdempotencyKeyDep = None,
) -> Any:
    """Register an organisation (credit code checked, naming the wrong character)."""

    def save(data: dict[str, Any]) -> dict[str, Any]:
        return organisation_out(organisations.save_organisation(session, principal, data))

    path = "/registry/organisations"
    return save_once(session, principal, key, method="POST", path=path, body=body, save=save)


@router.get("/organisations/{org_id}")
def get_organisation(org_id: int, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Return one organisation."""
    return organisation_out(organisations.get_organisation(session, principal, org_id))


@router.patch("/organisations/{org_id}")
def update_organisation(
    org_id: int,
    body: OrganisationIn,
    session: SessionDep,
    principal: PrincipalDep,
    key: IdempotencyKeyDep = None,
) -> Any:
    """Change an organisation."""

    def save(data: dict[str, Any]) -> dict[str, Any]:
        return organisation_out(
            organisations.save_organisation(session, principal, data, org_id=org_id)
        )

    path = f"/registry/organisations/{org_id}"
    return save_once(session, principal, key, method="PATCH", path=path, body=body, save=save)


@router.get("/organisations/{org_id}/file")
def employer_file(org_id: int, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Return the employer file: inspections, findings, violations and integrity grades over time."""
    file = organisations.employer_file(session, principal, org_id)
    return {
        "organisation": organisation_out(file["organisation"]),
        "inspections": [
            {"id": i.id, "inspected_on": i.inspected_on, "inspector": i.inspector,
             "findings": i.findings, "violations": i.violations}
            for i in file["inspections"]
        ],
        "grades": [
            {"grade": g.grade, "valid_from": g.valid_from, "reason": g.reason} for g in file["grades"]
        ],
    }  # fmt: skip


@router.post("/organisations/{org_id}/inspections", status_code=201)
def add_inspection(
    org_id: int, body: InspectionIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Record a labour inspection."""
    row = organisations.add_inspection(session, principal, org_id, body.model_dump())
    return {"id": row.id, "inspected_on": row.inspected_on, "violations": row.violations}


@router.post("/organisations/{org_id}/grades", status_code=201)
def add_grade(
    org_id: int, body: GradeIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Give the employer a new integrity grade (守法诚信等级) from a date."""
    row = organisations.set_grade(
        session, principal, org_id, body.grade, body.valid_from, body.reason
    )
    return {"grade": row.grade, "valid_from": row.valid_from}
