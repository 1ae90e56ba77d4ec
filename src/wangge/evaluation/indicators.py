"""Standard rates, composite scores and grades (standards notes §3.3–3.5). Pure.

Counts come from `wangge.evaluation.facts` (pure, from raw events) or `wangge.evaluation.sql`
(the same definitions as aggregate SQL); this module turns counts into figures.

Rates (×100 %, None when the denominator is 0: "no data", never 0 or 100):

  监督员  有效上报率 = valid_reports / reports;   按时核实率 = verified_on_time / to_verify;
          按时核查率 = checked_on_time / to_check; 漏报率 = missed / (valid_reports + missed)
          (立案数 of the supervisor's grids = his valid reports + public reports he verified)
  受理员  核实按时派发率 = send_verify_on_time / send_verify;
          核查按时派发率 = send_check_on_time / send_check
  值班长  按时立案率 = filed_on_time / filed; 准确立案率 = filed_accurate / filed (立案 − 作废);
          按时结案率 = closed_on_time / to_close
  派遣员  按时派遣率 = dispatched_on_time / dispatched;
          准确派遣率 = dispatched_accurate / dispatched (派遣 − 回退/返工)
  部门    处置率 = handled / (to_handle + overdue_carried);
          按期处置率 = handled_on_time / (to_handle + overdue_carried);
          超期未处置率 = overdue_open / (to_handle + overdue_carried);
          返工率 = rework / to_handle; 结案率 = closed / to_handle; 延期率 = extended / to_handle
          (超期未处置数 overdue_open: handling clocks past their deadline at the period's end;
          结转超期未处置数 overdue_carried: those not already in 应处置数, so a case left alone
          lowers the department's rates in every period it stays overdue)
  区域    监督举报率 = public_verified / filed; 结案率 = closed / filed;
          按期结案率 = closed_on_time / filed; 超期未结案数 overdue_cases beside them
  网格员  巡查到位率 = visits made / visits required (default 2 per grid per day, capped per day);
          问题发现率 = valid_reports / (valid_reports + missed);
          事件处置率 = closed_reports / valid_reports;
          按时办结率 = closed_on_time_reports / closed_reports;
          群众满意率 = (satisfied + basically satisfied) / ratings

Score (分值): higher-is-better rate → rate; lower-is-better (漏报率, 返工率, 监督举报率) →
100 − rate; volume scores from configurable bands. Composite = Σ weight × 分值 over the
components that have data, the weights renormalised over them (None when none has data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Bands = tuple[tuple[float, float], ...]  # (upper bound inclusive, score), ascending bounds

INF = float("inf")
# 受理数分值 / 派遣数分值: ≥2001 → 100; 1201–2000 → 90; 501–1200 → 75; 301–500 → 60;
# 101–300 → 40; ≤100 → 0.
VOLUME_UP: Bands = ((100, 0), (300, 40), (500, 60), (1200, 75), (2000, 90), (INF, 100))
# 立案数分值 (值班长 & 专业部门): 0–50 → 100; 51–100 → 90; 101–200 → 75; 201–500 → 60;
# 501–999 → 40; ≥1000 → 0 (the notes' bands overlap at 100/200/500; the lower band wins).
VOLUME_DOWN: Bands = ((50, 100), (100, 90), (200, 75), (500, 60), (999, 40), (INF, 0))
# Region (一类区域) 立案数分值 per grid: 0 → 100; <3 → 90; <5 → 75; <7 → 60; <9 → 40; else 0.
VOLUME_GRID: Bands = ((0, 100), (2, 90), (4, 75), (6, 60), (8, 40), (INF, 0))


@dataclass(frozen=True)
class Component:
    """One part of a composite: a rate (or volume) key, its weight, its direction."""

    key: str
    weight: float
    lower_is_better: bool = False
    bands: Bands | None = None  # set for volume scores: key names a count, not a rate


def _c(key: str, w: float, low: bool = False, bands: Bands | None = None) -> Component:
    return Component(key, w, low, bands)


DEFAULT_WEIGHTS: dict[str, tuple[Component, ...]] = {
    "supervisor": (
        _c("valid_rate", 40),
        _c("missed_rate", 20, True),
        _c("verify_on_time_rate", 20),
        _c("check_on_time_rate", 20),
    ),
    "acceptor": (
        _c("received", 25, bands=VOLUME_UP),
        _c("send_verify_on_time_rate", 40),
        _c("send_check_on_time_rate", 35),
    ),
    "shift_leader": (
        _c("file_on_time_rate", 25),
        _c("file_accurate_rate", 40),
        _c("close_on_time_rate", 35),
    ),
    "dispatcher": (
        _c("dispatched", 20, bands=VOLUME_UP),
        _c("dispatch_on_time_rate", 40),
        _c("dispatch_accurate_rate", 40),
    ),
    "department": (
        _c("to_handle", 10, bands=VOLUME_DOWN),
        _c("close_rate", 30),
        _c("handle_on_time_rate", 30),
        _c("rework_rate", 30, True),
    ),
    # The last weight (40 %) is INFERRED: the source code had 10 %, summing to 70 %.
    "area": (
        _c("report_rate", 10, True),
        _c("filed", 20, bands=VOLUME_DOWN),
        _c("close_rate", 30),
        _c("close_on_time_rate", 40),
    ),
    # Our choice (the seeds name the indicators, not their weights): a city sets its own.
    "grid_worker": (
        _c("patrol_rate", 30),
        _c("discovery_rate", 20),
        _c("handled_rate", 20),
        _c("close_on_time_rate", 15),
        _c("satisfaction_rate", 15),
    ),
}
# Which composite each object type uses; grids take the region bands for 立案数.
OBJECT_FORMULA = {
    "supervisor": "supervisor",
    "acceptor": "acceptor",
    "shift_leader": "shift_leader",
    "dispatcher": "dispatcher",
    "department": "department",
    "street": "area",
    "community": "area",
    "grid": "area",
    "grid_worker": "grid_worker",
}
DEFAULT_GRADES: tuple[tuple[float, str], ...] = ((90, "A"), (75, "B"), (60, "C"), (40, "D"))
# Stage limits in wall-clock hours, only for events from before the deadlines the case showed
# were recorded with them (migration 0018; see facts.py).
DEFAULT_STAGE_HOURS: dict[str, float] = {
    "send_verify": 1,  # 受理 → 发核实
    "verify": 2,  # 发核实 → 核实
    "file": 2,  # 受理/核实 → 立案
    "dispatch": 2,  # 立案 → 派遣
    "handle": 24,  # 派遣/返工 → 处置反馈 (+ approved extensions, − suspensions)
    "send_check": 2,  # 处置反馈 → 发核查
    "check": 4,  # 发核查 → 核查
    "close": 2,  # 核查通过 → 结案
}

# A department is assessed on its handling spells of the period and on the ones still overdue
# at its end that the period's 应处置数 does not hold (never received, or received before).
ASSESSED = ("to_handle", "overdue_carried")
# (rate key, numerator count, denominator count or a tuple summed) per object type.
RATES: dict[str, tuple[tuple[str, str, str | tuple[str, ...]], ...]] = {
    "supervisor": (
        ("valid_rate", "valid_reports", "reports"),
        ("verify_on_time_rate", "verified_on_time", "to_verify"),
        ("check_on_time_rate", "checked_on_time", "to_check"),
        ("missed_rate", "missed", ("valid_reports", "missed")),
    ),
    "acceptor": (
        ("send_verify_on_time_rate", "send_verify_on_time", "send_verify"),
        ("send_check_on_time_rate", "send_check_on_time", "send_check"),
    ),
    "shift_leader": (
        ("file_on_time_rate", "filed_on_time", "filed"),
        ("file_accurate_rate", "filed_accurate", "filed"),
        ("close_on_time_rate", "closed_on_time", "to_close"),
    ),
    "dispatcher": (
        ("dispatch_on_time_rate", "dispatched_on_time", "dispatched"),
        ("dispatch_accurate_rate", "dispatched_accurate", "dispatched"),
    ),
    "department": (
        ("handle_rate", "handled", ASSESSED),
        ("handle_on_time_rate", "handled_on_time", ASSESSED),
        ("overdue_rate", "overdue_open", ASSESSED),
        ("rework_rate", "rework", "to_handle"),
        ("close_rate", "closed", "to_handle"),
        ("extension_rate", "extended", "to_handle"),
        ("suspension_rate", "suspended", "to_handle"),
    ),
    "area": (
        ("report_rate", "public_verified", "filed"),
        ("close_rate", "closed", "filed"),
        ("close_on_time_rate", "closed_on_time", "filed"),
    ),
    "grid_worker": (
        ("patrol_rate", "visits", "visits_required"),
        ("discovery_rate", "valid_reports", ("valid_reports", "missed")),
        ("handled_rate", "closed_reports", "valid_reports"),
        ("close_on_time_rate", "closed_on_time_reports", "closed_reports"),
        ("satisfaction_rate", "satisfied", "ratings"),
    ),
}

LABELS_ZH: dict[str, str] = {
    "reports": "上报数", "valid_reports": "有效上报数", "to_verify": "应核实数",
    "verified_on_time": "按时核实数", "to_check": "应核查数", "checked_on_time": "按时核查数",
    "missed": "漏报数", "closed_reports": "上报已结案数", "closed_on_time_reports": "上报按期结案数",
    "received": "受理数", "send_verify": "应发核实数", "send_verify_on_time": "按时发核实数",
    "send_check": "应发核查数", "send_check_on_time": "按时发核查数", "filed": "立案数",
    "filed_on_time": "按时立案数", "filed_accurate": "准确立案数", "to_close": "应结案数",
    "closed_on_time": "按期结案数", "dispatched": "派遣数", "dispatched_on_time": "按时派遣数",
    "dispatched_accurate": "准确派遣数", "to_handle": "应处置数", "handled": "处置数",
    "handled_on_time": "按期处置数", "rework": "返工数", "closed": "结案数", "extended": "延期数",
    "suspended": "挂账数", "returned": "回退数", "public_verified": "监督举报核实数",
    "visits": "到位巡查次数", "visits_required": "应巡查次数", "ratings": "评价数",
    "satisfied": "满意数", "overdue_open": "超期未处置数", "overdue_carried": "结转超期未处置数",
    "overdue_cases": "超期未结案数", "overdue_reports": "上报超期未结案数",
    "overdue_rate": "超期未处置率",
    "valid_rate": "有效上报率", "verify_on_time_rate": "按时核实率",
    "check_on_time_rate": "按时核查率", "missed_rate": "漏报率",
    "send_verify_on_time_rate": "核实按时派发率", "send_check_on_time_rate": "核查按时派发率",
    "file_on_time_rate": "按时立案率", "file_accurate_rate": "准确立案率",
    "close_on_time_rate": "按期结案率", "dispatch_on_time_rate": "按时派遣率",
    "dispatch_accurate_rate": "准确派遣率", "handle_rate": "处置率",
    "handle_on_time_rate": "按期处置率", "rework_rate": "返工率", "close_rate": "结案率",
    "extension_rate": "延期率", "suspension_rate": "挂账率", "report_rate": "监督举报率",
    "patrol_rate": "巡查到位率", "discovery_rate": "问题发现率", "handled_rate": "事件处置率",
    "satisfaction_rate": "群众满意率", "score": "综合指标值", "grade": "评价等级",
}  # fmt: skip
OBJECT_ZH = {
    "supervisor": "监督员", "acceptor": "受理员", "shift_leader": "值班长", "dispatcher": "派遣员",
    "department": "专业部门", "street": "街道", "community": "社区", "grid": "单元网格",
    "grid_worker": "网格员",
}  # fmt: skip


@dataclass(frozen=True)
class EvalConfig:
    """Weights, bands, grade bounds and stage limits: all local configuration."""

    weights: Mapping[str, tuple[Component, ...]] = field(default_factory=lambda: DEFAULT_WEIGHTS)
    grades: tuple[tuple[float, str], ...] = DEFAULT_GRADES
    stage_hours: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_STAGE_HOURS))
    grid_volume_bands: Bands = VOLUME_GRID
    patrol_visits_per_day: int = 2

    def limit_secs(self, stage: str) -> float:
        """Return a stage's limit in seconds."""
        return float(self.stage_hours[stage]) * 3600.0


def rate(num: int | None, den: int | None) -> float | None:
    """Return num/den × 100, or None ("no data") when the denominator is 0 or missing."""
    if not den:
        return None
    return 100.0 * (num or 0) / den


def band_score(value: float, bands: Bands) -> float:
    """Return the score of the first band whose upper bound holds the value."""
    for upper, score in bands:
        if value <= upper:
            return float(score)
    return float(bands[-1][1])


def grade(score: float | None, bounds: Sequence[tuple[float, str]] = DEFAULT_GRADES) -> str | None:
    """Return A–E for a score (A ≥ 90, B ≥ 75, C ≥ 60, D ≥ 40, else E); None for no data."""
    if score is None:
        return None
    for lower, letter in bounds:
        if score >= lower - 1e-9:
            return letter
    return "E"


def rates_for(object_type: str, counts: Mapping[str, int]) -> dict[str, float | None]:
    """Return every standard rate of an object from its counts."""
    formula = OBJECT_FORMULA[object_type]
    out: dict[str, float | None] = {}
    for key, num, den in RATES[formula]:
        d = sum(counts.get(k, 0) for k in den) if isinstance(den, tuple) else counts.get(den, 0)
        out[key] = rate(counts.get(num, 0), d)
    return out


def composite(
    object_type: str,
    counts: Mapping[str, int],
    rates: Mapping[str, float | None],
    config: EvalConfig,
) -> tuple[float | None, list[str]]:
    """Return the composite score and the components left out for lack of data."""
    formula = OBJECT_FORMULA[object_type]
    total = weight = 0.0
    missing = []
    for comp in config.weights[formula]:
        if comp.bands is not None:
            bands = comp.bands
            if object_type == "grid" and comp.key == "filed":
                bands = config.grid_volume_bands
            value: float | None = band_score(counts.get(comp.key, 0), bands)
        else:
            r = rates.get(comp.key)
            value = None if r is None else (100.0 - r if comp.lower_is_better else r)
        if value is None:
            missing.append(comp.key)
            continue
        total += comp.weight * value
        weight += comp.weight
    return (round(total / weight, 2) if weight else None), missing


def evaluate_object(
    object_type: str, key: str, counts: Mapping[str, int], config: EvalConfig | None = None
) -> dict[str, Any]:
    """Return counts, rates, the composite score, its grade and what had no data."""
    config = config or EvalConfig()
    rates = rates_for(object_type, counts)
    score, missing = composite(object_type, counts, rates, config)
    return {
        "object_type": object_type,
        "key": key,
        "counts": dict(counts),
        "rates": {k: (None if v is None else round(v, 2)) for k, v in rates.items()},
        "score": score,
        "grade": grade(score, config.grades),
        "no_data": missing,
    }


def rank(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sort by score (no data last) and number the places; equal scores share a place."""
    ordered = sorted(rows, key=lambda r: (r["score"] is None, -(r["score"] or 0), r["key"]))
    place, last = 0, object()
    for i, row in enumerate(ordered, 1):
        if row["score"] != last:
            place, last = i, row["score"]
        row["rank"] = place if row["score"] is not None else None
    return ordered


def patrol_visits(
    visits: Mapping[tuple[str, str], int], grids: Sequence[str], days: Sequence[str], per_day: int
) -> tuple[int, int]:
    """Return (visits made, visits required): each grid-day counts at most `per_day` visits."""
    made = sum(min(visits.get((g, d), 0), per_day) for g in grids for d in days)
    return made, len(grids) * len(days) * per_day
