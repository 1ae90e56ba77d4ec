"""API schemas for accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from wangge.common.schemas import InputModel


class LoginIn(InputModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class PostRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    role_code: str
    scope_prefix: str | None
    scope_layer: str | None = None  # for a grid-level scope: None = social grid, "unit"
    department_code: str | None


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    is_active: bool
    locked_until: datetime | None


class MeRead(BaseModel):
    name: str
    user_id: int | None
    roles: list[str]
    permissions: list[str]
    scope_prefixes: list[str] | None
    department_codes: list[str]
    via: str
    csrf_token: str | None = None


class PostCreate(InputModel):
    role: str
    scope: str | None = None
    department: str | None = None
    # A grid code names a grid of one layer: social (default) or unit (a unit or duty grid).
    layer: Literal["social", "unit"] | None = None


class UserCreate(InputModel):
    username: str
    display_name: str
    password: str
    phone: str | None = None
    # Created together with the user: one transaction, so a refused post creates nobody.
    posts: list[PostCreate] = Field(default_factory=list, max_length=20)


class PasswordReset(InputModel):
    new_password: str = Field(min_length=1, max_length=256)


class PermissionRead(BaseModel):
    code: str
    name_zh: str
    name_en: str


class TokenCreate(InputModel):
    name: str = Field(min_length=1, max_length=100)
    # Every token expires: at most WANGGE_TOKEN_MAX_DAYS (checked by the service).
    days: int = Field(90, ge=1, le=3650)


class ApiKeyCreate(InputModel):
    name: str = Field(min_length=1, max_length=100)
    department: str | None = None
    permissions: list[str] | None = None
    # Every key expires: at most WANGGE_API_KEY_MAX_DAYS (checked by the service).
    days: int = Field(365, ge=1, le=3650)


class TokenIssued(BaseModel):
    id: int
    token: str
    kind: str
    expires_at: datetime | None


class PasswordChange(InputModel):
    old_password: str
    new_password: str


class RoleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name_zh: str
    permissions: list[str]
    builtin: bool


class RoleIn(InputModel):
    """A role's new name and permissions (`code` and `builtin` are echoed by the page, not set)."""

    code: str | None = None
    name_zh: str
    permissions: list[str]
    builtin: bool | None = None


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    action: str
    object_type: str | None
    object_id: str | None
    reason: str | None
    detail: dict[str, Any] | None
