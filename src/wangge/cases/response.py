"""Response rules by intake channel and urgency (issue 13): keep them, seed them, apply them.

A rule times one stage of the loop or one of the two promises made to the reporter — the
first answer ("respond") and report → close ("solve") — for cases from one channel (online,
hotline, ...) and one urgency (or either). The pure selection and the defaults live in
`cases.limits`; the clocks they drive in `cases.timing`. Rules are read when a clock starts,
so a change applies to clocks started afterwards; promises already made stand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.audit.service import record_for
from wangge.auth.principal import Principal
from wangge.cases.access import require_county
from wangge.cases.categories import cached_reference
from wangge.cases.limits import (
    DEFAULT_CHANNEL_RULES,
    PROMISES,
    RULE_STAGES,
    ChannelRule,
    pick_channel_rules,
    promise_text,
)
from wangge.cases.models import Case, ResponseRule
from wangge.cases.vocabulary import Source
from wangge.common.models import utcnow
from wangge.divisions.models import Division
from wangge.errors import Conflict, Forbidden, NotFound, ValidationFailed

# A year of hours: beyond it a "limit" is a typing slip, and the clock would search for ever.
MAX_HOURS = 8760.0


@dataclass(frozen=True)
class RuleIn:
    """A new rule as an administrator types it."""

    county_code: str
    name: str
    source: str
    stage: str
    hours: float
    urgent: bool | None = None
    around_the_clock: bool = True


def as_channel_rule(row: ResponseRule) -> ChannelRule:
    """Return the pure view of a stored rule."""
    return ChannelRule(
        id=row.id,
        name=row.name,
        source=row.source,
        urgent=row.urgent,
        stage=row.stage,
        hours=row.hours,
        around_the_clock=row.around_the_clock,
    )


def channel_for(
    session: Session, county_code: str, source: str, urgent: bool
) -> dict[str, ChannelRule]:
    """Return the active rules per stage/promise for a case of this county, channel, urgency."""
    rules = cached_reference(
        session,
        ("response_rules", county_code, source),
        lambda: [
            as_channel_rule(r)
            for r in session.scalars(
                select(ResponseRule).where(
                    ResponseRule.county_code == county_code,
                    ResponseRule.source == source,
                    ResponseRule.is_active.is_(True),
                )
            )
        ],
    )
    return pick_channel_rules(rules, source=source, urgent=urgent)


def channel_of(session: Session, case: Case) -> dict[str, ChannelRule]:
    """Return the active rules that apply to a stored case."""
    return channel_for(session, case.county_code, case.source, case.urgent)


def list_rules(
    session: Session, principal: Principal, county_code: str, *, include_inactive: bool = False
) -> list[ResponseRule]:
    """Return a county's rules, channel by channel."""
    principal.require("cases.read")
    if not principal.covers(county_code):
        raise Forbidden("无权查看该区县", "county outside your scope", code="out_of_scope")
    q = select(ResponseRule).where(ResponseRule.county_code == county_code)
    if not include_inactive:
        q = q.where(ResponseRule.is_active.is_(True))
    return list(
        session.scalars(q.order_by(ResponseRule.source, ResponseRule.stage, ResponseRule.id))
    )


def _may_manage(session: Session, principal: Principal, county_code: str) -> None:
    require_county(principal, "rules.manage", county_code)
    if session.get(Division, county_code) is None:
        raise ValidationFailed(
            f"区县 {county_code} 不存在（先运行 wangge init）",
            f"county {county_code} does not exist (run `wangge init` first)",
            code="unknown_county",
            field="county_code",
        )


def _check(name: str, source: str, stage: str, hours: float) -> None:
    if not name.strip():
        raise ValidationFailed("规则名称不能为空", "the rule needs a name", field="name")
    if source not in set(Source):
        raise ValidationFailed(
            f"未知的来源渠道 {source}（可选：{', '.join(Source)}）",
            f"unknown source {source!r} (one of: {', '.join(Source)})",
            code="unknown_source",
            field="source",
        )
    if stage not in RULE_STAGES:
        raise ValidationFailed(
            f"未知的环节 {stage}（可选：{', '.join(RULE_STAGES)}）",
            f"unknown stage {stage!r} (one of: {', '.join(RULE_STAGES)})",
            code="unknown_stage",
            field="stage",
        )
    if not math.isfinite(hours) or hours <= 0 or hours > MAX_HOURS:
        raise ValidationFailed(
            f"时限必须大于 0 且不超过 {MAX_HOURS:g} 小时",
            f"hours must be above 0 and at most {MAX_HOURS:g}",
            code="bad_hours",
            field="hours",
        )


def _refuse_twin(session: Session, rule: ResponseRule) -> None:
    """Refuse a second active rule for the same county, channel, urgency and stage."""
    q = select(ResponseRule.id).where(
        ResponseRule.county_code == rule.county_code,
        ResponseRule.source == rule.source,
        ResponseRule.stage == rule.stage,
        ResponseRule.is_active.is_(True),
        ResponseRule.urgent.is_(None)
        if rule.urgent is None
        else ResponseRule.urgent == rule.urgent,
    )
    if rule.id is not None:
        q = q.where(ResponseRule.id != rule.id)
    twin = session.scalar(q)
    if twin is not None:
        zh = {None: "不限紧急程度", True: "紧急", False: "一般"}[rule.urgent]
        en = {None: "any urgency", True: "urgent", False: "ordinary"}[rule.urgent]
        raise Conflict(
            f"区县 {rule.county_code} 已有生效规则 {twin}（来源 {rule.source}、{zh}、环节 "
            f"{rule.stage}）：请修改它，或先停用",
            f"county {rule.county_code} already has active rule {twin} for source "
            f"{rule.source}, {en}, stage {rule.stage}: edit it or disable it first",
            code="duplicate_rule",
            field="stage",
            details={"existing": twin},
        )


def _audit(
    session: Session, principal: Principal, action: str, rule: ResponseRule, now: datetime
) -> None:
    record_for(
        session,
        principal,
        f"response_rule.{action}",
        object_type="response_rule",
        object_id=rule.id,
        county_code=rule.county_code,
        detail=rule_dict(rule),
        at=now,
    )


def create_rule(
    session: Session, principal: Principal, data: RuleIn, *, now: datetime | None = None
) -> ResponseRule:
    """Add an active rule; refuse bad values and a twin of an active rule."""
    _may_manage(session, principal, data.county_code)
    _check(data.name, data.source, data.stage, data.hours)
    rule = ResponseRule(
        county_code=data.county_code,
        name=data.name.strip(),
        source=data.source,
        urgent=data.urgent,
        stage=data.stage,
        hours=float(data.hours),
        around_the_clock=data.around_the_clock,
        is_active=True,
    )
    _refuse_twin(session, rule)
    session.add(rule)
    session.flush()
    _audit(session, principal, "create", rule, now or utcnow())
    return rule


def get_rule(session: Session, rule_id: int) -> ResponseRule:
    """Return a rule or raise NotFound."""
    rule = session.get(ResponseRule, rule_id)
    if rule is None:
        raise NotFound(f"答复时限规则 {rule_id} 不存在", f"response rule {rule_id} does not exist")
    return rule


_EDITABLE = ("name", "hours", "around_the_clock")


def update_rule(
    session: Session,
    principal: Principal,
    rule_id: int,
    changes: dict[str, Any],
    *,
    now: datetime | None = None,
) -> ResponseRule:
    """Change a rule's name, hours or clock; its channel, urgency and stage are its identity."""
    principal.require("rules.manage")
    rule = get_rule(session, rule_id)
    _may_manage(session, principal, rule.county_code)
    fixed = sorted(set(changes) - set(_EDITABLE))
    if fixed:
        raise ValidationFailed(
            f"不能修改 {fixed[0]}：请停用本规则后新增一条",
            f"{fixed[0]} cannot change: disable this rule and add a new one",
            code="fixed_field",
            field=fixed[0],
        )
    if not rule.is_active:
        raise Conflict(
            f"规则 {rule_id} 已停用，不能修改", f"rule {rule_id} is disabled", code="rule_disabled"
        )
    name = str(changes.get("name", rule.name))
    hours = changes.get("hours", rule.hours)
    if not isinstance(hours, int | float) or isinstance(hours, bool):
        raise ValidationFailed("时限必须是数字", "hours must be a number", field="hours")
    _check(name, rule.source, rule.stage, float(hours))
    rule.name, rule.hours = name.strip(), float(hours)
    if changes.get("around_the_clock") is not None:
        rule.around_the_clock = bool(changes["around_the_clock"])
    session.flush()
    _audit(session, principal, "update", rule, now or utcnow())
    return rule


def deactivate_rule(
    session: Session, principal: Principal, rule_id: int, *, now: datetime | None = None
) -> ResponseRule:
    """Disable a rule: new clocks no longer follow it; promises already made stand."""
    principal.require("rules.manage")
    rule = get_rule(session, rule_id)
    _may_manage(session, principal, rule.county_code)
    if rule.is_active:
        rule.is_active = False
        session.flush()
        _audit(session, principal, "disable", rule, now or utcnow())
    return rule


def seed_rules(session: Session, county_code: str) -> int:
    """Add the default rules to a county that has none (disabled ones count): idempotent."""
    have = session.scalar(
        select(ResponseRule.id).where(ResponseRule.county_code == county_code).limit(1)
    )
    if have is not None:
        return 0
    for rule in DEFAULT_CHANNEL_RULES:
        session.add(
            ResponseRule(
                county_code=county_code,
                name=rule.name,
                source=rule.source,
                urgent=rule.urgent,
                stage=rule.stage,
                hours=rule.hours,
                around_the_clock=rule.around_the_clock,
                is_active=True,
            )
        )
    session.flush()
    return len(DEFAULT_CHANNEL_RULES)


def rule_dict(rule: ResponseRule) -> dict[str, Any]:
    """Return a rule as plain data (API, audit detail, CLI)."""
    return {
        "id": rule.id,
        "county_code": rule.county_code,
        "name": rule.name,
        "source": rule.source,
        "urgent": rule.urgent,
        "stage": rule.stage,
        "hours": rule.hours,
        "around_the_clock": rule.around_the_clock,
        "is_active": rule.is_active,
    }


def promise_view(case: Case) -> dict[str, Any] | None:
    """Return what the reporter was promised and when each promise falls due (public)."""
    made = case.promise or {}
    rules = {
        kind: ChannelRule(
            source=case.source,
            stage=kind,
            hours=made[kind]["hours"],
            around_the_clock=made[kind].get("around_the_clock", True),
        )
        for kind in PROMISES
        if kind in made
    }
    text = promise_text(rules)
    if text is None:
        return None
    return {
        "text_zh": text[0],
        "text_en": text[1],
        "respond_due": case.respond_due.isoformat() if case.respond_due else None,
        "responded_at": case.responded_at.isoformat() if case.responded_at else None,
        "solve_due": case.solve_due.isoformat() if case.solve_due else None,
    }
