"""Exports as background jobs through the real app and its export worker (SQLite and PostgreSQL).

The progress a page polls moves while the rows are written, the file holds exactly the rows of
the filtered list, it is served to its owner (or an administrator over his area) and nobody
else, a job left running by a dead process is taken over by the next server, and files expire.
"""

from __future__ import annotations

import io
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from tests.case_factories import DISPATCHER, SUPERVISOR
from tests.ops_support import fresh_database, seed_world
from wangge.audit.models import AuditEntry
from wangge.auth.principal import ANONYMOUS, Principal
from wangge.common.models import utcnow
from wangge.config import Settings
from wangge.db import make_engine, session_factory, unit_of_work
from wangge.exports import runner
from wangge.exports.jobs import EXPORT, QUEUED, principal_json
from wangge.main import create_app
from wangge.ops.jobs import RUNNING, Job, start_job
from wangge.registry import people

BOTH = ["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)]
ADMIN = Principal(name="root", permissions=frozenset({"*"}), user_id=900, via="session")
FAR_ADMIN = Principal(
    name="far-admin",
    permissions=frozenset({"*"}),
    user_id=901,
    scope_prefixes=frozenset({"110108002"}),
    via="session",
)


def _until(done, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the export did not get there in time"
        time.sleep(0.05)


@pytest.fixture(scope="module", params=BOTH)
def served(request, tmp_path_factory) -> Iterator[dict]:  # type: ignore[no-untyped-def]
    """A seeded database (12 cases, 5 people) served by an app whose export worker runs."""
    tmp = tmp_path_factory.mktemp("exports")
    with fresh_database(request.param, tmp, "wangge_exports") as url:
        seed_world(url, cases=12)
        engine = make_engine(url)
        factory = session_factory(engine)
        with unit_of_work(factory) as s:
            from tests.registry_factories import CENTER

            for i in range(5):
                people.save_person(
                    s, CENTER, {"name": f"张{i}", "community_code": "110108001001",
                                "phone": f"1381234{i:04d}"},
                )  # fmt: skip
        holder: dict = {"who": DISPATCHER}
        settings = Settings(
            database_url=url, upload_dir=tmp / "uploads", log_json=False, export_seconds=0.05
        )
        app = create_app(settings)
        from wangge.api.deps import get_principal
        from wangge.web.views import page_principal

        app.dependency_overrides[get_principal] = lambda: holder["who"]
        app.dependency_overrides[page_principal] = lambda: (
            None if holder["who"] is ANONYMOUS else holder["who"]
        )
        with TestClient(app) as client:
            yield {"client": client, "holder": holder, "factory": factory, "settings": settings}
        engine.dispose()


@pytest.fixture
def api(served) -> Iterator[dict]:  # type: ignore[no-untyped-def]
    served["holder"]["who"] = DISPATCHER
    yield served
    served["holder"]["who"] = DISPATCHER


def _finished(client: TestClient, status_url: str) -> dict:
    seen: dict = {}

    def done() -> bool:
        seen.update(client.get(status_url).json())
        return seen["state"] in ("done", "failed")

    _until(done)
    return seen


def _sheet_rows(body: bytes) -> list[tuple]:
    ws = load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
    return [tuple(r) for r in ws.iter_rows(values_only=True)]


def test_progress_moves_and_the_file_holds_the_filtered_list(api, monkeypatch):
    client = api["client"]
    query = {"state": ["dispatched"], "sort": "reported"}
    listed = client.get("/api/v1/cases", params={**query, "limit": 200}).json()
    assert listed["total"] >= 4  # half of the seeded cases are dispatched
    monkeypatch.setattr("wangge.cases.export._CHUNK", 2)  # several chunks of a small list
    gate, first = threading.Event(), threading.Event()

    def hold(job_id: int, rows: int) -> None:  # hold the worker after its first chunk
        if not first.is_set():
            first.set()
            gate.wait(60)

    monkeypatch.setattr(runner, "after_chunk", hold)
    r = client.post("/api/v1/export-jobs/cases", params=query)
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["Location"] == job["status_url"] and job["state"] == "queued"
    _until(first.is_set)
    middle = client.get(job["status_url"]).json()
    assert middle["state"] == "running" and middle["total"] == listed["total"]
    assert 0 < middle["done"] < middle["total"] and 0 < middle["percent"] < 100
    assert middle["file_url"] is None
    assert client.get("/web/api/jobs").json() == []  # not in the note every user's pages show
    gate.set()
    final = _finished(client, job["status_url"])
    assert final["state"] == "done" and final["percent"] == 100
    assert final["rows"] == listed["total"]
    got = client.get(final["file_url"])
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/vnd.openxml")
    rows = _sheet_rows(got.content)
    assert rows[0][0] == "案卷编号"
    assert [r[0] for r in rows[1:]] == [c["code"] for c in listed["items"]]
    with api["factory"]() as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "case.export").order_by(AuditEntry.id)
        ).all()[-1]
        assert entry.actor == DISPATCHER.name and entry.detail["job"] == job["id"]
        assert entry.detail["rows"] == listed["total"]
        assert s.scalar(select(AuditEntry.id).where(AuditEntry.action == "export.download"))


def test_the_file_is_served_to_its_owner_and_an_admin_over_his_area_only(api):
    client, holder = api["client"], api["holder"]
    job = client.post("/api/v1/export-jobs/cases", params={"sort": "deadline"}).json()
    final = _finished(client, job["status_url"])
    assert final["state"] == "done"
    assert client.get("/api/v1/export-jobs").json()[0]["id"] == job["id"]
    for other in (SUPERVISOR, FAR_ADMIN):
        holder["who"] = other
        for url in (job["status_url"], final["file_url"]):
            r = client.get(url)
            assert r.status_code == 404, (other.name, url)
            assert r.json()["detail"].startswith("导出任务")
        assert job["id"] not in [j["id"] for j in client.get("/api/v1/export-jobs").json()]
    holder["who"] = ANONYMOUS
    assert client.get(final["file_url"]).status_code == 401
    holder["who"] = ADMIN
    assert client.get(final["file_url"]).status_code == 200


def test_refusals_come_at_once_in_both_languages(api):
    client, holder = api["client"], api["holder"]
    r = client.post("/api/v1/export-jobs/cases", params={"unmask": "true", "reason": "核对"})
    assert r.status_code == 403 and "personal.unmask" in r.json()["detail_en"]
    r = client.post("/api/v1/export-jobs/cases", params={"from": "2026-13-01"})
    assert r.status_code == 422 and r.json()["detail"].startswith("日期")
    r = client.post("/api/v1/export-jobs/audit")
    assert r.status_code == 403 and "audit.read" in r.json()["detail"]
    holder["who"] = ANONYMOUS
    assert client.post("/api/v1/export-jobs/cases").status_code == 401


def test_a_registry_export_runs_in_the_background_masked_and_scoped(api):
    client, holder = api["client"], api["holder"]
    holder["who"] = Principal(
        name="worker", permissions=frozenset({"registry.read"}), user_id=77,
        scope_prefixes=frozenset({"110108001001"}), via="session",
    )  # fmt: skip
    job = client.post("/api/v1/export-jobs/registry/people", params={"q": "张"}).json()
    final = _finished(client, job["status_url"])
    assert final["state"] == "done" and final["rows"] == 5
    rows = _sheet_rows(client.get(final["file_url"]).content)
    assert len(rows) == 6
    phones = [v for r in rows[1:] for v in r if isinstance(v, str) and v.startswith("138")]
    assert phones and all("****" in p for p in phones)  # masked without personal.unmask
    holder["who"] = Principal(
        name="worker-b", permissions=frozenset({"registry.read"}), user_id=78,
        scope_prefixes=frozenset({"110108001002"}), via="session",
    )  # fmt: skip
    job = client.post("/api/v1/export-jobs/registry/people").json()
    assert _finished(client, job["status_url"])["rows"] == 0  # nobody in his community


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _abandoned(factory, *, attempts: int, holder: str, age: float = 0.0) -> int:  # type: ignore[no-untyped-def]
    """A case export left 'running' by a process that is gone (as after kill -9)."""
    with unit_of_work(factory) as s:
        job = start_job(
            s, EXPORT, f"user:{DISPATCHER.user_id}", total=12,
            title=("导出案卷列表", "export of the case list"),
            detail={
                "export": "cases",
                "params": {"filter": {}, "sort": "reported", "now": utcnow().isoformat(),
                           "lang": "zh", "unmask": False, "reason": None},
                "principal": principal_json(DISPATCHER), "attempts": attempts, "holder": holder,
            },
        )  # fmt: skip
        job.state, job.done = RUNNING, 4
        job.updated_at = utcnow() - timedelta(seconds=age)
        return job.id


def test_a_job_left_running_by_a_dead_process_is_taken_over_or_failed_clearly(api):
    client, factory = api["client"], api["factory"]
    host = __import__("socket").gethostname()
    resumed = _abandoned(factory, attempts=1, holder=f"{host}:{_dead_pid()}:dead")
    given_up = _abandoned(factory, attempts=2, holder=f"{host}:{_dead_pid()}:dead")
    far = _abandoned(factory, attempts=1, holder="another-host:1:far", age=3600)
    for job_id in (resumed, far):
        final = _finished(client, f"/api/v1/export-jobs/{job_id}")
        assert final["state"] == "done" and final["rows"] == 12
        assert len(_sheet_rows(client.get(final["file_url"]).content)) == 13
    failed = _finished(client, f"/api/v1/export-jobs/{given_up}")
    assert failed["state"] == "failed" and "中断 2 次" in failed["error_zh"]
    assert "interrupted 2 times" in failed["error_en"] and failed["file_url"] is None
    assert client.get(f"/api/v1/export-jobs/{given_up}/file").status_code == 409


def test_a_running_job_of_a_live_process_elsewhere_is_left_alone(api):
    factory = api["factory"]
    job_id = _abandoned(factory, attempts=1, holder="another-host:1:busy", age=5)
    with unit_of_work(factory) as s:
        assert runner.claim(s, "me:1:x", stale_seconds=120) is None
    with unit_of_work(factory) as s:
        taken = runner.claim(s, "me:1:x", stale_seconds=1)  # its progress stalled
        assert taken is not None and taken.id == job_id
        taken.state = "failed"  # out of the other tests' way


def test_files_expire(api, tmp_path):
    client, settings = api["client"], api["settings"]
    job = client.post("/api/v1/export-jobs/cases").json()
    final = _finished(client, job["status_url"])
    assert client.get(final["file_url"]).status_code == 200
    sweep = runner.Runner(api["factory"], settings.upload_dir, keep_hours=1)
    assert sweep.expire_files(utcnow() + timedelta(hours=2), force=True) >= 1
    assert client.get(job["status_url"]).json()["state"] == "expired"
    r = client.get(final["file_url"])
    assert r.status_code == 410 and "过期" in r.json()["detail"]


def test_queued_jobs_wait_for_a_worker_and_a_stopping_one_gives_its_job_back(api):
    factory = api["factory"]
    stopping = threading.Event()
    lone = runner.Runner(factory, api["settings"].upload_dir, stop=stopping.is_set)
    # A minute without progress: stale for this runner (30 s), not yet for the app's own worker
    # (every 0.05 s, stale after the default 120 s), which would otherwise race it to the claim.
    job_id = _abandoned(factory, attempts=0, holder="another-host:1:x", age=60)
    with unit_of_work(factory) as s:
        claimed = runner.claim(s, lone.holder, stale_seconds=30)
        assert claimed is not None and claimed.id == job_id
    stopping.set()
    lone.run(job_id, EXPORT)
    with factory() as s:
        job = s.get(Job, job_id)
        assert job.state in (QUEUED, "running", "done")  # given back, or taken by the app
        assert job.detail["attempts"] <= 1


AUDITOR = Principal(
    name="auditor",
    permissions=frozenset({"audit.read"}),
    user_id=950,
    roles=frozenset({"auditor"}),
    via="session",
)


def test_the_audit_page_verifies_in_the_background_and_exports_the_filtered_log(api):
    client, holder, factory = api["client"], api["holder"], api["factory"]
    holder["who"] = DISPATCHER
    job = client.post("/api/v1/export-jobs/cases", params={"source": "patrol"}).json()
    assert _finished(client, job["status_url"])["state"] == "done"
    holder["who"] = AUDITOR
    first = client.get("/console/audit", params={"actor": DISPATCHER.name})
    assert first.status_code == 200 and 'data-action="case.export"' in first.text

    def verified() -> bool:
        page = client.get("/console/audit").text
        return 'data-ok="true"' in page and "审计链完整" in page

    _until(verified)  # the page queued a verification; the worker ran it
    r = client.post("/api/v1/export-jobs/audit", params={"actor": DISPATCHER.name})
    assert r.status_code == 202
    final = _finished(client, r.json()["status_url"])
    rows = _sheet_rows(client.get(final["file_url"]).content)
    with factory() as s:
        mine = s.scalars(
            select(AuditEntry.id).where(AuditEntry.actor == DISPATCHER.name)
            .order_by(AuditEntry.id.desc())
        ).all()  # fmt: skip
    assert [r[0] for r in rows[1:]] == list(mine) and final["rows"] == len(mine)
    holder["who"] = DISPATCHER  # the auditor's file is not the dispatcher's
    assert client.get(final["file_url"]).status_code == 404
    # An entry changed in the database: the next verification says so on the page.
    holder["who"] = AUDITOR
    with unit_of_work(factory) as s:
        entry = s.get(AuditEntry, mine[-1])
        kept = entry.detail
        entry.detail = {**kept, "rows": 999}
    try:
        assert client.post("/web/api/audit/verify").status_code == 202

        def broken() -> bool:
            page = client.get("/console/audit").text
            return 'data-ok="false"' in page and "审计链校验未通过" in page

        _until(broken)
    finally:
        with unit_of_work(factory) as s:
            s.get(AuditEntry, mine[-1]).detail = kept
