"""The rules of public intake (reports without a staff account), one place for every door.

The doors are Open311 GeoReport v2 (`open311.views`, API-key clients), the citizen page's
report (`web.citizen_api`) and its 代办 request (`resident_services.views`). They share which
categories the public may report in and one per-IP budget (the counter `ip:<address>`, one
for all doors).

The rules live in `open311` because that package already owned them: the published classes
(`mapping.PUBLIC_KINDS`) and the per-IP limit were defined here and the citizen page imported
them from here. `wangge.intake` is the staff's 受理登记 (hotline, counter, letter, video),
filed by a signed-in clerk: it has no anonymous door and no rate limit.

The rules only answer or count; each door keeps its own refusal (Open311's
{code, description} with 404/400, the citizen page's `bad_category`), and the limit's
`TooManyRequests` is the same for all.
"""

from __future__ import annotations

from typing import TypeGuard

from fastapi import Request
from sqlalchemy.orm import Session

from wangge.api.ratelimit import hit
from wangge.cases.models import Category
from wangge.open311.mapping import PUBLIC_KINDS

IP_LIMIT_PER_HOUR = 60


def reportable(category: Category | None) -> TypeGuard[Category]:
    """Whether the public may report in `category`: an active event or component class."""
    return category is not None and category.kind in PUBLIC_KINDS and category.is_active


def count_ip(session: Session, request: Request) -> None:
    """Count one public report for the caller's IP; past IP_LIMIT_PER_HOUR raise TooManyRequests.

    Counted in the request's transaction: a refused request rolls its count back, which
    keeps a client at the limit until the window ends.
    """
    ip = request.client.host if request.client else "unknown"
    hit(session, f"ip:{ip}", limit=IP_LIMIT_PER_HOUR, window_s=3600)
