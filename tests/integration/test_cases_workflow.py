"""Service-level paths of the case loop on SQLite and PostgreSQL: allowed ones succeed and store
their event, refused ones raise clear typed errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.case_factories import (
    ACCEPTOR,
    CGW,
    CITIZEN,
    DISPATCHER,
    FAR_SUPERVISOR,
    GREEN_HANDLER,
    GRID_LEADER,
    HANDLER,
    LEADER,
    OTHER_HANDLER,
    SHIFT,
    SUPERVISOR,
    SZSR,
    T0,
    YLLH,
    build_world,
    do,
    report,
    to_dispatched,
)
from wangge.audit.models import AuditEntry
from wangge.cases.models import CaseEvent, OutboxMessage
from wangge.cases.store import parts_of
from wangge.cases.vocabulary import Source
from wangge.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed

H = timedelta(hours=1)
PHOTO = ["photo://after"]


@pytest.fixture
def world(session):
    build_world(session)
    return session


def actions_of(session, case):
    return [
        e.action
        for e in session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
    ]


def finish(session, case, at):
    do(session, case, "request_check", ACCEPTOR, at)
    do(session, case, "check_pass", SUPERVISOR, at, photos=PHOTO)
    return do(session, case, "close", SHIFT, at)


def test_a_patrol_report_walks_from_report_to_close_with_one_event_per_step(world):
    case = report(world)
    to_dispatched(world, case)
    do(world, case, "department_accept", HANDLER, T0 + H)
    do(world, case, "feed_back", HANDLER, T0 + 2 * H, photos=PHOTO, note="已清理")
    finish(world, case, T0 + 3 * H)
    assert case.state == "closed" and case.closed_at == (T0 + 3 * H).astimezone(
        case.closed_at.tzinfo
    )
    assert actions_of(world, case) == [
        "report",
        "accept",
        "file",
        "dispatch",
        "department_accept",
        "feed_back",
        "request_check",
        "check_pass",
        "close",
    ]
    assert case.version == 9


def test_every_action_appends_an_audit_entry(world):
    before = world.scalar(select(func.count(AuditEntry.id)))
    case = report(world)
    to_dispatched(world, case)
    after = world.scalar(select(func.count(AuditEntry.id)))
    assert after - before == 4
    last = world.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert last.action == "case.dispatch" and last.object_id == str(case.id)


def test_a_public_report_must_be_verified_on_site_before_filing(world):
    case = report(world, CITIZEN, source=Source.ONLINE)
    do(world, case, "accept", ACCEPTOR, T0)
    with pytest.raises(InvalidTransition) as exc:
        do(world, case, "file", SHIFT, T0)
    assert exc.value.code == "verification_required"
    do(world, case, "request_verification", ACCEPTOR, T0)
    do(world, case, "verify_true", SUPERVISOR, T0 + H, photos=PHOTO)
    do(world, case, "file", SHIFT, T0 + H)
    assert case.state == "filed"


def test_a_supervisor_cannot_verify_outside_his_grid(world):
    case = report(world, CITIZEN, source=Source.HOTLINE)
    do(world, case, "accept", ACCEPTOR, T0)
    do(world, case, "request_verification", ACCEPTOR, T0)
    with pytest.raises(NotFound):
        # Outside his area the case is not even visible to him.
        do(world, case, "verify_true", FAR_SUPERVISOR, T0, photos=PHOTO)
    do(world, case, "verify_false", SUPERVISOR, T0, note="现场无此问题")
    assert case.state == "voided"
    assert (
        world.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case.id)).one().topic
        == "case.verify_false"
    )


def test_the_acceptor_can_reject_an_invalid_report_with_a_note_only(world):
    case = report(world)
    with pytest.raises(ValidationFailed) as exc:
        do(world, case, "reject_invalid", ACCEPTOR, T0)
    assert exc.value.code == "note_required" and "说明" in exc.value.message_zh
    do(world, case, "reject_invalid", ACCEPTOR, T0, note="非城市管理问题")
    assert case.state == "rejected"


def test_the_shift_leader_can_void_a_filed_case(world):
    case = report(world)
    do(world, case, "accept", ACCEPTOR, T0)
    do(world, case, "file", SHIFT, T0)
    do(world, case, "void", SHIFT, T0, note="重复立案")
    assert case.state == "voided" and case.deadline is None


def test_a_wrong_role_is_refused_with_a_bilingual_forbidden(world):
    case = report(world)
    with pytest.raises(Forbidden) as exc:
        do(world, case, "accept", DISPATCHER, T0)
    assert exc.value.code == "role_not_allowed" and "受理员" in exc.value.message_zh
    assert actions_of(world, case) == ["report"]


def test_an_action_not_allowed_in_the_state_is_an_invalid_transition(world):
    case = report(world)
    with pytest.raises(InvalidTransition) as exc:
        do(world, case, "close", SHIFT, T0)
    assert "已上报" in exc.value.message_zh and case.state == "reported"


def test_an_unknown_action_is_not_found(world):
    case = report(world)
    with pytest.raises(NotFound):
        do(world, case, "teleport", SHIFT, T0)


def test_a_stale_version_is_a_conflict(world):
    case = report(world)
    stale = case.version
    do(world, case, "accept", ACCEPTOR, T0)
    with pytest.raises(Conflict) as exc:
        from wangge.cases.service import act

        act(world, case.id, "file", SHIFT, expected_version=stale, now=T0)
    assert exc.value.code == "version_conflict" and exc.value.status == 409


def test_dispatch_routes_automatically_when_no_department_is_named(world):
    case = report(world, category="C0401")  # 园林绿化 component → 区园林绿化局
    do(world, case, "accept", ACCEPTOR, T0)
    do(world, case, "file", SHIFT, T0)
    do(world, case, "dispatch", DISPATCHER, T0)
    assert [p.department_code for p in parts_of(world, case.id)] == [YLLH]
    event = world.scalars(select(CaseEvent).where(CaseEvent.action == "dispatch")).one()
    assert event.payload["auto_routed"] is True


def test_dispatch_to_an_unknown_department_names_it(world):
    case = report(world)
    do(world, case, "accept", ACCEPTOR, T0)
    do(world, case, "file", SHIFT, T0)
    with pytest.raises(ValidationFailed) as exc:
        do(world, case, "dispatch", DISPATCHER, T0, department="110108-NOPE")
    assert exc.value.code == "unknown_department" and "110108-NOPE" in exc.value.message_en


def test_a_department_handler_acts_only_on_his_own_part(world):
    case = to_dispatched(world, report(world))
    with pytest.raises(NotFound):
        do(world, case, "department_accept", OTHER_HANDLER, T0)
    do(world, case, "department_accept", HANDLER, T0)
    assert case.state == "in_progress"


def test_a_failed_check_sends_the_case_back_for_rework_and_counts_it(world):
    case = to_dispatched(world, report(world))
    do(world, case, "department_accept", HANDLER, T0)
    do(world, case, "feed_back", HANDLER, T0 + H, photos=PHOTO)
    do(world, case, "request_check", ACCEPTOR, T0 + H)
    do(world, case, "check_fail", SUPERVISOR, T0 + 2 * H, note="仍有垃圾")
    part = parts_of(world, case.id)[0]
    assert case.state == "rework" and part.rework_count == 1
    assert part.started_at == (T0 + 2 * H).astimezone(part.started_at.tzinfo)
    do(world, case, "feed_back", HANDLER, T0 + 3 * H, photos=PHOTO)
    finish(world, case, T0 + 4 * H)
    assert case.state == "closed"


def test_the_handler_cannot_check_his_own_work(world):
    handler_supervisor = GRID_LEADER
    case = report(world)
    do(world, case, "self_handle", handler_supervisor, T0, photos=PHOTO)
    do(world, case, "request_check", ACCEPTOR, T0)
    with pytest.raises(Forbidden) as exc:
        do(world, case, "check_pass", handler_supervisor, T0, photos=PHOTO)
    assert exc.value.code == "checker_is_handler"


def test_a_grid_leader_settles_a_minor_case_himself_and_it_is_still_checked(world):
    case = report(world)
    do(world, case, "self_handle", GRID_LEADER, T0, photos=PHOTO, note="已劝导清理")
    assert case.state == "handled" and case.handler_ids == [GRID_LEADER.name.removeprefix("user")]
    finish(world, case, T0 + H)
    assert case.state == "closed" and parts_of(world, case.id) == []


def test_escalation_goes_community_street_district_then_stops(world):
    case = report(world)
    do(world, case, "escalate", SHIFT, T0)
    assert case.level == "street"
    do(world, case, "escalate", SHIFT, T0)
    assert case.level == "district" and case.state == "reported"
    with pytest.raises(InvalidTransition) as exc:
        do(world, case, "escalate", SHIFT, T0)
    assert exc.value.code == "top_level"


def test_a_joint_case_closes_only_when_every_part_is_handled(world):
    case = to_dispatched(world, report(world), assisting=[SZSR])
    parts = {p.department_code: p for p in parts_of(world, case.id)}
    assert parts[CGW].lead and not parts[SZSR].lead
    assert parts[CGW].deadline and parts[SZSR].deadline
    do(world, case, "department_accept", HANDLER, T0)
    do(world, case, "department_accept", OTHER_HANDLER, T0)
    do(world, case, "feed_back", HANDLER, T0 + H, photos=PHOTO)
    assert case.state == "in_progress"
    with pytest.raises(InvalidTransition):
        do(world, case, "request_check", ACCEPTOR, T0 + H)
    do(world, case, "feed_back", OTHER_HANDLER, T0 + 2 * H, photos=PHOTO)
    assert case.state == "handled"
    assert all(p.fed_back_at is not None for p in parts_of(world, case.id))
    topics = world.scalars(
        select(OutboxMessage.recipient).where(OutboxMessage.topic == "case.dispatched")
    ).all()
    assert sorted(topics) == sorted([f"dept:{CGW}", f"dept:{SZSR}"])


def test_an_approved_return_of_the_lead_sends_the_case_back_to_the_dispatcher(world):
    case = to_dispatched(world, report(world))
    do(world, case, "return_dispatch", HANDLER, T0, note="不属于本单位职责")
    assert case.state == "return_requested"
    do(world, case, "approve_return", DISPATCHER, T0 + H)
    assert case.state == "filed" and parts_of(world, case.id) == []
    assert case.stage == "dispatch"
    do(world, case, "dispatch", DISPATCHER, T0 + H, department=YLLH)
    do(world, case, "department_accept", GREEN_HANDLER, T0 + H)
    assert case.state == "in_progress"


def test_a_rejected_return_keeps_the_department_on_the_case(world):
    case = to_dispatched(world, report(world))
    do(world, case, "return_dispatch", HANDLER, T0, note="不属于本单位职责")
    do(world, case, "reject_return", DISPATCHER, T0, note="属于你单位")
    assert case.state == "dispatched"


def test_an_approved_extension_moves_the_part_deadline_by_the_hours(world):
    case = to_dispatched(world, report(world))
    do(world, case, "department_accept", HANDLER, T0)
    before = parts_of(world, case.id)[0].deadline
    do(world, case, "request_extension", HANDLER, T0 + H, note="需采购配件", hours=8)
    do(world, case, "approve_extension", DISPATCHER, T0 + 2 * H)
    part = parts_of(world, case.id)[0]
    assert part.extension_hours == 8 and part.deadline == before + timedelta(days=1)
    assert case.deadline == part.deadline


def test_a_rejected_extension_keeps_the_deadline(world):
    case = to_dispatched(world, report(world))
    do(world, case, "department_accept", HANDLER, T0)
    before = parts_of(world, case.id)[0].deadline
    do(world, case, "request_extension", HANDLER, T0 + H, note="需采购配件", hours=8)
    do(world, case, "reject_extension", DISPATCHER, T0 + H, note="可当天完成")
    assert parts_of(world, case.id)[0].deadline == before and case.state == "in_progress"


def test_a_suspension_stops_the_clock_until_resumed(world):
    case = to_dispatched(world, report(world))
    do(world, case, "department_accept", HANDLER, T0)
    before = parts_of(world, case.id)[0].deadline
    do(world, case, "request_suspension", HANDLER, T0 + H, note="等待产权单位")
    do(world, case, "approve_suspension", DISPATCHER, T0 + H)
    assert case.state == "suspended" and case.deadline is None
    # Suspended Monday 10:00 to Tuesday 10:00: one working day (8 hours) does not count.
    do(world, case, "resume", HANDLER, T0 + 25 * H)
    part = parts_of(world, case.id)[0]
    assert part.deadline == before + timedelta(days=1) and case.state == "in_progress"


def test_a_rejected_suspension_keeps_the_case_in_progress(world):
    case = to_dispatched(world, report(world))
    do(world, case, "department_accept", HANDLER, T0)
    do(world, case, "request_suspension", HANDLER, T0, note="等待")
    do(world, case, "reject_suspension", DISPATCHER, T0, note="不符合挂账条件")
    assert case.state == "in_progress"


def test_a_leader_urges_and_the_open_departments_are_told(world):
    case = to_dispatched(world, report(world))
    do(world, case, "urge", LEADER, T0, note="请尽快处置")
    assert actions_of(world, case)[-1] == "urge" and case.state == "dispatched"
    urged = world.scalars(select(OutboxMessage).where(OutboxMessage.topic == "case.urge")).one()
    assert urged.recipient == f"dept:{CGW}" and urged.body["note"] == "请尽快处置"


def test_the_reporter_rates_and_can_reopen_a_closed_case(world):
    case = report(world, CITIZEN, source=Source.ONLINE)
    do(world, case, "accept", ACCEPTOR, T0)
    do(world, case, "request_verification", ACCEPTOR, T0)
    do(world, case, "verify_true", SUPERVISOR, T0, photos=PHOTO)
    do(world, case, "file", SHIFT, T0)
    do(world, case, "dispatch", DISPATCHER, T0, department=CGW)
    do(world, case, "department_accept", HANDLER, T0)
    do(world, case, "feed_back", HANDLER, T0 + H, photos=PHOTO)
    finish(world, case, T0 + H)
    with pytest.raises(Forbidden):
        do(world, case, "rate", LEADER, T0 + 2 * H, rating="satisfied")
    do(world, case, "rate", CITIZEN, T0 + 2 * H, rating="unsatisfied")
    assert case.state == "rated" and case.rating == "unsatisfied"
    do(world, case, "reopen", CITIZEN, T0 + 3 * H, note="问题复发")
    assert case.state == "filed" and case.reopen_count == 1 and case.stage == "dispatch"


def test_a_refused_action_changes_nothing(world):
    case = to_dispatched(world, report(world))
    version, events = case.version, len(actions_of(world, case))
    with pytest.raises(InvalidTransition):
        do(world, case, "feed_back", HANDLER, T0, photos=PHOTO)  # not signed for yet
    assert case.version == version and len(actions_of(world, case)) == events
    assert [p.state for p in parts_of(world, case.id)] == ["dispatched"]


@pytest.mark.parametrize(
    "payload",
    [{"assisting": 5}, {"rating": ["x"]}, {"to_level": ["street"]}, {"departments": [1]}],
)
def test_a_payload_of_the_wrong_shape_is_a_validation_error(world, payload):
    case = report(world)
    with pytest.raises(ValidationFailed) as exc:
        do(world, case, "escalate", SHIFT, T0, **payload)
    assert exc.value.code == "bad_payload" and exc.value.field == next(iter(payload))
