"""Time-limit configuration: per class and 立案条件, per stage, per area class A/B/C, urgency.

Time limits are local configuration (standards notes §2.5: no national catalogue was
recovered), so every default here is a placeholder a city overrides with its own catalogue.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

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


class CitizenChannelRule(BaseModel):
    """The citizen online channel (金牛): respond in 2 h, solve in 24 h, complex in 72 h."""

    model_config = ConfigDict(frozen=True)

    respond_hours: PositiveFloat = 2.0
    solve_hours: PositiveFloat = 24.0
    complex_hours: PositiveFloat = 72.0
    # The seed quotes plain hours; whether they are wall-clock or working hours is unconfirmed.
    around_the_clock: bool = True


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
    citizen: CitizenChannelRule = Field(default_factory=CitizenChannelRule)

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

    def citizen_limit(self, kind: Literal["respond", "solve", "complex"]) -> StageLimit:
        """Return the citizen-channel limit for responding, solving or a complex matter."""
        hours = {
            "respond": self.citizen.respond_hours,
            "solve": self.citizen.solve_hours,
            "complex": self.citizen.complex_hours,
        }.get(kind)
        if hours is None:
            raise ValidationFailed(
                f"未知的时限类型 {kind}", f"unknown citizen limit {kind!r}", code="bad_limit_kind"
            )
        return StageLimit(hours=hours, urgent=self.citizen.around_the_clock)
