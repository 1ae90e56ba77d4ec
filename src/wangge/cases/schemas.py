"""Request and response bodies of the case API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from wangge.cases.vocabulary import Source
from wangge.common.schemas import InputModel
from wangge.intake.schemas import IntakeIn


class CaseCreate(InputModel):
    """A new report; photos are references (uploads come with another issue)."""

    category_code: str = Field(min_length=1, max_length=16)
    description: str = Field(min_length=1, max_length=2000)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    source: Source | None = Field(
        default=None,
        description="问题来源; omitted: the reporter's usual channel (监督员 patrol, 受理员 hotline, "
        "公众 online, 部门 department). Patrol, video and department are refused (403) for posts "
        "that do not report through them; hotline and online reports are verified on site.",
    )
    address: str | None = Field(default=None, max_length=200)
    photos: list[str] = Field(default_factory=list, max_length=20)
    component_code: str | None = Field(default=None, max_length=20)
    county_code: str | None = Field(default=None, min_length=6, max_length=6)
    urgent: bool = False
    patrol_id: int | None = None
    crs: str = Field(
        default="EPSG:4490",
        max_length=64,
        description="坐标系 of lon/lat: EPSG:4490 (default, CGCS2000), EPSG:4326 (GPS), "
        "GCJ-02 (高德/腾讯 map SDKs), BD-09 (百度)",
    )
    intake: IntakeIn | None = Field(
        default=None,
        description="受理登记: channel, 12345 工单号, caller (hotline/counter/letter) or camera "
        "(video; the case takes the camera's position)",
    )


class ActionIn(InputModel):
    """An action: the version the client saw, a note, photos and action-specific fields."""

    expected_version: int = Field(ge=1)
    note: str | None = Field(default=None, max_length=2000)
    photos: list[str] = Field(default_factory=list, max_length=20)
    payload: dict[str, Any] = Field(default_factory=dict)


class PartRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    department_code: str
    lead: bool
    state: str
    started_at: datetime
    deadline: datetime | None
    extension_hours: float
    rework_count: int
    fed_back_at: datetime | None


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    action: str
    action_zh: str | None = None
    actor_id: str
    role: str
    at: datetime
    from_state: str | None
    to_state: str
    part: str | None
    note: str | None
    attachments: list[str]
    payload: dict[str, Any]


class CaseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str | None
    county_code: str
    category_code: str
    source: str
    description: str
    address: str | None
    lon: float
    lat: float
    grid_id: int | None
    unit_grid_id: int | None
    micro_grid_id: int | None = None  # the 微网格 holding it inside its grid
    community_code: str | None
    area_class: str
    component_code: str | None
    photos: list[str]
    state: str
    state_zh: str | None = None
    level: str
    urgent: bool
    version: int
    reporter_id: str
    duplicate_of: int | None
    patrol_id: int | None
    reported_at: datetime
    closed_at: datetime | None
    stage: str | None
    deadline: datetime | None
    light: str | None = None
    # The reporter's promises from the channel's response rules, and each clock's light.
    respond_due: datetime | None = None
    responded_at: datetime | None = None
    solve_due: datetime | None = None
    due_at: datetime | None = None
    lights: dict[str, str] = Field(default_factory=dict)
    # Lists only: the departments by name (lead 主办 first) and the hours past the deadline
    # on its own clock (working hours unless it runs around the clock).
    departments: list[str] = Field(default_factory=list)
    overdue_hours: float | None = None


class CaseDetail(CaseRead):
    parts: list[PartRead]
    timeline: list[EventRead]
    allowed_actions: list[str]
    duplicate_candidates: list[int] = Field(default_factory=list)
    # How it came in (channel, 工单号, caller masked, camera), its 回访 and 12345 replies.
    intake: dict[str, Any] | None = None


class CasePage(BaseModel):
    total: int
    items: list[CaseRead]


class CategoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    kind: str
    name: str
    major_code: str
    major_name: str
    filing_condition: str | None
    closing_condition: str | None
    limits: dict[str, Any]
    urgent: bool
    default_department: str | None
    admitted_to_grid: bool
    minor: bool
    is_active: bool = True
    business_line: str | None = None
    origin: str = "standard"
    release: str | None = None
    edited: list[str] = Field(default_factory=list)


class CategoryUpdate(InputModel):
    """Fields the center may change on a category; omitted ones stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    filing_condition: str | None = None
    closing_condition: str | None = None
    limits: dict[str, dict[str, float]] | None = Field(
        default=None, description='hours per stage and area class: {"handle": {"A": 8, …}}'
    )
    urgent: bool | None = None
    default_department: str | None = Field(
        default=None, max_length=32, description="short key (CGW) or department code"
    )
    admitted_to_grid: bool | None = Field(default=None, description="准入清单")
    minor: bool | None = Field(default=None, description="小事: the grid may settle it")
    business_line: str | None = Field(default=None, max_length=32)
    is_active: bool | None = Field(default=None, description="deactivate, never delete")


class CategoryCreate(CategoryUpdate):
    """A local category (code X + digits) with its major class."""

    code: str = Field(min_length=2, max_length=16, description="X + digits, e.g. X0101")
    kind: str = Field(description="event | component | social")
    name: str = Field(min_length=1, max_length=100)
    major_code: str | None = Field(default=None, max_length=16, description="default: X + 2 digits")
    major_name: str | None = Field(default=None, min_length=1, max_length=100)


class RoutingRuleIn(InputModel):
    county_code: str = Field(min_length=6, max_length=6)
    category_code: str
    area_class: str | None = Field(default=None, pattern="^[ABC]$")
    area_prefix: str | None = Field(
        default=None, pattern="^[0-9]{9}([0-9]{3})?$", description="street (9) or community (12)"
    )
    business_line: str | None = Field(default=None, max_length=32)
    department_code: str
    assisting: list[str] = Field(default_factory=list)


class RoutingRuleRead(RoutingRuleIn):
    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: int


class PatrolStart(InputModel):
    lon: float
    lat: float
    crs: str = Field(
        default="EPSG:4490", max_length=64, description="EPSG:4490, EPSG:4326, GCJ-02, BD-09"
    )


class TrackPoint(InputModel):
    lon: float
    lat: float
    at: datetime
    crs: str = Field(
        default="EPSG:4490", max_length=64, description="EPSG:4490, EPSG:4326, GCJ-02, BD-09"
    )


class TrackPointRead(BaseModel):
    """A stored track point (CGCS2000) with the grids it was located in on write."""

    model_config = ConfigDict(from_attributes=True)

    lon: float
    lat: float
    at: datetime
    grid_id: int | None
    unit_grid_id: int | None


class PatrolRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    county_code: str
    worker_id: str
    grid_id: int | None
    started_at: datetime
    ended_at: datetime | None
    distance_m: float
    point_count: int
