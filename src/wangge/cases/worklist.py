"""Work queues read off the transitions table: a queue lists the cases where its user can act.

Pure: no database, web or clock. A queue is named by the actions it gathers; who works it, and
in which states of a case (or of a department's part), is what `workflow.TRANSITIONS` says of
those actions, so a state added to the table reaches the queues without a second list.
`cases.queries` turns these into SQL and adds the guards the table alone does not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from wangge.cases.vocabulary import Action, CaseState, Role
from wangge.cases.workflow import TRANSITIONS

A = Action

# Queue → the actions it gathers, in the order a case meets them. A state a post already works
# in an earlier queue is not listed again: a reworked part is signed for (待签收) before it is
# handled. 督办 and 上报上级 are open in every state, so they make no queue of their own.
QUEUE_ACTIONS: Mapping[str, frozenset[Action]] = {
    # 发核实 belongs here only where filing waits for it (public reports, see cases.queries).
    "to_accept": frozenset(
        {A.ACCEPT, A.REJECT_INVALID, A.REJECT_DUPLICATE, A.REQUEST_VERIFICATION}
    ),
    "to_verify": frozenset({A.VERIFY_TRUE, A.VERIFY_FALSE}),
    "to_file": frozenset({A.FILE}),
    "to_dispatch": frozenset(
        {
            A.DISPATCH,
            A.APPROVE_RETURN,
            A.REJECT_RETURN,
            A.APPROVE_EXTENSION,
            A.REJECT_EXTENSION,
            A.APPROVE_SUSPENSION,
            A.REJECT_SUSPENSION,
        }
    ),
    "to_sign": frozenset({A.DEPARTMENT_ACCEPT, A.RETURN_DISPATCH}),
    "in_progress": frozenset({A.FEED_BACK, A.REQUEST_EXTENSION, A.REQUEST_SUSPENSION}),
    "to_handle": frozenset({A.SELF_HANDLE}),
    "to_check": frozenset({A.REQUEST_CHECK, A.CHECK_PASS, A.CHECK_FAIL}),
    "to_close": frozenset({A.CLOSE}),
}


@dataclass(frozen=True, slots=True)
class Work:
    """What one post does in one queue: per action, the states it acts in (case or part)."""

    case: Mapping[Action, frozenset[CaseState]]
    part: Mapping[Action, frozenset[CaseState]]

    def __bool__(self) -> bool:
        return bool(self.case or self.part)


def _work_of(role: Role) -> dict[str, Work]:
    claimed: set[CaseState] = set()
    out: dict[str, Work] = {}
    for queue, actions in QUEUE_ACTIONS.items():
        case: dict[Action, set[CaseState]] = {}
        part: dict[Action, set[CaseState]] = {}
        for (state, action), row in TRANSITIONS.items():
            if action in actions and role in row.roles and state not in claimed:
                (part if row.part else case).setdefault(action, set()).add(state)
        found = Work(
            {a: frozenset(s) for a, s in case.items()}, {a: frozenset(s) for a, s in part.items()}
        )
        if found:
            out[queue] = found
            claimed.update(s for states in (*case.values(), *part.values()) for s in states)
    return out


WORK: Mapping[Role, Mapping[str, Work]] = {role: _work_of(role) for role in Role}


def queues_of(roles: frozenset[Role]) -> list[str]:
    """Return the queues some of these posts work, in queue order."""
    return [q for q in QUEUE_ACTIONS if any(q in WORK[r] for r in roles)]
