"""The audit-log page and its background work on a large log (issue 17 item 7).

    .venv/bin/python bench/bench_audit_page.py --entries 200000
    .venv/bin/python bench/bench_audit_page.py --entries 200000 \\
        --database-url postgresql://postgres@127.0.0.1:5432/wangge_bench_audit   # an empty DB

Fills a fresh database with N audit entries (30 actors, 40 actions, 1 % unmasking reads with
reasons, spread over a year), seals them, then times: the chain's verification (what the
export worker runs for the page), the page itself with several filters (median of 5), and the
export of one actor's entries as a background job.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import insert

from wangge.audit.chain import seal_all, verify_chain
from wangge.audit.models import AuditEntry
from wangge.audit.service import DEV_AUDIT_KEY, entry_mac
from wangge.auth.principal import Principal
from wangge.config import Settings
from wangge.db import make_engine, session_factory
from wangge.dbadmin import upgrade
from wangge.exports.runner import Runner

AUDITOR = Principal(name="auditor", permissions=frozenset({"audit.read"}), user_id=1, via="session")


def fill(url: str, n: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    factory = session_factory(engine)
    rng = random.Random(7)
    key = DEV_AUDIT_KEY.encode()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    actions = [f"case.{a}" for a in range(30)] + [f"registry.k{a}.export" for a in range(10)]
    with factory() as s:
        batch = []
        for i in range(n):
            unmask = rng.random() < 0.01
            e = AuditEntry(
                at=start + timedelta(seconds=i * 150),
                actor=f"user{rng.randrange(30)}",
                actor_id=None,
                action="personal.unmask" if unmask else rng.choice(actions),
                object_type="person" if unmask else "case",
                object_id=str(rng.randrange(100_000)),
                county_code="110108",
                reason="核对低保申请" if unmask else None,
                detail={"rows": rng.randrange(1000)},
            )
            e.detail = orjson.loads(orjson.dumps(e.detail))
            e.mac = entry_mac(e, key)
            batch.append({c: getattr(e, c) for c in (
                "at", "actor", "actor_id", "action", "object_type", "object_id", "county_code",
                "reason", "detail", "mac")})  # fmt: skip
            if len(batch) == 10_000:
                s.execute(insert(AuditEntry), batch)
                s.commit()
                batch = []
        if batch:
            s.execute(insert(AuditEntry), batch)
            s.commit()
        t = time.perf_counter()
        seal_all(s)
        print(f"filled {n} entries; sealed in {time.perf_counter() - t:.1f} s")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    url = args.database_url or f"sqlite:///{tmp / 'audit.db'}"
    fill(url, args.entries)

    engine = make_engine(url)
    factory = session_factory(engine)
    with factory() as s:
        t = time.perf_counter()
        report = verify_chain(s)
        print(f"verify_chain: ok={report.ok} checked={report.checked} "
              f"in {time.perf_counter() - t:.2f} s (runs in the export worker, not the page)")  # fmt: skip

    from wangge.api.deps import get_principal
    from wangge.main import create_app
    from wangge.web.views import page_principal

    settings = Settings(database_url=url, upload_dir=tmp / "uploads", log_json=False,
                        export_seconds=0, audit_seal_seconds=0)  # fmt: skip
    app = create_app(settings)
    app.dependency_overrides[get_principal] = lambda: AUDITOR
    app.dependency_overrides[page_principal] = lambda: AUDITOR
    cases = {
        "no filter": {},
        "actor": {"actor": "user7"},
        "action family": {"action": "registry.*"},
        "unmasking view": {"unmask": "1"},
        "period (one week)": {"from": "2026-03-01", "to": "2026-03-07"},
        "actor + period, page 20": {"actor": "user7", "from": "2026-01-01", "to": "2026-12-31",
                                    "offset": "1000"},
        "object id (no match)": {"object_type": "case", "object_id": "no-such"},
    }  # fmt: skip
    with TestClient(app) as client:
        for name, params in cases.items():
            times = []
            for _ in range(5):
                t = time.perf_counter()
                r = client.get("/console/audit", params=params)
                times.append(time.perf_counter() - t)
                assert r.status_code == 200, r.text[:300]
            print(f"page {name:28s} median {1000 * statistics.median(times):7.1f} ms")
        r = client.post("/api/v1/export-jobs/audit", params={"actor": "user7"})
        assert r.status_code == 202, r.text
    Runner(factory, settings.upload_dir).run_pending()  # the page's verification, the export
    from sqlalchemy import select

    from wangge.ops.jobs import Job

    with factory() as s:
        for j in s.scalars(select(Job).order_by(Job.id)):
            print(f"job {j.kind:12s} {j.done:7d} rows in {j.detail.get('seconds')} s")
    engine.dispose()


if __name__ == "__main__":
    main()
