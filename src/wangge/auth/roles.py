"""Default roles and what they may do; admins can change them (they are rows in `roles`)."""

from __future__ import annotations

READ = ["divisions.read", "grids.read", "cases.read", "registry.read", "departments.read"]

DEFAULT_ROLES: dict[str, tuple[str, list[str]]] = {
    "admin": ("系统管理员", ["*"]),
    # cases.intake: the 受理登记 page (hotline, counter, letter and camera reports).
    "acceptor": ("受理员", [*READ, "cases.act", "cases.intake"]),
    "shift_leader": ("值班长", [*READ, "cases.act"]),
    "dispatcher": ("派遣员", [*READ, "cases.act"]),
    "supervisor": (
        "监督员/网格员",
        [*READ, "cases.act", "cases.report", "patrol.*", "registry.write"],
    ),
    # 网格长 looks after the special groups of his grid (GB/T 31000), so he sees their labels.
    "grid_leader": (
        "网格长",
        [*READ, "cases.act", "cases.report", "patrol.*", "registry.write", "personal.special"],
    ),
    "department": ("专业部门处置人员", ["divisions.read", "grids.read", "cases.read", "cases.act"]),
    "leader": ("领导（只读）", [*READ, "cases.act", "evaluation.read"]),
    "citizen": ("公众", ["cases.report"]),
    # 审计员 reads the audit log (and exports it) and nothing else; without an area he reads
    # every account's acts (auth.service.WHOLE_TERRITORY_ROLES).
    "auditor": ("审计员", ["audit.read"]),
    # 视频监督员 watches the cameras and raises cases from them (source video); no loop actions.
    "video_supervisor": ("视频监督员", [*READ, "cases.report", "cases.intake"]),
}
