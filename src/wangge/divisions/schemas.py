"""API schemas for divisions."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DivisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    level: str
    name: str
    parent_code: str | None
    county_code: str
    area_m2: float | None
