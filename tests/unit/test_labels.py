"""The one label table: every code of the case vocabulary reads in Chinese and in English."""

from __future__ import annotations

import re

import pytest

from wangge.assignments.models import KINDS as ASSIGNMENT_KINDS
from wangge.cases import labels
from wangge.cases.deadlines import Light
from wangge.cases.limits import RULE_STAGES
from wangge.cases.vocabulary import (
    ACTION_ZH,
    LEVEL_ZH,
    ROLE_ZH,
    STATE_ZH,
    Action,
    CaseState,
    Level,
    Role,
    Satisfaction,
    Source,
)
from wangge.cases.worklist import QUEUE_ACTIONS as QUEUES
from wangge.registry.models_components import STATES as COMPONENT_STATES

CJK = re.compile(r"[\u4e00-\u9fff]")
EVERY_CODE = {
    "state": list(CaseState),
    "action": list(Action),
    "role": [*Role, "admin", "auditor"],  # the loop's posts and two account roles
    "source": list(Source),
    "stage": list(RULE_STAGES),
    "queue": [*QUEUES, "overdue", "all"],
    "level": list(Level),
    "satisfaction": list(Satisfaction),
    "light": list(Light),
    "component_state": list(COMPONENT_STATES),
}


def test_the_table_has_exactly_the_kinds_the_pages_look_up():
    assert set(labels.KINDS) == set(EVERY_CODE)


@pytest.mark.parametrize("kind", sorted(EVERY_CODE))
def test_every_code_of_a_kind_has_a_chinese_and_an_english_label(kind):
    table = labels.KINDS[kind]
    assert set(table) == {str(code) for code in EVERY_CODE[kind]}
    for code, (zh, en) in table.items():
        assert CJK.search(zh), (kind, code, zh)
        assert en and not CJK.search(en), (kind, code, en)
        assert en != code or kind == "component_state", (kind, code)  # a word, not the code


@pytest.mark.parametrize("kind", ["state", "action", "role", "source", "stage", "queue"])
def test_no_two_codes_of_a_kind_read_the_same(kind):
    for lang in ("zh", "en"):
        shown = list(labels.labels(lang)[kind].values())
        assert len(shown) == len(set(shown)), (kind, lang)


def test_the_chinese_tables_of_the_workflow_are_the_label_tables_chinese():
    for derived, kind in ((STATE_ZH, "state"), (ACTION_ZH, "action"), (ROLE_ZH, "role"),
                          (LEVEL_ZH, "level")):  # fmt: skip
        assert {str(k): v for k, v in derived.items()} == {
            k: v for k, v in labels.zh_table(kind).items() if k in derived
        }


def test_a_label_is_looked_up_by_code_or_enum_in_either_language():
    assert labels.label("state", "handled") == "已处置待核查"
    assert labels.label("state", CaseState.HANDLED, "en") == "Handled, to check"
    assert labels.label("source", Source.PATROL) == "巡查上报"
    assert labels.label("role", "supervisor", "en") == "Supervisor / grid worker"
    assert labels.label("queue", "to_accept", "en") == "To accept"
    assert labels.label("component_state", "破损", "en") == "Damaged"
    assert labels.label("state", "handled", "fr") == "已处置待核查"  # Chinese by default


def test_an_unknown_code_shows_as_it_is_and_none_as_nothing():
    assert labels.label("source", "wechat") == "wechat"
    assert labels.label("state", None) == ""


def test_the_assignment_kinds_read_in_both_languages_beside_their_table():
    for zh, en in ASSIGNMENT_KINDS.values():
        assert CJK.search(zh) and not CJK.search(en)
