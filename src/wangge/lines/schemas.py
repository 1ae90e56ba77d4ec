"""Request and response bodies of the business-line API."""

from __future__ import annotations

from pydantic import BaseModel, Field

from wangge.common.schemas import InputModel


class LineCreate(InputModel):
    """A local line (X) of a county."""

    county_code: str = Field(min_length=6, max_length=6, pattern="^[0-9]{6}$")
    code: str = Field(min_length=2, max_length=32, description="ASCII, e.g. school_safety")
    name: str = Field(min_length=1, max_length=100)
    roles: list[str] = Field(default_factory=list, description="roles that work in the line")
    categories: list[str] = Field(
        default_factory=list, description="case categories that belong to the line"
    )


class LineUpdate(InputModel):
    """What may change on a line; omitted fields stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    roles: list[str] | None = None
    is_active: bool | None = Field(default=None, description="switch the line on or off")
    categories: list[str] | None = Field(
        default=None, description="case categories to put into the line"
    )


class LineRead(BaseModel):
    id: int
    county_code: str
    code: str
    name: str
    roles: list[str]
    is_active: bool
    standard: bool
    categories: int = Field(description="number of active case categories in the line")
