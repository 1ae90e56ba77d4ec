"""Person labels (care groups, special groups, key youth) and who may see them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.errors import Forbidden, ValidationFailed
from wangge.registry.models_common import LabelKind

SPECIAL = "personal.special"


def label_kinds(session: Session) -> dict[str, LabelKind]:
    """Return the label kinds of this deployment by code."""
    return {k.code: k for k in session.scalars(select(LabelKind).order_by(LabelKind.code))}


def sensitive_codes(session: Session) -> set[str]:
    """Return the codes of labels only holders of personal.special may see."""
    return {k.code for k in label_kinds(session).values() if k.sensitive}


def visible_labels(
    labels: list[str] | None, principal: Principal, sensitive: set[str]
) -> list[str]:
    """Drop the sensitive labels unless the principal holds personal.special."""
    if principal.can(SPECIAL):
        return sorted(labels or [])
    return sorted(code for code in labels or [] if code not in sensitive)


def parse_labels(
    session: Session, principal: Principal, values: list[str], field: str = "labels"
) -> list[str]:
    """Turn label codes or names into codes; refuse unknown ones and unpermitted sensitive ones."""
    kinds = label_kinds(session)
    by_name = {k.name: k for k in kinds.values()}
    codes: list[str] = []
    for raw in values:
        text = raw.strip()
        if not text:
            continue
        kind = kinds.get(text) or by_name.get(text)
        if kind is None or not kind.active:
            raise ValidationFailed(
                f"未知的人员标签 {text}", f"unknown person label {text}",
                code="unknown_label", field=field,
            )  # fmt: skip
        if kind.sensitive and not principal.can(SPECIAL):
            raise Forbidden(
                f"标注“{kind.name}”需要特殊人群权限", f"labelling {kind.code} needs {SPECIAL}",
            )  # fmt: skip
        codes.append(kind.code)
    return sorted(set(codes))


def merge_hidden(
    new: list[str], old: list[str] | None, principal: Principal, sensitive: set[str]
) -> list[str]:
    """Keep the sensitive labels a principal could not see when he rewrites the list."""
    if principal.can(SPECIAL):
        return new
    return sorted(set(new) | {c for c in old or [] if c in sensitive})
