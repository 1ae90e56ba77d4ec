"""Notifications go out by themselves: the delivery worker in `wangge serve`, one at a time.

Two workers on one database never send a message twice (the delivery lease lets one send at
a time); the real server delivers with nobody running `wangge jobs deliver`, and stops
cleanly; `wangge jobs deliver --loop` (the systemd service) does the same outside it.
SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.case_factories import CGW, COUNTY, report, to_dispatched
from tests.notify_support import Gateways
from tests.ops_support import fresh_database, seed_world
from tests.servers import free_port, wait_serving
from wangge.auth.principal import LOCAL_OPERATOR
from wangge.cases.models import CaseEvent, Delivery, Message, OutboxMessage
from wangge.cases.outbox import enqueue
from wangge.cases.sweeper import sweep_due
from wangge.common.models import utcnow
from wangge.config import Settings
from wangge.db import make_engine, session_factory, unit_of_work
from wangge.main import create_app
from wangge.notifications.service import RouteIn, create_route
from wangge.notifications.worker import DeliveryPolicy, DeliveryWorker, build_channels
from wangge.ops.leases import Lease, acquire, release

BOTH = ["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)]


def _until(done, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode}")
        assert time.monotonic() < deadline, "not delivered in time"
        time.sleep(0.05)


def _world(url: str, gateways: Gateways, *, dispatched: int = 1) -> int:
    """Migrate, load the world with a WeCom route for CGW, dispatch cases; return the route."""
    seed_world(url, cases=0)
    engine = make_engine(url)
    try:
        with unit_of_work(session_factory(engine)) as s:
            route = create_route(
                s,
                LOCAL_OPERATOR,
                RouteIn(COUNTY, "wecom", "城管委值班群", department_code=CGW, url_ref="cgw_wecom"),
                secrets=set(gateways.secrets()),
            )
            for _ in range(dispatched):
                to_dispatched(s, report(s))
            return route.id
    finally:
        engine.dispose()


def _statuses(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            rows = s.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            )
            return {status: n for status, n in rows}
    finally:
        engine.dispose()


def test_the_lease_is_held_by_one_holder_at_a_time_and_lapses(session):
    now = utcnow()
    assert acquire(session, "job", "a", ttl=30, now=now)
    assert not acquire(session, "job", "b", ttl=30, now=now)
    assert acquire(session, "job", "a", ttl=30, now=now + timedelta(seconds=10))  # renewed
    assert not acquire(session, "job", "b", ttl=30, now=now + timedelta(seconds=35))
    assert acquire(session, "job", "b", ttl=30, now=now + timedelta(seconds=41))  # a lapsed
    release(session, "job", "a")  # not a's any more: nothing happens
    assert session.get(Lease, "job").holder == "b"
    release(session, "job", "b")
    assert acquire(session, "job", "c", ttl=30, now=now)


@pytest.mark.parametrize("kind", BOTH)
def test_two_delivery_workers_never_send_one_message_twice(kind, tmp_path):
    gateways = Gateways(delay=0.01)
    with fresh_database(kind, tmp_path, "wangge_notify") as url:
        route_id = _world(url, gateways, dispatched=0)
        engines = [make_engine(url) for _ in range(2)]
        factories = [session_factory(e) for e in engines]
        channels = build_channels(Settings(notify_secrets=gateways.secrets()), timeout=5)
        refused = [0, 0]

        class Counting(DeliveryWorker):
            def tick(self):  # type: ignore[no-untyped-def]
                report = super().tick()
                refused[self.index] += report is None
                return report

        workers = []
        for i, factory in enumerate(factories):
            worker = Counting(factory, channels, DeliveryPolicy(batch=3, timeout=5), 0.005)
            worker.index = i  # type: ignore[attr-defined]
            workers.append(worker.start())
        total = 40
        try:
            # Messages keep arriving while both workers run, so they contend for every round.
            for n in range(total):
                with unit_of_work(factories[0]) as s:
                    enqueue(
                        s,
                        topic="case.dispatched",
                        recipient=f"dept:{CGW}",
                        body={"title": f"第 {n} 条", "case_code": f"T{n}"},
                        now=utcnow(),
                        county_code=COUNTY,
                        channel="wecom",
                        route_id=route_id,
                    )
                time.sleep(0.01)
            _until(lambda: len(gateways.sent) == total)
        finally:
            for worker in workers:
                worker.stop()
            for e in engines:
                e.dispose()
        try:
            assert gateways.violations == []
            assert set(gateways.sent.values()) == {1}, "a message was sent twice"
            assert gateways.max_in_flight == 1  # one sender at a time
            assert sum(refused) > 0  # the workers did contend for the lease
            assert _statuses(url) == {"sent": total}
            engine = make_engine(url)
            with session_factory(engine)() as s:
                assert s.scalar(select(func.count()).select_from(Delivery)) == total
                assert s.scalar(select(func.count()).select_from(Lease)) == 0  # given back
            engine.dispose()
        finally:
            gateways.close()


def _serve(
    url: str, port: int, gateways: Gateways, tmp_path: Path, workers: int, sweep: float = 0
) -> subprocess.Popen:
    env = {
        **os.environ,
        "WANGGE_DATABASE_URL": url,
        "WANGGE_UPLOAD_DIR": str(tmp_path / "uploads"),
        "WANGGE_LOG_LEVEL": "WARNING",
        "WANGGE_DELIVER_SECONDS": "0.2",
        "WANGGE_SWEEP_SECONDS": str(sweep),
        "WANGGE_NOTIFY_SECRETS": json.dumps(gateways.secrets()),
    }
    cmd = [sys.executable, "-m", "wangge", "serve", "--port", str(port), "--workers", str(workers)]
    log = (tmp_path / "serve.log").open("w")
    return subprocess.Popen(cmd, env=env, start_new_session=True, stdout=log, stderr=log)


@pytest.mark.slow
@pytest.mark.parametrize("kind", BOTH)
def test_wangge_serve_delivers_by_itself_and_stops_cleanly(kind, tmp_path):
    gateways = Gateways()
    with fresh_database(kind, tmp_path, "wangge_serve_notify") as url:
        _world(url, gateways, dispatched=1)
        port = free_port()
        # Two processes on PostgreSQL: they share the outbox through the lease.
        proc = _serve(url, port, gateways, tmp_path, workers=2 if kind == "postgis" else 1)
        try:
            wait_serving(f"http://127.0.0.1:{port}/healthz", proc=proc, log=tmp_path / "serve.log")
            _until(lambda: len(gateways.sent) == 1, proc=proc)
            # A case dispatched while the server runs goes out too.
            engine = make_engine(url)
            with unit_of_work(session_factory(engine)) as s:
                to_dispatched(s, report(s))
            _until(lambda: len(gateways.sent) == 2, proc=proc)
            _until(lambda: _statuses(url) == {"sent": 4}, proc=proc)  # in-app + robot, twice
            with session_factory(engine)() as s:
                assert s.scalar(select(func.count()).select_from(Message)) == 2
            engine.dispose()
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            code = proc.wait(timeout=60)
            gateways.close()
        log = (tmp_path / "serve.log").read_text()
        # uvicorn shuts the app down gracefully, then re-raises SIGTERM for its exit status.
        assert code in (0, -signal.SIGTERM), log[-3000:]
        assert "Application shutdown complete" in log and "Traceback" not in log
        assert set(gateways.sent.values()) == {1} and gateways.violations == []


def _escalations(url: str) -> dict[int, int]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            rows = s.execute(
                select(CaseEvent.case_id, func.count())
                .where(CaseEvent.action.in_(["escalate", "urge"]))
                .group_by(CaseEvent.case_id)
            )
            return {case_id: n for case_id, n in rows}
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("kind", BOTH)
def test_wangge_serve_escalates_overdue_cases_and_their_notices_go_out_by_themselves(
    kind, tmp_path
):
    """Nobody runs `wangge jobs sweep`: the server sees the missed deadlines, escalates each
    case once and the department's robot hears 超期 once per case."""
    gateways = Gateways()
    with fresh_database(kind, tmp_path, "wangge_serve_sweep") as url:
        _world(url, gateways, dispatched=3)  # dispatched days ago: every deadline is missed
        gateways.received.clear()
        port = free_port()
        workers = 2 if kind == "postgis" else 1
        proc = _serve(url, port, gateways, tmp_path, workers=workers, sweep=0.3)
        try:
            wait_serving(f"http://127.0.0.1:{port}/healthz", proc=proc, log=tmp_path / "serve.log")
            _until(lambda: len(_escalations(url)) == 3, proc=proc)

            def overdue_notices() -> list[str]:
                return [r["content"] for r in gateways.received if "超期" in r["content"]]

            _until(lambda: len(overdue_notices()) == 3, proc=proc)
            assert set(_escalations(url).values()) == {1}
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            code = proc.wait(timeout=60)
            gateways.close()
        log = (tmp_path / "serve.log").read_text()
        assert code in (0, -signal.SIGTERM), log[-3000:]
        assert "Traceback" not in log
        assert set(_escalations(url).values()) == {1}, "a deadline was escalated twice"
        assert set(gateways.sent.values()) == {1} and gateways.violations == []


@pytest.mark.parametrize("kind", BOTH)
def test_two_sweeps_at_once_act_once_per_deadline(kind, tmp_path):
    """Two server processes' sweeps (and a `jobs sweep` beside them) never escalate a case
    twice nor warn twice of one deadline: the lease lets one sweep, and every act is a
    compare-and-set, so even a sweep without the lease changes nothing twice."""
    gateways = Gateways()
    with fresh_database(kind, tmp_path, "wangge_two_sweeps") as url:
        _world(url, gateways, dispatched=12)
        engines = [make_engine(url) for _ in range(3)]
        factories = [session_factory(e) for e in engines]
        results: list[object] = [None] * 3
        start = threading.Barrier(3)

        def sweep(i: int) -> None:
            start.wait()
            results[i] = sweep_due(factories[i], holder=f"h{i}", batch=2, lease=i < 2)

        threads = [threading.Thread(target=sweep, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        try:
            assert all(r is not None for r in results[2:])  # the lease-free sweep always runs
            done = _escalations(url)
            assert len(done) == 12 and set(done.values()) == {1}
            with factories[0]() as s:
                keys = s.scalars(
                    select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.is_not(None))
                ).all()
                assert len(keys) == len(set(keys))
                assert s.scalar(select(func.count()).select_from(Lease)) == 0  # given back
            # A later round finds nothing left to do.
            again = sweep_due(factories[0], holder="h0")
            assert again is not None and again.acted == 0
        finally:
            for e in engines:
                e.dispose()
            gateways.close()


@pytest.mark.slow
def test_jobs_deliver_loop_is_a_service_that_ends_on_sigterm(tmp_path):
    gateways = Gateways()
    with fresh_database("sqlite", tmp_path, "wangge_loop") as url:
        _world(url, gateways, dispatched=1)
        env = {**os.environ, "WANGGE_NOTIFY_SECRETS": json.dumps(gateways.secrets())}
        cmd = [sys.executable, "-m", "wangge", "jobs", "deliver", "--loop", "--interval", "0.1"]
        proc = subprocess.Popen(
            [*cmd, "--database-url", url], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            _until(lambda: len(gateways.sent) == 1, proc=proc)
            _until(lambda: _statuses(url) == {"sent": 2}, proc=proc)
        finally:
            proc.send_signal(signal.SIGTERM)
            output, _ = proc.communicate(timeout=30)
            gateways.close()
        assert proc.returncode == 0, output


def test_the_app_lifespan_runs_the_worker_and_stops_it(tmp_path):
    gateways = Gateways()
    url = f"sqlite:///{tmp_path / 'life.db'}"
    _world(url, gateways, dispatched=1)
    settings = Settings(
        database_url=url,
        upload_dir=tmp_path / "uploads",
        log_json=False,
        deliver_seconds=0.05,
        notify_secrets=gateways.secrets(),
    )
    try:
        with TestClient(create_app(settings)) as client:
            assert client.get("/healthz").status_code == 200
            _until(lambda: _statuses(url) == {"sent": 2})
        names = {t.name for t in threading.enumerate() if t.is_alive()}
        assert "outbox-delivery" not in names
        assert len(gateways.sent) == 1 and gateways.violations == []
    finally:
        gateways.close()


def test_a_busy_sqlite_is_retried_within_the_tick_and_a_refusing_one_warns_only_when_it_lasts(
    tmp_path, monkeypatch, caplog
):
    """SQLite refuses a transaction at once when another process (the demo month, an import)
    wrote since it read: the tick retries and delivers; a database that keeps refusing is
    logged quietly at first and as a warning only after a minute of ticks."""
    import logging

    from sqlalchemy.exc import OperationalError

    from wangge.notifications import worker as worker_module

    gateways = Gateways()
    with fresh_database("sqlite", tmp_path, "wangge_notify") as url:
        _world(url, gateways)
        engine = make_engine(url)
        channels = build_channels(Settings(notify_secrets=gateways.secrets()), timeout=5)
        worker = DeliveryWorker(session_factory(engine), channels, DeliveryPolicy(timeout=5), 1)
        real = worker_module.deliver_due
        refusals = {"left": 2}

        def busy_then_free(*args, **kwargs):  # type: ignore[no-untyped-def]
            if refusals["left"]:
                refusals["left"] -= 1
                raise OperationalError("BEGIN", {}, Exception("database is locked"))
            return real(*args, **kwargs)

        monkeypatch.setattr(worker_module, "deliver_due", busy_then_free)
        with caplog.at_level(logging.INFO, logger="wangge.notifications"):
            report = worker.tick()
        assert report is not None and report.sent >= 1  # delivered in the same tick
        assert gateways.sent
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]

        caplog.clear()
        worker.busy_retries = 1
        refusals["left"] = 10**6
        with caplog.at_level(logging.INFO, logger="wangge.notifications"):
            for _ in range(worker.quiet_ticks):
                assert worker.tick() is None
        levels = [r.levelno for r in caplog.records if "deferred" in r.getMessage()]
        assert levels[:-1] == [logging.INFO] * (worker.quiet_ticks - 1)
        assert levels[-1] == logging.WARNING
        refusals["left"] = 0
        assert worker.tick() is not None  # back: the count starts again
        assert worker._failures == 0
        engine.dispose()
