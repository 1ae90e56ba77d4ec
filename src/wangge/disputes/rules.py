"""The dispute vocabulary and its state rules (PURE): kinds, states, outcomes, transitions."""

from __future__ import annotations

from collections.abc import Mapping

from wangge.errors import InvalidTransition, ValidationFailed

Label = tuple[str, str]  # (Chinese, English)

KINDS: Mapping[str, Label] = {
    "neighbour": ("邻里纠纷", "Neighbour dispute"),
    "family": ("婚姻家庭", "Marriage and family"),
    "property": ("物业纠纷", "Property management dispute"),
    "labour": ("劳资纠纷", "Labour dispute"),
    "land": ("土地纠纷", "Land dispute"),
    "other": ("其他", "Other"),
}
STATES: Mapping[str, Label] = {
    "registered": ("已登记", "Registered"),
    "mediating": ("调解中", "Mediating"),
    "settled": ("调解成功", "Settled"),
    "failed": ("调解失败", "Mediation failed"),
    "transferred": ("已转交", "Transferred"),
    "followed_up": ("已回访", "Followed up"),
}
OUTCOMES = ("settled", "failed", "transferred")
OPEN_STATES = frozenset({"registered", "mediating"})


def label(table: Mapping[str, Label], code: str | None, lang: str = "zh") -> str:
    """Return a code's name in the language (the code itself if unknown)."""
    pair = table.get(code or "")
    return (pair[1] if lang == "en" else pair[0]) if pair else (code or "")


def check_kind(kind: str) -> str:
    """Return the kind code; a Chinese name (邻里纠纷) is accepted too. Raise 422 if unknown."""
    text = kind.strip()
    for code, (zh, _en) in KINDS.items():
        if text in (code, zh):
            return code
    allowed = "、".join(f"{k}（{v[0]}）" for k, v in KINDS.items())
    raise ValidationFailed(
        f"纠纷类型 {kind!r} 不存在，可用：{allowed}",
        f"kind {kind!r} is unknown; allowed: {', '.join(KINDS)}",
        code="unknown_kind",
        field="kind",
    )


def _refuse(state: str, zh: str, en: str, code: str) -> InvalidTransition:
    return InvalidTransition(
        f"{zh}（当前状态：{STATES[state][0]}）",
        f"{en} (current state: {state})",
        code=code,
        details={"state": state},
    )


def check_session(state: str) -> str:
    """A session is held on a registered or mediating dispute; return the new state."""
    if state not in OPEN_STATES:
        raise _refuse(
            state, "调解已有结果，不能再记录调解过程",
            "the mediation already has an outcome: no more sessions", "mediation_over",
        )  # fmt: skip
    return "mediating"


def check_outcome(
    state: str, outcome: str, *, transferred_to: str | None, agreement: bool, reason: str | None
) -> str:
    """Return the outcome state; refuse it before a session or when its details are missing."""
    if outcome not in OUTCOMES:
        raise ValidationFailed(
            f"调解结果 {outcome!r} 不存在，可用：settled（调解成功）、failed（调解失败）、"
            "transferred（转交）",
            f"outcome {outcome!r} is unknown; allowed: {', '.join(OUTCOMES)}",
            code="unknown_outcome",
            field="outcome",
        )
    if state == "registered":
        raise _refuse(
            state, "尚未记录调解过程，不能填写调解结果",
            "record a mediation session before the outcome", "session_required",
        )  # fmt: skip
    if state != "mediating":
        raise _refuse(
            state, "调解结果已填写过", "the outcome was already recorded", "outcome_recorded"
        )
    if outcome == "transferred" and not (transferred_to or "").strip():
        raise ValidationFailed(
            "转交须写明接收单位（transferred_to）",
            "transferred_to: name the body the dispute goes to",
            code="transferred_to_required",
            field="transferred_to",
        )
    if outcome != "transferred" and (transferred_to or "").strip():
        raise ValidationFailed(
            "只有转交的纠纷才有接收单位",
            "transferred_to is taken only with the outcome transferred",
            code="transferred_to_not_allowed",
            field="transferred_to",
        )
    if outcome == "settled" and not agreement and len((reason or "").strip()) < 2:
        raise ValidationFailed(
            "调解成功须先上传调解协议书，或说明没有协议书的原因（no_agreement_reason）",
            "a settled dispute needs an uploaded agreement document or no_agreement_reason",
            code="agreement_required",
            field="no_agreement_reason",
        )
    return outcome


def check_agreement_upload(state: str) -> None:
    """An agreement is uploaded during mediation or after a settlement, before the follow-up."""
    if state not in ("mediating", "settled"):
        raise _refuse(
            state, "只能在调解中或调解成功后上传调解协议书",
            "an agreement is uploaded while mediating or once settled", "agreement_not_allowed",
        )  # fmt: skip


def check_follow_up(state: str) -> str:
    """The follow-up visit comes after an outcome, once; return the closing state."""
    if state in OPEN_STATES:
        raise _refuse(
            state, "调解尚无结果，不能回访", "no follow-up before the outcome", "outcome_required"
        )
    if state == "followed_up":
        raise _refuse(state, "已回访过", "the follow-up visit was already recorded", "followed_up")
    return "followed_up"
