"""API schemas for grids and versions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field

from wangge.common.schemas import InputModel
from wangge.grids.service import LAYER_OF_KIND


class GridRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    version_id: int
    code: str
    name: str
    kind: str
    community_code: str
    county_code: str
    area_m2: float | None
    households: int | None
    population: int | None
    land_use: str | None
    responsible_party: str | None
    valid_from: date | None
    valid_to: date | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def layer(self) -> str:
        """social or unit: a social and a unit grid may carry the same code."""
        return LAYER_OF_KIND.get(self.kind, "social")


class VersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    county_code: str
    layer: str
    number: int
    name: str
    note: str | None
    status: str
    based_on_id: int | None
    created_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None


class VersionDetail(VersionRead):
    """One version with how it was made (import, generation, division) and its activation."""

    report: dict[str, Any] | None
    activation_report: dict[str, Any] | None


class LocateRead(BaseModel):
    lon: float
    lat: float
    crs: str
    grid: GridRead | None
    unit_grid: GridRead | None
    # The micro grid (微网格) holding the point inside `grid`, if one is drawn there.
    micro_grid: GridRead | None = None


class ProblemRead(BaseModel):
    kind: str
    keys: list[str]
    location: tuple[float, float] | None
    area_m2: float | None
    message_zh: str
    message_en: str


class ActivationRead(BaseModel):
    version: VersionRead
    report: dict[str, Any]


class ActivateIn(InputModel):
    """Why a version with validation problems is put in force anyway (audited)."""

    override_reason: str | None = Field(default=None, max_length=500)
