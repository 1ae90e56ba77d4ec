"""Delivery of replies to the 12345 platform: a JSON POST to the county's hotline webhook.

The URL (with whatever token the platform put in it) is a secret: `WANGGE_NOTIFY_SECRETS`
holds it under `hotline12345.<county code>` or, for every county, `hotline12345`. The body is
the message's own (`intake.service.hotline_payload`): work-order number, kind, result and
text. A 2xx answer is delivered; anything else is retried with back-off, then a dead letter,
like every outbox message.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from sqlalchemy.orm import Session

from wangge.cases.models import OutboxMessage
from wangge.cases.outbox import ChannelError

SECRET = "hotline12345"


class HotlineChannel:
    """POST replies to the 12345 platform's webhook."""

    def __init__(self, secrets: Mapping[str, str], *, timeout: float = 10.0) -> None:
        self.secrets, self.timeout = secrets, timeout

    def url(self, county_code: str | None) -> str:
        """Return the county's webhook URL, or raise (a dead letter names the missing secret)."""
        for name in (f"{SECRET}.{county_code}", SECRET):
            value = self.secrets.get(name)
            if value:
                return value
        raise ChannelError(f"secret {SECRET!r} is not in WANGGE_NOTIFY_SECRETS")

    def send(self, message: OutboxMessage, session: Session) -> None:
        """Post the reply; the platform deduplicates by `reply_id`."""
        body = {k: v for k, v in message.body.items() if k != "title"}
        try:
            response = httpx.post(
                self.url(message.county_code), json=body, timeout=self.timeout,
                headers={"Idempotency-Key": f"hotline-reply-{body.get('reply_id')}"},
            )  # fmt: skip
        except httpx.HTTPError as exc:  # worded by us: httpx's text may quote the URL
            raise ChannelError(f"{exc.__class__.__name__} posting to the 12345 platform") from None
        if not response.is_success:
            raise ChannelError(f"HTTP {response.status_code} from the 12345 platform")
