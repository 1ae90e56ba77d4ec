"""Time-limit configuration: per class and 立案条件, per stage, per area class A/B/C, urgency.

Time limits are local configuration (standards notes §2.5: no national catalogue was
recovered), so every default here is a placeholder a city overrides with its own catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, model_validator
from pydantic import ValidationError as PydanticValidationError

from wangge.errors import ValidationFailed

# 1 工作日 = 8 工作小时 in every catalogue seen (standards notes §2.5).
WORKING_DAY_HOURS = 8.0


class Stage(StrEnum):
    """A timed step of the loop."""

    ACCEPT = "accept"
    VERIFY = "verify"
    FILE = "file"
    DISPATCH = "dispatch"
    HANDLE = "handle"
    CHECK = "check"
    CLOSE = "close"


class AreaClass(StrEnum):
    """Area class of the catalogue: A core, B general, C outer."""

    A = "A"
    B = "B"
    C = "C"


class StageLimit(BaseModel):
    """A time limit: hours, and whether it runs around the clock (urgent)."""

    model_config = ConfigDict(frozen=True)

    hours: PositiveFloat
    urgent: bool = False


class LimitRule(BaseModel):
    """Time limit of one class (小类) and optional 立案条件 for one stage, per area class."""

    model_config = ConfigDict(frozen=True)

    category: str = Field(min_length=1)
    condition: str | None = None
    stage: Stage = Stage.HANDLE
    hours: dict[AreaClass, PositiveFloat] = Field(min_length=1)
    urgent: bool = False


def _default_stages() -> dict[Stage, StageLimit]:
    return {
        Stage.ACCEPT: StageLimit(hours=1),
        Stage.VERIFY: StageLimit(hours=1),
        Stage.FILE: StageLimit(hours=1),
        Stage.DISPATCH: StageLimit(hours=1),
        Stage.HANDLE: StageLimit(hours=WORKING_DAY_HOURS),
        Stage.CHECK: StageLimit(hours=1),
        Stage.CLOSE: StageLimit(hours=1),
    }


class TimeLimits(BaseModel):
    """All time limits of a city; `limit_for` picks the most specific one."""

    model_config = ConfigDict(frozen=True)

    hours_per_day: PositiveFloat = WORKING_DAY_HOURS
    stages: dict[Stage, StageLimit] = Field(default_factory=_default_stages)
    rules: tuple[LimitRule, ...] = ()

    @model_validator(mode="after")
    def _unique_rules(self) -> TimeLimits:
        seen: set[tuple[str, str | None, Stage]] = set()
        for rule in self.rules:
            key = (rule.category, rule.condition, rule.stage)
            if key in seen:
                raise ValueError(f"duplicate time-limit rule {key}")
            seen.add(key)
        missing = set(Stage) - set(self.stages)
        if missing:
            raise ValueError(f"stages without a default limit: {sorted(missing)}")
        return self

    @classmethod
    def load(cls, data: Any) -> TimeLimits:
        """Validate a city's configuration, raising ValidationFailed with the first problem."""
        try:
            return cls.model_validate(data)
        except PydanticValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise ValidationFailed(
                f"时限配置有误：{where} {first['msg']}",
                f"invalid time-limit configuration: {where}: {first['msg']}",
                code="bad_time_limits",
                field=where or None,
            ) from exc

    def days(self, n: float) -> float:
        """Return `n` working days in working hours."""
        return n * self.hours_per_day

    def limit_for(
        self,
        stage: Stage,
        *,
        category: str | None = None,
        condition: str | None = None,
        area: AreaClass = AreaClass.B,
        urgent: bool = False,
    ) -> StageLimit:
        """Return the limit: class + condition, then class alone, then the stage default."""
        for cond in (condition, None) if condition is not None else (None,):
            for rule in self.rules:
                if (rule.category, rule.condition, rule.stage) != (category, cond, stage):
                    continue
                if area in rule.hours:
                    return StageLimit(hours=rule.hours[area], urgent=rule.urgent or urgent)
        default = self.stages[stage]
        return StageLimit(hours=default.hours, urgent=default.urgent or urgent)


# --- response rules: limits by intake channel and urgency (issue 13) -------------------------

# Besides the stages of the loop, a response rule may time the two promises made to the
# reporter: the first answer ("respond") and the whole matter, report to close ("solve").
RESPOND, SOLVE = "respond", "solve"
PROMISES: tuple[str, ...] = (RESPOND, SOLVE)
RULE_STAGES: tuple[str, ...] = (*PROMISES, *(s.value for s in Stage))


class ChannelRule(BaseModel):
    """A response rule: the limit of one stage or promise for one channel (and urgency).

    `urgent=None` applies to urgent and ordinary cases alike; a rule for the case's own
    urgency beats it. `around_the_clock` counts wall-clock hours, otherwise working hours.
    """

    model_config = ConfigDict(frozen=True)

    source: str
    stage: str
    hours: PositiveFloat
    urgent: bool | None = None
    around_the_clock: bool = True
    name: str = ""
    id: int | None = None

    @property
    def limit(self) -> StageLimit:
        """Return the rule as a StageLimit on its own clock."""
        return StageLimit(hours=self.hours, urgent=self.around_the_clock)


def pick_channel_rules(
    rules: Iterable[ChannelRule], *, source: str, urgent: bool
) -> dict[str, ChannelRule]:
    """Return the rule per stage/promise that applies to a case from `source`."""
    chosen: dict[str, ChannelRule] = {}
    for rule in rules:
        if rule.source != source or rule.urgent not in (None, urgent):
            continue
        held = chosen.get(rule.stage)
        # The rule written for this urgency wins over the one for either.
        if held is None or (held.urgent is None and rule.urgent is not None):
            chosen[rule.stage] = rule
    return chosen


# Defaults seeded per county by `wangge init`. The online channel follows the 金牛 seed
# ("2小时内回应、24小时内处理解决"); nothing in the seeds fixes the 12345 hotline's or urgent
# matters' limits, so those rules say "占位" in their name until the district sets its own.
DEFAULT_CHANNEL_RULES: tuple[ChannelRule, ...] = (
    ChannelRule(name="网上诉求：2 小时内回应（金牛）", source="online", stage=RESPOND, hours=2),
    ChannelRule(name="网上诉求：24 小时内办结（金牛）", source="online", stage=SOLVE, hours=24),
    ChannelRule(
        name="紧急网上诉求：1 小时内回应（占位）",
        source="online",
        urgent=True,
        stage=RESPOND,
        hours=1,
    ),
    ChannelRule(
        name="12345 热线：1 个工作日内答复（占位）",
        source="hotline",
        stage=RESPOND,
        hours=WORKING_DAY_HOURS,
        around_the_clock=False,
    ),
    ChannelRule(
        name="12345 热线：5 个工作日内办结（占位）",
        source="hotline",
        stage=SOLVE,
        hours=5 * WORKING_DAY_HOURS,
        around_the_clock=False,
    ),
    ChannelRule(
        name="紧急 12345 热线：1 小时内答复（占位）",
        source="hotline",
        urgent=True,
        stage=RESPOND,
        hours=1,
    ),
    ChannelRule(
        name="紧急 12345 热线：24 小时内办结（占位）",
        source="hotline",
        urgent=True,
        stage=SOLVE,
        hours=24,
    ),
)


def promise_text(rules: Mapping[str, ChannelRule]) -> tuple[str, str] | None:
    """Return what the reporter is promised, in Chinese and English (None: nothing)."""
    zh, en = [], []
    for stage, verb_zh, verb_en in ((RESPOND, "答复", "answered"), (SOLVE, "办结", "solved")):
        rule = rules.get(stage)
        if rule is None:
            continue
        n, unit_zh, unit_en = f"{rule.hours:g}", "小时", "hours"
        if not rule.around_the_clock:
            days = rule.hours / WORKING_DAY_HOURS
            n, unit_zh, unit_en = (
                (f"{days:g}", "个工作日", "working days")
                if days == int(days)
                else (n, "个工作小时", "working hours")
            )
        zh.append(f"{n} {unit_zh}内{verb_zh}")
        en.append(f"{verb_en} within {n} {unit_en}")
    if not zh:
        return None
    return "承诺 " + " / ".join(zh), "Promised: " + "; ".join(en)
