"""Vocabulary of the case loop: states, actions, roles, the case snapshot and the event draft.

Pure data: no database, web or clock. The transitions table that ties these together lives in
`wangge.cases.workflow`; the database tables are in `wangge.cases.models`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from wangge.cases import labels


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


# The states of a case whose departments are handling it: their part clocks may run.
HANDLING: frozenset[CaseState] = frozenset(
    {
        CaseState.DISPATCHED,
        CaseState.IN_PROGRESS,
        CaseState.RETURN_REQUESTED,
        CaseState.EXTENSION_REQUESTED,
        CaseState.SUSPENSION_REQUESTED,
        CaseState.SUSPENDED,
        CaseState.REWORK,
    }
)
# The loop is over: no stage runs and no department works on it (only a rating or a
# reopening can still follow, see workflow.TRANSITIONS).
FINAL: frozenset[CaseState] = frozenset(
    {CaseState.CLOSED, CaseState.RATED, CaseState.REJECTED, CaseState.VOIDED}
)
# The values, for SQL (`Case.state.not_in(FINAL_VALUES)`).
FINAL_VALUES: tuple[str, ...] = tuple(sorted(s.value for s in FINAL))
# Solved (结案): closed, and perhaps rated since.
SOLVED: frozenset[CaseState] = frozenset({CaseState.CLOSED, CaseState.RATED})


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
    VIDEO_SUPERVISOR = "video_supervisor"  # 视频监督员: raises cases from the cameras


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


# Chinese labels for messages and reports; both languages live in `wangge.cases.labels`.
STATE_ZH: Mapping[CaseState, str] = {s: labels.STATE[s][0] for s in CaseState}
ACTION_ZH: Mapping[Action, str] = {a: labels.ACTION[a][0] for a in Action}
ROLE_ZH: Mapping[Role, str] = {r: labels.ROLE[r][0] for r in Role}
LEVEL_ZH: Mapping[Level, str] = {lv: labels.LEVEL[lv][0] for lv in Level}


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
