"""Two server processes on one PostgreSQL behave as one: sessions, tokens and idempotency are shared."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.factories import DX, DY, X0, Y0, load_territory, quarters
from tests.ops_support import create_pg_database, drop_pg_database
from tests.servers import LIVE_SERVER_ENV, free_port, wait_serving
from wangge.auth import service as auth
from wangge.cases.categories import seed_categories
from wangge.db import make_engine, session_factory, unit_of_work
from wangge.dbadmin import upgrade
from wangge.grids.service import GridIn, add_grids, new_version
from wangge.grids.versions import activate_version

pytestmark = [pytest.mark.postgis, pytest.mark.slow, pytest.mark.xdist_group("scaleout")]
PASSWORD = "Two-Nodes-2026"


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    target = create_pg_database("wangge_scaleout")
    engine = make_engine(target)
    upgrade(engine)
    with unit_of_work(session_factory(engine)) as s:
        load_territory(s)
        seed_categories(s)
        auth.seed_roles(s)
        version = new_version(s, "110108", "social", "v1")
        add_grids(
            s, version, [GridIn(kind="basic", geom=g) for g in quarters("110108001001")], width=3
        )
        activate_version(s, version.id)
        user = auth.create_user(s, username="node-test", password=PASSWORD, display_name="巡查员")
        auth.assign_post(s, user, "supervisor", scope="110108001001")
    engine.dispose()
    yield target
    drop_pg_database(target)


@pytest.fixture(scope="module")
def nodes(database: str, tmp_path_factory) -> Iterator[list[str]]:
    env = {
        **os.environ,
        "WANGGE_DATABASE_URL": database,
        "WANGGE_UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads")),
        **LIVE_SERVER_ENV,
    }
    procs, urls = [], []
    for _ in range(2):
        port = free_port()
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "wangge.main:create_app",
                    "--factory",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                env=env,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url, proc in zip(urls, procs, strict=True):
            wait_serving(f"{url}/readyz", proc=proc)
        yield urls
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=20)


def test_a_login_on_one_node_is_valid_on_the_other(nodes):
    a, b = nodes
    with httpx.Client(base_url=a) as ca:
        r = ca.post("/api/v1/auth/login", json={"username": "node-test", "password": PASSWORD})
        assert r.status_code == 200
        cookie = ca.cookies.get("wangge_session")
    me = httpx.get(f"{b}/api/v1/auth/me", cookies={"wangge_session": cookie}).json()
    assert me["name"] == "node-test" and me["scope_prefixes"] == ["110108001001"]


def test_a_retried_report_on_the_other_node_returns_the_first_case(nodes):
    a, b = nodes
    with httpx.Client(base_url=a) as ca:
        ca.post("/api/v1/auth/login", json={"username": "node-test", "password": PASSWORD})
        csrf = ca.get("/api/v1/auth/me").json()["csrf_token"]
        token = ca.post(
            "/api/v1/auth/tokens", json={"name": "phone"}, headers={"X-CSRF-Token": csrf}
        ).json()["token"]
    bearer = {"Authorization": f"Bearer {token}", "Idempotency-Key": "report-0001"}
    body = {
        "category_code": "E0102",
        "description": "暴露垃圾",
        "lon": X0 + 0.2 * DX,
        "lat": Y0 + 0.7 * DY,
    }
    first = httpx.post(f"{a}/api/v1/cases", json=body, headers=bearer)
    again = httpx.post(f"{b}/api/v1/cases", json=body, headers=bearer)
    assert first.status_code == 201, first.text
    assert again.json()["id"] == first.json()["id"]


def test_logging_out_everywhere_on_one_node_ends_tokens_on_the_other(nodes):
    a, b = nodes
    with httpx.Client(base_url=a) as ca:
        ca.post("/api/v1/auth/login", json={"username": "node-test", "password": PASSWORD})
        csrf = ca.get("/api/v1/auth/me").json()["csrf_token"]
        token = ca.post(
            "/api/v1/auth/tokens", json={"name": "t"}, headers={"X-CSRF-Token": csrf}
        ).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{a}/api/v1/auth/me", headers=bearer).status_code == 200
    assert httpx.post(f"{b}/api/v1/auth/logout-everywhere", headers=bearer).status_code == 204
    assert httpx.get(f"{a}/api/v1/auth/me", headers=bearer).status_code == 401
