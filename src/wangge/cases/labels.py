"""Display labels of the case vocabulary, in Chinese and English: the one table.

Every page, script, report and message that shows a case state (of a case or of one
department's part), an action, a role, a source (channel), a timed stage, a work queue, a
level, a rating, a time light or a component state takes its words from here, so one code
never reads two ways. Keys are the stored codes; the enums of `wangge.cases.vocabulary` are
`StrEnum`s, so a member looks up like its value. Pure data: `vocabulary.py` derives its Chinese
tables from this module, not the reverse.
"""

from __future__ import annotations

from collections.abc import Mapping

Label = tuple[str, str]  # (Chinese, English)

STATE: Mapping[str, Label] = {
    "reported": ("已上报", "Reported"),
    "accepted": ("已受理", "Accepted"),
    "verifying": ("核实中", "Being verified"),
    "verified": ("已核实", "Verified"),
    "filed": ("已立案待派遣", "Filed, to dispatch"),
    "dispatched": ("已派遣待签收", "Dispatched, to sign for"),
    "in_progress": ("处置中", "In progress"),
    "return_requested": ("回退申请中", "Return requested"),
    "extension_requested": ("延期申请中", "Extension requested"),
    "suspension_requested": ("挂账申请中", "Suspension requested"),
    "suspended": ("挂账中", "Suspended"),
    "handled": ("已处置待核查", "Handled, to check"),
    "rework": ("返工", "Rework"),
    "checking": ("核查中", "Being checked"),
    "checked": ("核查通过待结案", "Checked, to close"),
    "closed": ("已结案", "Closed"),
    "rated": ("已评价", "Rated"),
    "rejected": ("不予受理", "Rejected"),
    "voided": ("已作废", "Voided"),
}

ACTION: Mapping[str, Label] = {
    "report": ("上报", "Report"),
    "accept": ("受理", "Accept"),
    "reject_invalid": ("不予受理（无效）", "Reject (invalid)"),
    "reject_duplicate": ("不予受理（重复）", "Reject (duplicate)"),
    "request_verification": ("发核实", "Send to verify"),
    "verify_true": ("核实属实", "Verified as true"),
    "verify_false": ("核实不属实", "Verified as untrue"),
    "file": ("立案", "File"),
    "void": ("作废", "Void"),
    "dispatch": ("派遣", "Dispatch"),
    "department_accept": ("签收", "Sign for"),
    "return_dispatch": ("申请回退", "Request return"),
    "approve_return": ("同意回退", "Approve return"),
    "reject_return": ("驳回回退", "Refuse return"),
    "request_extension": ("申请延期", "Request extension"),
    "approve_extension": ("同意延期", "Approve extension"),
    "reject_extension": ("驳回延期", "Refuse extension"),
    "request_suspension": ("申请挂账", "Request suspension"),
    "approve_suspension": ("同意挂账", "Approve suspension"),
    "reject_suspension": ("驳回挂账", "Refuse suspension"),
    "resume": ("恢复处置", "Resume"),
    "feed_back": ("处置反馈", "Report the work done"),
    "self_handle": ("自行处置", "Handle it yourself"),
    "request_check": ("发核查", "Send to check"),
    "check_pass": ("核查通过", "Check passed"),
    "check_fail": ("核查不通过（返工）", "Check failed (rework)"),
    "close": ("结案", "Close"),
    "rate": ("满意度评价", "Rate"),
    "reopen": ("重新打开", "Reopen"),
    "urge": ("督办", "Urge"),
    "escalate": ("上报上级", "Escalate"),
}

# The posts of the loop, the administrator and the auditor (roles of accounts, not of the loop).
ROLE: Mapping[str, Label] = {
    "acceptor": ("受理员", "Acceptor"),
    "shift_leader": ("值班长", "Shift leader"),
    "supervisor": ("监督员/网格员", "Supervisor / grid worker"),
    "dispatcher": ("派遣员", "Dispatcher"),
    "department": ("专业部门处置人员", "Department handler"),
    "grid_leader": ("网格长", "Grid leader"),
    "leader": ("领导", "Leader"),
    "citizen": ("公众", "Public"),
    "auditor": ("审计员", "Auditor"),
    "video_supervisor": ("视频监督员", "Video supervisor"),
    "admin": ("系统管理员", "Administrator"),
}

SOURCE: Mapping[str, Label] = {
    "patrol": ("巡查上报", "Patrol report"),
    "video": ("视频发现", "Video"),
    "hotline": ("热线", "Hotline"),
    "online": ("网上/随手拍", "Online / snapshot"),
    "department": ("部门上报", "Department report"),
}

# The timed stages of `wangge.cases.limits.Stage` and the two promises of the response rules.
STAGE: Mapping[str, Label] = {
    "respond": ("首次答复（上报→受理或不予受理）", "First answer (report → accepted or refused)"),
    "solve": ("办结（上报→结案）", "Solved (report → closed)"),
    "accept": ("受理阶段", "Accept stage"),
    "verify": ("核实阶段", "Verify stage"),
    "file": ("立案阶段", "File stage"),
    "dispatch": ("派遣阶段", "Dispatch stage"),
    "handle": ("处置阶段", "Handling stage"),
    "check": ("核查阶段", "Check stage"),
    "close": ("结案阶段", "Close stage"),
}

# The work queues of `wangge.cases.worklist.QUEUE_ACTIONS`, the overdue view and the whole list.
QUEUE: Mapping[str, Label] = {
    "to_accept": ("待受理", "To accept"),
    "to_verify": ("待核实", "To verify"),
    "to_file": ("待立案", "To file"),
    "to_dispatch": ("待派遣", "To dispatch"),
    "to_sign": ("待签收", "To sign for"),
    "in_progress": ("处置中", "In progress"),
    "to_handle": ("待处置", "To handle"),
    "to_check": ("待核查", "To check"),
    "to_close": ("待结案", "To close"),
    "overdue": ("超期", "Overdue"),
    "all": ("全部", "All"),
}

LEVEL: Mapping[str, Label] = {
    "community": ("社区", "Community"),
    "street": ("街道", "Street"),
    "district": ("区", "District"),
}

SATISFACTION: Mapping[str, Label] = {
    "satisfied": ("满意", "Satisfied"),
    "basically_satisfied": ("基本满意", "Basically satisfied"),
    "unsatisfied": ("不满意", "Unsatisfied"),
}

# Time lights of a case or a deadline.
LIGHT: Mapping[str, Label] = {
    "green": ("正常", "On time"),
    "yellow": ("即将超期", "Due soon"),
    "red": ("超期", "Overdue"),
}

# Component (部件) states are stored as their Chinese names (GB/T 30428.2 practice).
COMPONENT_STATE: Mapping[str, Label] = {
    "完好": ("完好", "Intact"),
    "破损": ("破损", "Damaged"),
    "丢失": ("丢失", "Missing"),
    "占用": ("占用", "Occupied"),
    "废弃": ("废弃", "Abandoned"),
}

KINDS: Mapping[str, Mapping[str, Label]] = {
    "state": STATE,
    "action": ACTION,
    "role": ROLE,
    "source": SOURCE,
    "stage": STAGE,
    "queue": QUEUE,
    "level": LEVEL,
    "satisfaction": SATISFACTION,
    "light": LIGHT,
    "component_state": COMPONENT_STATE,
}


def label(kind: str, code: str | None, lang: str = "zh") -> str:
    """Return the label of a code in a language ("zh" or "en"); an unknown code as it is."""
    if code is None:
        return ""
    pair = KINDS[kind].get(code)
    if pair is None:
        return str(code)
    return pair[1] if lang == "en" else pair[0]


def labels(lang: str) -> dict[str, dict[str, str]]:
    """Return every kind's {code: label} in one language (what the pages' scripts look up)."""
    i = 1 if lang == "en" else 0
    return {kind: {code: pair[i] for code, pair in table.items()} for kind, table in KINDS.items()}


def zh_table(kind: str) -> dict[str, str]:
    """Return {code: Chinese label} of a kind (for the Chinese-only reports and messages)."""
    return {code: pair[0] for code, pair in KINDS[kind].items()}
