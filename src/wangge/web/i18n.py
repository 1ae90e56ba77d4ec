"""A small dict-based catalogue: Chinese by default, English switchable (cookie `wangge_lang`).

Chosen over Babel/gettext for now: the pages have a few hundred strings and no translator
workflow yet; the keys are the Chinese texts themselves, so a missing English entry shows
the Chinese rather than a key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

LANGS = ("zh", "en")
LANG_COOKIE = "wangge_lang"
SHANGHAI = ZoneInfo("Asia/Shanghai")

EN: dict[str, str] = {
    "网格化服务管理平台": "Grid governance platform",
    "指挥中心": "Command center",
    "地图": "Map",
    "案卷": "Cases",
    "网格管理": "Grids",
    "用户": "Users",
    "大屏": "Dashboard",
    "网格员": "Grid worker",
    "市民": "Citizens",
    "登录": "Log in",
    "退出": "Log out",
    "用户名": "Username",
    "密码": "Password",
    "登录失败": "Login failed",
    "搜索编码或地址": "Search a code or address",
    "搜索": "Search",
    "网格": "Grids",
    "单元网格": "Unit grids",
    "区划": "Divisions",
    "底图": "Base map",
    "无底图": "No base map",
    "返回上级": "Up one level",
    "图例": "Legend",
    "正常": "On time",
    "临期": "Due soon",
    "超期": "Overdue",
    "已结案": "Closed",
    "工作队列": "Work queues",
    "全部": "All",
    "编号": "Code",
    "类别": "Category",
    "状态": "State",
    "上报时间": "Reported",
    "处置时限": "Deadline",
    "地址": "Address",
    "描述": "Description",
    "来源": "Source",
    "时间轴": "Timeline",
    "照片": "Photos",
    "可执行操作": "Actions you may take",
    "没有可执行的操作": "No action available to you",
    "处置部门": "Department",
    "备注": "Note",
    "评价": "Rating",
    "提交": "Submit",
    "操作成功": "Done",
    "网格划分版本": "Grid versions",
    "图层": "Layer",
    "名称": "Name",
    "是否启用": "Active",
    "网格数": "Grids",
    "校验": "Validate",
    "比较": "Compare",
    "校验报告": "Validation report",
    "没有问题": "No problems",
    "版本差异": "Differences",
    "显示名": "Display name",
    "电话": "Phone",
    "岗位": "Posts",
    "状态正常": "Active",
    "我的网格": "My grid",
    "我的任务": "My tasks",
    "开始巡查": "Start patrol",
    "结束巡查": "Stop patrol",
    "上报问题": "Report a problem",
    "拍照": "Photo",
    "位置": "Position",
    "获取位置": "Get position",
    "离线，已存入待发送队列": "Offline: queued, will be sent when the network returns",
    "待发送": "Waiting to send",
    "已发送": "Sent",
    "核查": "Check",
    "市民随手拍": "Report a problem",
    "问题类别": "Category",
    "问题描述": "Describe the problem",
    "查询进度": "Track my report",
    "查询编码": "Tracking code",
    "查询": "Look up",
    "我的网格员": "My grid worker",
    "输入位置或使用定位": "Enter a position or use geolocation",
    "经度": "Longitude",
    "纬度": "Latitude",
    "使用我的位置": "Use my location",
    "满意": "Satisfied",
    "基本满意": "Basically satisfied",
    "不满意": "Unsatisfied",
    "重新打开": "Reopen",
    "请妥善保存查询编码": "Keep this tracking code to follow your report",
    "今日案卷": "Today's cases",
    "按时结案率": "On-time closing rate",
    "满意率": "Satisfaction",
    "按类别": "By category",
    "按来源": "By source",
    "按区域": "By area",
    "按部门": "By department",
    "案件热力": "Case heat map",
    "高发问题": "Top recurring problems",
    "近30日": "Last 30 days",
    "语言": "Language",
    "网格员公示": "Grid workers on duty",
    "责任人": "Responsible",
    "未找到网格": "No grid found here",
    "案卷详情": "Case",
    "办理期限": "Deadline",
    "部门": "Department",
    "网格编码": "Grid code",
    "无": "none",
    "上一页": "Previous",
    "下一页": "Next",
    "共": "Total",
    "条": "",
    "当前用户": "Signed in as",
}


def pick_language(cookie: str | None, query: str | None, default: str = "zh") -> str:
    """Return the page language: ?lang= first, then the cookie, then the default."""
    for cand in (query, cookie):
        if cand in LANGS:
            return cand
    return default


def translator(lang: str) -> Callable[[str], str]:
    """Return t(text) for a language; Chinese is the key and the default."""
    if lang == "en":
        return lambda text: EN.get(text, text)
    return lambda text: text


def local_time(value: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Format a UTC datetime (or ISO string) in Asia/Shanghai."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value.astimezone(SHANGHAI).strftime(fmt)
