"""Vocabulary of the case loop: states, actions, roles, the case snapshot and the event draft.

Pure data: no database, web or clock. The transitions table that ties these together lives in
`wangge.cases.workflow`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class CaseState(StrEnum):
    """Where a case (or one department's part of it) stands in the closed loop."""

    REPORTED = "reported"
    ACCEPTED = "accepted"
    VERIFYING = "verifying"
    VERIFIED = "verified"
    FILED = "filed"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    RETURN_REQUESTED = "return_requested"
    EXTENSION_REQUESTED = "extension_requested"
    SUSPENSION_REQUESTED = "suspension_requested"
    SUSPENDED = "suspended"
    HANDLED = "handled"
    REWORK = "rework"
    CHECKING = "checking"
    CHECKED = "checked"
    CLOSED = "closed"
    RATED = "rated"
    REJECTED = "rejected"
    VOIDED = "voided"


class Action(StrEnum):
    """Something a person does to a case; each accepted action becomes one event."""

    REPORT = "report"
    ACCEPT = "accept"
    REJECT_INVALID = "reject_invalid"
    REJECT_DUPLICATE = "reject_duplicate"
    REQUEST_VERIFICATION = "request_verification"
    VERIFY_TRUE = "verify_true"
    VERIFY_FALSE = "verify_false"
    FILE = "file"
    VOID = "void"
    DISPATCH = "dispatch"
    DEPARTMENT_ACCEPT = "department_accept"
    RETURN_DISPATCH = "return_dispatch"
    APPROVE_RETURN = "approve_return"
    REJECT_RETURN = "reject_return"
    REQUEST_EXTENSION = "request_extension"
    APPROVE_EXTENSION = "approve_extension"
    REJECT_EXTENSION = "reject_extension"
    REQUEST_SUSPENSION = "request_suspension"
    APPROVE_SUSPENSION = "approve_suspension"
    REJECT_SUSPENSION = "reject_suspension"
    RESUME = "resume"
    FEED_BACK = "feed_back"
    SELF_HANDLE = "self_handle"
    REQUEST_CHECK = "request_check"
    CHECK_PASS = "check_pass"
    CHECK_FAIL = "check_fail"
    CLOSE = "close"
    RATE = "rate"
    REOPEN = "reopen"
    URGE = "urge"
    ESCALATE = "escalate"


class Role(StrEnum):
    """A post in the loop; supervision (受理员, 值班长, 监督员) and command (派遣员) stay apart."""

    ACCEPTOR = "acceptor"
    SHIFT_LEADER = "shift_leader"
    SUPERVISOR = "supervisor"
    DISPATCHER = "dispatcher"
    DEPARTMENT = "department"
    GRID_LEADER = "grid_leader"
    LEADER = "leader"
    CITIZEN = "citizen"


class Need(StrEnum):
    """A payload item an action cannot do without."""

    NOTE = "note"
    PHOTOS = "photos"
    DEPARTMENT = "department"
    HOURS = "hours"
    RATING = "rating"
    DUPLICATE_OF = "duplicate_of"


class Source(StrEnum):
    """Channel a problem came in through."""

    PATROL = "patrol"
    VIDEO = "video"
    HOTLINE = "hotline"
    ONLINE = "online"
    DEPARTMENT = "department"


# Reports by the public are verified on site before filing (监督员核实); the others come from
# the supervision side itself.
PUBLIC_SOURCES: frozenset[Source] = frozenset({Source.HOTLINE, Source.ONLINE})


class Level(StrEnum):
    """Tier that coordinates the case: 社区 → 街道 → 区 (乡呼县应)."""

    COMMUNITY = "community"
    STREET = "street"
    DISTRICT = "district"


LEVEL_ORDER: tuple[Level, ...] = (Level.COMMUNITY, Level.STREET, Level.DISTRICT)


class Satisfaction(StrEnum):
    """The reporter's rating after closing."""

    SATISFIED = "satisfied"
    BASIC = "basically_satisfied"
    UNSATISFIED = "unsatisfied"


STATE_ZH: Mapping[CaseState, str] = {
    CaseState.REPORTED: "已上报",
    CaseState.ACCEPTED: "已受理",
    CaseState.VERIFYING: "核实中",
    CaseState.VERIFIED: "已核实",
    CaseState.FILED: "已立案待派遣",
    CaseState.DISPATCHED: "已派遣待签收",
    CaseState.IN_PROGRESS: "处置中",
    CaseState.RETURN_REQUESTED: "回退申请中",
    CaseState.EXTENSION_REQUESTED: "延期申请中",
    CaseState.SUSPENSION_REQUESTED: "挂账申请中",
    CaseState.SUSPENDED: "挂账中",
    CaseState.HANDLED: "已处置待核查",
    CaseState.REWORK: "返工",
    CaseState.CHECKING: "核查中",
    CaseState.CHECKED: "核查通过待结案",
    CaseState.CLOSED: "已结案",
    CaseState.RATED: "已评价",
    CaseState.REJECTED: "不予受理",
    CaseState.VOIDED: "已作废",
}

ACTION_ZH: Mapping[Action, str] = {
    Action.REPORT: "上报",
    Action.ACCEPT: "受理",
    Action.REJECT_INVALID: "不予受理（无效）",
    Action.REJECT_DUPLICATE: "不予受理（重复）",
    Action.REQUEST_VERIFICATION: "发核实",
    Action.VERIFY_TRUE: "核实属实",
    Action.VERIFY_FALSE: "核实不属实",
    Action.FILE: "立案",
    Action.VOID: "作废",
    Action.DISPATCH: "派遣",
    Action.DEPARTMENT_ACCEPT: "签收",
    Action.RETURN_DISPATCH: "申请回退",
    Action.APPROVE_RETURN: "同意回退",
    Action.REJECT_RETURN: "驳回回退",
    Action.REQUEST_EXTENSION: "申请延期",
    Action.APPROVE_EXTENSION: "同意延期",
    Action.REJECT_EXTENSION: "驳回延期",
    Action.REQUEST_SUSPENSION: "申请挂账",
    Action.APPROVE_SUSPENSION: "同意挂账",
    Action.REJECT_SUSPENSION: "驳回挂账",
    Action.RESUME: "恢复处置",
    Action.FEED_BACK: "处置反馈",
    Action.SELF_HANDLE: "自行处置",
    Action.REQUEST_CHECK: "发核查",
    Action.CHECK_PASS: "核查通过",
    Action.CHECK_FAIL: "核查不通过（返工）",
    Action.CLOSE: "结案",
    Action.RATE: "满意度评价",
    Action.REOPEN: "重新打开",
    Action.URGE: "督办",
    Action.ESCALATE: "上报上级",
}

ROLE_ZH: Mapping[Role, str] = {
    Role.ACCEPTOR: "受理员",
    Role.SHIFT_LEADER: "值班长",
    Role.SUPERVISOR: "监督员/网格员",
    Role.DISPATCHER: "派遣员",
    Role.DEPARTMENT: "专业部门处置人员",
    Role.GRID_LEADER: "网格长",
    Role.LEADER: "领导",
    Role.CITIZEN: "公众",
}

LEVEL_ZH: Mapping[Level, str] = {
    Level.COMMUNITY: "社区",
    Level.STREET: "街道",
    Level.DISTRICT: "区",
}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: an id, the posts held, the department (handlers) and the grids covered."""

    id: str
    roles: frozenset[Role]
    department: str | None = None
    grid_ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Part:
    """One department's share of a dispatched case, with its own state and clock."""

    department: str
    state: CaseState = CaseState.DISPATCHED
    lead: bool = True
    deadline: datetime | None = None
    handler_ids: frozenset[str] = frozenset()
    extension_hours: float = 0.0
    pending_extension_hours: float | None = None
    suspensions: tuple[tuple[datetime, datetime], ...] = ()
    suspended_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class CaseSnapshot:
    """What the workflow needs to know about a case; the service loads and stores it."""

    id: str
    state: CaseState
    source: Source = Source.PATROL
    reporter_id: str | None = None
    grid_id: str | None = None
    level: Level = Level.COMMUNITY
    parts: tuple[Part, ...] = ()
    # People who handled the case themselves (小事一格解决); department handlers are on parts.
    handler_ids: frozenset[str] = frozenset()
    closed_at: datetime | None = None
    reopen_count: int = 0
    # The class's standing in the lists (None/True: unknown or allowed): 小事清单 (the grid may
    # settle it itself) and 准入清单 (it may be given to grid workers at all).
    category: str | None = None
    minor: bool = True
    admitted: bool = True

    @property
    def all_handler_ids(self) -> frozenset[str]:
        """Return everyone who handled or fed back on any part of the case."""
        ids = set(self.handler_ids)
        for part in self.parts:
            ids |= part.handler_ids
        return frozenset(ids)

    def part_for(self, department: str) -> Part | None:
        """Return the part of `department`, if it has one."""
        return next((p for p in self.parts if p.department == department), None)


@dataclass(frozen=True, slots=True)
class EventDraft:
    """The immutable event a transition appends; the service adds ids and stores it."""

    case_id: str
    action: Action
    actor_id: str
    role: Role
    at: datetime
    from_state: CaseState | None
    to_state: CaseState
    part: str | None = None
    note: str | None = None
    attachments: tuple[str, ...] = ()
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outcome:
    """Result of `apply`: the new state, the event to append and the updated snapshot."""

    new_state: CaseState
    event: EventDraft
    case: CaseSnapshot


@dataclass(frozen=True, slots=True)
class Policy:
    """Local rules of the loop; defaults follow the common practice in the standards notes."""

    feedback_needs_photos: bool = True
    onsite_photos: bool = True
    verify_own_grid_only: bool = True
    self_handle_own_grid_only: bool = True
    public_needs_verification: bool = True
    reopen_within: timedelta = timedelta(days=7)
