"""Channel routes (推送渠道) and the vocabulary of notification kinds and channels."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wangge.common.models import TimestampMixin
from wangge.db import Base

Label = tuple[str, str]  # (Chinese, English)

# The kinds of message that leave the platform, and the outbox topics that carry each.
KINDS: Mapping[str, Label] = {
    "dispatch": ("派遣", "Dispatch"),
    "warning": ("预警", "Warning"),
    "overdue": ("超期", "Overdue"),
    "urge": ("督办", "Urging"),
    "return": ("退回", "Return"),
}
TOPIC_KIND: Mapping[str, str] = {
    "case.dispatched": "dispatch",
    "case.warning": "warning",
    "case.overdue": "overdue",
    "case.urge": "urge",
    "case.return_dispatch": "return",  # a department asks to give the case back
    "case.check_fail": "return",  # the centre sends the work back for rework (退回重办)
}
# Channels of the outbox; the external ones are configured per route.
CHANNELS: Mapping[str, Label] = {
    "in_app": ("站内信", "In-app"),
    "webhook": ("Webhook", "Webhook"),
    "wecom": ("企业微信群机器人", "WeCom group robot"),
    "dingtalk": ("钉钉群机器人", "DingTalk group robot"),
    "sms": ("短信", "SMS"),
    "hotline": ("12345热线平台", "12345 hotline platform"),
}
ROUTE_CHANNELS = ("wecom", "dingtalk", "sms")
STATUSES: Mapping[str, Label] = {
    "pending": ("待投递", "Pending"),
    "sent": ("已送达", "Sent"),
    "dead": ("投递失败", "Failed (dead letter)"),
}


class NotificationRoute(TimestampMixin, Base):
    """A county centre's (department NULL) or a department's robot or SMS channel.

    The webhook URL (its key or access token) and DingTalk's signing secret are secrets: the
    row names them (`url_ref`, `sign_ref`) and `WANGGE_NOTIFY_SECRETS` holds them.
    """

    __tablename__ = "notification_routes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # wecom | dingtalk | sms
    url_ref: Mapped[str | None] = mapped_column(String(64))
    sign_ref: Mapped[str | None] = mapped_column(String(64))
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: all five
    name: Mapped[str] = mapped_column(String(100))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    def wants(self, kind: str) -> bool:
        """Return True when this route carries messages of the kind."""
        return self.is_active and (not self.kinds or kind in self.kinds)
