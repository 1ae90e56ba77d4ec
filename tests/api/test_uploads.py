"""Photos over HTTP, idempotent POSTs and rate limits, on both databases."""

import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from tests.api_support import serve_session
from tests.unit.test_images import _jpeg_with_gps
from wangge.api.deps import get_principal
from wangge.api.idempotency import fingerprint, run_once
from wangge.api.ratelimit import TooManyRequests, hit, phone_key
from wangge.auth.principal import ANONYMOUS, LOCAL_OPERATOR
from wangge.config import Settings
from wangge.errors import ValidationFailed
from wangge.main import create_app
from wangge.uploads.models import Upload


@pytest.fixture
def client(session, tmp_path):
    app = create_app(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'unused.db'}",
            upload_dir=tmp_path / "up",
            upload_max_bytes=200_000,
        )
    )
    serve_session(app, session)
    app.dependency_overrides[get_principal] = lambda: LOCAL_OPERATOR
    with TestClient(app) as c:
        yield c


def test_an_uploaded_photo_keeps_its_gps_privately_and_serves_a_clean_public_copy(client):
    r = client.post("/api/v1/uploads", files={"file": ("p.jpg", _jpeg_with_gps(), "image/jpeg")})
    assert r.status_code == 201, r.text
    body = r.json()
    # The phone's WGS84 position is stored in CGCS2000 (numerically the same here).
    assert body["exif_lon"] == pytest.approx(116.3101, abs=1e-4)
    original = client.get(f"/api/v1/uploads/{body['id']}")
    assert original.status_code == 200 and Image.open(
        io.BytesIO(original.content)
    ).getexif().get_ifd(0x8825)
    public = client.get(body["public_url"])
    assert public.status_code == 200 and not Image.open(
        io.BytesIO(public.content)
    ).getexif().get_ifd(0x8825)


def test_a_file_over_the_cap_and_a_non_image_are_refused(client):
    big = io.BytesIO()
    Image.effect_noise((600, 600), 80).convert("RGB").save(big, format="PNG")
    assert len(big.getvalue()) > 200_000
    r = client.post("/api/v1/uploads", files={"file": ("big.png", big.getvalue(), "image/png")})
    assert r.status_code == 422 and r.json()["code"] == "too_large"
    r = client.post("/api/v1/uploads", files={"file": ("x.jpg", b"%PDF-1.4 fake", "image/jpeg")})
    assert r.status_code == 422 and r.json()["field"] == "file"


def test_an_idempotent_post_does_its_work_once_and_replays_the_first_answer(session):
    calls = []

    def work():
        calls.append(1)
        return 201, {"case": len(calls)}

    fp = fingerprint("POST", "/cases", {"a": 1})
    first = run_once(session, owner="u1", key="k-1", fingerprint=fp, work=work)
    again = run_once(session, owner="u1", key="k-1", fingerprint=fp, work=work)
    assert (
        first == (201, {"case": 1}, False) and again == (201, {"case": 1}, True) and len(calls) == 1
    )
    other_owner = run_once(session, owner="u2", key="k-1", fingerprint=fp, work=work)
    assert other_owner[1] == {"case": 2}
    with pytest.raises(ValidationFailed) as err:
        run_once(
            session,
            owner="u1",
            key="k-1",
            fingerprint=fingerprint("POST", "/cases", {"a": 2}),
            work=work,
        )
    assert err.value.code == "idempotency_mismatch"


def test_rate_limits_count_per_key_and_reset_in_the_next_window(session):
    key = phone_key("138-1234-5678")
    assert "13812345678" not in key
    for n in range(1, 4):
        assert hit(session, key, limit=3, window_s=60, now=1000.0) == n
    with pytest.raises(TooManyRequests) as err:
        hit(session, key, limit=3, window_s=60, now=1001.0)
    assert err.value.status == 429 and err.value.details["retry_after"] > 0
    assert hit(session, key, limit=3, window_s=60, now=1021.0) == 1  # next window (1020 // 60 = 17)
    assert hit(session, "ip:10.0.0.9", limit=3, window_s=60, now=1000.0) == 1


def test_anonymous_uploads_are_allowed_only_while_public_reporting_is_on(session, tmp_path):
    app = create_app(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'u.db'}",
            upload_dir=tmp_path / "up",
            public_reporting=False,
        )
    )
    serve_session(app, session)
    app.dependency_overrides[get_principal] = lambda: ANONYMOUS
    with TestClient(app) as c:
        r = c.post("/api/v1/uploads", files={"file": ("p.jpg", _jpeg_with_gps(), "image/jpeg")})
    assert r.status_code == 401


def _big_jpeg() -> bytes:
    """A photo large enough that cutting it in half still passes Pillow's quick verify()."""
    out = io.BytesIO()
    Image.effect_noise((500, 400), 60).convert("RGB").save(out, format="JPEG")  # ~100 KB
    return out.getvalue()


def _stored(root) -> list:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_a_truncated_photo_is_refused_and_leaves_no_file_and_no_row(client, session, tmp_path):
    whole = _big_jpeg()
    r = client.post(
        "/api/v1/uploads", files={"file": ("t.jpg", whole[: len(whole) // 2], "image/jpeg")}
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "file" and "损坏" in r.json()["detail"]
    assert _stored(tmp_path / "up") == []
    assert session.scalar(select(func.count()).select_from(Upload)) == 0


def _anonymous_client(session, tmp_path, **limits) -> TestClient:
    app = create_app(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'u.db'}",
            upload_dir=tmp_path / "up",
            upload_max_bytes=200_000,
            **limits,
        )
    )
    serve_session(app, session)
    app.dependency_overrides[get_principal] = lambda: ANONYMOUS
    return TestClient(app)


def test_anonymous_uploads_are_limited_per_ip_and_refused_files_count_too(session, tmp_path):
    photo = _jpeg_with_gps()
    with _anonymous_client(session, tmp_path, upload_anonymous_per_hour=3) as c:
        send = lambda data: c.post(  # noqa: E731
            "/api/v1/uploads", files={"file": ("p.jpg", data, "image/jpeg")}
        )
        assert [send(photo).status_code for _ in range(2)] == [201, 201]
        assert send(b"not a photo").status_code == 422
        stored = _stored(tmp_path / "up")
        r = send(photo)
        assert r.status_code == 429 and r.json()["code"] == "rate_limited"
        assert "秒后再试" in r.json()["detail"]
        assert _stored(tmp_path / "up") == stored  # nothing kept from the refused one
    assert session.scalar(select(func.count()).select_from(Upload)) == 2


def test_anonymous_uploads_are_limited_in_bytes_per_ip(session, tmp_path):
    photo = _jpeg_with_gps()
    with _anonymous_client(session, tmp_path, upload_anonymous_bytes_per_hour=len(photo) + 10) as c:
        first = c.post("/api/v1/uploads", files={"file": ("p.jpg", photo, "image/jpeg")})
        second = c.post("/api/v1/uploads", files={"file": ("p.jpg", photo, "image/jpeg")})
    assert first.status_code == 201 and second.status_code == 429
    assert session.scalar(select(func.count()).select_from(Upload)) == 1


def test_logged_in_users_are_not_held_to_the_anonymous_limits(session, tmp_path):
    with _anonymous_client(session, tmp_path, upload_anonymous_per_hour=1) as c:
        c.app.dependency_overrides[get_principal] = lambda: LOCAL_OPERATOR
        codes = [
            c.post(
                "/api/v1/uploads", files={"file": ("p.jpg", _jpeg_with_gps(), "image/jpeg")}
            ).status_code
            for _ in range(3)
        ]
    assert codes == [201, 201, 201]
