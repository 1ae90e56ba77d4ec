"""Scheduled jobs under faults: a sweep killed halfway escalates nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.case_factories import SUPERVISOR, T0, report
from tests.ops_support import fresh_database, seed_world
from wangge.cases.models import Case, CaseEvent
from wangge.db import make_engine, session_factory, unit_of_work
from wangge.ops.integrity import check_database

pytestmark = pytest.mark.slow
BOTH = ["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)]
CASES = 150
LATE = (T0 + timedelta(days=30)).isoformat()


def _sweep(url: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wangge",
            "jobs",
            "sweep",
            "--batch",
            "10",
            "--now",
            LATE,
            "--database-url",
            url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _escalations(session) -> int:
    return session.scalar(
        select(func.count()).select_from(CaseEvent).where(CaseEvent.action == "escalate")
    )


@pytest.mark.parametrize("kind", BOTH)
def test_a_sweep_killed_halfway_and_run_again_escalates_every_overdue_case_exactly_once(
    kind, tmp_path
):
    with fresh_database(kind, tmp_path, "wangge_sweep") as url:
        seed_world(url, cases=0)
        engine = make_engine(url)
        factory = session_factory(engine)
        with unit_of_work(factory) as s:
            for _ in range(CASES):
                report(s, SUPERVISOR, at=T0)
        try:
            job = _sweep(url)
            partial = 0
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline and job.poll() is None:
                with factory() as s:
                    partial = _escalations(s)
                if partial >= 20:
                    os.kill(job.pid, signal.SIGKILL)
                    break
                time.sleep(0.05)
            job.wait(timeout=20)
            assert job.returncode == -signal.SIGKILL, job.stdout.read() if job.stdout else ""
            with factory() as s:
                partial = _escalations(s)
            assert 0 < partial < CASES

            again = _sweep(url)
            output, _ = again.communicate(timeout=60)
            assert again.returncode == 0, output
            assert f"escalated {CASES - partial}" in output
            once_more = _sweep(url)
            assert "escalated 0" in once_more.communicate(timeout=60)[0]

            with factory() as s:
                per_case = s.execute(
                    select(CaseEvent.case_id, func.count())
                    .where(CaseEvent.action == "escalate")
                    .group_by(CaseEvent.case_id)
                ).all()
                assert len(per_case) == CASES and {n for _, n in per_case} == {1}
                counts = set(s.scalars(select(Case.overdue_count)))
                levels = set(s.scalars(select(Case.level)))
                assert counts == {1} and levels == {"street"}
                result = check_database(s)
                assert result.ok, result.problems
        finally:
            engine.dispose()
