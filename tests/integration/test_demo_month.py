"""The demo month runs in committed chunks beside the server: resumable, with exact progress."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.api_support import serve_session
from tests.case_factories import T0, build_world
from wangge.auth import service as auth
from wangge.cases.models import Case, CaseEvent
from wangge.config import Settings
from wangge.db import make_engine, session_factory
from wangge.dbadmin import upgrade
from wangge.demo.simulate import MonthSimulation, seed_configuration
from wangge.main import create_app
from wangge.ops.jobs import advance, start_job

N_CASES = 30


def _fresh(path: Path) -> Session:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    session = session_factory(engine)()
    build_world(session)
    seed_configuration(session, "110108")
    session.commit()
    return session


def _month(session: Session) -> MonthSimulation:
    return MonthSimulation(session, county_code="110108", seed=3, now=T0, n_cases=N_CASES)


def _story(session: Session) -> list[tuple]:
    cases = session.execute(
        select(Case.id, Case.category_code, Case.state, Case.reported_at, Case.version)
    ).all()
    events = session.execute(select(CaseEvent.case_id, CaseEvent.action, CaseEvent.at)).all()
    return sorted(map(tuple, cases)) + sorted(map(tuple, events))


def test_a_month_killed_after_some_chunks_and_resumed_makes_the_same_cases(tmp_path):
    whole = _fresh(tmp_path / "whole.db")
    _month(whole).run_all()
    whole.commit()

    killed = _fresh(tmp_path / "killed.db")
    first = _month(killed)
    for i in range(2):  # two chunks committed, then the process dies
        first.run_chunk(i)
        killed.commit()
    first.run_chunk(2)
    killed.rollback()  # the third chunk was not committed
    resumed = _month(killed)  # a new process: nothing remembered but the database
    for i in range(2, resumed.n_chunks):
        resumed.run_chunk(i)
    killed.commit()

    assert len(_story(whole)) > 2 * N_CASES
    assert _story(killed) == _story(whole)


def test_pages_show_long_work_in_progress_to_logged_in_users_only(session, tmp_path):
    build_world(session)
    auth.seed_roles(session)
    user = auth.create_user(
        session, username="leader", password="Lead-Pass-2026", display_name="领导"
    )
    auth.assign_post(session, user, "leader")
    job = start_job(
        session, "demo_month", "110108", total=8, title=("模拟近一月 200 个案卷", "a month")
    )
    advance(job, 3)
    session.flush()

    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}"))
    serve_session(app, session)
    with TestClient(app) as client:
        assert client.get("/web/api/jobs").json() == []  # anonymous: nothing
        r = client.post(
            "/api/v1/auth/login", json={"username": "leader", "password": "Lead-Pass-2026"}
        )
        assert r.status_code == 200
        (shown,) = client.get("/web/api/jobs").json()
        assert (shown["done"], shown["total"], shown["state"]) == (3, 8, "running")
        assert shown["title_zh"] == "模拟近一月 200 个案卷"
        advance(job, 8)
        session.flush()
        assert client.get("/web/api/jobs").json() == []  # done: the note goes away
