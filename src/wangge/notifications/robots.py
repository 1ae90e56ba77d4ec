"""Group robots: 企业微信 (WeCom) and 钉钉 (DingTalk) custom-robot webhooks.

Both take a JSON POST and answer `{"errcode": 0, "errmsg": "ok"}`; any other errcode is a
failure (retried, then a dead letter). Formats as published:

- WeCom 群机器人: POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY with
  `{"msgtype": "markdown", "markdown": {"content": "..."}}` (content at most 4096 bytes).
  https://developer.work.weixin.qq.com/document/path/91770
- DingTalk 自定义机器人: POST https://oapi.dingtalk.com/robot/send?access_token=TOKEN with
  `{"msgtype": "markdown", "markdown": {"title": "...", "text": "..."}}`; with 加签 the URL
  also carries `timestamp` (ms) and `sign` = urlencode(base64(HMAC-SHA256(key=secret,
  msg=f"{timestamp}\\n{secret}"))). https://open.dingtalk.com/document/robots/customize-robot-security-settings

The key, token and signing secret are secrets: a route names them, `WANGGE_NOTIFY_SECRETS`
holds them, and no error or log line quotes the URL that carries them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote_plus

import httpx
from sqlalchemy.orm import Session

from wangge.cases.models import OutboxMessage
from wangge.cases.outbox import ChannelError
from wangge.notifications import text
from wangge.notifications.models import NotificationRoute

WECOM_SEND = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key="
DINGTALK_SEND = "https://oapi.dingtalk.com/robot/send?access_token="


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """Return DingTalk's `sign` (base64 of the HMAC-SHA256), before URL encoding."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def read_errcode(response: httpx.Response) -> None:
    """Raise unless the robot answered errcode 0 (the HTTP status alone says little)."""
    try:
        data = response.json()
    except ValueError:
        raise ChannelError(f"HTTP {response.status_code}, answer is not JSON") from None
    code = data.get("errcode") if isinstance(data, dict) else None
    if code != 0:
        message = str(data.get("errmsg", "")) if isinstance(data, dict) else ""
        raise ChannelError(f"HTTP {response.status_code}, errcode {code}: {message[:200]}")


class RobotChannel:
    """Post a message to the group robot of its route."""

    base = ""

    def __init__(
        self,
        secrets: Mapping[str, str],
        *,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secrets, self.timeout, self.clock = secrets, timeout, clock

    def secret(self, ref: str | None) -> str:
        """Return a named secret; its absence is a configuration error worth a dead letter."""
        value = self.secrets.get(ref or "")
        if not value:
            raise ChannelError(f"secret {ref!r} is not in WANGGE_NOTIFY_SECRETS")
        return value

    def url(self, route: NotificationRoute) -> str:
        """Return the webhook URL: the secret itself, or the key appended to the robot API."""
        value = self.secret(route.url_ref)
        return value if value.startswith(("http://", "https://")) else self.base + value

    def payload(self, message: OutboxMessage) -> dict[str, Any]:
        raise NotImplementedError

    def send(self, message: OutboxMessage, session: Session) -> None:
        """Post the message and read the robot's errcode."""
        route = session.get(NotificationRoute, message.route_id) if message.route_id else None
        if route is None:
            raise ChannelError("the message's route no longer exists")
        try:
            response = httpx.post(self.url(route), json=self.payload(message), timeout=self.timeout)
        except httpx.HTTPError as exc:  # worded by us: httpx's text may quote the URL
            raise ChannelError(f"{exc.__class__.__name__} posting to the robot") from None
        read_errcode(response)


class WeComRobot(RobotChannel):
    """企业微信群机器人: markdown message."""

    base = WECOM_SEND

    def payload(self, message: OutboxMessage) -> dict[str, Any]:
        return {"msgtype": "markdown", "markdown": {"content": text.markdown(message)}}


class DingTalkRobot(RobotChannel):
    """钉钉自定义机器人: markdown message, signed when the route names a signing secret."""

    base = DINGTALK_SEND

    def url(self, route: NotificationRoute) -> str:
        url = super().url(route)
        if not route.sign_ref:
            return url
        timestamp = int(self.clock() * 1000)
        sign = quote_plus(dingtalk_sign(self.secret(route.sign_ref), timestamp))
        return f"{url}&timestamp={timestamp}&sign={sign}"

    def payload(self, message: OutboxMessage) -> dict[str, Any]:
        return {
            "msgtype": "markdown",
            "markdown": {"title": text.headline(message)[:64], "text": text.markdown(message)},
        }
