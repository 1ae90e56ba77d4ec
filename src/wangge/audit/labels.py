"""What an audit action code means, in Chinese and English, for the audit page.

The log keeps the codes (`case.accept`, `registry.person.update`, `login.failed` …); the page
shows their names beside them. A code is named word by word (案卷·受理, 基础数据·人员·修改,
登录·失败); case actions take the case loop's own names. A code with a word not listed here is
shown as it is (None), never half-translated.
"""

from __future__ import annotations

from collections.abc import Mapping

from wangge.cases.labels import ACTION

Label = tuple[str, str]

WORDS: Mapping[str, Label] = {
    # what was acted on
    "case": ("案卷", "case"), "registry": ("基础数据", "registry"), "dispute": ("矛盾纠纷", "dispute"),
    "person": ("人员", "person"), "people": ("人员", "people"), "building": ("楼栋", "building"),
    "buildings": ("楼栋", "buildings"), "room": ("房间", "room"), "rooms": ("房间", "rooms"),
    "household": ("户", "household"), "households": ("户", "households"),
    "component": ("部件", "component"), "components": ("部件", "components"),
    "organisation": ("组织", "organisation"), "organisations": ("组织", "organisations"),
    "employer_list": ("用人单位名录", "employer list"), "grid_version": ("网格版本", "grid version"),
    "user": ("用户", "user"), "login": ("登录", "login"), "logout": ("退出登录", "logout"),
    "password": ("密码", "password"), "audit": ("审计日志", "audit log"),
    "export": ("导出", "export"), "evaluation": ("考核", "evaluation"),
    "personal": ("个人信息", "personal data"), "token": ("令牌", "token"),
    "routing_rule": ("派遣路由", "routing rule"), "role": ("角色", "role"),
    "post": ("岗位", "post"), "outbox": ("通知投递", "notification"),
    "category": ("案件类别", "category"), "catalogue": ("类别目录", "catalogue"),
    "department": ("部门", "department"), "line": ("业务条线", "business line"),
    "assignment": ("网格员配置", "grid assignment"), "division": ("行政区划", "division"),
    # what was done
    "create": ("新建", "create"), "update": ("修改", "update"), "delete": ("删除", "delete"),
    "merge": ("合并", "merge"), "verify": ("核实/校验", "verify"), "import": ("导入", "import"),
    "bulk_load": ("批量导入", "bulk load"), "activate": ("启用", "activate"),
    "ok": ("成功", "succeeded"), "failed": ("失败", "failed"), "locked": ("锁定", "locked"),
    "everywhere": ("所有设备", "everywhere"), "change": ("修改", "change"),
    "password_reset": ("重置密码", "password reset"), "view": ("查看", "view"),
    "download": ("下载", "download"), "publish": ("发布", "publish"),
    "republish": ("重新发布", "republish"), "unmask": ("查看完整信息", "unmask"),
    "callback": ("回访", "callback"), "hotline_reply": ("答复12345", "reply to 12345"),
    "register": ("登记", "register"), "session": ("调解", "mediation session"),
    "agreement": ("调解协议", "agreement"), "outcome": ("调解结果", "outcome"),
    "follow_up": ("回访", "follow-up"), "deactivate": ("停用", "deactivate"),
    "reactivate": ("恢复启用", "reactivate"), "unlock": ("解锁", "unlock"),
    "revoke": ("吊销", "revoke"), "set": ("设置", "set"), "permissions": ("权限", "permissions"),
    "assign": ("任命", "assign"), "remove": ("撤销", "remove"), "retry": ("重试", "retry"),
    "upgrade": ("升级", "upgrade"), "end": ("结束", "end"), "enable": ("启用", "enable"),
    "disable": ("停用", "disable"), "divide": ("自动划分", "divide"),
    "generate": ("生成", "generate"),
    # 代办 resident services (wangge.resident_services)
    "resident_service": ("代办", "resident service"),
    "resident_service_item": ("代办事项", "service item"), "request": ("申请", "request"),
    "take": ("接单", "take"), "handle": ("办理进展", "progress"), "close": ("办结", "close"),
    "rate": ("评价", "rate"), "reveal_contact": ("查看联系电话", "reveal contact"),
}  # fmt: skip


def action_label(code: str, lang: str = "zh") -> str | None:
    """Return the name of an audit action code, or None when a word of it is unknown."""
    i = 0 if lang == "zh" else 1
    words = code.split(".")
    if len(words) == 2 and words[0] == "case" and words[1] in ACTION:
        return f"{WORDS['case'][i]}·{ACTION[words[1]][i]}"
    if not all(w in WORDS for w in words):
        return None
    return "·".join(WORDS[w][i] for w in words)
