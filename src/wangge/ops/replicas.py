"""Read replicas: read-only requests served by PostgreSQL streaming replicas, lag-aware.

`WANGGE_READ_DATABASE_URL` names one or more hot standbys (comma-separated). A monitor round
every `WANGGE_REPLICA_CHECK_SECONDS` reads the primary's WAL position and each replica's replay
position; a replica is used when it answers, is still in recovery (a promoted one is no longer
a replica) and has replayed everything the primary had written `WANGGE_REPLICA_MAX_LAG_SECONDS`
ago. Only GET requests of the routes in `READ_ROUTES` go to a replica; they write nothing (an
audited read of personal data writes its audit entry in the same transaction, so those stay on
the primary). A client that has just written carries the primary's WAL position in a cookie
(`wangge_lsn`, set after every successful write), and is served by a replica only once it has
replayed that far: the case a user has just reported is on his next page. A replica that fails
a request is dropped at once; the monitor takes it back when it answers again.

Lag is measured in time without a clock on the replica: the monitor keeps the primary's recent
positions with the moment it saw each, and a replica's lag is how long ago the primary first
passed the position the replica has replayed (0 when it has replayed the newest).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from itertools import count
from typing import TypedDict, Unpack
from urllib.parse import urlsplit

from fastapi import Request
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from starlette.responses import Response

from wangge.db import make_engine
from wangge.ops.periodic import PeriodicWorker

log = logging.getLogger("wangge.replicas")
LSN_COOKIE = "wangge_lsn"
NODE_HEADER = "X-DB-Node"


class _EngineOptions(TypedDict, total=False):
    """The pool options a replica engine takes from `make_engine`."""

    pool_size: int
    max_overflow: int


# GET routes whose work is read-only and may be a little behind: the big screen, the map
# layers, the evaluation, Open311 reads.
READ_ROUTES = (
    "/web/api/dashboard",
    "/web/api/map/",
    "/api/v1/evaluation/periods",
    "/api/v1/evaluation/hotspots",
    "/open311/v2/discovery",
    "/open311/v2/services",
    "/open311/v2/requests",
    "/open311/v2/statistics",
)


def parse_lsn(value: str) -> int:
    """Return a WAL position ('16/B374D848') as one integer."""
    high, low = value.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def read_routed(method: str, path: str) -> bool:
    """Whether a request may be served by a replica."""
    return method in ("GET", "HEAD") and path.startswith(READ_ROUTES)


@dataclass
class Replica:
    name: str  # host:port, for logs and the X-DB-Node header (never the password)
    engine: Engine
    up: bool = False
    replayed: int | None = None
    lag: float | None = None


class ReplicaRouter:
    """The replicas of one primary, their health and lag, and the choice for a read."""

    def __init__(
        self,
        primary: Engine,
        urls: list[str],
        *,
        max_lag: float,
        **engine_kw: Unpack[_EngineOptions],
    ):
        self.primary = primary
        self.max_lag = max_lag
        self.replicas = [
            Replica(f"replica:{urlsplit(u).hostname}:{urlsplit(u).port or 5432}",
                    make_engine(u, **engine_kw))
            for u in urls
        ]  # fmt: skip
        self._seen: deque[tuple[float, int]] = deque(maxlen=4096)  # (monotonic, primary LSN)
        self._turn = count()
        self._lock = threading.Lock()

    def check(self) -> None:
        """Measure the primary's position and each replica's replay position and lag."""
        now = time.monotonic()
        try:
            with self.primary.connect() as conn:
                head = parse_lsn(
                    conn.execute(text("SELECT pg_current_wal_insert_lsn()")).scalar_one()
                )
        except Exception as exc:  # the primary away: judge replicas by replay only
            log.info("primary position unknown: %s", exc.__class__.__name__)
            head = None
        with self._lock:
            if head is not None and (not self._seen or self._seen[-1][1] < head):
                self._seen.append((now, head))
            horizon = now - 10 * max(self.max_lag, 1.0)
            while len(self._seen) > 1 and self._seen[1][0] < horizon:
                self._seen.popleft()
        for r in self.replicas:
            self._check_one(r, now)

    def _check_one(self, r: Replica, now: float) -> None:
        try:
            with r.engine.connect() as conn:
                standby, replayed = conn.execute(
                    text("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text")
                ).one()
        except Exception as exc:  # any failure means: do not read there
            self._drop(r, exc.__class__.__name__)
            return
        if not standby or replayed is None:
            self._drop(r, "not in recovery (promoted?)")
            return
        r.replayed = parse_lsn(replayed)
        r.lag = self._lag_of(r.replayed, now)
        if not r.up:
            log.info("%s in use (lag %.2f s)", r.name, r.lag)
        r.up = True

    def _lag_of(self, replayed: int, now: float) -> float:
        """Return how long ago the primary passed `replayed` (at most one check late).

        Behind the oldest position this process has seen, nobody knows since when: a replica
        still replaying what was written before the process started (or longer ago than the
        samples kept) counts as too far behind.
        """
        with self._lock:
            for i, (seen_at, lsn) in enumerate(self._seen):
                if lsn > replayed:
                    return float("inf") if i == 0 else now - seen_at
        return 0.0

    def _drop(self, r: Replica, why: str) -> None:
        if r.up:
            log.warning("%s not used: %s", r.name, why)
        r.up = False
        r.engine.dispose()  # its pooled connections may point at a dead server

    def failed(self, engine: Engine) -> None:
        """A request on this replica's engine failed: stop reading there until it answers."""
        for r in self.replicas:
            if r.engine is engine:
                self._drop(r, "a request failed")

    def pick(self, written: int | None = None) -> Replica | None:
        """Return a replica fresh enough for a read (and for the client's own writes)."""
        fresh = [
            r for r in self.replicas
            if r.up and r.lag is not None and r.lag <= self.max_lag
            and (written is None or (r.replayed is not None and r.replayed >= written))
        ]  # fmt: skip
        return fresh[next(self._turn) % len(fresh)] if fresh else None

    def dispose(self) -> None:
        for r in self.replicas:
            r.engine.dispose()


class ReplicaMonitor(PeriodicWorker[None]):
    """Check the replicas every `interval` seconds in a daemon thread."""

    def __init__(self, router: ReplicaRouter, interval: float) -> None:
        super().__init__(interval, name="replica-monitor", log=log)
        self.router = router

    def round(self) -> None:
        self.router.check()


def written_position(request: Request) -> int | None:
    """Return the WAL position of the client's last write (its cookie), if any."""
    value = request.cookies.get(LSN_COOKIE)
    try:
        return int(value) if value else None
    except ValueError:
        return None


def session_for(request: Request) -> Session:
    """Return the request's session: on a fresh replica for a routed read, else the primary."""
    state = request.app.state
    router: ReplicaRouter | None = getattr(state, "replicas", None)
    if router is not None and read_routed(request.method, request.url.path):
        replica = router.pick(written_position(request))
        if replica is not None:
            request.state.db_node = replica.name
            return state.session_factory(bind=replica.engine)  # type: ignore[no-any-return]
    request.state.db_node = "primary"
    return state.session_factory()  # type: ignore[no-any-return]


def mark_written(request: Request, session: Session) -> None:
    """After a write's commit, note the primary's WAL position for the client's next reads."""
    if getattr(request.app.state, "replicas", None) is None:
        return
    # The insert position, not the write position: with synchronous_commit=off the commit
    # record may still be in the WAL buffers, past pg_current_wal_lsn().
    lsn = session.execute(text("SELECT pg_current_wal_insert_lsn()")).scalar_one()
    request.state.written_lsn = parse_lsn(lsn)


async def replica_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Name the node that served the request; hand the client its write position."""
    response = await call_next(request)
    node = getattr(request.state, "db_node", None)
    if node is not None:
        response.headers[NODE_HEADER] = node
    written = getattr(request.state, "written_lsn", None)
    if written is not None and response.status_code < 400:
        router: ReplicaRouter = request.app.state.replicas
        # Beyond the lag limit every replica in use has replayed it anyway.
        age = int(max(10.0, 5 * router.max_lag))
        response.set_cookie(LSN_COOKIE, str(written), max_age=age, httponly=True, samesite="lax")
    return response
