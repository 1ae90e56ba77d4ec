"""HTTP routes of business lines under /api/v1/business-lines (writes: lines.manage)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, status

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.auth.principal import Principal
from wangge.errors import Forbidden
from wangge.lines import service
from wangge.lines.schemas import LineCreate, LineRead, LineUpdate

router = APIRouter(prefix="/business-lines", tags=["business lines 业务条线"])
LineId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _reader(principal: Principal) -> None:
    if not (principal.can("cases.read") or principal.can("lines.manage")):
        principal.require("cases.read")


def _one(session: SessionDep, principal: Principal, line_id: int) -> dict[str, Any]:
    line = service.get_line(session, line_id)
    rows = service.list_lines(session, principal, county_code=line.county_code)
    return next(r for r in rows if r["id"] == line.id)


@router.get("", response_model=list[LineRead])
def list_lines(
    session: SessionDep, principal: PrincipalDep, county_code: str | None = None
) -> list[dict[str, Any]]:
    """Return the business lines (9+X) of the counties in scope, switched on or off."""
    _reader(principal)
    return service.list_lines(session, principal, county_code=county_code)


@router.get("/{line_id}", response_model=LineRead)
def get_line(line_id: LineId, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Return one line."""
    _reader(principal)
    line = service.get_line(session, line_id)
    counties = principal.county_codes()
    if counties is not None and line.county_code not in counties:
        raise Forbidden(
            "该业务条线不在您的管辖范围内", "line outside your area", code="out_of_scope"
        )
    return _one(session, principal, line_id)


@router.get("/{line_id}/categories", response_model=list[str])
def get_line_categories(line_id: LineId, session: SessionDep, principal: PrincipalDep) -> list[str]:
    """Return the codes of the case categories that belong to the line."""
    get_line(line_id, session, principal)
    return service.line_categories(session, service.get_line(session, line_id).code)


@router.post("", response_model=LineRead, status_code=status.HTTP_201_CREATED)
def post_line(body: LineCreate, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Add a local line (X) to a county (audited)."""
    line = service.create_line(session, principal, **body.model_dump())
    return _one(session, principal, line.id)


@router.patch("/{line_id}", response_model=LineRead)
def patch_line(
    line_id: LineId, body: LineUpdate, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Rename a line, change its roles or categories, or switch it on/off (audited)."""
    line = service.get_line(session, line_id)
    service.update_line(session, principal, line, body.model_dump(exclude_unset=True))
    return _one(session, principal, line_id)


@router.delete("/{line_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_line(line_id: LineId, session: SessionDep, principal: PrincipalDep) -> None:
    """Delete a local line no category belongs to; standard lines are switched off instead."""
    service.delete_line(session, principal, service.get_line(session, line_id))
