"""One glossary: every rate the evaluation computes has one name and one formula, in both
languages, and the names are the ones the evaluation prints (LABELS_ZH)."""

from __future__ import annotations

import io
import re

import openpyxl

from wangge.evaluation import glossary, reports
from wangge.evaluation.facts import OPEN_COUNTS
from wangge.evaluation.indicators import DEFAULT_WEIGHTS, LABELS_ZH, OBJECT_FORMULA, RATES


def test_every_rate_weight_and_open_count_has_a_name_and_formula_in_both_languages():
    keys = {k for rows in RATES.values() for k, _, _ in rows}
    keys |= {c.key for comps in DEFAULT_WEIGHTS.values() for c in comps}
    keys |= {"overdue_open", "overdue_cases"}
    for key in keys:
        term = glossary.BY_KEY[key]
        assert term.zh == LABELS_ZH[key]  # the names the evaluation module prints
        assert term.formula_zh and term.formula_en and term.en != term.zh, key
    names = {t.zh for t in glossary.TERMS}
    assert {"按期处置率", "按期结案率", "结案率", "返工率", "群众满意率", "巡查到位率", "问题发现率",
            "超期未处置数", "超期未结案数"} <= names  # fmt: skip
    assert len(names) == len(glossary.TERMS)  # one name per indicator


def test_lower_is_better_in_the_glossary_matches_the_weights():
    for comps in DEFAULT_WEIGHTS.values():
        for c in comps:
            if c.bands is None:
                assert glossary.BY_KEY[c.key].lower_is_better == c.lower_is_better, c.key


def test_weights_text_sums_to_one_hundred_percent():
    for object_type in OBJECT_FORMULA:
        text = glossary.weights_text(object_type)
        shares = [float(x) for x in re.findall(r"× ([\d.]+)%", text)]
        assert abs(sum(shares) - 100) < 0.01, text
    assert glossary.weights_text("department", "en").startswith("Composite score =")


def test_every_name_the_excel_report_prints_comes_from_the_glossary():
    row = {"key": "d", "name": "区城管委", "score": 80.0, "grade": "B", "rank": 1,
           "rates": {k: 50.0 for k, _, _ in RATES["department"]},
           "counts": {k: 1 for k in ("to_handle", *OPEN_COUNTS["department"])}}  # fmt: skip
    result = {"period": {"label": "2026-11", "first": "2026-11-01", "last": "2026-11-30"},
              "objects": {"department": [row]}}  # fmt: skip
    wb = openpyxl.load_workbook(io.BytesIO(reports.monthly_xlsx(result)))
    header = [c.value for c in wb["专业部门"][1]]
    for k in RATES["department"]:
        assert glossary.name(k[0]) in header
    terms = [r[0].value for r in wb["指标说明"].iter_rows(min_row=2)]
    assert terms == [t.zh for t in glossary.TERMS]
