"""The monthly evaluation reports are produced by the server itself, once per county and month,
even with two server processes at it (the report lease, and the unique key behind it).
SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.evaluation_factories import store_scenario
from tests.ops_support import fresh_database, seed_world
from wangge.config import Settings
from wangge.db import make_engine, session_factory, unit_of_work
from wangge.evaluation.auto_reports import EvaluationReportWorker, last_closed_month, produce_due
from wangge.evaluation.publication_models import EvaluationReport
from wangge.grids.models import Grid
from wangge.main import create_app
from wangge.ops.leases import Lease

BOTH = ["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)]
NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)  # November 2026 has closed


def _scenario(url: str) -> None:
    seed_world(url, cases=0)
    engine = make_engine(url)
    try:
        with unit_of_work(session_factory(engine)) as s:
            store_scenario(s, s.scalars(select(Grid.id).order_by(Grid.id)).first())
    finally:
        engine.dispose()


def _stored(factory) -> list[tuple[str, str, str, bytes]]:  # type: ignore[no-untyped-def]
    with factory() as s:
        return [
            (r.county_code, r.period, r.kind, r.content[:4])
            for r in s.scalars(select(EvaluationReport).order_by(EvaluationReport.kind))
        ]


def test_the_month_that_closed_last_is_the_one_reported():
    assert last_closed_month(NOW).label == "2026-11"
    # 00:30 on 1 December in Beijing is still 30 November in UTC: November has closed
    assert last_closed_month(datetime(2026, 11, 30, 16, 30, tzinfo=UTC)).label == "2026-11"
    assert last_closed_month(datetime(2026, 11, 30, 15, 30, tzinfo=UTC)).label == "2026-10"


@pytest.mark.parametrize("kind", BOTH)
def test_two_producers_at_once_store_each_report_once(kind, tmp_path):
    with fresh_database(kind, tmp_path, "wangge_eval_reports") as url:
        _scenario(url)
        engines = [make_engine(url) for _ in range(3)]
        factories = [session_factory(e) for e in engines]
        results: list[object] = [None] * 3
        start = threading.Barrier(3)

        def produce(i: int) -> None:
            start.wait()
            # the third has no lease (a process whose lease lapsed): the unique key holds
            results[i] = produce_due(factories[i], holder=f"h{i}", now=NOW, lease=i < 2)

        threads = [threading.Thread(target=produce, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        try:
            made = [m for r in results if r for m in r]  # type: ignore[attr-defined]
            assert made == [("110108", "2026-11")]  # one producer stored it
            assert _stored(factories[0]) == [
                ("110108", "2026-11", "pdf", b"%PDF"), ("110108", "2026-11", "xlsx", b"PK\x03\x04")
            ]  # fmt: skip
            assert produce_due(factories[0], holder="h0", now=NOW) == []  # nothing left
            with factories[0]() as s:
                assert s.scalars(select(Lease)).all() == []  # given back
        finally:
            for e in engines:
                e.dispose()


def test_the_server_produces_the_report_by_itself(tmp_path):
    url = f"sqlite:///{tmp_path / 'reports.db'}"
    _scenario(url)
    settings = Settings(database_url=url, log_json=False, eval_report_seconds=0.05)
    engine = make_engine(url)
    factory = session_factory(engine)
    try:
        with TestClient(create_app(settings)) as client:
            assert client.get("/healthz").status_code == 200
            deadline = time.monotonic() + 120
            # the real clock: the month that closed last; the scenario's cases precede it
            while len(_stored(factory)) < 2:
                assert time.monotonic() < deadline, "no report produced"
                time.sleep(0.1)
        names = {t.name for t in threading.enumerate() if t.is_alive()}
        assert "evaluation-reports" not in names  # stopped with the app
        label = last_closed_month(datetime.now(UTC)).label
        assert {(c, p, k) for c, p, k, _ in _stored(factory)} == {
            ("110108", label, "xlsx"), ("110108", label, "pdf")
        }  # fmt: skip
        assert isinstance(EvaluationReportWorker(factory, 1).holder, str)
    finally:
        engine.dispose()
