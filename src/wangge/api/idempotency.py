"""Idempotency-Key: a retried POST returns the first result and never does the work twice.

The key is claimed by inserting its row inside the request's own transaction, before the
work. A concurrent retry blocks on that row (PostgreSQL) or the database lock (SQLite) and
then finds the finished response; the claim and the response commit together with the work,
so an acknowledged result is always replayable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wangge.api.models import IdempotencyKey
from wangge.errors import Conflict, ValidationFailed

HEADER = "Idempotency-Key"


def fingerprint(method: str, path: str, body: Any) -> str:
    """Hash what makes two requests "the same request"."""
    return hashlib.sha256(
        orjson.dumps([method, path, body], option=orjson.OPT_SORT_KEYS)
    ).hexdigest()


def run_once(
    session: Session,
    *,
    owner: str,
    key: str | None,
    fingerprint: str,
    work: Callable[[], tuple[int, Any]],
) -> tuple[int, Any, bool]:
    """Do `work` once per (owner, key); return (status, body, replayed)."""
    if not key:
        status, body = work()
        return status, body, False
    if len(key) > 128:
        raise ValidationFailed(
            "Idempotency-Key 过长（最多 128 字符）",
            "Idempotency-Key too long (max 128)",
            field=HEADER,
        )
    existing = session.get(IdempotencyKey, (owner, key))
    if existing is None:
        try:
            with session.begin_nested():
                session.add(IdempotencyKey(owner=owner, key=key, fingerprint=fingerprint))
        except IntegrityError:
            existing = session.get(IdempotencyKey, (owner, key))
    if existing is not None:
        return _replay(existing, fingerprint)
    status, body = work()
    row = session.get(IdempotencyKey, (owner, key))
    assert row is not None
    row.status_code, row.body = status, body
    session.flush()
    return status, body, False


def _replay(row: IdempotencyKey, fp: str) -> tuple[int, Any, bool]:
    if row.fingerprint != fp:
        raise ValidationFailed(
            "同一 Idempotency-Key 用于了不同的请求",
            "Idempotency-Key reused for a different request",
            code="idempotency_mismatch",
            field=HEADER,
        )
    if row.status_code is None:
        raise Conflict(
            "相同请求正在处理中，请稍后重试",
            "the same request is in progress; retry shortly",
            code="idempotency_in_progress",
        )
    return row.status_code, row.body, True
