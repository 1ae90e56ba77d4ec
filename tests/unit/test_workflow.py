"""The case loop: every (state, action) pair of the table, roles, guards and whole journeys."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wangge.cases.vocabulary import Level, Source
from wangge.cases.workflow import (
    ACTION_ZH,
    ROLE_ZH,
    STATE_ZH,
    TRANSITIONS,
    Action,
    Actor,
    CaseSnapshot,
    CaseState,
    Outcome,
    Part,
    Policy,
    Role,
    allowed_actions,
    apply,
    derive_state,
    report,
)
from wangge.errors import Forbidden, InvalidTransition, ValidationFailed

S, A, R = CaseState, Action, Role
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
PART_STATES = {t.to for t in TRANSITIONS.values() if t.part} | {
    s for (s, _), t in TRANSITIONS.items() if t.part
}

# One person per post; the department handler belongs to D1, everyone covers grid G1.
PEOPLE: dict[Role, Actor] = {
    role: Actor(
        id="citizen-1" if role is R.CITIZEN else f"{role}-1",
        roles=frozenset({role}),
        department="D1" if role is R.DEPARTMENT else None,
        grid_ids=frozenset({"G1"}),
    )
    for role in R
}
EVERYONE = Actor(id="boss", roles=frozenset(R), department="D1", grid_ids=frozenset({"G1"}))
FULL_PAYLOAD: dict[str, Any] = {
    "note": "说明",
    "photos": ["photo-1"],
    "department": "D2",
    "hours": 4,
    "rating": "satisfied",
    "duplicate_of": "C0",
}


def case_in(state: CaseState, **kw: Any) -> CaseSnapshot:
    """Build a consistent one-department case in `state` (hotline report unless just accepted)."""
    parts: tuple[Part, ...] = ()
    if state in PART_STATES and state is not S.FILED:
        parts = (
            Part(
                department="D1",
                state=state,
                handler_ids=frozenset({"someone-else"}) if state is S.HANDLED else frozenset(),
                pending_extension_hours=4.0 if state is S.EXTENSION_REQUESTED else None,
                suspended_since=T0 - timedelta(hours=3) if state is S.SUSPENDED else None,
            ),
        )
    base = CaseSnapshot(
        id="C1",
        state=state,
        # A report from the public cannot be filed unverified; patrol reports can.
        source=Source.PATROL if state is S.ACCEPTED else Source.HOTLINE,
        reporter_id="citizen-1",
        grid_id="G1",
        parts=parts,
        closed_at=T0 - timedelta(days=1) if state in (S.CLOSED, S.RATED) else None,
    )
    return replace(base, **kw)


def case_for(state: CaseState, action: Action) -> CaseSnapshot:
    """Return the case in `state` for `action`: self-handling applies to cases never dispatched."""
    return case_in(state, parts=()) if action is A.SELF_HANDLE else case_in(state)


def actor_for(action: Action, state: CaseState) -> Actor:
    """Return someone holding the first role the table allows for this pair."""
    t = TRANSITIONS[(state, action)]
    return PEOPLE[next(r for r in R if r in t.roles)]


def run(case: CaseSnapshot, action: Action, who: Actor | Role, **payload: Any) -> CaseSnapshot:
    """Apply one action at T0 and return the new snapshot."""
    actor = PEOPLE[who] if isinstance(who, Role) else who
    return apply(case, action, actor, at=T0, payload=payload).case


ALL_PAIRS = [(s, a) for s in S for a in A]
ALLOWED = sorted(TRANSITIONS, key=lambda k: (list(S).index(k[0]), list(A).index(k[1])))
REFUSED = [p for p in ALL_PAIRS if p not in TRANSITIONS]


def test_the_table_and_the_refusals_cover_the_whole_product_of_states_and_actions() -> None:
    assert len(ALLOWED) + len(REFUSED) == len(S) * len(A)
    assert len(ALLOWED) >= 60


@pytest.mark.parametrize(("state", "action"), ALLOWED, ids=lambda v: str(v))
def test_an_allowed_pair_succeeds_with_the_right_role_and_records_an_event(
    state: CaseState, action: Action
) -> None:
    actor = actor_for(action, state)
    out = apply(case_for(state, action), action, actor, at=T0, payload=FULL_PAYLOAD)
    assert isinstance(out, Outcome)
    assert out.new_state == TRANSITIONS[(state, action)].to
    assert out.case.state == out.new_state
    ev = out.event
    assert (ev.case_id, ev.action, ev.actor_id, ev.at) == ("C1", action, actor.id, T0)
    assert ev.role in TRANSITIONS[(state, action)].roles
    assert (ev.from_state, ev.to_state) == (state, out.new_state)
    assert ev.part == ("D1" if TRANSITIONS[(state, action)].part else None)


@pytest.mark.parametrize(("state", "action"), REFUSED, ids=lambda v: str(v))
def test_every_other_pair_is_refused_naming_the_state_and_the_action(
    state: CaseState, action: Action
) -> None:
    with pytest.raises(InvalidTransition) as err:
        apply(case_in(state), action, EVERYONE, at=T0, payload=FULL_PAYLOAD)
    assert STATE_ZH[state] in err.value.message_zh and ACTION_ZH[action] in err.value.message_zh
    assert f"'{state}'" in err.value.message_en and f"'{action}'" in err.value.message_en
    assert err.value.code == "invalid_transition"


@pytest.mark.parametrize(("state", "action"), ALLOWED, ids=lambda v: str(v))
def test_an_allowed_pair_is_forbidden_to_every_other_role(state: CaseState, action: Action) -> None:
    allowed = TRANSITIONS[(state, action)].roles
    others = frozenset(R) - allowed
    intruder = Actor(id="x", roles=others, department="D1", grid_ids=frozenset({"G1"}))
    with pytest.raises(Forbidden) as err:
        apply(case_for(state, action), action, intruder, at=T0, payload=FULL_PAYLOAD)
    assert err.value.code == "role_not_allowed"


def test_labels_exist_for_every_state_action_and_role() -> None:
    assert set(STATE_ZH) == set(S) and set(ACTION_ZH) == set(A) and set(ROLE_ZH) == set(R)


def test_part_actions_have_one_role_set_whatever_the_part_state() -> None:
    by_action: dict[Action, set[frozenset[Role]]] = {}
    for (_, action), t in TRANSITIONS.items():
        if t.part:
            by_action.setdefault(action, set()).add(t.roles)
    assert by_action and all(len(v) == 1 for v in by_action.values())


def test_the_handler_cannot_check_their_own_handling() -> None:
    handler = Actor(id="h-1", roles=frozenset({R.DEPARTMENT, R.SUPERVISOR}), department="D1")
    case = case_in(S.IN_PROGRESS)
    case = apply(case, A.FEED_BACK, handler, at=T0, payload={"photos": ["p"]}).case
    case = run(case, A.REQUEST_CHECK, R.ACCEPTOR)
    for action in (A.CHECK_PASS, A.CHECK_FAIL):
        with pytest.raises(Forbidden) as err:
            apply(case, action, handler, at=T0, payload=FULL_PAYLOAD)
        assert err.value.code == "checker_is_handler"
        assert action not in allowed_actions(case, handler, at=T0)
    assert A.CHECK_PASS in allowed_actions(case, PEOPLE[R.SUPERVISOR], at=T0)


def test_a_full_happy_path_runs_from_report_to_rating() -> None:
    opened = report("C9", PEOPLE[R.SUPERVISOR], at=T0, source=Source.PATROL, grid_id="G1")
    assert opened.event.action is A.REPORT and opened.event.from_state is None
    case = replace(opened.case, reporter_id="citizen-1")
    case = run(case, A.ACCEPT, R.ACCEPTOR)
    case = run(case, A.FILE, R.SHIFT_LEADER)
    case = run(case, A.DISPATCH, R.DISPATCHER, department="D1")
    assert case.state is S.DISPATCHED and [p.department for p in case.parts] == ["D1"]
    case = run(case, A.DEPARTMENT_ACCEPT, R.DEPARTMENT)
    case = run(case, A.FEED_BACK, R.DEPARTMENT, photos=["after.jpg"])
    assert case.state is S.HANDLED and case.all_handler_ids == {"department-1"}
    case = run(case, A.REQUEST_CHECK, R.ACCEPTOR)
    case = run(case, A.CHECK_PASS, R.SUPERVISOR, photos=["check.jpg"])
    case = run(case, A.CLOSE, R.SHIFT_LEADER)
    assert case.state is S.CLOSED and case.closed_at == T0
    case = run(case, A.RATE, R.CITIZEN, rating="satisfied")
    assert case.state is S.RATED


def test_a_failed_check_sends_the_case_back_for_rework_and_round_again() -> None:
    case = run(
        case_in(S.CHECKING, parts=(Part("D1", S.HANDLED),)),
        A.CHECK_FAIL,
        R.SUPERVISOR,
        note="still broken",
    )
    assert case.state is S.REWORK and case.parts[0].state is S.REWORK
    case = run(case, A.FEED_BACK, R.DEPARTMENT, photos=["again.jpg"])
    case = run(case, A.REQUEST_CHECK, R.ACCEPTOR)
    case = run(case, A.CHECK_PASS, R.SUPERVISOR, photos=["ok.jpg"])
    assert case.state is S.CHECKED


def test_an_extension_approved_adds_hours_and_a_rejected_one_adds_none() -> None:
    case = run(case_in(S.IN_PROGRESS), A.REQUEST_EXTENSION, R.DEPARTMENT, note="材料", hours=8)
    assert case.state is S.EXTENSION_REQUESTED and case.parts[0].pending_extension_hours == 8
    approved = run(case, A.APPROVE_EXTENSION, R.DISPATCHER)
    assert approved.state is S.IN_PROGRESS and approved.parts[0].extension_hours == 8
    rejected = run(case, A.REJECT_EXTENSION, R.DISPATCHER, note="不同意")
    assert rejected.state is S.IN_PROGRESS and rejected.parts[0].extension_hours == 0
    with pytest.raises(ValidationFailed):
        run(case_in(S.IN_PROGRESS), A.REQUEST_EXTENSION, R.DEPARTMENT, note="x")


def test_a_suspension_stops_and_resume_records_the_interval() -> None:
    case = run(case_in(S.IN_PROGRESS), A.REQUEST_SUSPENSION, R.DEPARTMENT, note="等待审批")
    case = apply(case, A.APPROVE_SUSPENSION, PEOPLE[R.DISPATCHER], at=T0).case
    assert case.state is S.SUSPENDED and case.parts[0].suspended_since == T0
    later = T0 + timedelta(days=2)
    case = apply(case, A.RESUME, PEOPLE[R.DEPARTMENT], at=later).case
    assert case.state is S.IN_PROGRESS and case.parts[0].suspensions == ((T0, later),)
    assert case.parts[0].suspended_since is None


def test_a_return_goes_back_to_the_dispatcher_who_dispatches_again() -> None:
    case = run(case_in(S.DISPATCHED), A.RETURN_DISPATCH, R.DEPARTMENT, note="不属本部门")
    assert case.state is S.RETURN_REQUESTED
    refused = run(case, A.REJECT_RETURN, R.DISPATCHER, note="属于你部门")
    assert refused.state is S.DISPATCHED and refused.parts[0].department == "D1"
    case = run(case, A.APPROVE_RETURN, R.DISPATCHER)
    assert case.state is S.FILED and case.parts == ()
    case = run(case, A.DISPATCH, R.DISPATCHER, department="D2")
    assert case.state is S.DISPATCHED and case.parts[0].department == "D2"


def test_a_duplicate_is_rejected_with_a_reference_to_the_original() -> None:
    out = apply(
        case_in(S.REPORTED),
        A.REJECT_DUPLICATE,
        PEOPLE[R.ACCEPTOR],
        at=T0,
        payload={"duplicate_of": "C0"},
    )
    assert out.new_state is S.REJECTED and out.event.payload["duplicate_of"] == "C0"
    with pytest.raises(ValidationFailed) as err:
        run(case_in(S.REPORTED), A.REJECT_DUPLICATE, R.ACCEPTOR)
    assert err.value.field == "duplicate_of"


def test_a_public_report_is_verified_in_the_own_grid_before_filing() -> None:
    case = run(case_in(S.REPORTED, source=Source.ONLINE), A.ACCEPT, R.ACCEPTOR)
    with pytest.raises(InvalidTransition) as err:
        run(case, A.FILE, R.SHIFT_LEADER)
    assert err.value.code == "verification_required"
    case = run(case, A.REQUEST_VERIFICATION, R.ACCEPTOR)
    stranger = Actor(id="sv-2", roles=frozenset({R.SUPERVISOR}), grid_ids=frozenset({"G2"}))
    with pytest.raises(Forbidden):
        apply(case, A.VERIFY_TRUE, stranger, at=T0, payload={"photos": ["p"]})
    case = run(case, A.VERIFY_TRUE, R.SUPERVISOR, photos=["site.jpg"])
    assert run(case, A.FILE, R.SHIFT_LEADER).state is S.FILED
    free = Policy(verify_own_grid_only=False)
    other_grid = apply(
        run(case_in(S.REPORTED, source=Source.ONLINE), A.ACCEPT, R.ACCEPTOR),
        A.REQUEST_VERIFICATION,
        PEOPLE[R.ACCEPTOR],
        at=T0,
    ).case
    assert (
        apply(
            other_grid, A.VERIFY_FALSE, stranger, at=T0, payload={"note": "无"}, policy=free
        ).new_state
        is S.VOIDED
    )


def test_a_minor_case_is_self_handled_by_the_grid_leader_and_checked_by_someone_else() -> None:
    case = run(case_in(S.REPORTED), A.SELF_HANDLE, R.GRID_LEADER, photos=["done.jpg"])
    assert case.state is S.HANDLED and case.handler_ids == {"grid_leader-1"}
    case = run(case, A.REQUEST_CHECK, R.ACCEPTOR)
    leader_checks = Actor(id="grid_leader-1", roles=frozenset({R.SUPERVISOR}))
    with pytest.raises(Forbidden):
        apply(case, A.CHECK_PASS, leader_checks, at=T0, payload={"photos": ["p"]})
    case = run(case, A.CHECK_FAIL, R.SUPERVISOR, note="未清理干净")
    assert case.state is S.REWORK
    case = run(case, A.SELF_HANDLE, R.GRID_LEADER, photos=["done2.jpg"])
    case = run(case, A.REQUEST_CHECK, R.ACCEPTOR)
    case = run(case, A.CHECK_PASS, R.SUPERVISOR, photos=["ok.jpg"])
    assert run(case, A.CLOSE, R.SHIFT_LEADER).state is S.CLOSED


def test_a_grid_leader_cannot_self_handle_outside_the_grid_or_a_dispatched_case() -> None:
    outsider = Actor(id="gl-2", roles=frozenset({R.GRID_LEADER}), grid_ids=frozenset({"G2"}))
    with pytest.raises(Forbidden):
        apply(case_in(S.REPORTED), A.SELF_HANDLE, outsider, at=T0, payload={"photos": ["p"]})
    with pytest.raises(InvalidTransition):
        run(case_in(S.REWORK), A.SELF_HANDLE, R.GRID_LEADER, photos=["p"])


def test_a_joint_case_is_handled_only_when_every_part_has_fed_back() -> None:
    case = run(case_in(S.FILED), A.DISPATCH, R.DISPATCHER, department="D1", assisting=["D2"])
    assert [(p.department, p.lead) for p in case.parts] == [("D1", True), ("D2", False)]
    d2 = Actor(id="d2-1", roles=frozenset({R.DEPARTMENT}), department="D2")
    case = run(case, A.DEPARTMENT_ACCEPT, R.DEPARTMENT)
    assert case.state is S.DISPATCHED  # D2 has not accepted yet
    case = run(case, A.DEPARTMENT_ACCEPT, d2)
    case = run(case, A.FEED_BACK, R.DEPARTMENT, photos=["d1.jpg"])
    assert case.state is S.IN_PROGRESS and case.parts[0].state is S.HANDLED
    with pytest.raises(InvalidTransition):
        run(case, A.REQUEST_CHECK, R.ACCEPTOR)
    with pytest.raises(InvalidTransition):
        run(case, A.FEED_BACK, R.DEPARTMENT, photos=["again.jpg"])
    case = run(case, A.FEED_BACK, d2, photos=["d2.jpg"])
    assert case.state is S.HANDLED and case.all_handler_ids == {"department-1", "d2-1"}
    case = run(case, A.REQUEST_CHECK, R.ACCEPTOR)
    case = run(case, A.CHECK_FAIL, R.SUPERVISOR, note="D2 未完成", departments=["D2"])
    assert [p.state for p in case.parts] == [S.HANDLED, S.REWORK] and case.state is S.REWORK


def test_a_joint_part_extends_and_suspends_independently_and_the_dispatcher_names_the_part() -> (
    None
):
    case = case_in(
        S.IN_PROGRESS, parts=(Part("D1", S.IN_PROGRESS), Part("D2", S.IN_PROGRESS, lead=False))
    )
    d2 = Actor(id="d2-1", roles=frozenset({R.DEPARTMENT}), department="D2")
    case = run(case, A.REQUEST_SUSPENSION, d2, note="等待")
    case = run(case, A.REQUEST_SUSPENSION, R.DEPARTMENT, note="等待")
    with pytest.raises(ValidationFailed) as err:
        run(case, A.APPROVE_SUSPENSION, R.DISPATCHER)
    assert err.value.field == "part"
    case = run(case, A.APPROVE_SUSPENSION, R.DISPATCHER, part="D2")
    assert [p.state for p in case.parts] == [S.SUSPENSION_REQUESTED, S.SUSPENDED]
    assert case.state is S.SUSPENSION_REQUESTED


def test_a_department_cannot_act_on_another_departments_part() -> None:
    d3 = Actor(id="d3-1", roles=frozenset({R.DEPARTMENT}), department="D3")
    with pytest.raises(Forbidden) as err:
        run(case_in(S.DISPATCHED), A.DEPARTMENT_ACCEPT, d3)
    assert err.value.code == "not_your_part"


def test_a_returned_assisting_part_leaves_while_the_lead_goes_on() -> None:
    parts = (Part("D1", S.IN_PROGRESS), Part("D2", S.RETURN_REQUESTED, lead=False))
    case = run(case_in(S.RETURN_REQUESTED, parts=parts), A.APPROVE_RETURN, R.DISPATCHER)
    assert [p.department for p in case.parts] == ["D1"] and case.state is S.IN_PROGRESS


def test_a_returned_lead_part_sends_the_whole_joint_case_back_to_the_dispatcher() -> None:
    parts = (Part("D1", S.RETURN_REQUESTED), Part("D2", S.IN_PROGRESS, lead=False))
    case = run(case_in(S.RETURN_REQUESTED, parts=parts), A.APPROVE_RETURN, R.DISPATCHER)
    assert case.parts == () and case.state is S.FILED


def test_the_reporter_can_reopen_within_the_period_but_not_after() -> None:
    closed = case_in(S.CLOSED, closed_at=T0)
    citizen = PEOPLE[R.CITIZEN]
    inside = apply(closed, A.REOPEN, citizen, at=T0 + timedelta(days=6), payload={"note": "没修好"})
    assert inside.new_state is S.FILED and inside.case.reopen_count == 1
    assert inside.case.closed_at is None and inside.case.parts == ()
    with pytest.raises(InvalidTransition) as err:
        apply(closed, A.REOPEN, citizen, at=T0 + timedelta(days=8), payload={"note": "没修好"})
    assert err.value.code == "reopen_window_closed"
    short = Policy(reopen_within=timedelta(days=1))
    with pytest.raises(InvalidTransition):
        apply(
            closed,
            A.REOPEN,
            citizen,
            at=T0 + timedelta(days=2),
            payload={"note": "x"},
            policy=short,
        )


def test_only_the_reporter_rates_the_case() -> None:
    closed = case_in(S.CLOSED)
    other = Actor(id="citizen-2", roles=frozenset({R.CITIZEN}))
    with pytest.raises(Forbidden) as err:
        apply(closed, A.RATE, other, at=T0, payload={"rating": "satisfied"})
    assert err.value.code == "not_reporter"
    assert A.RATE not in allowed_actions(closed, other, at=T0)
    with pytest.raises(ValidationFailed):
        run(closed, A.RATE, R.CITIZEN, rating="5 stars")
    assert run(closed, A.RATE, R.CITIZEN, rating="unsatisfied").state is S.RATED


def test_feedback_needs_photos_unless_configured_off() -> None:
    with pytest.raises(ValidationFailed) as err:
        run(case_in(S.IN_PROGRESS), A.FEED_BACK, R.DEPARTMENT)
    assert err.value.field == "photos"
    out = apply(
        case_in(S.IN_PROGRESS),
        A.FEED_BACK,
        PEOPLE[R.DEPARTMENT],
        at=T0,
        policy=Policy(feedback_needs_photos=False),
    )
    assert out.new_state is S.HANDLED and out.event.attachments == ()


def test_dispatch_needs_a_lead_department_distinct_from_the_assisting_ones() -> None:
    with pytest.raises(ValidationFailed) as err:
        run(case_in(S.FILED), A.DISPATCH, R.DISPATCHER)
    assert err.value.field == "department"
    with pytest.raises(ValidationFailed):
        run(case_in(S.FILED), A.DISPATCH, R.DISPATCHER, department="D1", assisting=["D1"])


def test_urging_is_recorded_without_changing_the_state() -> None:
    out = apply(case_in(S.IN_PROGRESS), A.URGE, PEOPLE[R.LEADER], at=T0, payload={"note": "速办"})
    assert out.new_state is S.IN_PROGRESS and out.event.note == "速办"
    assert out.event.role is R.LEADER


def test_escalation_climbs_community_street_district_and_stops() -> None:
    case = run(case_in(S.FILED), A.ESCALATE, R.GRID_LEADER)
    assert case.level is Level.STREET and case.state is S.FILED
    case = run(case, A.ESCALATE, R.SHIFT_LEADER)
    assert case.level is Level.DISTRICT
    with pytest.raises(InvalidTransition):
        run(case, A.ESCALATE, R.DISPATCHER)


def accepted_by_apply(case: CaseSnapshot, action: Action, actor: Actor) -> bool:
    """Return True if `apply` lets the actor do it with a complete payload."""
    try:
        apply(case, action, actor, at=T0, payload=FULL_PAYLOAD)
    except (InvalidTransition, Forbidden):
        return False
    return True


def test_allowed_actions_match_what_apply_accepts_for_each_role() -> None:
    for state in S:
        for case in (case_in(state), case_in(state, parts=())):
            for role, actor in PEOPLE.items():
                listed = set(allowed_actions(case, actor, at=T0))
                expected = {a for a in A if accepted_by_apply(case, a, actor)}
                assert listed == expected, (state, role)
                table = {a for (s, a), t in TRANSITIONS.items() if s == state and role in t.roles}
                assert listed <= table


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValidationFailed):
        apply(case_in(S.REPORTED), A.ACCEPT, PEOPLE[R.ACCEPTOR], at=datetime(2026, 3, 2, 9))


def test_derive_state_waits_for_the_slowest_part() -> None:
    assert derive_state(()) is S.FILED
    parts = (Part("D1", S.HANDLED), Part("D2", S.SUSPENDED))
    assert derive_state(parts) is S.SUSPENDED
    assert derive_state((Part("D1", S.HANDLED), Part("D2", S.HANDLED))) is S.HANDLED


def test_dispatch_sets_each_parts_deadline_and_refuses_naive_ones() -> None:
    due = T0 + timedelta(hours=8)
    case = run(case_in(S.FILED), A.DISPATCH, R.DISPATCHER, department="D1", deadlines={"D1": due})
    assert case.parts[0].deadline == due
    with pytest.raises(ValidationFailed) as err:
        run(
            case_in(S.FILED),
            A.DISPATCH,
            R.DISPATCHER,
            department="D1",
            deadlines={"D1": datetime(2026, 3, 2, 17)},
        )
    assert err.value.code == "naive_datetime"


def test_a_handler_without_a_department_cannot_act_on_parts() -> None:
    loose = Actor(id="h-9", roles=frozenset({R.DEPARTMENT}))
    with pytest.raises(Forbidden) as err:
        apply(case_in(S.DISPATCHED), A.DEPARTMENT_ACCEPT, loose, at=T0)
    assert err.value.code == "no_department"


def test_only_reporting_roles_can_open_a_case() -> None:
    out = report("C2", PEOPLE[R.CITIZEN], at=T0, source=Source.ONLINE, payload={"note": "井盖丢失"})
    assert out.case.reporter_id == "citizen-1" and out.event.payload["source"] == "online"
    assert out.event.note == "井盖丢失" and out.new_state is S.REPORTED
    with pytest.raises(Forbidden):
        report("C3", PEOPLE[R.LEADER], at=T0, source=Source.PATROL)
