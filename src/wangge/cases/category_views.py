"""HTTP routes of the catalogue: categories (事件、部件、社会治理事项) and routing rules."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.cases import categories as cats
from wangge.cases import routing
from wangge.cases.schemas import (
    CategoryCreate,
    CategoryRead,
    CategoryUpdate,
    RoutingRuleIn,
    RoutingRuleRead,
)
from wangge.errors import Forbidden

router = APIRouter(tags=["cases 案卷"])


@router.get("/case-categories", response_model=list[CategoryRead])
def get_categories(
    session: SessionDep,
    kind: str | None = None,
    admitted: bool | None = None,
    major: str | None = None,
    business_line: str | None = None,
    minor: bool | None = None,
    active: Annotated[
        Literal["true", "false", "all"], Query(description="active ones (default), inactive, all")
    ] = "true",
    origin: Literal["standard", "local"] | None = None,
) -> list[Any]:
    """Return the categories; `admitted=true` gives the 准入清单, `minor=true` the 小事."""
    return cats.list_categories(
        session,
        kind=kind,
        admitted=admitted,
        major=major,
        business_line=business_line,
        minor=minor,
        active=None if active == "all" else active == "true",
        origin=origin,
    )


@router.post("/case-categories", response_model=CategoryRead, status_code=status.HTTP_201_CREATED)
def post_category(body: CategoryCreate, session: SessionDep, principal: PrincipalDep) -> Any:
    """Add a local category (code X + digits; `categories.manage`)."""
    return cats.create_category(session, body.model_dump(exclude_unset=True), principal=principal)


@router.patch("/case-categories/{code}", response_model=CategoryRead)
def patch_category(
    code: str, body: CategoryUpdate, session: SessionDep, principal: PrincipalDep
) -> Any:
    """Change a category's names, limits, admission, line or state (`categories.manage`).

    The changed fields are added to `edited`: catalogue upgrades keep them.
    """
    return cats.update_category(
        session, code, body.model_dump(exclude_unset=True), principal=principal
    )


@router.get("/case-routing-rules", response_model=list[RoutingRuleRead])
def get_rules(
    session: SessionDep,
    principal: PrincipalDep,
    county_code: str,
    category_code: str | None = None,
) -> list[Any]:
    """Return a county's routing rules (category × area × line → departments)."""
    if not principal.covers(county_code):
        raise Forbidden("无权查看该区县", "county outside your scope", code="out_of_scope")
    return routing.list_routing_rules(session, county_code, category_code=category_code)


@router.put("/case-routing-rules", response_model=RoutingRuleRead)
def put_rule(body: RoutingRuleIn, session: SessionDep, principal: PrincipalDep) -> Any:
    """Create or replace the rule of (county, category, area, line) (`categories.manage`)."""
    data = body.model_dump()
    data["assisting"] = tuple(data["assisting"])
    return routing.set_routing_rule(session, routing.RuleIn(**data), principal=principal)


@router.delete("/case-routing-rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rule(rule_id: int, session: SessionDep, principal: PrincipalDep) -> Response:
    """Remove a routing rule (`categories.manage`)."""
    routing.delete_routing_rule(session, rule_id, principal=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
