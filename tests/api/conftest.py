"""Fixtures shared by the HTTP tests of the web layer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api_support import serve_session
from tests.case_factories import build_world
from wangge.api.deps import get_principal
from wangge.auth.principal import ANONYMOUS
from wangge.config import Settings
from wangge.main import create_app
from wangge.web.views import page_principal


@pytest.fixture
def web(session, tmp_path) -> Iterator[tuple[TestClient, dict]]:
    """The app on the test's session over a small world; set `holder["who"]` to log in."""
    build_world(session)
    holder: dict = {"who": ANONYMOUS, "settings": {}}
    app = create_app(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'unused.db'}",
            upload_dir=tmp_path / "uploads",
            log_json=False,
        )
    )
    serve_session(app, session)
    app.dependency_overrides[get_principal] = lambda: holder["who"]
    app.dependency_overrides[page_principal] = lambda: (
        None if holder["who"] is ANONYMOUS else holder["who"]
    )
    with TestClient(app) as c:
        yield c, holder


@pytest.fixture
def patrol_api(session, tmp_path) -> Iterator[tuple[TestClient, dict]]:
    """The app over a small world at T0 + 1 h, as a supervisor of GRID1 (`holder["who"]`)."""
    from datetime import timedelta

    from tests.case_factories import SUPERVISOR, T0
    from wangge.cases.views import get_now

    build_world(session)
    holder: dict = {"who": SUPERVISOR}
    app = create_app(
        Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", upload_dir=tmp_path / "up")
    )
    serve_session(app, session)
    app.dependency_overrides[get_principal] = lambda: holder["who"]
    app.dependency_overrides[get_now] = lambda: T0 + timedelta(hours=1)
    with TestClient(app) as c:
        yield c, holder
