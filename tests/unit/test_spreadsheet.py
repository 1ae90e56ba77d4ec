"""Cells that spreadsheets would run as formulas are made inert; numbers stay numbers."""

from __future__ import annotations

import pytest

from wangge.common.spreadsheet import restore_cell, safe_cell

LINK = '=HYPERLINK("http://evil.example","点击")'


@pytest.mark.parametrize(
    "text", [LINK, "+1+2", "-2+3+cmd|' /C calc'!A0", "@SUM(A1:A9)", "\t=1", "\r=1"]
)
def test_text_that_would_run_gets_an_apostrophe_and_comes_back_unchanged(text):
    safe = safe_cell(text)
    assert safe == "'" + text
    assert restore_cell(safe) == text


@pytest.mark.parametrize("value", [-12.5, -3, 0, "-12.5", "+86", "张三", "'quoted", None])
def test_numbers_plain_text_and_numeric_text_are_left_alone(value):
    assert safe_cell(value) == value
    assert restore_cell(value) == value
