"""Fixed-window rate limits for anonymous reporting, counted in the database (shared by all nodes)."""

from __future__ import annotations

import hashlib
import time

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from wangge.api.models import RateCounter
from wangge.errors import DomainError


class TooManyRequests(DomainError):
    status = 429
    default_code = "rate_limited"


def phone_key(phone: str) -> str:
    """Key a phone by a hash, so the counter table holds no phone numbers."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return "phone:" + hashlib.sha256(digits.encode()).hexdigest()[:20]


def hit(
    session: Session,
    key: str,
    *,
    limit: int,
    window_s: int,
    now: float | None = None,
    amount: int = 1,
) -> int:
    """Count `amount` (one request, or its bytes) for `key`; raise TooManyRequests past `limit`
    in the current window."""
    now = time.time() if now is None else now
    window = int(now // window_s)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    row = insert(RateCounter).values(key=key, window=window, count=amount)
    stmt = row.on_conflict_do_update(
        index_elements=["key", "window"], set_={"count": RateCounter.count + amount}
    ).returning(RateCounter.count)
    count = int(session.execute(stmt).scalar_one())
    if count > limit:
        retry = int((window + 1) * window_s - now) + 1
        raise TooManyRequests(
            f"提交过于频繁，请 {retry} 秒后再试",
            f"too many requests; retry in {retry} s",
            details={"retry_after": retry},
        )
    return count
