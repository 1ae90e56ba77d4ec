"""The words an outbox message goes out with: a headline, markdown for robots, SMS parameters.

Notes are typed by people and may hold a phone or ID number: they leave masked. A group chat
is not the place for personal data.
"""

from __future__ import annotations

from wangge.cases.models import OutboxMessage
from wangge.common.localtime import local_time
from wangge.common.masking import scrub
from wangge.notifications.models import KINDS, TOPIC_KIND

NOTE_CHARS = 300
# WeCom refuses markdown over 4096 bytes; leave room for the lines around the note.
MAX_BYTES = 3800


def kind_label(message: OutboxMessage) -> str:
    """Return the Chinese name of the message's kind (派遣, 预警, ...), or its topic."""
    kind = TOPIC_KIND.get(message.topic)
    return KINDS[kind][0] if kind else message.topic


def headline(message: OutboxMessage) -> str:
    """Return one line: 【kind】title."""
    title = scrub(str(message.body.get("title") or message.topic))
    return f"【{kind_label(message)}】{title}"


def _details(message: OutboxMessage) -> list[str]:
    body = message.body
    lines = []
    if body.get("deadline"):
        lines.append(f"期限：{local_time(str(body['deadline']))}")
    if body.get("note"):
        lines.append(f"说明：{scrub(str(body['note']))[:NOTE_CHARS]}")
    lines.append(f"消息编号：{message.id}")
    return lines


def _fit(text: str) -> str:
    data = text.encode("utf-8")
    return text if len(data) <= MAX_BYTES else data[:MAX_BYTES].decode("utf-8", "ignore")


def markdown(message: OutboxMessage) -> str:
    """Return the message as robot markdown: a bold headline and quoted details."""
    return _fit("\n".join([f"**{headline(message)}**", *(f"> {d}" for d in _details(message))]))


def plain(message: OutboxMessage) -> str:
    """Return the message as plain text, one detail a line."""
    return _fit("\n".join([headline(message), *_details(message)]))


def sms_params(message: OutboxMessage) -> dict[str, str]:
    """Return the SMS template's variables: ${kind} and ${code} (no personal data)."""
    return {"kind": kind_label(message), "code": str(message.body.get("case_code") or "")}
