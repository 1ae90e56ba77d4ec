"""Area scope as SQL: every list and read filters by the principal inside the query."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_, true

from wangge.auth.principal import Principal


def scope_clause(column: Any, principal: Principal) -> ColumnElement[bool]:
    """Return `column LIKE prefix%` for each scope prefix (TRUE for the whole territory)."""
    if principal.scope_prefixes is None:
        return true()
    if not principal.scope_prefixes:
        return false()
    return or_(*(column.startswith(p, autoescape=True) for p in sorted(principal.scope_prefixes)))


def ancestor_or_scope_clause(column: Any, principal: Principal) -> ColumnElement[bool]:
    """Like scope_clause, but divisions above the scope (its street, its county) also match."""
    if principal.scope_prefixes is None:
        return true()
    if not principal.scope_prefixes:
        return false()
    ancestors = {p[:n] for p in principal.scope_prefixes for n in (6, 9, 12) if n < len(p)}
    return or_(scope_clause(column, principal), column.in_(sorted(ancestors)))
