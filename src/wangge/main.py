"""The FastAPI application factory; nothing runs at import."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from prometheus_client import CollectorRegistry
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

log = logging.getLogger("wangge.startup")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the lifespan owns the engine."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(
            settings.database_url,
            echo=settings.sql_echo,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        app.state.engine = engine
        app.state.session_factory = session_factory(engine, audit_key=settings.audit_key)
        app.state.head_revision = head_revision(engine)
        if settings.warm_caches:
            # Start answering (and answering uvicorn's health checks) at once; the grid
            # indexes are built beside it, and a request that needs one meanwhile waits for
            # this single build instead of starting its own.
            threading.Thread(
                target=_warm, args=(app.state.session_factory,), daemon=True, name="warm"
            ).start()
        sealer = None
        if settings.audit_seal_seconds > 0:
            from wangge.audit.sealer import Sealer

            sealer = Sealer(app.state.session_factory, settings.audit_seal_seconds).start()
        deliverer = None
        if settings.deliver_seconds > 0:
            # Notifications go out by themselves: every process runs a worker, the delivery
            # lease lets one of them send at a time (WANGGE_DELIVER_SECONDS=0 turns it off).
            from wangge.notifications.worker import DeliveryWorker

            factory = app.state.session_factory
            deliverer = DeliveryWorker.for_settings(factory, settings).start()
        sweeper = None
        if settings.sweep_seconds > 0:
            # 预警 and 超期 are raised by the server itself (the sweep lease: one process).
            from wangge.cases.sweeper import SweepWorker

            sweeper = SweepWorker(app.state.session_factory, settings.sweep_seconds).start()
        yield
        if sweeper is not None:
            sweeper.stop()
        if deliverer is not None:
            deliverer.stop()
        if sealer is not None:
            sealer.stop()
        app.state.engine = None
        engine.dispose()

    app = FastAPI(
        title="wangge 网格化服务管理信息平台",
        version=__version__,
        description="区划、网格、点位定位等接口。Divisions, grids, versions and point lookup.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    settings.check_secrets()
    from wangge.registry.access import use_hash_key

    use_hash_key(settings.personal_hash_key)  # the registry's search hashes use this app's key
    install_secrets_filter()
    if settings.log_json:
        configure_logging(settings.log_level)
    problems.install(app)
    # Metrics live in a registry per app so that tests can build many apps in one process.
    registry = CollectorRegistry()
    app.state.metrics_registry = registry
    app.state.db_collector = DatabaseCollector(lambda: getattr(app.state, "engine", None))
    registry.register(app.state.db_collector)
    app.add_middleware(
        ObserveMiddleware, metrics=HttpMetrics(registry), access_log=settings.access_log
    )

    from wangge.auth.views import router as auth_router
    from wangge.cases.views import router as cases_router
    from wangge.divisions.views import router as divisions_router
    from wangge.evaluation.views import router as evaluation_router
    from wangge.grids.divide_views import router as divide_router
    from wangge.grids.manage_views import router as grid_manage_router
    from wangge.grids.views import router as grids_router
    from wangge.open311.views import router as open311_router
    from wangge.ops.health import router as health_router
    from wangge.registry.views import router as registry_router
    from wangge.uploads.views import router as uploads_router

    if settings.bench_endpoints:
        from wangge.api.bench_views import router as bench_router

        app.include_router(bench_router)
    # Routes are matched in order, at ~10-30 µs each on the event loop (FastAPI 0.165): the
    # intake routes every phone, hotline and video feed hits come first.
    app.include_router(cases_router, prefix="/api/v1")
    app.include_router(open311_router)
    app.include_router(auth_router, prefix="/api/v1")
    app.include_router(divisions_router, prefix="/api/v1")
    app.include_router(divide_router, prefix="/api/v1")
    app.include_router(grid_manage_router, prefix="/api/v1")
    app.include_router(grids_router, prefix="/api/v1")
    from wangge.cases.response_views import router as response_rules_router

    app.include_router(response_rules_router, prefix="/api/v1")
    from wangge.web import rule_pages

    app.include_router(rule_pages.router)
    app.include_router(uploads_router, prefix="/api/v1")
    app.include_router(evaluation_router, prefix="/api/v1")
    app.include_router(registry_router, prefix="/api/v1")
    from wangge.departments.views import router as departments_router
    from wangge.web import department_pages

    app.include_router(departments_router, prefix="/api/v1")
    app.include_router(department_pages.router)
    from wangge.assignments.views import router as assignments_router
    from wangge.lines.views import router as lines_router
    from wangge.web import assignment_pages

    app.include_router(lines_router, prefix="/api/v1")
    app.include_router(assignments_router, prefix="/api/v1")
    app.include_router(assignment_pages.router)
    from wangge.web import category_pages

    app.include_router(category_pages.router)
    from wangge.notifications.views import router as notifications_router
    from wangge.web import notification_pages

    app.include_router(notifications_router, prefix="/api/v1")
    app.include_router(notification_pages.router)
    from wangge.web import api as web_api
    from wangge.web import case_pages
    from wangge.web import views as web

    app.include_router(case_pages.router)
    app.include_router(web.router)
    app.include_router(web_api.router)
    from wangge.web import api_map_points  # the 部件/房屋 map layers (clusters per zoom)

    app.include_router(api_map_points.router)
    from wangge.web import registry_pages

    app.include_router(registry_pages.router)
    app.mount("/static", web.static_files(), name="static")
    app.include_router(health_router)

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/console")

    return app


def _warm(factory: sessionmaker[Session]) -> None:
    from wangge.grids.locating import warm

    started = time.monotonic()
    try:
        with factory() as session:
            n = warm(session)
    except SQLAlchemyError as exc:  # e.g. a database not migrated yet: requests will say so
        log.info("cache warm-up skipped: %s", exc.__class__.__name__)
        return
    log.info("grid indexes of %d versions ready in %.1f s", n, time.monotonic() - started)
