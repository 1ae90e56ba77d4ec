"""The FastAPI application factory; nothing runs at import."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from wangge import __version__
from wangge.api import problems
from wangge.config import Settings
from wangge.db import make_engine, session_factory
from wangge.dbadmin import head_revision
from wangge.ops.health import DatabaseCollector
from wangge.ops.observe import (
    HttpMetrics,
    ObserveMiddleware,
    configure_logging,
    install_secrets_filter,
)
from wangge.wiring import wire

if TYPE_CHECKING:
    from wangge.ops.replicas import ReplicaMonitor

log = logging.getLogger("wangge.startup")
API = "/api/v1"  # the prefix of the JSON interface


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the lifespan owns the engine."""
    wire()  # the cross-package hooks (`wangge.wiring`), before any request or worker
    settings = settings or Settings()
    app = FastAPI(
        title="wangge 网格化服务管理信息平台",
        version=__version__,
        description="区划、网格、点位定位等接口。Divisions, grids, versions and point lookup.",
        lifespan=_lifespan(settings),
    )
    app.state.settings = settings
    _configure(app, settings)
    _add_observation(app, settings)
    if settings.bench_endpoints:
        from wangge.api.bench_views import router as bench_router

        app.include_router(bench_router)
    # Routes are matched in order, at ~10-30 µs each on the event loop (FastAPI 0.165): the
    # intake routes every phone, hotline and video feed hits come first.
    _include_intake(app)
    _include_administration(app)
    _include_pages(app)
    _include_maps(app, settings)
    from wangge.ops.health import router as health_router

    app.include_router(health_router)

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/console")

    return app


def _lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan: the engine, the replicas, the cache warm-up and the workers."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(
            settings.database_url,
            echo=settings.sql_echo,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        app.state.engine = engine
        # Admission to the database: see `api.deps.get_session` (made here, in the app's loop)
        app.state.admission = asyncio.Semaphore(settings.request_concurrency)
        app.state.session_factory = session_factory(engine, audit_key=settings.audit_key)
        app.state.head_revision = head_revision(engine)
        from wangge.grids.locating import set_budget

        set_budget(settings.grid_index_budget_mb)  # a province: LRU over the counties served
        from wangge.registry.map_snapshot import set_budget as set_map_budget

        set_map_budget(settings.map_snapshot_budget_mb)
        from wangge.places.service import set_budget as set_place_budget

        set_place_budget(settings.place_index_budget_mb)
        monitor = _start_replicas(app, settings, engine)
        if settings.warm_caches:
            # Start answering (and answering uvicorn's health checks) at once; the grid
            # indexes are built beside it, and a request that needs one meanwhile waits for
            # this single build instead of starting its own.
            threading.Thread(
                target=_warm,
                args=(app.state.session_factory, settings.gc_freeze),
                daemon=True,
                name="warm",
            ).start()
        workers = _start_workers(app.state.session_factory, settings)
        yield
        # Ask the periodic workers to end first, then wait for each (the sealer last, so it
        # seals what the others wrote): their rounds in hand finish side by side, so a
        # shutdown waits for the longest of them, not their sum (several × 10 s on a big
        # database, and the service manager kills a server that takes longer).
        for worker in workers:
            if hasattr(worker, "request_stop"):
                worker.request_stop()
        for worker in reversed(workers):
            worker.stop()
        if monitor is not None:
            monitor.stop()
            app.state.replicas.dispose()
        app.state.engine = None
        engine.dispose()

    return lifespan


def _start_replicas(app: FastAPI, settings: Settings, engine: Engine) -> ReplicaMonitor | None:
    """Route reads to fresh replicas (`ops.replicas`) when some are configured."""
    if not settings.read_urls or settings.is_sqlite:
        return None
    from wangge.ops.replicas import ReplicaMonitor, ReplicaRouter

    app.state.replicas = ReplicaRouter(
        engine,
        settings.read_urls,
        max_lag=settings.replica_max_lag_seconds,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    # Each process measures them.
    return ReplicaMonitor(app.state.replicas, settings.replica_check_seconds).start()


def _configure(app: FastAPI, settings: Settings) -> None:
    """Check the secrets, set the registry's hash key, the logging and the problem handlers."""
    settings.check_secrets()
    from wangge.registry.access import use_hash_key

    use_hash_key(settings.personal_hash_key)  # the registry's search hashes use this app's key
    install_secrets_filter()
    if settings.log_json:
        configure_logging(settings.log_level)
    problems.install(app)


def _add_observation(app: FastAPI, settings: Settings) -> None:
    """Add the replica headers and the metrics and access-log middleware."""
    if settings.read_urls:
        from wangge.ops.replicas import replica_headers

        app.middleware("http")(replica_headers)
    # Metrics live in a registry per app so that tests can build many apps in one process.
    registry = CollectorRegistry()
    app.state.metrics_registry = registry
    app.state.db_collector = DatabaseCollector(lambda: getattr(app.state, "engine", None))
    registry.register(app.state.db_collector)
    app.add_middleware(
        ObserveMiddleware, metrics=HttpMetrics(registry), access_log=settings.access_log
    )


def _include_intake(app: FastAPI) -> None:
    """Cases, intake, disputes, 代办 and Open311: the routes every report hits, first."""
    from wangge.cases.views import router as cases_router

    app.include_router(cases_router, prefix=API)
    from wangge.intake.views import router as intake_router  # 受理登记, 回访, video events

    app.include_router(intake_router, prefix=API)
    from wangge.disputes.views import router as disputes_router  # 矛盾纠纷 mediation

    app.include_router(disputes_router, prefix=API)
    from wangge.resident_services import views as resident_services  # 代办

    app.include_router(resident_services.router, prefix=API)
    app.include_router(resident_services.public_router)
    from wangge.open311.views import router as open311_router

    app.include_router(open311_router)
    from wangge.open311.statistics import router as open311_statistics_router

    app.include_router(open311_statistics_router)  # published indicators, no login


def _include_administration(app: FastAPI) -> None:
    """Users, grids, rules, uploads, exports, evaluation, registry, departments, lines …"""
    from wangge.auth.views import router as auth_router
    from wangge.cases.response_views import router as response_rules_router
    from wangge.exports.views import router as exports_router  # background exports
    from wangge.grids.divide_views import router as divide_router
    from wangge.grids.division_views import router as divisions_router
    from wangge.grids.manage_views import router as grid_manage_router
    from wangge.grids.views import router as grids_router
    from wangge.microgrids.views import router as micro_grids_router  # 微网格 (一网多层)
    from wangge.uploads.views import router as uploads_router
    from wangge.web import (
        audit_pages,  # the audit log page (审计日志)
        rule_pages,
    )

    app.include_router(auth_router, prefix=API)
    app.include_router(divisions_router, prefix=API)
    app.include_router(divide_router, prefix=API)
    app.include_router(grid_manage_router, prefix=API)
    app.include_router(micro_grids_router, prefix=API)
    app.include_router(grids_router, prefix=API)
    app.include_router(response_rules_router, prefix=API)
    app.include_router(rule_pages.router)
    app.include_router(uploads_router, prefix=API)
    app.include_router(exports_router, prefix=API)
    app.include_router(audit_pages.router)
    _include_evaluation_and_departments(app)


def _include_evaluation_and_departments(app: FastAPI) -> None:
    """Evaluation, registry, departments, lines, assignments, categories, notifications, places."""
    from wangge.assignments.views import router as assignments_router
    from wangge.departments.views import router as departments_router
    from wangge.evaluation import publication_views  # publication, stored monthly reports
    from wangge.evaluation.views import router as evaluation_router
    from wangge.lines.views import router as lines_router
    from wangge.notifications.views import router as notifications_router
    from wangge.places.views import router as places_router  # place search, reverse geocoding
    from wangge.registry.views import router as registry_router
    from wangge.web import (
        assignment_pages,
        category_pages,
        department_pages,
        evaluation_pages,  # /console/evaluation, /public/evaluation/{county}
        notification_pages,
    )

    app.include_router(evaluation_router, prefix=API)
    app.include_router(publication_views.router)
    app.include_router(publication_views.public_router)
    app.include_router(evaluation_pages.router)
    app.include_router(registry_router, prefix=API)
    app.include_router(departments_router, prefix=API)
    app.include_router(department_pages.router)
    app.include_router(lines_router, prefix=API)
    app.include_router(assignments_router, prefix=API)
    app.include_router(assignment_pages.router)
    app.include_router(category_pages.router)
    app.include_router(notifications_router, prefix=API)
    app.include_router(notification_pages.router)
    app.include_router(places_router, prefix=API)


def _include_pages(app: FastAPI) -> None:
    """The console and phone pages with their JSON helpers."""
    from wangge.web import api as web_api
    from wangge.web import (
        case_pages,
        department_phone,  # the department handler's phone page
        dispute_pages,  # /console/disputes (矛盾纠纷)
        employer_pages,  # /console/employers (两网化 用人单位覆盖率)
        intake_pages,  # /console/intake (受理登记)
        resident_service_pages,  # /console/resident-services (代办)
    )
    from wangge.web import views as web

    app.include_router(case_pages.router)
    app.include_router(intake_pages.router)
    app.include_router(dispute_pages.router)
    app.include_router(resident_service_pages.router)
    app.include_router(employer_pages.router)
    app.include_router(web.router)
    app.include_router(department_phone.router)
    app.include_router(web_api.router)


def _include_maps(app: FastAPI, settings: Settings) -> None:
    """Map layers, registry pages, the basemap tiles, the image policy and the static files."""
    from wangge.basemap.csp import ImagePolicy
    from wangge.basemap.sources import tile_hosts
    from wangge.basemap.views import router as basemap_router
    from wangge.web import (
        api_map_lines,  # pipelines drawn as lines from street zoom on
        api_map_points,  # the 部件/房屋 map layers (clusters per zoom)
        grid_card,  # the console map's card of the grid clicked
        map_cameras,  # the console map's camera layer
        registry_forms,  # 信息采集 form fields, /console/visits (走访)
        registry_pages,
    )
    from wangge.web import views as web

    app.include_router(api_map_points.router)
    app.include_router(api_map_lines.router)
    app.include_router(registry_pages.router)
    app.include_router(registry_forms.router)
    app.include_router(basemap_router)  # /tiles: the local MBTiles basemap
    app.include_router(grid_card.router)
    app.include_router(map_cameras.router)
    # Pages may load images only from here and the configured tile servers.
    app.add_middleware(ImagePolicy, hosts=tile_hosts(settings))
    app.mount("/static", web.static_files(), name="static")


def _start_workers(factory: sessionmaker[Session], settings: Settings) -> list[Any]:
    """Start the rounds every server process runs beside its requests (each 0 = off).

    Each takes its own lease where only one process may do the work at a time: the audit
    sealer chains entries; the outbox is delivered (派遣, 预警, 超期 …); the overdue sweep raises
    预警 and 超期; the closed month's 考核 reports are produced once; long exports run; the
    coming months' partitions are created.
    """
    from wangge.audit.sealer import Sealer
    from wangge.cases.sweeper import SweepWorker
    from wangge.evaluation.auto_reports import EvaluationReportWorker
    from wangge.exports.runner import ExportWorker
    from wangge.notifications.worker import DeliveryWorker
    from wangge.ops.partitions import PartitionWorker
    from wangge.resident_services.scheduled import ServiceSweepWorker  # 代办 预警/超期

    plan: list[tuple[float, Callable[[], Any]]] = [
        (settings.audit_seal_seconds, lambda: Sealer(factory, settings.audit_seal_seconds)),
        (settings.deliver_seconds, lambda: DeliveryWorker.for_settings(factory, settings)),
        (settings.sweep_seconds, lambda: SweepWorker(factory, settings.sweep_seconds)),
        (settings.sweep_seconds, lambda: ServiceSweepWorker(factory, settings.sweep_seconds)),
        (settings.eval_report_seconds,
         lambda: EvaluationReportWorker(factory, settings.eval_report_seconds)),
        (settings.export_seconds, lambda: ExportWorker(factory, settings)),
        (settings.partition_seconds,
         lambda: PartitionWorker(factory, settings.partition_seconds)),
    ]  # fmt: skip
    return [make().start() for seconds, make in plan if seconds > 0]


def _warm(factory: sessionmaker[Session], freeze: bool) -> None:
    from wangge.grids.locating import warm

    started = time.monotonic()
    try:
        with factory() as session:
            n = warm(session)
            # The place indexes too: the first report's address is not built on its request.
            from wangge.places.service import warm as warm_places

            warm_places(session)
            # The map's per-county summaries: a province view then reads no county.
            from wangge.registry.map_summary import warm as warm_map

            counties = warm_map(session)
    except SQLAlchemyError as exc:  # e.g. a database not migrated yet: requests will say so
        log.info("cache warm-up skipped: %s", exc.__class__.__name__)
        return
    log.info(
        "grid indexes of %d versions and map summaries of %d counties ready in %.1f s",
        n, counties, time.monotonic() - started,
    )  # fmt: skip
    if freeze:
        # What the process has built so far (modules, app, indexes) lives as long as it does:
        # out of the cycle collector's reach, a full collection no longer walks it. It walked
        # ~310,000 objects in ~100 ms with the GIL held, a stall of every request (p99).
        gc.collect()
        gc.freeze()
