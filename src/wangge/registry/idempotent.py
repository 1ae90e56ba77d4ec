"""Registry writes sent from a phone's outbox: the same Idempotency-Key applies them once."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel
from sqlalchemy.orm import Session

from wangge.api.idempotency import run_once
from wangge.auth.principal import Principal

# A queued form (信息采集 offline) is resent until its answer is seen: the key makes the
# resend return the first answer instead of creating a second person or visit.
IdempotencyKeyDep = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]


def once(
    session: Session,
    principal: Principal,
    key: str | None,
    *,
    method: str,
    path: str,
    body: BaseModel | None,
    work: Callable[[], Any],
) -> Any:
    """Run a registry write once per (user, key); a resend gets the first answer back."""
    if not key:
        return jsonable_encoder(work())
    owner = str(principal.user_id) if principal.user_id is not None else principal.name
    sent = body.model_dump(mode="json", exclude_unset=True) if body is not None else None
    # The standard json module: a body may hold integers beyond 64 bits (refused later).
    text = json.dumps([method, path, sent], sort_keys=True, ensure_ascii=False, default=str)
    _status, out, _replayed = run_once(
        session, owner=owner, key=key, fingerprint=hashlib.sha256(text.encode()).hexdigest(),
        work=lambda: (200, jsonable_encoder(work())),
    )  # fmt: skip
    return out


def save_once(
    session: Session,
    principal: Principal,
    key: str | None,
    *,
    method: str,
    path: str,
    body: BaseModel,
    save: Callable[[dict[str, Any]], Any],
) -> Any:
    """Run `save` on the fields the body sets, once per Idempotency-Key (the registry's writes)."""
    return once(
        session, principal, key, method=method, path=path, body=body,
        work=lambda: save(body.model_dump(exclude_unset=True)),
    )  # fmt: skip
