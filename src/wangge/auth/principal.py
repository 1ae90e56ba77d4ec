"""Who is asking, and which part of the territory they may see.

Services take a Principal and filter by its area scope inside their queries. A principal
comes from a web session, a bearer token or an API key (see wangge.auth.service); the
local CLI runs as LOCAL_OPERATOR.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wangge.errors import Forbidden, ValidationFailed


class Unauthenticated(Forbidden):
    status = 401
    default_code = "unauthenticated"


@dataclass(frozen=True)
class Principal:
    name: str
    permissions: frozenset[str] = field(default_factory=frozenset)
    # None means the whole territory; otherwise division code prefixes (6/9/12 digits) and
    # codes of social-layer grids (longer). Unit-layer grid posts are in unit_grid_scopes:
    # a social grid and a unit grid may carry the same code and lie in different places.
    scope_prefixes: frozenset[str] | None = None
    user_id: int | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    department_codes: frozenset[str] = field(default_factory=frozenset)
    unit_grid_scopes: frozenset[str] = field(default_factory=frozenset)
    via: str = "local"  # "session" | "bearer" | "api_key" | "local" | "anonymous"
    csrf_token: str | None = None

    def can(self, permission: str) -> bool:
        """Return True if the principal holds a permission ('*' holds all, 'x.*' a family)."""
        if "*" in self.permissions or permission in self.permissions:
            return True
        family = permission.split(".", 1)[0] + ".*"
        return family in self.permissions

    def require(self, permission: str) -> None:
        """Raise Forbidden (401 when not logged in) unless the principal holds the permission."""
        if self.can(permission):
            return
        if self.via == "anonymous":
            raise Unauthenticated("请先登录", "log in first", code="unauthenticated")
        raise Forbidden(f"没有权限：{permission}", f"permission required: {permission}")

    def require_with_reason(
        self, permission: str, reason: str | None, *, doing_zh: str, doing_en: str
    ) -> str:
        """Return the stripped reason; refuse without the permission or a reason (audited reads)."""
        self.require(permission)
        if not reason or len(reason.strip()) < 2:
            raise ValidationFailed(
                f"{doing_zh}须说明理由",
                f"a reason is required to {doing_en}",
                code="reason_required",
                field="reason",
            )
        return reason.strip()

    def county_codes(self) -> set[str] | None:
        """Return the counties in scope, or None for all."""
        if self.scope_prefixes is None:
            return None
        return {p[:6] for p in self.scope_prefixes}

    def covers(self, code: str) -> bool:
        """Return True if a division or grid code lies inside the scope (or contains it)."""
        if self.scope_prefixes is None:
            return True
        return any(code.startswith(p) or p.startswith(code) for p in self.scope_prefixes)

    def contains(self, code: str, layer: str = "social") -> bool:
        """Return True if a code lies inside the scope (ancestors do not count).

        Division codes (up to 12 digits) hold the grids of both layers; a longer scope names
        a grid of one layer and holds only codes of that layer.
        """
        if self.scope_prefixes is None:
            return True
        if any(code.startswith(p) for p in self.scope_prefixes if len(p) <= 12):
            return True
        if layer == "unit":
            return any(code.startswith(p) for p in self.unit_grid_scopes)
        return any(code.startswith(p) for p in self.scope_prefixes if len(p) > 12)


LOCAL_OPERATOR = Principal(name="local-operator", permissions=frozenset({"*"}))
ANONYMOUS = Principal(
    name="anonymous", scope_prefixes=frozenset(), via="anonymous", roles=frozenset({"citizen"})
)
