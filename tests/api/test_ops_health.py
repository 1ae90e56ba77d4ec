"""Health, readiness, metrics, request ids, JSON logs and the secrets check."""

from __future__ import annotations

import io
import json
import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.ops_support import seed_world
from wangge.config import Settings
from wangge.db import make_engine
from wangge.main import create_app
from wangge.ops.observe import configure_logging, request_id_var

UNREACHABLE = "postgresql://nobody@127.0.0.1:1/nowhere"


@pytest.fixture
def seeded(tmp_path):
    url = f"sqlite:///{tmp_path / 'health.db'}"
    seed_world(url, cases=3)
    return url


def _client(url: str) -> TestClient:
    return TestClient(create_app(Settings(database_url=url, upload_dir="/tmp/unused")))


def test_healthz_answers_without_a_database_and_readyz_says_why_not(tmp_path):
    with _client(UNREACHABLE) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        r = c.get("/readyz")
    assert r.status_code == 503
    assert r.json()["code"] == "database_unavailable" and r.json()["detail_en"]


def test_readyz_is_ready_on_a_database_at_the_newest_revision(seeded):
    with _client(seeded) as c:
        r = c.get("/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ready"


def test_readyz_refuses_a_database_whose_schema_is_behind(seeded):
    engine = make_engine(seeded)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    engine.dispose()
    with _client(seeded) as c:
        r = c.get("/readyz")
    assert r.status_code == 503 and r.json()["code"] == "schema_outdated"
    assert "wangge db upgrade" in r.json()["detail"]


def test_an_api_call_while_the_database_is_away_is_a_503_problem_in_both_languages():
    with _client(UNREACHABLE) as c:
        r = c.get("/api/v1/divisions", headers={"Authorization": "Bearer wgb_whatever"})
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "database_unavailable"
    assert "数据库" in body["detail"] and "database" in body["detail_en"]
    assert r.headers["retry-after"]


def test_metrics_count_requests_by_route_template_and_show_cases_and_outbox(seeded):
    with _client(seeded) as c:
        c.get("/api/v1/divisions/110108")
        c.get("/api/v1/divisions/110108001")
        c.get("/no/such/page")
        body = c.get("/metrics").text
    assert (
        'wangge_http_requests_total{method="GET",route="/api/v1/divisions/{code}",status="401"} 2.0'
        in body
    )
    assert 'route="<unmatched>",status="404"' in body
    assert "110108001" not in body.split("# HELP wangge_cases ")[0]  # no raw paths as labels
    assert 'wangge_cases{state="reported"} 1.0' in body
    assert 'wangge_cases{state="dispatched"} 2.0' in body
    assert 'wangge_outbox_messages{status="pending"}' in body
    assert "wangge_http_request_duration_seconds_bucket" in body
    assert "wangge_database_up 1.0" in body


def test_a_request_id_is_propagated_or_created(seeded):
    with _client(seeded) as c:
        given = c.get("/healthz", headers={"X-Request-ID": "abc-123"})
        made = c.get("/healthz")
    assert given.headers["x-request-id"] == "abc-123"
    assert len(made.headers["x-request-id"]) == 32


def test_logs_are_json_lines_with_the_request_id_and_no_personal_data():
    handler = configure_logging("INFO")
    stream = io.StringIO()
    handler.setStream(stream)  # type: ignore[attr-defined]
    token = request_id_var.set("req-42")
    try:
        logging.getLogger("wangge.cases").warning(
            "citizen %s called from %s", "张三", "13812345678"
        )
        logging.getLogger("uvicorn.error").error("id 110101199003077777 failed")
    finally:
        request_id_var.reset(token)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["request_id"] == "req-42" and first["level"] == "WARNING"
    assert "13812345678" not in first["msg"] and "138****5678" in first["msg"]
    assert "110101199003077777" not in second["msg"]


def test_a_placeholder_database_password_is_refused_outside_demo_mode():
    url = "postgresql://wangge:changeme@db/wangge"
    with pytest.raises(ValueError, match="WANGGE_DEMO_MODE"):
        create_app(Settings(database_url=url))
    create_app(Settings(database_url=url, demo_mode=True))
    Settings(database_url="postgresql://wangge:S3cret-Real@db/wangge").check_secrets()


def test_every_setting_is_documented_in_the_operations_guide():
    from pathlib import Path

    guide = (Path(__file__).parents[2] / "docs" / "operations.md").read_text()
    missing = [n for n in Settings.model_fields if f"`WANGGE_{n.upper()}`" not in guide]
    assert missing == []
