"""The formats notifications leave in: Aliyun's RPC signature, DingTalk's sign, the texts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from types import SimpleNamespace

from tests.notify_support import aliyun_signature
from wangge.notifications import text
from wangge.notifications.robots import dingtalk_sign
from wangge.notifications.sms import AliyunSms, mobile, percent, rpc_signature

# Aliyun's published example of the signature (SMS API, signature mechanism): these
# parameters, AccessKeySecret "testSecret" and GET give zJDF+Lrzhj/ThnlvIToysFRq6t4=.
PUBLISHED = {
    "AccessKeyId": "testId",
    "Action": "SendSms",
    "Format": "XML",
    "OutId": "123",
    "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou",
    "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}',
    "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}


def _message(**body: object) -> SimpleNamespace:
    return SimpleNamespace(id=41, topic="case.overdue", body=body)


def test_the_aliyun_signature_matches_the_published_example():
    assert rpc_signature("testSecret", PUBLISHED, "GET") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    # The test gateway's own recipe (the doc's Java one) agrees, so it checks the real thing.
    assert aliyun_signature("testSecret", "GET", PUBLISHED) == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_percent_encoding_follows_rfc_3986_as_aliyun_requires():
    assert percent("a b*c~d/e+f") == "a%20b%2Ac~d%2Fe%2Bf"
    assert percent("阿") == "%E9%98%BF"


def test_an_aliyun_request_is_signed_over_every_field_but_the_signature():
    gateway = AliyunSms("testId", "testSecret", "网格中心", "SMS_1", region="cn-hangzhou")
    form = gateway.request(
        ["13800138000"],
        {"kind": "派遣", "code": "C2026"},
        out_id="7",
        timestamp=datetime(2026, 12, 6, 1, 2, 3, tzinfo=UTC),
        nonce="n-1",
    )
    signature = form.pop("Signature")
    assert signature == rpc_signature("testSecret", form, "POST")
    assert form["Timestamp"] == "2026-12-06T01:02:03Z" and form["Format"] == "JSON"
    assert json.loads(form["TemplateParam"]) == {"kind": "派遣", "code": "C2026"}
    assert "testSecret" not in json.dumps(form, ensure_ascii=False)


def test_the_dingtalk_sign_is_the_base64_hmac_sha256_of_timestamp_newline_secret():
    secret, stamp = "SECabc", 1733450000000
    expected = hmac.new(secret.encode(), f"{stamp}\nSECabc".encode(), hashlib.sha256).digest()
    assert base64.b64decode(dingtalk_sign(secret, stamp)) == expected


def test_phone_fields_become_plain_mobiles_or_nothing():
    assert mobile("+86 138-0013-8000") == "13800138000"
    assert mobile("8613800138000") == "13800138000"
    assert mobile("010-12345678") is None and mobile(None) is None


def test_robot_text_masks_personal_numbers_and_keeps_the_message_number():
    message = _message(
        title="案卷 C1：超期（督办）",
        case_code="C1",
        note="联系 13800138000，身份证 110101199003071234",
        deadline="2026-12-04T01:30:00+00:00",
    )
    out = text.markdown(message)  # type: ignore[arg-type]
    assert out.startswith("**【超期】案卷 C1：超期（督办）**")
    assert "13800138000" not in out and "138****8000" in out
    assert "110101199003071234" not in out
    assert "期限：2026-12-04 09:30" in out and "消息编号：41" in out


def test_robot_text_stays_under_wecoms_markdown_limit():
    message = _message(title="案卷 C1", case_code="C1", note="很长" * 5000)
    assert len(text.markdown(message).encode()) <= 4096  # type: ignore[arg-type]


def test_sms_variables_name_the_kind_and_the_case_only():
    message = _message(title="案卷 C9 已超期", case_code="C9", note="13800138000")
    assert text.sms_params(message) == {"kind": "超期", "code": "C9"}  # type: ignore[arg-type]
