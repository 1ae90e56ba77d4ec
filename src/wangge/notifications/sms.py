"""SMS through a pluggable gateway; Alibaba Cloud SMS (阿里云短信 SendSms) is the one shipped.

A gateway sends one templated message to a list of mobiles. Carriers in China deliver only
pre-approved templates with a registered signature (签名), so the platform sends variables,
not free text: `${kind}` (派遣, 预警, ...) and `${code}` (the case code), never personal data.
Numbers come from the existing data at delivery time (never stored in the outbox): the
department's handlers and duty phone, or the county centre's dispatchers and shift leaders.
They are logged masked (138****1234), and the gateway's secret never leaves the signature.

Aliyun `SendSms` (dysmsapi, version 2017-05-25) in the RPC style, signature version 1.0:
StringToSign = METHOD & percent("/") & percent(sorted canonical query), signature =
base64(HMAC-SHA1(key = AccessKeySecret + "&")), percent-encoding per RFC 3986 (space → %20,
`*` → %2A, `~` kept), https://help.aliyun.com/document_detail/25490.html (Aliyun now
recommends its V3 signature for new code; V1/RPC is still served) and the SendSms reference
https://help.aliyun.com/zh/sms/developer-reference/api-dysmsapi-2017-05-25-sendsms. The
published example (testId/testSecret → zJDF+Lrzhj/ThnlvIToysFRq6t4=) is checked in
tests/unit/test_notification_formats.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import quote

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.auth.models import Post, User
from wangge.cases.models import OutboxMessage
from wangge.cases.outbox import ChannelError
from wangge.common.masking import mask_phone
from wangge.departments.models import Department
from wangge.notifications.recipients import CENTRE_ROLES, centre_of, department_of
from wangge.notifications.text import sms_params

log = logging.getLogger("wangge.notifications")
ALIYUN_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
_MOBILE = re.compile(r"1[3-9]\d{9}")


class SmsGateway(Protocol):
    """Send one templated SMS to some mobiles; raise `ChannelError` on failure."""

    def send(self, phones: Sequence[str], params: Mapping[str, str], *, out_id: str) -> str:
        """Send and return the gateway's id of the submission."""


def percent(value: str) -> str:
    """Percent-encode as RFC 3986 and Aliyun's signature need it."""
    return quote(value, safe="~")


def rpc_signature(secret: str, params: Mapping[str, str], method: str = "POST") -> str:
    """Return the Aliyun RPC signature (version 1.0, HMAC-SHA1) of the request parameters."""
    canonical = "&".join(f"{percent(k)}={percent(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{percent('/')}&{percent(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class AliyunSms:
    """Alibaba Cloud SMS `SendSms`, posted as a signed form (nothing secret in the URL)."""

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        template_code: str,
        *,
        endpoint: str = ALIYUN_ENDPOINT,
        region: str = "cn-hangzhou",
        timeout: float = 5.0,
    ) -> None:
        self.key_id, self._secret = access_key_id, access_key_secret
        self.sign_name, self.template_code = sign_name, template_code
        self.endpoint, self.region, self.timeout = endpoint, region, timeout

    def request(
        self,
        phones: Sequence[str],
        params: Mapping[str, str],
        *,
        out_id: str,
        timestamp: datetime | None = None,
        nonce: str | None = None,
    ) -> dict[str, str]:
        """Return the signed form fields of one SendSms call."""
        at = (timestamp or datetime.now(UTC)).astimezone(UTC)
        fields = {
            "AccessKeyId": self.key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "OutId": out_id,
            "PhoneNumbers": ",".join(phones),
            "RegionId": self.region,
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce or uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": self.template_code,
            "TemplateParam": json.dumps(dict(params), ensure_ascii=False, separators=(",", ":")),
            "Timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        return {**fields, "Signature": rpc_signature(self._secret, fields, "POST")}

    def send(self, phones: Sequence[str], params: Mapping[str, str], *, out_id: str) -> str:
        """Post SendSms; anything but `"Code": "OK"` is a failure."""
        form = self.request(phones, params, out_id=out_id)
        try:
            response = httpx.post(self.endpoint, data=form, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise ChannelError(f"{exc.__class__.__name__} posting to the SMS gateway") from None
        try:
            data = response.json()
        except ValueError:
            raise ChannelError(f"SMS gateway HTTP {response.status_code}, not JSON") from None
        if not isinstance(data, dict) or data.get("Code") != "OK":
            code = data.get("Code") if isinstance(data, dict) else None
            message = str(data.get("Message", ""))[:200] if isinstance(data, dict) else ""
            raise ChannelError(f"SMS gateway HTTP {response.status_code}, {code}: {message}")
        return str(data.get("BizId", ""))


def mobile(value: str | None) -> str | None:
    """Return the 11-digit mobile in a phone field (spaces, dashes, +86 dropped), else None."""
    digits = re.sub(r"[\s\-()]", "", value or "").removeprefix("+86").removeprefix("0086")
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits if _MOBILE.fullmatch(digits) else None


def phones_for(session: Session, recipient: str) -> list[str]:
    """Return the mobiles behind a recipient, as the in-app inbox would reach the same people."""
    found: list[str | None] = []
    users = select(User.phone).join(Post, Post.user_id == User.id).where(User.is_active)
    dept = department_of(recipient)
    centre = centre_of(recipient)
    if dept is not None:
        found += session.scalars(users.where(Post.department_code == dept).order_by(User.id))
        found.append(session.scalar(select(Department.duty_phone).where(Department.code == dept)))
    elif centre is not None:
        found += session.scalars(
            users.where(
                Post.role_code.in_(sorted(CENTRE_ROLES)), Post.scope_prefix == centre
            ).order_by(User.id)
        )
    elif recipient.isdigit():
        found.append(session.scalar(select(User.phone).where(User.id == int(recipient))))
    return list(dict.fromkeys(m for m in map(mobile, found) if m))


class SmsChannel:
    """Send an outbox message as the deployment's SMS template through a gateway."""

    def __init__(self, gateway: SmsGateway) -> None:
        self.gateway = gateway

    def send(self, message: OutboxMessage, session: Session) -> None:
        """Resolve the recipient's mobiles now and send one templated SMS to them."""
        phones = phones_for(session, message.recipient)
        if not phones:
            raise ChannelError(f"no mobile number for {message.recipient}")
        self.gateway.send(phones, sms_params(message), out_id=str(message.id))
        log.info(
            "sms for message %s sent to %s",
            message.id,
            ", ".join(mask_phone(p) or "" for p in phones),
        )
