"""Request bodies of the registry API (partial updates: only the fields sent are changed)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field

from wangge.common.schemas import InputModel


class _In(InputModel):
    """A registry request body (unknown fields are refused)."""


class PersonIn(_In):
    name: str | None = None
    id_number: str | None = None
    phone: str | None = None
    residence_kind: str | None = Field(
        None, description="registered|floating|overseas or 户籍/流动/境外"
    )
    nationality: str | None = None
    community_code: str | None = None
    room_id: int | None = None
    address: str | None = None
    household_number: str | None = None
    household_id: int | None = Field(None, description="户 (registry household id)")
    grid_id: int | None = Field(None, description="social grid when the person has no room")
    relation: str | None = None
    labels: list[str] | None = None


class PeopleSearchIn(_In):
    """A people search sent in a body, so ID numbers and phones stay out of URLs."""

    q: str | None = Field(None, max_length=200, description="姓名、身份证号、电话或地址")
    community: str | None = None
    grid_id: int | None = None
    residence_kind: str | None = None
    household_id: int | None = None
    label: str | None = None
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class _Located(_In):
    lon: float | None = None
    lat: float | None = None
    wkt: str | None = None
    geometry: dict[str, Any] | None = Field(None, description="GeoJSON geometry")
    crs: str | None = Field(None, description="EPSG:4490 (default), EPSG:4326, GCJ02, BD09")


class BuildingIn(_Located):
    name: str | None = None
    address: str | None = None
    community_code: str | None = None
    floors: int | None = None
    purpose: str | None = None


class RoomIn(_In):
    building_id: int | None = None
    unit: str | None = None
    floor: int | None = None
    number: str | None = None
    area_m2: float | None = None
    use: str | None = Field(
        None, description="owner_occupied|rented|vacant|business or 自住/出租/空置/经营"
    )
    landlord_name: str | None = None
    landlord_phone: str | None = None


class TenancyIn(_In):
    tenant_name: str
    tenant_person_id: int | None = None
    contract_no: str | None = None
    start_date: date | None = None
    end_date: date | None = None


class ComponentIn(_Located):
    class_code: str | None = None
    scheme: Literal["GB/T 30428.2", "GB/T 47678.5"] | None = Field(
        None, description="default GB/T 30428.2"
    )
    county_code: str | None = None
    community_code: str | None = None
    name: str | None = None
    network: str | None = None
    competent_dept: str | None = None
    owner_dept: str | None = None
    owner_department_code: str | None = Field(
        None, max_length=32, description="权属部门 as a managed department: dispatch goes there"
    )
    maintenance_dept: str | None = None
    state: str | None = None
    initial_date: date | None = None
    change_date: date | None = None
    data_source: str | None = None
    note: str | None = None
    attributes: dict[str, Any] | None = None


class ExtensionIn(_In):
    county_code: str
    code: str
    name: str
    scheme: Literal["GB/T 30428.2", "GB/T 47678.5"] = "GB/T 30428.2"
    network: str | None = None  # a pipeline class: water, drainage, power, telecom, gas, heat
    geometry: Literal["point", "line"] = "point"  # "line": its components must be lines


class PipelineClassesIn(_In):
    county_code: str
    scheme: Literal["GB/T 30428.2", "GB/T 47678.5"] = "GB/T 30428.2"


class OrganisationIn(_In):
    name: str | None = None
    kind: str | None = None
    credit_code: str | None = None
    legal_rep: str | None = None
    phone: str | None = None
    address: str | None = None
    community_code: str | None = None
    lon: float | None = None
    lat: float | None = None
    industry: str | None = None
    employees: int | None = None
    contracts_signed: int | None = None
    insured: int | None = None
    integrity_grade: str | None = None


class InspectionIn(_In):
    inspected_on: date
    inspector: str | None = None
    findings: str | None = None
    violations: list[str] = Field(default_factory=list)


class GradeIn(_In):
    grade: str
    valid_from: date | None = None
    reason: str | None = None


class ResolveIn(_In):
    keep_id: int
    other_id: int
    action: str = Field(description="merge | not_duplicate")


class LabelKindIn(_In):
    name: str
    group: str = Field(description="care | special | youth")
    sensitive: bool = False
    active: bool = True
