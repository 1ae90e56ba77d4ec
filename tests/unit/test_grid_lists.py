"""The pure guards of 小事一格解决: only classes admitted to grid work (准入清单) and minor
(小事清单) may be settled by the grid itself; every refusal names its rule."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wangge.cases.workflow import (
    Action,
    Actor,
    CaseSnapshot,
    CaseState,
    Role,
    allowed_actions,
    apply,
)
from wangge.errors import Forbidden

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
LEADER = Actor(id="gl", roles=frozenset({Role.GRID_LEADER}), grid_ids=frozenset({"G1"}))


def _case(**lists: bool) -> CaseSnapshot:
    return CaseSnapshot(id="1", state=CaseState.REPORTED, grid_id="G1", category="E0101", **lists)


@pytest.mark.parametrize(
    ("lists", "code", "rule"),
    [
        ({"admitted": False}, "not_admitted_to_grid", "准入清单"),
        ({"minor": False}, "not_minor", "小事清单"),
        ({"admitted": False, "minor": False}, "not_admitted_to_grid", "准入清单"),
    ],
)
def test_the_grid_settles_only_admitted_minor_classes_and_names_the_rule(lists, code, rule):
    case = _case(**lists)
    assert Action.SELF_HANDLE not in allowed_actions(case, LEADER, at=T0)
    with pytest.raises(Forbidden) as exc:
        apply(case, Action.SELF_HANDLE, LEADER, at=T0, payload={"photos": ["p"]})
    assert exc.value.code == code
    assert rule in exc.value.message_zh and rule in exc.value.message_en
    assert "E0101" in exc.value.message_zh and exc.value.details["rule"] == rule


def test_an_admitted_minor_class_or_one_of_unknown_standing_may_be_settled():
    for case in (_case(admitted=True, minor=True), CaseSnapshot(id="1", state=CaseState.REPORTED)):
        assert Action.SELF_HANDLE in allowed_actions(case, LEADER, at=T0)
        out = apply(case, Action.SELF_HANDLE, LEADER, at=T0, payload={"photos": ["p"]})
        assert out.new_state is CaseState.HANDLED
