"""The closed loop of a case as ONE transitions table, plus `apply` and `allowed_actions`.

Pure: no database, web or clock; `at` is always an argument. Rows are either case-level or
part-level. A part is one department's share of a dispatched case (one lead, optional assisting
departments, 大事全网联动); part-level rows move a single part and the case state is then derived
from all parts, so a joint case reaches `handled` only when every part has fed back. A case with
one department has one part whose state is the case state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from wangge.cases.effects import check_needs, perform
from wangge.cases.guards import check_guards, refuse
from wangge.cases.vocabulary import (
    ACTION_ZH,
    FINAL,
    PUBLIC_SOURCES,
    ROLE_ZH,
    STATE_ZH,
    Action,
    Actor,
    CaseSnapshot,
    CaseState,
    EventDraft,
    Need,
    Outcome,
    Part,
    Policy,
    Role,
    Satisfaction,
    Source,
)
from wangge.errors import Forbidden, InvalidTransition, ValidationFailed

__all__ = [
    "ACTION_ZH",
    "ROLE_ZH",
    "STATE_ZH",
    "TRANSITIONS",
    "Action",
    "Actor",
    "CaseSnapshot",
    "CaseState",
    "EventDraft",
    "Need",
    "Outcome",
    "Part",
    "Policy",
    "Role",
    "Satisfaction",
    "Transition",
    "allowed_actions",
    "apply",
    "derive_state",
    "report",
    "reporter_and_source",
]


@dataclass(frozen=True, slots=True)
class Transition:
    """One row: the target state, who may do it, what the payload must carry, and its level."""

    to: CaseState
    roles: frozenset[Role]
    needs: frozenset[Need] = frozenset()
    part: bool = False


S, A, R, N = CaseState, Action, Role, Need


def _t(to: CaseState, *roles: Role, needs: tuple[Need, ...] = (), part: bool = False) -> Transition:
    return Transition(to, frozenset(roles), frozenset(needs), part)


_ROWS: dict[tuple[CaseState, Action], Transition] = {
    # 受理 / 核实 / 立案 (supervision side)
    (S.REPORTED, A.ACCEPT): _t(S.ACCEPTED, R.ACCEPTOR),
    (S.REPORTED, A.REJECT_INVALID): _t(S.REJECTED, R.ACCEPTOR, needs=(N.NOTE,)),
    (S.REPORTED, A.REJECT_DUPLICATE): _t(S.REJECTED, R.ACCEPTOR, needs=(N.DUPLICATE_OF,)),
    (S.REPORTED, A.SELF_HANDLE): _t(S.HANDLED, R.GRID_LEADER, needs=(N.PHOTOS,)),
    (S.ACCEPTED, A.REQUEST_VERIFICATION): _t(S.VERIFYING, R.ACCEPTOR),
    (S.ACCEPTED, A.FILE): _t(S.FILED, R.SHIFT_LEADER),
    (S.ACCEPTED, A.VOID): _t(S.VOIDED, R.SHIFT_LEADER, needs=(N.NOTE,)),
    (S.VERIFYING, A.VERIFY_TRUE): _t(S.VERIFIED, R.SUPERVISOR, needs=(N.PHOTOS,)),
    (S.VERIFYING, A.VERIFY_FALSE): _t(S.VOIDED, R.SUPERVISOR, needs=(N.NOTE,)),
    (S.VERIFIED, A.FILE): _t(S.FILED, R.SHIFT_LEADER),
    (S.VERIFIED, A.VOID): _t(S.VOIDED, R.SHIFT_LEADER, needs=(N.NOTE,)),
    (S.FILED, A.VOID): _t(S.VOIDED, R.SHIFT_LEADER, needs=(N.NOTE,)),
    # 派遣 (command side) creates one part per department
    (S.FILED, A.DISPATCH): _t(S.DISPATCHED, R.DISPATCHER, needs=(N.DEPARTMENT,)),
    # department parts
    (S.DISPATCHED, A.DEPARTMENT_ACCEPT): _t(S.IN_PROGRESS, R.DEPARTMENT, part=True),
    (S.DISPATCHED, A.RETURN_DISPATCH): _t(
        S.RETURN_REQUESTED, R.DEPARTMENT, needs=(N.NOTE,), part=True
    ),
    # An approved return sends the part back to the dispatcher, i.e. to `filed`.
    (S.RETURN_REQUESTED, A.APPROVE_RETURN): _t(S.FILED, R.DISPATCHER, part=True),
    (S.RETURN_REQUESTED, A.REJECT_RETURN): _t(
        S.DISPATCHED, R.DISPATCHER, needs=(N.NOTE,), part=True
    ),
    (S.IN_PROGRESS, A.REQUEST_EXTENSION): _t(
        S.EXTENSION_REQUESTED, R.DEPARTMENT, needs=(N.NOTE, N.HOURS), part=True
    ),
    (S.EXTENSION_REQUESTED, A.APPROVE_EXTENSION): _t(S.IN_PROGRESS, R.DISPATCHER, part=True),
    (S.EXTENSION_REQUESTED, A.REJECT_EXTENSION): _t(
        S.IN_PROGRESS, R.DISPATCHER, needs=(N.NOTE,), part=True
    ),
    (S.IN_PROGRESS, A.REQUEST_SUSPENSION): _t(
        S.SUSPENSION_REQUESTED, R.DEPARTMENT, needs=(N.NOTE,), part=True
    ),
    (S.SUSPENSION_REQUESTED, A.APPROVE_SUSPENSION): _t(S.SUSPENDED, R.DISPATCHER, part=True),
    (S.SUSPENSION_REQUESTED, A.REJECT_SUSPENSION): _t(
        S.IN_PROGRESS, R.DISPATCHER, needs=(N.NOTE,), part=True
    ),
    (S.SUSPENDED, A.RESUME): _t(S.IN_PROGRESS, R.DISPATCHER, R.DEPARTMENT, part=True),
    (S.IN_PROGRESS, A.FEED_BACK): _t(S.HANDLED, R.DEPARTMENT, needs=(N.PHOTOS,), part=True),
    (S.REWORK, A.DEPARTMENT_ACCEPT): _t(S.IN_PROGRESS, R.DEPARTMENT, part=True),
    (S.REWORK, A.FEED_BACK): _t(S.HANDLED, R.DEPARTMENT, needs=(N.PHOTOS,), part=True),
    # 小事一格解决: the grid leader handles a minor case himself; it is still checked.
    (S.REWORK, A.SELF_HANDLE): _t(S.HANDLED, R.GRID_LEADER, needs=(N.PHOTOS,)),
    # 核查 / 结案 / 评价
    (S.HANDLED, A.REQUEST_CHECK): _t(S.CHECKING, R.ACCEPTOR),
    (S.CHECKING, A.CHECK_PASS): _t(S.CHECKED, R.SUPERVISOR, needs=(N.PHOTOS,)),
    (S.CHECKING, A.CHECK_FAIL): _t(S.REWORK, R.SUPERVISOR, needs=(N.NOTE,)),
    (S.CHECKED, A.CLOSE): _t(S.CLOSED, R.SHIFT_LEADER),
    (S.CLOSED, A.RATE): _t(S.RATED, R.CITIZEN, needs=(N.RATING,)),
    # A reopened case goes back to the dispatcher; the reopen event is what KPIs count.
    (S.CLOSED, A.REOPEN): _t(S.FILED, R.CITIZEN, needs=(N.NOTE,)),
    (S.RATED, A.REOPEN): _t(S.FILED, R.CITIZEN, needs=(N.NOTE,)),
}

for _state in S:
    if _state not in FINAL:
        # 督办 and escalation change who watches the case, not where it is in the loop, so
        # they keep the state; a state per tier would double every row of the table.
        _ROWS[(_state, A.URGE)] = _t(_state, R.LEADER, needs=(N.NOTE,))
        _ROWS[(_state, A.ESCALATE)] = _t(_state, R.GRID_LEADER, R.SHIFT_LEADER, R.DISPATCHER)

TRANSITIONS: Mapping[tuple[CaseState, Action], Transition] = _ROWS

PART_ACTIONS: frozenset[Action] = frozenset(a for (_, a), t in _ROWS.items() if t.part)
# States a part can be in (derived from the table, not listed by hand).
PART_STATES: frozenset[CaseState] = frozenset(
    s for (s, _), t in _ROWS.items() if t.part for s in (s, t.to)
)
# When parts disagree, the case shows the state that needs someone to act first.
_PRIORITY: tuple[CaseState, ...] = (
    S.RETURN_REQUESTED,
    S.EXTENSION_REQUESTED,
    S.SUSPENSION_REQUESTED,
    S.DISPATCHED,
    S.REWORK,
    S.IN_PROGRESS,
    S.SUSPENDED,
    S.HANDLED,
)
_PHOTO_WAIVERS: Mapping[Action, str] = {
    A.FEED_BACK: "feedback_needs_photos",
    A.SELF_HANDLE: "feedback_needs_photos",
    A.VERIFY_TRUE: "onsite_photos",
    A.CHECK_PASS: "onsite_photos",
}
# The channels each post reports through, its usual one first (the default). The public
# channels are open to every reporter, since such a report is verified on site before filing;
# patrol, video and department reports skip that check, so only their own posts may claim them.
REPORT_SOURCES: Mapping[Role, tuple[Source, ...]] = {
    R.SUPERVISOR: (Source.PATROL, Source.VIDEO),  # 监督员: street patrol and video posts
    R.GRID_LEADER: (Source.PATROL,),
    R.DEPARTMENT: (Source.DEPARTMENT,),
    R.ACCEPTOR: (Source.HOTLINE,),  # enters callers' reports
    R.CITIZEN: (Source.ONLINE,),
    R.VIDEO_SUPERVISOR: (Source.VIDEO,),
}
REPORTER_ROLES: frozenset[Role] = frozenset(REPORT_SOURCES)


def derive_state(parts: tuple[Part, ...]) -> CaseState:
    """Return the case state implied by its parts (no parts: back with the dispatcher)."""
    states = {p.state for p in parts}
    return next((s for s in _PRIORITY if s in states), S.FILED)


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValidationFailed(
            "时间必须带时区", "datetime must be timezone-aware", code="naive_datetime", field="at"
        )
    return at.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class _Plan:
    transition: Transition
    role: Role
    part_index: int | None


def _pick_role(action: Action, t: Transition, actor: Actor) -> Role:
    held = [r for r in R if r in actor.roles and r in t.roles]
    if not held:
        allowed = "、".join(ROLE_ZH[r] for r in R if r in t.roles)
        raise Forbidden(
            f"「{ACTION_ZH[action]}」只能由{allowed}执行",
            f"action '{action}' needs one of the roles {sorted(t.roles)}",
            code="role_not_allowed",
            details={"action": str(action), "roles": sorted(t.roles)},
        )
    return held[0]


def _plan_part(
    case: CaseSnapshot, action: Action, actor: Actor, payload: Mapping[str, Any], lenient: bool
) -> _Plan:
    if case.state not in PART_STATES or not case.parts:
        raise refuse(case.state, action)
    rows = [(i, _ROWS.get((p.state, action))) for i, p in enumerate(case.parts)]
    open_rows = [(i, t) for i, t in rows if t is not None]
    if not open_rows:
        raise refuse(case.state, action, case.parts[0] if len(case.parts) == 1 else None)
    role = _pick_role(action, open_rows[0][1], actor)
    wanted = payload.get("part")
    if role is R.DEPARTMENT:
        if actor.department is None:
            raise Forbidden(
                "处置人员未关联部门",
                "a department handler must belong to a department",
                code="no_department",
            )
        # A handler acts only on his own department's part, whatever the payload says.
        wanted = actor.department
    if wanted is None:
        if len(open_rows) > 1 and not lenient:
            raise ValidationFailed(
                "有多个部门的分案可执行此操作，请指定部门",
                "several parts allow this action; name the part's department",
                code="part_required",
                field="part",
            )
        index = open_rows[0][0]
    else:
        found = [i for i, p in enumerate(case.parts) if p.department == wanted]
        if not found:
            raise Forbidden(
                f"部门 {wanted} 没有本案的分案",
                f"department {wanted} has no part in this case",
                code="not_your_part",
            )
        index = found[0]
    t = _ROWS.get((case.parts[index].state, action))
    if t is None:
        raise refuse(case.state, action, case.parts[index])
    return _Plan(t, role, index)


def _plan(
    case: CaseSnapshot,
    action: Action,
    actor: Actor,
    at: datetime,
    payload: Mapping[str, Any],
    policy: Policy,
    lenient: bool = False,
) -> _Plan:
    if action in PART_ACTIONS:
        plan = _plan_part(case, action, actor, payload, lenient)
    else:
        t = _ROWS.get((case.state, action))
        if t is None:
            raise refuse(case.state, action)
        plan = _Plan(t, _pick_role(action, t, actor), None)
    check_guards(case, action, actor, at, policy)
    return plan


def allowed_actions(
    case: CaseSnapshot, actor: Actor, *, at: datetime, policy: Policy | None = None
) -> list[Action]:
    """Return the actions this actor may take now (payload not yet known), in table order."""
    at = _aware(at)
    out = []
    for action in A:
        try:
            _plan(case, action, actor, at, {}, policy or Policy(), lenient=True)
        except (InvalidTransition, Forbidden):
            continue
        out.append(action)
    return out


def apply(
    case: CaseSnapshot,
    action: Action,
    actor: Actor,
    *,
    at: datetime,
    payload: Mapping[str, Any] | None = None,
    policy: Policy | None = None,
) -> Outcome:
    """Check and perform one action; return the new state, the event draft and the new snapshot."""
    at = _aware(at)
    payload = dict(payload or {})
    policy = policy or Policy()
    plan = _plan(case, action, actor, at, payload, policy)
    waiver = _PHOTO_WAIVERS.get(action)
    needs = plan.transition.needs
    if waiver is not None and not getattr(policy, waiver):
        needs = needs - {N.PHOTOS}
    check_needs(action, needs, payload)
    part = case.parts[plan.part_index] if plan.part_index is not None else None
    new_case = perform(case, action, actor, at, payload, plan.transition.to, plan.part_index)
    new_state = derive_state(new_case.parts) if plan.transition.part else plan.transition.to
    new_case = replace(new_case, state=new_state)
    extra = {k: v for k, v in payload.items() if k not in ("note", "photos")}
    event = EventDraft(
        case_id=case.id,
        action=action,
        actor_id=actor.id,
        role=plan.role,
        at=at,
        from_state=case.state,
        to_state=new_state,
        part=part.department if part is not None else None,
        note=payload.get("note"),
        attachments=tuple(payload.get("photos") or ()),
        payload=extra,
    )
    return Outcome(new_state, event, new_case)


def reporter_and_source(actor: Actor, source: Source | None) -> tuple[Role, Source]:
    """Return the post a report is made in and its source; refuse a source the posts lack."""
    roles = [r for r in R if r in actor.roles and r in REPORT_SOURCES]
    if not roles:
        raise Forbidden(
            "无权上报问题", "this actor cannot report problems", code="role_not_allowed"
        )
    if source is None:
        return roles[0], REPORT_SOURCES[roles[0]][0]
    for role in roles:
        if source in REPORT_SOURCES[role] or source in PUBLIC_SOURCES:
            return role, source
    allowed = sorted(
        {str(s) for r in roles for s in REPORT_SOURCES[r]} | {str(s) for s in PUBLIC_SOURCES}
    )
    posts = "、".join(ROLE_ZH[r] for r in roles)
    raise Forbidden(
        f"{posts}不能以来源（source）“{source}”上报，可用：{', '.join(allowed)}",
        f"field source: {', '.join(map(str, roles))} may not report through {str(source)!r};"
        f" allowed: {', '.join(allowed)}",
        code="source_not_allowed",
        field="source",
        details={"source": str(source), "allowed": allowed},
    )


def report(
    case_id: str,
    actor: Actor,
    *,
    at: datetime,
    source: Source | None = None,
    grid_id: str | None = None,
    payload: Mapping[str, Any] | None = None,
) -> Outcome:
    """Open a new case in `reported` with its first event (上报); no source: the post's usual."""
    at = _aware(at)
    role, source = reporter_and_source(actor, source)
    payload = dict(payload or {})
    case = CaseSnapshot(
        id=case_id, state=S.REPORTED, source=source, reporter_id=actor.id, grid_id=grid_id
    )
    event = EventDraft(
        case_id=case_id,
        action=A.REPORT,
        actor_id=actor.id,
        role=role,
        at=at,
        from_state=None,
        to_state=S.REPORTED,
        note=payload.get("note"),
        attachments=tuple(payload.get("photos") or ()),
        payload={k: v for k, v in payload.items() if k not in ("note", "photos")}
        | {"source": str(source)},
    )
    return Outcome(S.REPORTED, event, case)
