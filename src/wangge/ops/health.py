"""/healthz (alive), /readyz (database and schema) and /metrics (Prometheus)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, text

from wangge.api.problems import problem
from wangge.cases.vocabulary import FINAL

router = APIRouter(include_in_schema=False)


class DatabaseCollector(Collector):
    """Gauges computed on scrape with a few cheap aggregate queries."""

    def __init__(self, engine_of: Any) -> None:
        self.engine_of = engine_of

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Yield cases by state, overdue cases and the outbox backlog; up=0 when unreachable."""
        up = GaugeMetricFamily("wangge_database_up", "1 when the database answered the scrape.")
        engine: Engine | None = self.engine_of()
        if engine is None:
            up.add_metric([], 0)
            yield up
            return
        states = GaugeMetricFamily("wangge_cases", "Cases by state.", labels=["state"])
        overdue = GaugeMetricFamily(
            "wangge_cases_overdue", "Open cases past their deadline.", labels=["stage"]
        )
        outbox = GaugeMetricFamily(
            "wangge_outbox_messages", "Outbox messages by status.", labels=["status"]
        )
        oldest = GaugeMetricFamily(
            "wangge_outbox_oldest_pending_age_seconds", "Age of the oldest pending message."
        )
        now = datetime.now(UTC)
        try:
            with engine.connect() as conn:
                for state, n in conn.execute(text("SELECT state, count(*) FROM cases GROUP BY 1")):
                    states.add_metric([state], n)
                # Stored UTC (naive on SQLite, aware on PostgreSQL): bind to match.
                bound = now.replace(tzinfo=None) if engine.dialect.name == "sqlite" else now
                final = ", ".join(f"'{s.value}'" for s in sorted(FINAL))
                for stage, n in conn.execute(
                    text(
                        "SELECT coalesce(stage, ''), count(*) FROM cases WHERE due_at < :now "
                        f"AND state NOT IN ({final}) GROUP BY 1"
                    ),
                    {"now": bound},
                ):
                    overdue.add_metric([stage], n)
                for status, n in conn.execute(
                    text("SELECT status, count(*) FROM outbox GROUP BY 1")
                ):
                    outbox.add_metric([status], n)
                first = conn.execute(
                    text("SELECT min(created_at) FROM outbox WHERE status = 'pending'")
                ).scalar()
        except Exception:
            up.add_metric([], 0)
            yield up
            return
        if isinstance(first, str):
            first = datetime.fromisoformat(first)
        if first is not None:
            first = first if first.tzinfo else first.replace(tzinfo=UTC)
            oldest.add_metric([], max(0.0, (now - first).total_seconds()))
        else:
            oldest.add_metric([], 0)
        up.add_metric([], 1)
        yield from (up, states, overdue, outbox, oldest)


def scrape_registry(app_registry: CollectorRegistry, db: Collector) -> CollectorRegistry:
    """Return what to expose: this process, or every worker when multiprocess mode is on."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        # prometheus_client leaves MultiProcessCollector.__init__ unannotated.
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(db)
        return registry
    return app_registry


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Answer while the process is alive; touches no database."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> Response:
    """Answer 200 when the database is reachable and the schema is at the shipped head."""
    from wangge.dbadmin import current_revision

    state = request.app.state
    engine: Engine | None = getattr(state, "engine", None)
    started = time.perf_counter()
    if engine is None:
        return problem(503, "not_ready", "服务尚未启动完成", "the app has not started yet")
    try:
        current = current_revision(engine)
    except Exception as exc:
        return problem(
            503,
            "database_unavailable",
            "数据库不可达",
            "the database is unreachable",
            reason=exc.__class__.__name__,
        )
    head = state.head_revision
    if current != head:
        return problem(
            503,
            "schema_outdated",
            f"数据库结构版本 {current} 不是最新版本 {head}，请运行 wangge db upgrade",
            f"schema revision {current} is not head {head}; run `wangge db upgrade`",
            current=current,
            head=head,
        )
    return JSONResponse(
        {
            "status": "ready",
            "database": engine.dialect.name,
            "revision": current,
            "check_ms": round((time.perf_counter() - started) * 1000, 1),
        }
    )


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    state = request.app.state
    registry = scrape_registry(state.metrics_registry, state.db_collector)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
