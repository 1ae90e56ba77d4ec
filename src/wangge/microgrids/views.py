"""HTTP routes of micro grids (微网格): generate from buildings, records, household moves."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import Field

from wangge.api.deps import PrincipalDep, SessionDep, SettingsDep
from wangge.common.localtime import SHANGHAI
from wangge.common.models import utcnow
from wangge.common.schemas import InputModel
from wangge.microgrids.records import micro_grid_records, my_micro_grids
from wangge.microgrids.service import (
    FromBuildings,
    get_micro_grid,
    micro_from_buildings,
    set_published,
)
from wangge.registry.micro import move_household

router = APIRouter(tags=["micro grids 微网格"])


class FromBuildingsIn(InputModel):
    """Draw micro grids from the buildings of one grid."""

    parent_code: str = Field(description="所属网格编码 / the grid whose buildings are used")
    mode: Literal["building", "group"] = Field(
        "building", description="building: 一楼一格; group: 相邻楼栋成组 (closer than gap_m)"
    )
    margin_m: float = Field(5.0, gt=0, le=500, description="外扩米数 / margin around buildings")
    gap_m: float = Field(30.0, gt=0, le=500, description="成组间距 / group buildings closer")
    version_id: int | None = Field(None, description="草稿版本；空：现行版本 / a draft or none")


class HouseholdMoveIn(InputModel):
    """Put a household into a micro grid of its community (null: into none)."""

    micro_grid_code: str | None = Field(None, max_length=20)


class PublishIn(InputModel):
    published: bool


@router.post("/micro-grids/from-buildings", status_code=201, summary="由楼栋生成微网格")
def from_buildings(
    body: FromBuildingsIn, session: SessionDep, principal: PrincipalDep, settings: SettingsDep
) -> dict[str, Any]:
    """Draw one micro grid per building or per group of neighbouring buildings of a grid."""
    plan = FromBuildings(**body.model_dump())
    return micro_from_buildings(session, principal, plan, width=settings.grid_sequence_width)


@router.get("/micro-grids/mine", summary="我的微网格（微网格长）")
def mine(session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Return the micro grids the caller leads, each with its households and cases."""
    principal.require("registry.read")
    today = utcnow().astimezone(SHANGHAI).date()
    grids = my_micro_grids(session, principal, today)
    return {"micro_grids": [micro_grid_records(session, principal, g) for g in grids]}


@router.get("/micro-grids/{code}/records", summary="微网格的住户与案卷")
def records(code: str, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Return a micro grid's households and cases within the caller's area."""
    return micro_grid_records(session, principal, get_micro_grid(session, code))


@router.put("/registry/households/{household_id}/micro-grid", summary="户移入微网格")
def household_micro_grid(
    household_id: int, body: HouseholdMoveIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Put every member of a household into a micro grid of its own community."""
    members = move_household(session, principal, household_id, body.micro_grid_code)
    return {
        "household_id": household_id,
        "micro_grid_code": body.micro_grid_code,
        "members": [{"id": p.id, "micro_grid_id": p.micro_grid_id} for p in members],
    }


@router.post("/grid-assignments/{assignment_id}/publish", summary="公示微网格长")
def publish(
    assignment_id: int, body: PublishIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Show or hide a micro-grid leader on the citizens' "我的网格员"."""
    row = set_published(session, principal, assignment_id, body.published)
    return {"id": row.id, "grid_code": row.grid_code, "published": row.published}
