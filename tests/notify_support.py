"""A local stand-in for 企业微信, 钉钉 and 阿里云短信 that checks requests as the real ones do.

One threaded HTTP server on a free port answers the WeCom group-robot webhook
(`/cgi-bin/webhook/send?key=`), the DingTalk custom robot (`/robot/send?access_token=` with
加签 `timestamp` and `sign`) and Aliyun SMS `SendSms` (a signed form POSTed to `/`). It checks
the key or token, the JSON shape, DingTalk's HMAC-SHA256 sign and its one-hour window, the
Aliyun RPC signature (recomputed here from the spec's own recipe: form-encode, then `+`→%20,
`*`→%2A, %7E→~), replayed nonces, and answers in each service's published format. A request
that breaks a rule is answered with the service's error and recorded in `violations`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit

WECOM_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
DING_TOKEN = "ding-access-token-0001"
DING_SECRET = "SEC0123456789abcdef-test-signing-secret"
ALI_ID = "LTAI-test-access-key-id"
ALI_SECRET = "ali-test-access-key-secret"
MESSAGE_NO = re.compile(r"消息编号：(\d+)")


def aliyun_percent(value: str) -> str:
    """Percent-encode as the Aliyun signature doc's Java recipe does."""
    return quote_plus(value, safe="").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


def aliyun_signature(secret: str, method: str, fields: dict[str, str]) -> str:
    """Recompute an Aliyun RPC (version 1.0) signature, as the gateway does."""
    query = "&".join(f"{aliyun_percent(k)}={aliyun_percent(fields[k])}" for k in sorted(fields))
    to_sign = f"{method}&{aliyun_percent('/')}&{aliyun_percent(query)}"
    mac = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


class Gateways:
    """The fake services; `mode` switches between answering ok and refusing ("fail")."""

    def __init__(self, *, delay: float = 0.0) -> None:
        self.mode = "ok"
        self.delay = delay
        self.received: list[dict[str, Any]] = []
        self.violations: list[str] = []
        self.sent: Counter[int] = Counter()  # message id -> deliveries accepted
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()
        self._nonces: set[str] = set()
        gateways = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                with gateways._lock:
                    gateways.in_flight += 1
                    gateways.max_in_flight = max(gateways.max_in_flight, gateways.in_flight)
                try:
                    if gateways.delay:
                        time.sleep(gateways.delay)
                    raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    status, answer = gateways.answer(self.path, self.headers, raw)
                finally:
                    with gateways._lock:
                        gateways.in_flight -= 1
                data = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    # ------------------------------------------------------------------ addresses, secrets
    @property
    def wecom_url(self) -> str:
        return f"{self.base}/cgi-bin/webhook/send?key={WECOM_KEY}"

    @property
    def dingtalk_url(self) -> str:
        return f"{self.base}/robot/send?access_token={DING_TOKEN}"

    @property
    def sms_endpoint(self) -> str:
        return f"{self.base}/"

    def secrets(self) -> dict[str, str]:
        """The WANGGE_NOTIFY_SECRETS of a deployment using these robots."""
        return {
            "cgw_wecom": self.wecom_url,
            "centre_ding": self.dingtalk_url,
            "centre_sign": DING_SECRET,
        }

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------ the services
    def _refuse(self, why: str, status: int, answer: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.violations.append(why)
        return status, answer

    def answer(self, path: str, headers: Any, raw: bytes) -> tuple[int, dict[str, Any]]:
        url = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/cgi-bin/webhook/send":
            return self._wecom(query, raw)
        if url.path == "/robot/send":
            return self._dingtalk(query, raw)
        if url.path == "/":
            return self._aliyun(headers, raw)
        return self._refuse(f"unknown path {url.path}", 404, {"errcode": 404})

    def _robot_message(self, kind: str, content: str) -> None:
        found = MESSAGE_NO.search(content)
        with self._lock:
            self.received.append({"kind": kind, "content": content})
            if found:
                self.sent[int(found.group(1))] += 1

    def _wecom(self, query: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        if query.get("key") != WECOM_KEY:
            return self._refuse(
                "wecom key", 200, {"errcode": 93000, "errmsg": "invalid webhook url"}
            )
        body = json.loads(raw)
        kind = body.get("msgtype")
        content = (body.get(kind) or {}).get("content") if kind in ("text", "markdown") else None
        if not isinstance(content, str) or not content:
            return self._refuse(
                "wecom body", 200, {"errcode": 40008, "errmsg": "invalid message type"}
            )
        if len(content.encode()) > (4096 if kind == "markdown" else 2048):
            return self._refuse(
                "wecom length", 200, {"errcode": 40058, "errmsg": "content exceed max length"}
            )
        if self.mode == "fail":
            return 200, {"errcode": 45009, "errmsg": "api freq out of limit"}
        self._robot_message("wecom", content)
        return 200, {"errcode": 0, "errmsg": "ok"}

    def _dingtalk(self, query: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        if query.get("access_token") != DING_TOKEN:
            return self._refuse(
                "ding token", 200, {"errcode": 300001, "errmsg": "token is not exist"}
            )
        stamp = query.get("timestamp", "")
        if not stamp.isdigit() or abs(time.time() * 1000 - int(stamp)) > 3600 * 1000:
            return self._refuse(
                "ding timestamp", 200, {"errcode": 310000, "errmsg": "invalid timestamp"}
            )
        mac = hmac.new(DING_SECRET.encode(), f"{stamp}\n{DING_SECRET}".encode(), hashlib.sha256)
        if query.get("sign") != base64.b64encode(mac.digest()).decode():
            return self._refuse("ding sign", 200, {"errcode": 310000, "errmsg": "sign not match"})
        body = json.loads(raw)
        markdown = body.get("markdown") or {}
        if (
            body.get("msgtype") != "markdown"
            or not markdown.get("title")
            or not markdown.get("text")
        ):
            return self._refuse("ding body", 200, {"errcode": 40035, "errmsg": "缺少参数 json"})
        if self.mode == "fail":
            return 200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
        self._robot_message("dingtalk", markdown["text"])
        return 200, {"errcode": 0, "errmsg": "ok"}

    def _aliyun(self, headers: Any, raw: bytes) -> tuple[int, dict[str, Any]]:
        if "application/x-www-form-urlencoded" not in (headers.get("Content-Type") or ""):
            return self._refuse("sms content type", 400, {"Code": "MissingParameter"})
        fields = {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
        signature = fields.pop("Signature", "")
        fixed = {
            "Action": "SendSms",
            "Version": "2017-05-25",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "AccessKeyId": ALI_ID,
        }
        wrong = [k for k, v in fixed.items() if fields.get(k) != v]
        if wrong:
            return self._refuse(
                f"sms {wrong}", 400, {"Code": "InvalidParameter", "Message": str(wrong)}
            )
        if signature != aliyun_signature(ALI_SECRET, "POST", fields):
            return self._refuse(
                "sms signature",
                400,
                {
                    "Code": "SignatureDoesNotMatch",
                    "Message": "Specified signature is not matched with our calculation.",
                },
            )
        at = datetime.strptime(fields["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if abs((datetime.now(UTC) - at).total_seconds()) > 15 * 60:
            return self._refuse("sms timestamp", 400, {"Code": "InvalidTimeStamp.Expired"})
        with self._lock:
            if fields["SignatureNonce"] in self._nonces:
                return self._refuse("sms nonce", 400, {"Code": "SignatureNonceUsed"})
            self._nonces.add(fields["SignatureNonce"])
        phones = fields.get("PhoneNumbers", "").split(",")
        if not all(re.fullmatch(r"1[3-9]\d{9}", p) for p in phones):
            return self._refuse(
                "sms phones", 200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "invalid"}
            )
        params = json.loads(fields["TemplateParam"])
        if self.mode == "fail":
            return 200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控Permits:1"}
        with self._lock:
            self.received.append(
                {"kind": "sms", "phones": phones, "params": params, "fields": fields}
            )
            self.sent[int(fields["OutId"])] += 1
        return 200, {
            "Code": "OK",
            "Message": "OK",
            "BizId": "900619746936498440^0",
            "RequestId": "F655A8D5",
        }
