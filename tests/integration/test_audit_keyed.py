"""The audit chain resists someone who can write the database but not read the audit key.

Found by outside testing: editing entry N and recomputing every later hash with the published
hash function left `wangge audit verify` reporting the chain intact. Run through the CLI on a
real database of each kind, with the key set as an operator sets it (WANGGE_AUDIT_KEY).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from tests.ops_support import fresh_database
from wangge.audit.chain import seal_all
from wangge.audit.service import GENESIS, record
from wangge.cli import app
from wangge.db import make_engine, session_factory, unit_of_work
from wangge.dbadmin import upgrade

KEY = "a-secret-the-database-never-sees"
N = 30


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def chain(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database whose chain has N entries written by the application with KEY."""
    with fresh_database(request.param, tmp_path, "wangge_audit") as url:
        engine = make_engine(url)
        upgrade(engine)
        with unit_of_work(session_factory(engine, audit_key=KEY)) as s:
            for i in range(N):
                record(s, actor=f"user{i % 3}", action="case.dispatch", detail={"n": i})
            s.commit()
            seal_all(s)  # what a running server does within a second
        engine.dispose()
        yield url


def _cli(url: str, *args: str, key: str = KEY):
    return CliRunner().invoke(
        app, [*args, "--database-url", url], env={"WANGGE_AUDIT_KEY": key}, catch_exceptions=False
    )


def _rows(conn) -> list[dict]:
    cols = "id, at, actor, actor_id, action, object_type, object_id, county_code, reason, detail"
    out = []
    for r in conn.execute(text(f"SELECT {cols} FROM audit_log ORDER BY id")).mappings():
        row = dict(r)
        if isinstance(row["detail"], str):
            row["detail"] = json.loads(row["detail"])
        out.append(row)
    return out


def _rewrite_from(url: str, victim: int) -> None:
    """What the attacker does: change an entry and re-chain everything after it, unkeyed."""
    from datetime import UTC

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_log SET actor = 'someone-else' WHERE id = :i"), {"i": victim}
        )
        prev = (
            conn.execute(
                text("SELECT hash FROM audit_log WHERE id = :i"), {"i": victim - 1}
            ).scalar()
            or GENESIS
        )
        for row in _rows(conn)[victim - 1 :]:
            at = row["at"]
            if isinstance(at, str):
                from datetime import datetime

                at = datetime.fromisoformat(at)
            if at.tzinfo is not None:
                at = at.astimezone(UTC).replace(tzinfo=None)
            body = [prev, row["id"], at.isoformat(timespec="microseconds"), row["actor"],
                    row["actor_id"], row["action"], row["object_type"], row["object_id"],
                    row["county_code"], row["reason"], row["detail"]]  # fmt: skip
            digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
            conn.execute(
                text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE id = :i"),
                {"p": prev, "h": digest, "i": row["id"]},
            )
            prev = digest
        conn.execute(text("UPDATE audit_head SET last_hash = :h WHERE id = 1"), {"h": prev})
    engine.dispose()


def _legacy_consistent_from(url: str, first: int) -> bool:
    from sqlalchemy import select

    from wangge.audit.models import AuditEntry
    from wangge.audit.service import legacy_entry_hash

    engine = make_engine(url)
    with session_factory(engine)() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.id >= first)).all()
        ok = all(legacy_entry_hash(e) == e.hash for e in rows)
    engine.dispose()
    return ok


def test_an_edited_and_rechained_log_is_found_without_the_key(chain):
    assert _cli(chain, "audit", "verify").exit_code == 0
    assert _cli(chain, "audit", "verify", key="a-wrong-key").exit_code == 1
    _rewrite_from(chain, victim=12)
    assert _legacy_consistent_from(chain, 12)  # the unkeyed check of old would say "intact"
    broken = _cli(chain, "audit", "verify")
    assert broken.exit_code == 1 and "第 12 条" in broken.output


def test_checkpoints_show_that_the_newest_entries_were_cut_off(chain, tmp_path):
    points = tmp_path / "checkpoints.jsonl"
    assert _cli(chain, "audit", "checkpoint", "--out", str(points)).exit_code == 0
    assert _cli(chain, "audit", "verify", "--checkpoints", str(points)).exit_code == 0
    engine = make_engine(chain)
    with engine.begin() as conn:  # drop the last five entries and move the head back
        conn.execute(text("DELETE FROM audit_log WHERE id > :n"), {"n": N - 5})
        last = conn.execute(text("SELECT hash FROM audit_log WHERE id = :n"), {"n": N - 5})
        conn.execute(
            text("UPDATE audit_head SET last_id = :n, last_hash = :h WHERE id = 1"),
            {"n": N - 5, "h": last.scalar()},
        )
    engine.dispose()
    assert _cli(chain, "audit", "verify").exit_code == 0  # a cut-off chain is still a chain
    cut = _cli(chain, "audit", "verify", "--checkpoints", str(points))
    assert cut.exit_code == 1 and "截断" in cut.output and "cut off" in cut.output
    forged = json.loads(points.read_text())
    forged["id"] = N - 5
    points.write_text(json.dumps(forged) + "\n")
    refused = _cli(chain, "audit", "verify", "--checkpoints", str(points))
    assert refused.exit_code == 1 and "not signed" in refused.output
