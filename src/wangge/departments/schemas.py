"""API schemas for departments."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from wangge.common.schemas import InputModel


class DepartmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    county_code: str
    level: str
    parent_code: str | None
    business_line: str | None
    contact: str | None
    duty_phone: str | None
    credit_code: str | None
    serves_counties: list[str]
    is_active: bool
    created_at: datetime | None = None
    updated_at: datetime | None = None


class DepartmentCreate(InputModel):
    """A new department. Without `code`, one is suggested: `{county}-{KEY}` from `key`."""

    county_code: str = Field(min_length=6, max_length=6)
    name: str = Field(min_length=1, max_length=100)
    code: str | None = Field(None, max_length=32)
    key: str | None = Field(None, max_length=25, description="short key for a suggested code")
    level: str = "county"
    parent_code: str | None = Field(None, max_length=32)
    business_line: str | None = Field(None, max_length=32)
    contact: str | None = Field(None, max_length=50)
    duty_phone: str | None = Field(None, max_length=40)
    credit_code: str | None = Field(None, max_length=18)
    serves_counties: list[str] = Field(default_factory=list, max_length=200)


class DepartmentUpdate(InputModel):
    """The fields to change; a field left out is kept, null clears an optional one."""

    name: str | None = Field(None, min_length=1, max_length=100)
    level: str | None = None
    parent_code: str | None = Field(None, max_length=32)
    business_line: str | None = Field(None, max_length=32)
    contact: str | None = Field(None, max_length=50)
    duty_phone: str | None = Field(None, max_length=40)
    credit_code: str | None = Field(None, max_length=18)
    serves_counties: list[str] | None = Field(None, max_length=200)


class ImportReport(BaseModel):
    file: str
    rows: int
    created: list[str]
    updated: list[str]
    unchanged: int


class SuggestedCode(BaseModel):
    code: str
