"""Open311 GeoReport v2 conformance, our own suite after http://wiki.open311.org/GeoReport_v2."""

import io
import re
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.api_support import serve_session
from tests.factories import DX, DY, X0, Y0, load_territory, quarters
from tests.unit.test_images import _jpeg_with_gps
from wangge.auth import service as auth
from wangge.cases.categories import seed_categories
from wangge.config import Settings
from wangge.grids.service import GridIn, add_grids, new_version
from wangge.grids.versions import activate_version
from wangge.main import create_app

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")
DATATYPES = {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
BASE = "/open311/v2"


@pytest.fixture
def ctx(session, tmp_path):
    load_territory(session)
    seed_categories(session)
    version = new_version(session, "110108", "social", "v1")
    add_grids(
        session, version, [GridIn(kind="basic", geom=g) for g in quarters("110108001001")], width=3
    )
    activate_version(session, version.id)
    key, _ = auth.issue_token(session, kind="api_key", name="随手拍", permissions=["cases.report"])
    app = create_app(
        Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", upload_dir=tmp_path / "up")
    )
    serve_session(app, session)
    with TestClient(app) as client:
        yield client, key


def _post(client, key, fmt="json", **extra):
    form = {
        "api_key": key,
        "service_code": "E0102",
        "lat": str(Y0 + 0.3 * DY),
        "long": str(X0 + 0.3 * DX),
        "description": "路边暴露垃圾，联系电话 13812345678",
        **extra,
    }
    return client.post(f"{BASE}/requests.{fmt}", data=form)


def test_discovery_lists_the_endpoint_in_both_formats(ctx):
    client, _ = ctx
    body = client.get(f"{BASE}/discovery.json").json()
    ep = body["endpoints"][0]
    assert (
        ep["specification"] == "http://wiki.open311.org/GeoReport_v2"
        and "text/xml" in ep["formats"]
    )
    xml = client.get(f"{BASE}/discovery.xml")
    assert xml.headers["content-type"].startswith("text/xml")
    assert xml.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert (
        ET.fromstring(xml.content)
        .find("endpoints/endpoint/specification")
        .text.endswith("GeoReport_v2")
    )


def test_services_carry_the_required_fields_and_hide_social_matters(ctx):
    client, _ = ctx
    services = client.get(f"{BASE}/services.json").json()
    codes = {s["service_code"] for s in services}
    assert "E0102" in codes and "C0101" in codes and not any(c.startswith("S") for c in codes)
    for s in services:
        assert {
            "service_code",
            "service_name",
            "description",
            "metadata",
            "type",
            "keywords",
            "group",
        } <= s.keys()
        assert s["type"] in ("realtime", "batch", "blackbox") and isinstance(s["metadata"], bool)
    root = ET.fromstring(client.get(f"{BASE}/services.xml").content)
    assert root.tag == "services" and len(root.findall("service")) == len(services)
    assert root.find("service/metadata").text in ("true", "false")


def test_a_service_definition_lists_typed_attributes(ctx):
    client, _ = ctx
    d = client.get(f"{BASE}/services/C0101.json").json()
    assert d["service_code"] == "C0101"
    for a in d["attributes"]:
        assert (
            a["datatype"] in DATATYPES
            and isinstance(a["required"], bool)
            and isinstance(a["order"], int)
        )
        if a["datatype"].endswith("valuelist"):
            assert all({"key", "name"} <= v.keys() for v in a["values"])
    assert "component_code" in {a["code"] for a in d["attributes"]}
    root = ET.fromstring(client.get(f"{BASE}/services/C0101.xml").content)
    assert root.tag == "service_definition" and root.find("attributes/attribute/code") is not None


def test_an_unknown_service_is_a_404_error_list(ctx):
    client, _ = ctx
    r = client.get(f"{BASE}/services/X9999.json")
    assert r.status_code == 404 and r.json() == [
        {"code": 404, "description": r.json()[0]["description"]}
    ]
    x = client.get(f"{BASE}/services/X9999.xml")
    assert x.status_code == 404 and ET.fromstring(x.content).find("error/code").text == "404"


def test_posting_needs_a_valid_api_key(ctx):
    client, _ = ctx
    assert _post(client, "").status_code == 403
    r = _post(client, "wgk_not-a-key")
    assert r.status_code == 403 and "api_key" in r.json()[0]["description"]


def test_posting_without_a_position_or_with_a_bad_service_is_a_400(ctx):
    client, key = ctx
    r = client.post(f"{BASE}/requests.json", data={"api_key": key, "service_code": "E0102"})
    assert r.status_code == 400 and r.json()[0]["code"] == 400
    assert _post(client, key, service_code="S0101").status_code == 400


def test_a_posted_request_can_be_read_back_open_with_its_expected_time(ctx):
    client, key = ctx
    r = _post(client, key)
    assert r.status_code == 201, r.text
    created = r.json()[0]
    rid = created["service_request_id"]
    assert rid and created["token"]
    (one,) = client.get(f"{BASE}/requests/{rid}.json").json()
    assert one.keys() >= REQUEST_FIELDS
    assert one["status"] == "open" and one["service_code"] == "E0102"
    assert ISO.match(one["requested_datetime"]) and ISO.match(one["expected_datetime"])
    assert "13812345678" not in one["description"] and "138****5678" in one["description"]
    assert "已上报" in one["status_notes"]
    assert (
        client.get(f"{BASE}/tokens/{created['token']}.json").json()[0]["service_request_id"] == rid
    )
    xml = ET.fromstring(client.get(f"{BASE}/requests/{rid}.xml").content)
    assert xml.tag == "service_requests" and xml.find("request/status").text == "open"


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("１３８１２３４５６７８", "１３８****５６７８"),
        ("138.1234.5678", "138.****.5678"),
        ("138 1234 5678", "138 **** 5678"),
        ("138-1234-5678", "138-****-5678"),
    ],
)
def test_phones_written_full_width_dotted_or_spaced_are_masked_in_public_requests(
    ctx, written, shown
):
    client, key = ctx
    r = _post(client, key, description=f"井盖破损，请回电{written}，谢谢")
    assert r.status_code == 201, r.text
    rid = r.json()[0]["service_request_id"]
    (one,) = client.get(f"{BASE}/requests/{rid}.json").json()
    assert one["description"] == f"井盖破损，请回电{shown}，谢谢"
    listed = client.get(f"{BASE}/requests.json").json()
    assert written not in str(listed)


def test_requests_filter_by_status_service_and_dates(ctx):
    client, key = ctx
    rid = _post(client, key).json()[0]["service_request_id"]
    assert rid in {
        r["service_request_id"]
        for r in client.get(f"{BASE}/requests.json", params={"status": "open"}).json()
    }
    assert client.get(f"{BASE}/requests.json", params={"status": "closed"}).json() == []
    assert client.get(f"{BASE}/requests.json", params={"service_code": "C0101"}).json() == []
    old = {"start_date": "2020-01-01T00:00:00+08:00", "end_date": "2020-02-01T00:00:00Z"}
    assert client.get(f"{BASE}/requests.json", params=old).json() == []
    bad = client.get(f"{BASE}/requests.json", params={"start_date": "yesterday"})
    assert bad.status_code == 400 and bad.json()[0]["code"] == 400
    assert (
        client.get(f"{BASE}/requests.json", params={"service_request_id": rid}).json()[0][
            "service_request_id"
        ]
        == rid
    )


def test_an_unknown_request_is_a_404_and_an_unknown_format_is_refused(ctx):
    client, _ = ctx
    assert client.get(f"{BASE}/requests/nope.json").status_code == 404
    assert client.get(f"{BASE}/services.yaml").status_code == 404


def test_a_retry_with_the_same_idempotency_key_does_not_create_a_second_case(ctx):
    client, key = ctx
    form = {
        "api_key": key,
        "service_code": "E0102",
        "lat": str(Y0 + 0.3 * DY),
        "long": str(X0 + 0.3 * DX),
    }
    a = client.post(
        f"{BASE}/requests.json", data=form, headers={"Idempotency-Key": "phone-123-1"}
    ).json()
    b = client.post(
        f"{BASE}/requests.json", data=form, headers={"Idempotency-Key": "phone-123-1"}
    ).json()
    assert a[0]["service_request_id"] == b[0]["service_request_id"]


def _upload(client, headers=None) -> dict:
    files = {"file": ("p.jpg", _jpeg_with_gps(), "image/jpeg")}
    r = client.post("/api/v1/uploads", files=files, headers=headers or {})
    assert r.status_code == 201, r.text
    return r.json()


def test_the_media_url_of_a_citizens_photo_is_its_public_copy(ctx):
    client, _ = ctx
    photo = _upload(client)  # the citizen page uploads without logging in
    r = client.post(
        "/web/api/citizen/reports",
        json={
            "category_code": "E0102",
            "description": "垃圾",
            "lon": X0 + 0.3 * DX,
            "lat": Y0 + 0.3 * DY,
            "crs": "EPSG:4490",
            "photos": [f"/api/v1/uploads/{photo['id']}"],
        },
    )
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    (one,) = client.get(f"{BASE}/requests.json", params={"service_request_id": code}).json()
    assert one["media_url"] == photo["public_url"] == f"/api/v1/uploads/{photo['id']}/public"
    media = client.get(one["media_url"])
    assert media.status_code == 200 and media.headers["content-type"] == "image/jpeg"
    assert not Image.open(io.BytesIO(media.content)).getexif().get_ifd(0x8825)  # no GPS


def test_a_request_may_carry_a_photo_its_api_key_uploaded_and_nothing_else(ctx):
    client, key = ctx
    photo = _upload(client, {"X-API-Key": key})
    r = _post(client, key, media_url=f"http://testserver{photo['public_url']}")
    assert r.status_code == 201, r.text
    rid = r.json()[0]["service_request_id"]
    (one,) = client.get(f"{BASE}/requests/{rid}.json").json()
    assert one["media_url"] == photo["public_url"]
    anonymous = _upload(client)["public_url"]
    for bad in ("https://example.com/pothole.jpg", anonymous, photo["public_url"]):
        r = _post(client, key, media_url=bad)  # a stranger's file, or one already used
        assert r.status_code == 400 and bad in r.json()[0]["description"], r.text


def test_the_public_doors_share_the_category_rule_and_one_ip_budget(ctx, session, monkeypatch):
    """Open311 and the citizen page ask the same rules (`open311.public_intake`): an inactive
    or non-public class is refused by both, each in its own words, and one IP counter spans
    both doors."""
    from wangge.cases.models import Category
    from wangge.open311 import public_intake

    client, key = ctx
    here = {"lon": X0 + 0.3 * DX, "lat": Y0 + 0.3 * DY, "crs": "EPSG:4490"}

    def citizen(code: str):
        body = {"category_code": code, "description": "垃圾", **here}
        return client.post("/web/api/citizen/reports", json=body)

    retired = session.query(Category).filter(Category.kind == "event", Category.code != "E0102")
    retired = retired.first()
    retired.is_active = False
    social = session.query(Category).filter_by(kind="social").first()
    session.flush()
    for code in (retired.code, social.code):
        r = _post(client, key, service_code=code)
        assert r.status_code == 400, r.text
        assert r.json()[0]["description"] == f"服务 {code} 不存在 / service_code {code} not found"
        r = citizen(code)
        assert r.status_code == 422 and r.json()["code"] == "bad_category", r.text

    monkeypatch.setattr(public_intake, "IP_LIMIT_PER_HOUR", 2)  # refusals above did not count
    assert citizen("E0102").status_code == 201
    assert _post(client, key).status_code == 201
    refused = _post(client, key)
    assert refused.status_code == 429 and refused.json()[0]["code"] == 429
    assert "Retry-After" in refused.headers
    r = citizen("E0102")
    assert r.status_code == 429 and r.json()["code"] == "rate_limited", r.text
