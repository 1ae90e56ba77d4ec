"""The glossary of the evaluation: one table of indicator names and formulas, Chinese and English.

Data only: the names are the ones `indicators.LABELS_ZH` prints, the formulas describe what
`indicators.RATES` and `indicators.DEFAULT_WEIGHTS` compute (tests hold the three together).
Pages, the public page and the Excel/PDF reports read names and formulas from here, so one
indicator has one name and one formula everywhere. Nothing here computes a figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wangge.evaluation.indicators import (
    DEFAULT_GRADES,
    DEFAULT_WEIGHTS,
    LABELS_ZH,
    OBJECT_FORMULA,
    OBJECT_ZH,
)


@dataclass(frozen=True)
class Term:
    """One indicator: its key, names and formula in both languages, and its direction."""

    key: str
    zh: str
    en: str
    formula_zh: str
    formula_en: str
    lower_is_better: bool = False


def _t(key: str, en: str, fzh: str, fen: str, low: bool = False) -> Term:
    return Term(key, LABELS_ZH[key], en, fzh, fen, low)


# The indicators the pages name, in the order a reader meets them. Rates are × 100 %; a rate
# whose denominator is 0 is "无数据 / no data", never 0 or 100.
TERMS: tuple[Term, ...] = (
    _t("handle_on_time_rate", "On-time handling rate",
       "按期处置数 ÷（应处置数 + 结转超期未处置数）× 100%；按期以案卷当时显示的期限（工作日历）为准",
       "handled on time ÷ (to handle + overdue carried over) × 100 %; on time = by the deadline "
       "the case showed (working-day calendar)"),
    _t("handle_rate", "Handling rate",
       "处置数 ÷（应处置数 + 结转超期未处置数）× 100%",
       "handled ÷ (to handle + overdue carried over) × 100 %"),
    _t("overdue_open", "Overdue, not handled",
       "期末仍在处置且已过期限的处置时钟数（超期未处置）",
       "handling clocks still running past their deadline at the period's end"),
    _t("overdue_rate", "Overdue-not-handled rate",
       "超期未处置数 ÷（应处置数 + 结转超期未处置数）× 100%",
       "overdue not handled ÷ (to handle + overdue carried over) × 100 %", True),
    _t("overdue_carried", "Overdue carried over",
       "期末超期未处置、且不在本期应处置数中的处置时钟数（本期之前派遣的）",
       "overdue handling clocks at the period's end not already in 'to handle' (dispatched "
       "before the period)"),
    _t("close_on_time_rate", "On-time closing rate",
       "按期结案数 ÷ 立案数（区域）或应结案数（值班长）× 100%；网格员：上报按期结案数 ÷ 上报已结案数",
       "closed on time ÷ filed (areas) or to close (shift leaders) × 100 %; grid workers: "
       "their reports closed on time ÷ their reports closed"),
    _t("close_rate", "Closing rate",
       "结案数 ÷ 立案数（区域）或应处置数（部门）× 100%",
       "closed ÷ filed (areas) or to handle (departments) × 100 %"),
    _t("overdue_cases", "Overdue, not closed",
       "期末仍未结案且已过期限的案卷数（超期未结案）",
       "cases still open past their deadline at the period's end"),
    _t("rework_rate", "Rework rate", "返工数 ÷ 应处置数 × 100%（越低越好）",
       "reworks ÷ to handle × 100 % (lower is better)", True),
    _t("extension_rate", "Extension rate", "延期数 ÷ 应处置数 × 100%",
       "extensions ÷ to handle × 100 %", True),
    _t("suspension_rate", "Suspension rate", "挂账数 ÷ 应处置数 × 100%",
       "suspensions ÷ to handle × 100 %", True),
    _t("satisfaction_rate", "Public satisfaction rate",
       "（满意 + 基本满意）÷ 评价数 × 100%", "(satisfied + basically satisfied) ÷ ratings × 100 %"),
    _t("patrol_rate", "Patrol completion rate",
       "到位巡查次数 ÷ 应巡查次数 × 100%（每格每天应巡查 2 次，超出不计）",
       "patrol visits made ÷ visits required × 100 % (2 per grid per day; more are not counted)"),
    _t("discovery_rate", "Problem discovery rate",
       "有效上报数 ÷（有效上报数 + 漏报数）× 100%",
       "valid reports ÷ (valid reports + missed) × 100 %"),
    _t("handled_rate", "Case settlement rate (grid worker)",
       "上报已结案数 ÷ 有效上报数 × 100%", "own reports closed ÷ valid reports × 100 %"),
    _t("report_rate", "Public report rate",
       "监督举报核实数 ÷ 立案数 × 100%（公众举报而网格未发现，越低越好）",
       "public reports verified true ÷ filed × 100 % (found by the public, not the grid; lower "
       "is better)", True),
    _t("valid_rate", "Valid report rate", "有效上报数 ÷ 上报数 × 100%",
       "valid reports ÷ reports × 100 %"),
    _t("missed_rate", "Missed report rate", "漏报数 ÷（有效上报数 + 漏报数）× 100%（越低越好）",
       "missed ÷ (valid reports + missed) × 100 % (lower is better)", True),
    _t("verify_on_time_rate", "On-time verification rate", "按时核实数 ÷ 应核实数 × 100%",
       "verified on time ÷ to verify × 100 %"),
    _t("check_on_time_rate", "On-time check rate", "按时核查数 ÷ 应核查数 × 100%",
       "checked on time ÷ to check × 100 %"),
    _t("send_verify_on_time_rate", "On-time sending for verification",
       "按时发核实数 ÷ 应发核实数 × 100%", "sent for verification on time ÷ to send × 100 %"),
    _t("send_check_on_time_rate", "On-time sending for check",
       "按时发核查数 ÷ 应发核查数 × 100%", "sent for check on time ÷ to send × 100 %"),
    _t("file_on_time_rate", "On-time filing rate", "按时立案数 ÷ 立案数 × 100%",
       "filed on time ÷ filed × 100 %"),
    _t("file_accurate_rate", "Accurate filing rate", "准确立案数（立案 − 作废）÷ 立案数 × 100%",
       "accurately filed (filed − voided) ÷ filed × 100 %"),
    _t("dispatch_on_time_rate", "On-time dispatch rate", "按时派遣数 ÷ 派遣数 × 100%",
       "dispatched on time ÷ dispatched × 100 %"),
    _t("dispatch_accurate_rate", "Accurate dispatch rate",
       "准确派遣数（派遣 − 回退/返工）÷ 派遣数 × 100%",
       "accurately dispatched (dispatched − returned/reworked) ÷ dispatched × 100 %"),
    _t("to_handle", "To handle", "本期开始的处置（派遣或返工到部门）次数",
       "handling spells (dispatch or rework to the department) begun in the period"),
    _t("filed", "Cases filed", "本期立案的案卷数（区域按案卷所在地）",
       "cases filed in the period (areas: where the case is)"),
    _t("received", "Cases accepted", "本期受理数", "cases accepted in the period"),
    _t("dispatched", "Dispatches", "本期派遣数", "dispatches in the period"),
    _t("score", "Composite score",
       "综合指标值 = Σ 权重 × 分值 ÷ Σ 有数据项的权重；比率越高越好者分值 = 比率，越低越好者分值 = 100 − 比率，"
       "数量类按分档取分；无数据的项不计，其余权重按比例放大",
       "composite = Σ weight × score ÷ Σ weights of the parts with data; higher-is-better rate → "
       "the rate, lower-is-better → 100 − rate, volumes scored by bands; parts without data are "
       "left out and the other weights scaled up"),
    _t("grade", "Grade", "A ≥ 90，B ≥ 75，C ≥ 60，D ≥ 40，E < 40",
       "A ≥ 90, B ≥ 75, C ≥ 60, D ≥ 40, E < 40"),
)  # fmt: skip
BY_KEY: dict[str, Term] = {t.key: t for t in TERMS}
# Object types in English (OBJECT_ZH holds the Chinese).
OBJECT_EN = {
    "supervisor": "Supervisors", "acceptor": "Acceptors", "shift_leader": "Shift leaders",
    "dispatcher": "Dispatchers", "department": "Departments", "street": "Streets",
    "community": "Communities", "grid": "Grids", "grid_worker": "Grid workers",
}  # fmt: skip
# Counts that are not in TERMS keep the evaluation's Chinese name; their English is here.
COUNT_EN = {
    "handled": "handled", "handled_on_time": "handled on time", "rework": "reworks",
    "closed": "closed", "closed_on_time": "closed on time", "extended": "extensions",
    "suspended": "suspensions", "returned": "returns", "public_verified": "public reports verified",
    "visits": "patrol visits", "visits_required": "visits required", "ratings": "ratings",
    "satisfied": "satisfied", "reports": "reports", "valid_reports": "valid reports",
    "missed": "missed", "to_verify": "to verify", "verified_on_time": "verified on time",
    "to_check": "to check", "checked_on_time": "checked on time", "to_close": "to close",
    "closed_reports": "own reports closed", "closed_on_time_reports": "own reports on time",
    "overdue_reports": "own reports overdue", "send_verify": "to send for verification",
    "send_verify_on_time": "sent for verification on time", "send_check": "to send for check",
    "send_check_on_time": "sent for check on time", "filed_on_time": "filed on time",
    "filed_accurate": "accurately filed", "dispatched_on_time": "dispatched on time",
    "dispatched_accurate": "accurately dispatched",
}  # fmt: skip


def name(key: str, lang: str = "zh") -> str:
    """Return an indicator's (or count's) name in the language; the key when unknown."""
    term = BY_KEY.get(key)
    if lang == "en":
        return term.en if term else COUNT_EN.get(key, key)
    return term.zh if term else LABELS_ZH.get(key, key)


def formula(key: str, lang: str = "zh") -> str:
    """Return an indicator's formula in the language ('' when it has none in the glossary)."""
    term = BY_KEY.get(key)
    if term is None:
        return ""
    return term.formula_en if lang == "en" else term.formula_zh


def object_name(object_type: str, lang: str = "zh") -> str:
    """Return the name of an object type (街道, 专业部门 …) in the language."""
    return OBJECT_EN[object_type] if lang == "en" else OBJECT_ZH[object_type]


def weights(object_type: str, lang: str = "zh") -> list[dict[str, Any]]:
    """Return the composite of an object type: each part's name, weight, direction, formula."""
    out = []
    for comp in DEFAULT_WEIGHTS[OBJECT_FORMULA[object_type]]:
        if comp.bands is not None:
            how = "按分档取分" if lang != "en" else "scored by bands"
        elif comp.lower_is_better:
            how = "100 − 比率" if lang != "en" else "100 − rate"
        else:
            how = "比率" if lang != "en" else "the rate"
        out.append(
            {"key": comp.key, "name": name(comp.key, lang), "weight": comp.weight,
             "score": how, "formula": formula(comp.key, lang)}
        )  # fmt: skip
    return out


def weights_text(object_type: str, lang: str = "zh") -> str:
    """Return the composite as one line: 综合指标值 = 结案率 × 30% + …"""
    parts = weights(object_type, lang)
    total = sum(p["weight"] for p in parts) or 1
    low = {c.key for c in DEFAULT_WEIGHTS[OBJECT_FORMULA[object_type]] if c.lower_is_better}
    banded = {c.key for c in DEFAULT_WEIGHTS[OBJECT_FORMULA[object_type]] if c.bands}

    def part(p: dict[str, Any]) -> str:
        if p["key"] in low:
            return f"(100 − {p['name']})"
        if p["key"] in banded:
            return f"{p['name']}分档分" if lang != "en" else f"banded score of {p['name']}"
        return str(p["name"])

    terms = " + ".join(f"{part(p)} × {100 * p['weight'] / total:g}%" for p in parts)
    return f"{name('score', lang)} = {terms}"


def table(lang: str = "zh") -> list[dict[str, str]]:
    """Return the glossary as rows (key, name, formula, direction) for pages and reports."""
    low = "越低越好" if lang != "en" else "lower is better"
    high = "越高越好" if lang != "en" else "higher is better"
    return [
        {"key": t.key, "name": t.zh if lang != "en" else t.en,
         "formula": t.formula_en if lang == "en" else t.formula_zh,
         "direction": "" if t.key in ("score", "grade", "to_handle", "filed", "received",
                                      "dispatched", "overdue_carried")
         else (low if t.lower_is_better or t.key in ("overdue_open", "overdue_cases") else high)}
        for t in TERMS
    ]  # fmt: skip


GRADE_BOUNDS = DEFAULT_GRADES
