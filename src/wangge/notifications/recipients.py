"""Who a message is for, as the outbox writes it: a department, a county centre or a person."""

from __future__ import annotations

DEPARTMENT, CENTRE = "dept:", "centre:"
# The posts of a county's command centre (指挥中心) that hear of its messages.
CENTRE_ROLES = frozenset({"dispatcher", "shift_leader"})


def department_recipient(code: str) -> str:
    """Return the outbox recipient of a department's inbox."""
    return f"{DEPARTMENT}{code}"


def centre_recipient(county_code: str) -> str:
    """Return the outbox recipient of a county centre's inbox (派遣员, 值班长)."""
    return f"{CENTRE}{county_code}"


def department_of(recipient: str) -> str | None:
    """Return the department code of a department recipient, else None."""
    return recipient[len(DEPARTMENT) :] if recipient.startswith(DEPARTMENT) else None


def centre_of(recipient: str) -> str | None:
    """Return the county code of a centre recipient, else None."""
    return recipient[len(CENTRE) :] if recipient.startswith(CENTRE) else None


def centre_inboxes(roles: frozenset[str], scope_prefixes: frozenset[str] | None) -> list[str]:
    """Return the centre inboxes of a person holding a centre post for whole counties."""
    if not CENTRE_ROLES & roles or scope_prefixes is None:
        return []
    return [centre_recipient(p) for p in sorted(scope_prefixes) if len(p) == 6]
