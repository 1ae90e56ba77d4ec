"""Migration 0019 (case intake) upgrades and downgrades on SQLite and on PostgreSQL+PostGIS,
with rows in place, and gives the built-in 受理员 role `cases.intake` (taken back on downgrade)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, inspect, text

from tests.conftest import scratch_pg
from wangge.db import make_engine
from wangge.dbadmin import downgrade, upgrade

TABLES = {"case_intakes", "case_callbacks", "hotline_replies", "video_events"}


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def empty_engine(request, tmp_path, worker_id) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
        yield engine
        engine.dispose()
    else:
        yield from scratch_pg(worker_id, "intake_mig")


def _acceptor_perms(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        raw = conn.execute(text("SELECT permissions FROM roles WHERE code = 'acceptor'")).scalar()
    import json

    return json.loads(raw) if isinstance(raw, str) else list(raw)


def test_0019_upgrades_and_downgrades_with_the_acceptor_role_granted_and_revoked(empty_engine):
    engine = empty_engine
    upgrade(engine, "0018")
    with engine.begin() as conn:  # a deployment seeded before 0019: the old acceptor role
        conn.execute(
            text(
                "INSERT INTO roles (code, name_zh, permissions, builtin) VALUES "
                "('acceptor', '受理员', :p, :b)"
            ),
            {"p": '["cases.read", "cases.act"]', "b": True},
        )
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES
    assert _acceptor_perms(engine) == ["cases.read", "cases.act", "cases.intake"]
    uniques = inspect(engine).get_unique_constraints("case_intakes")
    assert any(u["column_names"] == ["county_code", "work_order_no"] for u in uniques)
    downgrade(engine, "0018")
    assert not TABLES & set(inspect(engine).get_table_names())
    assert _acceptor_perms(engine) == ["cases.read", "cases.act"]
    upgrade(engine)  # and up again
    assert set(inspect(engine).get_table_names()) >= TABLES
