"""Secrets stay out of URLs and out of the access log of a real `wangge serve`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.servers import free_port, wait_serving
from wangge.auth import service as auth
from wangge.db import make_engine, session_factory, unit_of_work
from wangge.dbadmin import upgrade


def test_keys_in_a_query_string_are_refused_and_no_secret_reaches_the_access_log(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with unit_of_work(session_factory(engine)) as s:
        auth.seed_roles(s)
        key, _ = auth.issue_token(s, kind="api_key", name="app", permissions=["cases.read"])
    engine.dispose()
    port, log = free_port(), tmp_path / "server.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wangge", "serve", "--port", str(port), "--database-url", url],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={"WANGGE_UPLOAD_DIR": str(tmp_path / "up"), "PATH": "/usr/bin:/bin"},
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_serving(f"{base}/healthz", proc=proc, log=log)
        in_header = httpx.get(f"{base}/api/v1/auth/me", headers={"X-API-Key": key})
        in_query = httpx.get(f"{base}/api/v1/auth/me", params={"api_key": key})
        tracking = "110108202612040000001-s3cr3tTrackingCode"
        old_link = httpx.get(f"{base}/web/api/citizen/track/{tracking}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert in_header.json()["name"] == "api-key:app"
    assert in_query.json()["name"] == "anonymous"  # a key in the URL is not a key
    assert old_link.status_code in (404, 405)
    text = log.read_text()
    assert "/api/v1/auth/me?api_key=***" in text  # the request is logged, its secret is not
    assert key not in text and "s3cr3tTrackingCode" not in text
