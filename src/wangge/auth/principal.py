"""Who is asking, and which part of the territory they may see.

This is the seam the accounts issue fills in: today every request runs as the local
operator with the whole territory in scope; services already take a Principal and
filter by its counties and division prefixes inside their queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wangge.errors import Forbidden


@dataclass(frozen=True)
class Principal:
    name: str
    permissions: frozenset[str] = field(default_factory=frozenset)
    # None means the whole territory; otherwise division-code prefixes (county, street…).
    scope_prefixes: frozenset[str] | None = None

    def can(self, permission: str) -> bool:
        """Return True if the principal holds a permission ('*' holds all)."""
        return "*" in self.permissions or permission in self.permissions

    def require(self, permission: str) -> None:
        """Raise Forbidden unless the principal holds the permission."""
        if not self.can(permission):
            raise Forbidden(
                f"没有权限：{permission}", f"permission required: {permission}", code="forbidden"
            )

    def county_codes(self) -> set[str] | None:
        """Return the counties in scope, or None for all."""
        if self.scope_prefixes is None:
            return None
        return {p[:6] for p in self.scope_prefixes}

    def covers(self, code: str) -> bool:
        """Return True if a division or grid code lies inside the scope."""
        if self.scope_prefixes is None:
            return True
        return any(code.startswith(p) or p.startswith(code) for p in self.scope_prefixes)


LOCAL_OPERATOR = Principal(name="local-operator", permissions=frozenset({"*"}))
