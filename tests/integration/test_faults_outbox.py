"""The outbox end to end: a webhook receiver that hangs, then fails, then recovers.

Delivery runs as the scheduled command (`wangge jobs deliver`) against a receiver on
localhost; cases keep being written meanwhile, nothing is lost and nothing is sent twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from tests.case_factories import SUPERVISOR, report
from tests.ops_support import fresh_database, seed_world
from wangge.cases.models import Case, OutboxMessage
from wangge.cases.outbox import enqueue
from wangge.db import make_engine, session_factory, unit_of_work

pytestmark = pytest.mark.slow
BOTH = ["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)]
WEBHOOKS = 2
# The job gives up on a hanging webhook after this many seconds: a report that waited for one
# attempt would take at least that long, whatever the machine's load (CI found 1.1 s for a
# report that did not wait, on a busy machine).
HOOK_TIMEOUT = 4


class Receiver:
    """A webhook endpoint whose behaviour the test switches: hang, fail or ok."""

    def __init__(self) -> None:
        self.mode = "hang"
        self.release = threading.Event()
        self.hits = 0
        self.delivered: Counter[int] = Counter()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.hits += 1
                if receiver.mode == "hang":
                    receiver.release.wait(10)
                    return
                if receiver.mode == "fail":
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.delivered[body["id"]] += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


def _deliver(url: str, hook: str, now: datetime) -> subprocess.Popen:
    env = {**os.environ, "WANGGE_WEBHOOK_URL": hook}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wangge",
            "jobs",
            "deliver",
            "--timeout",
            str(HOOK_TIMEOUT),
            "--now",
            now.isoformat(),
            "--database-url",
            url,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.parametrize("kind", BOTH)
def test_a_hanging_then_failing_webhook_blocks_no_case_loses_no_message_and_resumes(kind, tmp_path):
    receiver = Receiver()
    with fresh_database(kind, tmp_path, "wangge_outbox") as url:
        seed_world(url, cases=1)  # a dispatched case: its in-app messages are queued
        engine = make_engine(url)
        factory = session_factory(engine)
        now = datetime.now(UTC)
        try:
            with unit_of_work(factory) as s:
                case_id = s.scalar(select(Case.id))
                for i in range(WEBHOOKS):
                    enqueue(
                        s,
                        topic="case.test",
                        recipient=f"hook{i}",
                        body={"n": i},
                        now=now,
                        case_id=case_id,
                        channel="webhook",
                    )
            with factory() as s:
                in_app = s.scalars(
                    select(OutboxMessage.id).where(OutboxMessage.channel == "in_app")
                ).all()
            assert in_app

            job = _deliver(url, receiver.url, now)
            started = time.monotonic()
            while receiver.hits == 0 and time.monotonic() - started < 30:
                time.sleep(0.05)
            assert receiver.hits > 0, "the job never reached the webhook"
            # While the webhook hangs, a new report is written without waiting for it.
            t = time.monotonic()
            with unit_of_work(factory) as s:
                report(s, SUPERVISOR, at=now)
            took = time.monotonic() - t
            assert took < HOOK_TIMEOUT / 2, f"the report waited for the webhook ({took:.1f} s)"
            output, _ = job.communicate(timeout=60)
            assert job.returncode == 0, output
            assert f"sent {len(in_app)}" in output and f"retry {WEBHOOKS}" in output

            with factory() as s:
                hooks = s.scalars(
                    select(OutboxMessage).where(OutboxMessage.channel == "webhook")
                ).all()
                assert {m.status for m in hooks} == {"pending"}
                assert all(m.attempts == 1 and "timeout" in m.last_error for m in hooks)

            receiver.mode = "fail"
            receiver.release.set()
            output, _ = _deliver(url, receiver.url, now + timedelta(hours=1)).communicate(60)
            assert f"retry {WEBHOOKS}" in output, output

            receiver.mode = "ok"
            output, _ = _deliver(url, receiver.url, now + timedelta(hours=3)).communicate(60)
            assert f"sent {WEBHOOKS}" in output, output
            output, _ = _deliver(url, receiver.url, now + timedelta(days=3)).communicate(60)
            assert "sent 0" in output, output

            with factory() as s:
                hooks = s.scalars(
                    select(OutboxMessage).where(OutboxMessage.channel == "webhook")
                ).all()
                assert {m.status for m in hooks} == {"sent"}
                assert [m.attempts for m in hooks] == [3] * WEBHOOKS
                assert receiver.delivered == Counter({m.id: 1 for m in hooks})
                assert s.scalar(select(Case.id).order_by(Case.id.desc())) > case_id
        finally:
            receiver.close()
            engine.dispose()
