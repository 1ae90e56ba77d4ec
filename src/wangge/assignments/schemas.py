"""Request and response bodies of the grid-assignment API."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field, model_validator

from wangge.common.schemas import InputModel


class AssignmentCreate(InputModel):
    """Who serves which grid, as what, from when (to when)."""

    user_id: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="the person (or give username)"
    )
    username: str | None = Field(default=None, max_length=64)
    grid_code: str = Field(min_length=14, max_length=20, pattern="^[0-9]+$")
    layer: str = Field(default="social", pattern="^(social|unit)$")
    kind: str = Field(description="full_time 专职网格员 | part_time 兼职网格员 | leader 网格长 | "
                      "micro_leader 微网格长")  # fmt: skip
    starts_on: date
    ends_on: date | None = Field(default=None, description="the last day served (inclusive)")

    @model_validator(mode="after")
    def _one_person(self) -> AssignmentCreate:
        if (self.user_id is None) == (self.username is None):
            raise ValueError("give user_id or username (one of them)")
        return self


class AssignmentEnd(InputModel):
    ends_on: date = Field(description="the last day served (inclusive)")


class AssignmentRead(BaseModel):
    id: int
    county_code: str
    user_id: int
    username: str
    name: str
    phone: str | None
    grid_code: str
    layer: str
    kind: str
    kind_zh: str
    starts_on: date
    ends_on: date | None
    in_force: bool
    published: bool = False  # a 微网格长 shown on "我的网格员"
