"""HTTP routes of the response rules (答复时限规则) under /api/v1/case-response-rules."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from wangge.api.deps import PrincipalDep, SessionDep
from wangge.cases import response
from wangge.cases.views import NowDep
from wangge.common.schemas import InputModel

router = APIRouter(tags=["cases 案卷"])


class ResponseRuleCreate(InputModel):
    """A new rule; `source` and `stage` are checked by the service (bilingual answer)."""

    county_code: str = Field(min_length=6, max_length=6)
    name: str = Field(min_length=1, max_length=100)
    source: str = Field(max_length=16, description="online | hotline | patrol | video | department")
    urgent: bool | None = Field(default=None, description="null: urgent or not")
    stage: str = Field(
        max_length=16,
        description="respond (first answer) | solve (report → close) | a stage: accept … close",
    )
    hours: float
    around_the_clock: bool = True


class ResponseRuleUpdate(InputModel):
    """What may change on a rule: its name, hours and clock."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    hours: float | None = None
    around_the_clock: bool | None = None


class ResponseRuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    county_code: str
    name: str
    source: str
    urgent: bool | None
    stage: str
    hours: float
    around_the_clock: bool
    is_active: bool


@router.get("/case-response-rules", response_model=list[ResponseRuleRead])
def get_response_rules(
    session: SessionDep,
    principal: PrincipalDep,
    county_code: Annotated[str, Query(min_length=6, max_length=6)],
    include_inactive: bool = False,
) -> list[Any]:
    """Return a county's response rules by channel (active ones unless asked)."""
    return response.list_rules(session, principal, county_code, include_inactive=include_inactive)


@router.post(
    "/case-response-rules", response_model=ResponseRuleRead, status_code=status.HTTP_201_CREATED
)
def post_response_rule(
    body: ResponseRuleCreate, session: SessionDep, principal: PrincipalDep, now: NowDep
) -> Any:
    """Add a rule (rules.manage); 409 when an active rule has the same channel, urgency, stage."""
    return response.create_rule(session, principal, response.RuleIn(**body.model_dump()), now=now)


@router.patch("/case-response-rules/{rule_id}", response_model=ResponseRuleRead)
def patch_response_rule(
    rule_id: int,
    body: ResponseRuleUpdate,
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
) -> Any:
    """Change a rule's name, hours or clock (rules.manage); applies to clocks started later."""
    # A null means "leave as it is", like a field not sent.
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    return response.update_rule(session, principal, rule_id, changes, now=now)


@router.post("/case-response-rules/{rule_id}/deactivate", response_model=ResponseRuleRead)
def deactivate_response_rule(
    rule_id: int, session: SessionDep, principal: PrincipalDep, now: NowDep
) -> Any:
    """Disable a rule (rules.manage): new cases no longer get it; promises made stand."""
    return response.deactivate_rule(session, principal, rule_id, now=now)
