"""Request and response bodies of the intake: a report's intake details, 回访, replies, video events."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from wangge.common.schemas import InputModel


class IntakeIn(InputModel):
    """How a report came in (`intake` of `POST /api/v1/cases`); checked with the case's source."""

    channel: str = Field(
        max_length=16,
        description="受理渠道: hotline_12345 (12345热线), counter (窗口来访), letter (来信), "
        "video (视频监控); video analytics events use POST /api/v1/video-events",
    )
    work_order_no: str | None = Field(
        default=None,
        max_length=32,
        description="12345 工单号 (hotline_12345 only; unique per county)",
    )
    caller_name: str | None = Field(
        default=None, max_length=50, description="来电人 (masked on read)"
    )
    caller_phone: str | None = Field(
        default=None, max_length=32, description="联系电话: mobile or landline (masked on read)"
    )
    camera_key: str | None = Field(
        default=None,
        max_length=100,
        description="摄像头编号 (video only); the case takes its position",
    )


class CallbackIn(InputModel):
    """A 回访: was the caller reached, how satisfied, a note."""

    reached: bool
    satisfaction: str | None = Field(
        default=None, max_length=16, description="satisfied | basic | unsatisfied (reached only)"
    )
    note: str | None = Field(default=None, max_length=2000)


class ReplyIn(InputModel):
    """A reply to the 12345 platform: a progress report at any time, the final one once closed."""

    kind: str = Field(default="final", max_length=16, description="progress | final")
    result: str | None = Field(
        default=None, max_length=16, description="final: resolved | explained | unable"
    )
    text: str = Field(min_length=1, max_length=2000, description="答复内容 sent to 12345")


class VideoEventIn(InputModel):
    """An event of a video-analytics platform: camera, category, time, snapshot, its own id."""

    camera_key: str = Field(min_length=1, max_length=100)
    category_code: str = Field(min_length=1, max_length=16)
    event_at: datetime = Field(description="when the camera saw it (with time zone)")
    external_id: str = Field(
        min_length=1, max_length=64, description="the platform's event id (idempotency)"
    )
    snapshot: str | None = Field(
        default=None, max_length=200, description="an upload reference /api/v1/uploads/<id>"
    )
    description: str | None = Field(default=None, max_length=2000)
    county_code: str | None = Field(
        default=None, min_length=6, max_length=6, description="when a key exists in two counties"
    )


class VideoEventRead(BaseModel):
    """What became of an event: a new case, or the open case of the same camera and category."""

    event_id: int
    external_id: str
    case_id: int | None
    case_code: str | None
    opened_case: bool
    event_count: int
    last_event_at: datetime | None
    repeated: bool = False  # the same external id was posted before: nothing was changed
