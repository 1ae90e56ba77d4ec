"""The intake vocabulary and its checks (PURE): channels, phone and 工单号 formats, 回访, replies.

A channel belongs to one case source: the caller channels (12345热线, 窗口来访, 来信) to
`hotline` (a public report, verified on site), the video channels to `video`. Only a caller
channel carries a caller, only 12345热线 a work-order number, only a video channel a camera.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from wangge.errors import ValidationFailed

Label = tuple[str, str]  # (Chinese, English)

CHANNELS: Mapping[str, Label] = {
    "hotline_12345": ("12345热线", "12345 hotline"),
    "counter": ("窗口来访", "Counter visit"),
    "letter": ("来信", "Letter"),
    "video": ("视频监控", "Video surveillance"),
    "video_ai": ("视频智能分析", "Video analytics"),
}
CALLER_CHANNELS = frozenset({"hotline_12345", "counter", "letter"})
VIDEO_CHANNELS = frozenset({"video", "video_ai"})
CHANNEL_SOURCE: Mapping[str, str] = {
    **{c: "hotline" for c in CALLER_CHANNELS},
    **{c: "video" for c in VIDEO_CHANNELS},
}
SATISFACTION: Mapping[str, Label] = {
    "satisfied": ("满意", "Satisfied"),
    "basic": ("基本满意", "Fairly satisfied"),
    "unsatisfied": ("不满意", "Not satisfied"),
}
REPLY_KINDS: Mapping[str, Label] = {
    "progress": ("过程反馈", "Progress report"),
    "final": ("办结回复", "Final reply"),
}
# What the final reply tells the 12345 platform; a progress report is always `in_progress`.
REPLY_RESULTS: Mapping[str, Label] = {
    "resolved": ("已办结", "Resolved"),
    "explained": ("已解释说明", "Explained to the caller"),
    "unable": ("无法办理", "Cannot be handled"),
    "in_progress": ("办理中", "In progress"),
}
FINAL_RESULTS = ("resolved", "explained", "unable")
# The 12345 platform's layout is not fixed nationwide: a letter or digit first, then letters,
# digits or dashes, 6-32 in all (e.g. GD20261207000123, 2026-1207-0001).
WORK_ORDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{5,31}")
# A mobile (11 digits, 1[3-9]…, optional +86) or a landline with its area code and an
# optional extension (010-62880101, 0512-6523 4567, 0755-12345678-801).
_MOBILE = re.compile(r"(?:\+?86)?1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{2,3}\d{7,8}(?:[-转#]\d{1,6})?")
_SEPARATORS = re.compile(r"[\s\-()（）]")


def channel_label(code: str | None, lang: str = "zh") -> str:
    """Return a channel's name in the language (the code itself if unknown)."""
    pair = CHANNELS.get(code or "")
    return (pair[1] if lang == "en" else pair[0]) if pair else (code or "")


def normalize_phone(value: str) -> str:
    """Return the phone number in one spelling (no spaces or brackets), or raise 422."""
    text = value.strip()
    ext = ""
    match = re.search(r"([-转#]\d{1,6})$", text)
    if match and not _MOBILE.fullmatch(_SEPARATORS.sub("", text)):
        head = _SEPARATORS.sub("", text[: match.start()])
        if _LANDLINE.fullmatch(head):
            ext, text = match.group(1), text[: match.start()]
    digits = _SEPARATORS.sub("", text)
    if _MOBILE.fullmatch(digits):
        return digits
    if _LANDLINE.fullmatch(digits):
        cut = 3 if digits[1] in "12" else 4  # 010 and 02x have three-digit area codes
        return f"{digits[:cut]}-{digits[cut:]}{ext}"
    raise ValidationFailed(
        "来电号码格式不正确：应为11位手机号或带区号的固定电话",
        "caller_phone: expected an 11-digit mobile number or a landline with its area code",
        code="bad_phone",
        field="caller_phone",
    )


def check_work_order(value: str) -> str:
    """Return the stripped 12345 work-order number, or raise 422 naming the format."""
    text = value.strip()
    if not WORK_ORDER.fullmatch(text):
        raise ValidationFailed(
            "工单号格式不正确：6-32位字母、数字或“-”，以字母或数字开头",
            "work_order_no: 6-32 letters, digits or dashes, starting with a letter or digit",
            code="bad_work_order_no",
            field="work_order_no",
        )
    return text


def _refuse(zh: str, en: str, code: str, field: str) -> ValidationFailed:
    return ValidationFailed(zh, en, code=code, field=field)


def check_combination(
    channel: str,
    *,
    caller: bool,
    work_order: bool,
    camera: bool,
    external_id: bool,
) -> None:
    """Refuse details the channel does not carry (a caller on a video case, a camera on a call)."""
    if channel not in CHANNELS:
        allowed = "、".join(f"{k}（{v[0]}）" for k, v in CHANNELS.items())
        raise _refuse(
            f"受理渠道 {channel!r} 不存在，可用：{allowed}",
            f"channel {channel!r} is unknown; allowed: {', '.join(CHANNELS)}",
            "unknown_channel", "channel",
        )  # fmt: skip
    if caller and channel not in CALLER_CHANNELS:
        raise _refuse(
            "只有12345热线、窗口来访或来信的案卷可以登记来电人姓名和电话",
            "caller name and phone are taken only on hotline, counter or letter intake",
            "caller_needs_hotline_channel", "caller_phone",
        )  # fmt: skip
    if work_order and channel != "hotline_12345":
        raise _refuse(
            "只有12345热线的案卷有工单号",
            "work_order_no is taken only on the 12345 hotline channel",
            "work_order_needs_hotline", "work_order_no",
        )  # fmt: skip
    if channel in VIDEO_CHANNELS and not camera:
        raise _refuse(
            "视频发现的案卷须指明摄像头编号",
            "camera_key is required on the video channels",
            "camera_required", "camera_key",
        )  # fmt: skip
    if camera and channel not in VIDEO_CHANNELS:
        raise _refuse(
            "只有视频渠道的案卷可以指明摄像头",
            "camera_key is taken only on the video channels",
            "camera_needs_video_channel", "camera_key",
        )  # fmt: skip
    if external_id and channel != "video_ai":
        raise _refuse(
            "外部事件编号只用于视频智能分析",
            "external_event_id is taken only on the video analytics channel",
            "external_id_needs_video_ai", "external_event_id",
        )  # fmt: skip


def check_source(channel: str, source: str) -> None:
    """Refuse a case whose source does not match its channel (a 12345 call reported as patrol)."""
    expected = CHANNEL_SOURCE[channel]
    if source != expected:
        raise _refuse(
            f"受理渠道“{CHANNELS[channel][0]}”的案卷来源（source）应为 {expected}，而不是 {source}",
            f"field source: the {CHANNELS[channel][1]} channel reports through {expected!r}, "
            f"not {source!r}",
            "channel_source_mismatch", "source",
        )  # fmt: skip


def check_callback(reached: bool, satisfaction: str | None) -> None:
    """A caller who was not reached gave no satisfaction; one who was reached gave one."""
    if satisfaction is not None and satisfaction not in SATISFACTION:
        raise _refuse(
            f"满意度 {satisfaction!r} 不存在，可用：满意 satisfied、基本满意 basic、不满意 unsatisfied",
            f"satisfaction {satisfaction!r} is unknown; allowed: {', '.join(SATISFACTION)}",
            "unknown_satisfaction", "satisfaction",
        )  # fmt: skip
    if not reached and satisfaction is not None:
        raise _refuse(
            "未联系上来电人时不能记录满意度",
            "satisfaction cannot be recorded when the caller was not reached",
            "satisfaction_without_contact", "satisfaction",
        )  # fmt: skip
    if reached and satisfaction is None:
        raise _refuse(
            "联系上来电人时须记录满意度",
            "satisfaction is required when the caller was reached",
            "satisfaction_required", "satisfaction",
        )  # fmt: skip


def check_reply(kind: str, result: str | None) -> str:
    """Return the reply's result: `in_progress` for a progress report, one of the finals else."""
    if kind not in REPLY_KINDS:
        raise _refuse(
            f"回复类型 {kind!r} 不存在，可用：progress（过程反馈）、final（办结回复）",
            f"kind {kind!r} is unknown; allowed: progress, final",
            "unknown_reply_kind", "kind",
        )  # fmt: skip
    if kind == "progress":
        if result not in (None, "in_progress"):
            raise _refuse(
                "过程反馈的办理结果只能是“办理中”",
                "a progress report's result is in_progress",
                "bad_reply_result", "result",
            )  # fmt: skip
        return "in_progress"
    if result not in FINAL_RESULTS:
        raise _refuse(
            "办结回复须选择办理结果：已办结 resolved、已解释说明 explained、无法办理 unable",
            f"result of a final reply: one of {', '.join(FINAL_RESULTS)}",
            "bad_reply_result", "result",
        )  # fmt: skip
    return result
