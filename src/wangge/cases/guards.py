"""Guards: what the transitions table allows but the people or the clock do not.

Pure helpers for `wangge.cases.workflow`; each raises a typed domain error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wangge.cases.vocabulary import (
    ACTION_ZH,
    LEVEL_ORDER,
    PUBLIC_SOURCES,
    STATE_ZH,
    Action,
    Actor,
    CaseSnapshot,
    CaseState,
    Part,
    Policy,
)
from wangge.errors import Forbidden, InvalidTransition

A, S = Action, CaseState


def refuse(
    state: CaseState, action: Action, part: Part | None = None, **kw: Any
) -> InvalidTransition:
    """Return the InvalidTransition naming the state (and the part's state) and the action."""
    where_zh = f"案卷状态「{STATE_ZH[state]}」({state})"
    where_en = f"case state '{state}'"
    if part is not None and part.state != state:
        where_zh += f"，部门 {part.department} 的分案状态「{STATE_ZH[part.state]}」({part.state})"
        where_en += f", part of {part.department} in state '{part.state}'"
    return InvalidTransition(
        f"{where_zh}下不能执行「{ACTION_ZH[action]}」({action})",
        f"action '{action}' is not allowed in {where_en}",
        details={"state": str(state), "action": str(action), **kw},
    )


def check_guards(
    case: CaseSnapshot, action: Action, actor: Actor, at: datetime, policy: Policy
) -> None:
    """Refuse what the table allows but the people or the clock do not."""
    if action in (A.VERIFY_TRUE, A.VERIFY_FALSE) and policy.verify_own_grid_only:
        _own_grid(case, actor, action)
    if action is A.SELF_HANDLE:
        if case.parts:
            raise refuse(case.state, action, reason="dispatched_to_departments")
        _grid_lists(case)
        if policy.self_handle_own_grid_only:
            _own_grid(case, actor, action)
    if (
        action is A.FILE
        and case.state is S.ACCEPTED
        and case.source in PUBLIC_SOURCES
        and policy.public_needs_verification
    ):
        raise InvalidTransition(
            "公众举报须经监督员核实后才能立案",
            "a public report must be verified on site before it is filed",
            code="verification_required",
            details={"state": str(case.state), "action": str(action)},
        )
    if action in (A.CHECK_PASS, A.CHECK_FAIL) and actor.id in case.all_handler_ids:
        raise Forbidden(
            "处置人不能核查自己处置的案卷",
            "whoever handled a case cannot check it",
            code="checker_is_handler",
        )
    if action in (A.RATE, A.REOPEN) and (case.reporter_id is None or actor.id != case.reporter_id):
        raise Forbidden(
            "只有上报人可以评价或重新打开案卷",
            "only the reporter can rate or reopen a case",
            code="not_reporter",
        )
    if action is A.REOPEN and (
        case.closed_at is None or at - case.closed_at > policy.reopen_within
    ):
        raise InvalidTransition(
            f"结案已超过 {policy.reopen_within}，不能重新打开",
            f"the case was closed more than {policy.reopen_within} ago and cannot be reopened",
            code="reopen_window_closed",
        )
    if action is A.ESCALATE and case.level is LEVEL_ORDER[-1]:
        raise InvalidTransition(
            "案卷已在区级协调，不能再上报",
            "the case is already coordinated at district level",
            code="top_level",
        )


def _own_grid(case: CaseSnapshot, actor: Actor, action: Action) -> None:
    if case.grid_id is not None and case.grid_id not in actor.grid_ids:
        raise Forbidden(
            f"只能在自己负责的网格内{ACTION_ZH[action]}",
            f"action '{action}' is only allowed in one's own grid",
            code="not_own_grid",
        )


def _grid_lists(case: CaseSnapshot) -> None:
    """小事一格解决 only for what the lists give the grid: admitted (准入清单) and minor (小事清单)."""
    what = f"类别 {case.category}" if case.category else "该类别"
    what_en = f"category {case.category}" if case.category else "the category"
    if not case.admitted:
        raise Forbidden(
            f"准入清单：{what}不属于网格准入事项，不能交网格自行处置，须由中心派遣",
            f"准入清单 (matters admitted to grid work): {what_en} is not admitted to grid "
            "work, so the grid cannot handle it itself; the centre dispatches it",
            code="not_admitted_to_grid",
            details={"rule": "准入清单", "category": case.category},
        )
    if not case.minor:
        raise Forbidden(
            f"小事清单：{what}不是小事，网格不能自行处置，须由中心派遣",
            f"小事清单 (minor matters): {what_en} is not a minor matter, so the grid cannot "
            "handle it itself; the centre dispatches it",
            code="not_minor",
            details={"rule": "小事清单", "category": case.category},
        )
