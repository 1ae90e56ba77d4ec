"""A case world with business lines, real accounts and an app whose caller can be switched."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.api_support import serve_session
from tests.case_factories import COUNTY, T0, build_world, jpeg
from wangge.api.deps import get_principal
from wangge.assignments.views import get_today
from wangge.auth.principal import Principal
from wangge.auth.service import assign_post, create_user, principal_for_user, seed_roles
from wangge.cases.models import Category
from wangge.cases.views import get_now
from wangge.config import Settings
from wangge.lines.service import seed_lines
from wangge.main import create_app

TODAY = T0.date()  # Monday 23 November 2026 in Beijing
# Lines of the classes the tests use, set here so the tests do not hang on catalogue defaults.
LINES = {"E0102": "urban", "C0101": "urban", "E0103": "urban", "S0101": "governance"}


def line_world(session: Session) -> None:
    """The case world, the county's standard lines, and the test classes in their lines."""
    build_world(session)
    seed_roles(session)
    seed_lines(session, COUNTY)
    for code, line in LINES.items():
        session.get(Category, code).business_line = line  # type: ignore[union-attr]
    session.flush()


def account(
    session: Session, username: str, role: str, scope: str | None = None, **kw: Any
) -> Principal:
    """Create a user with one post; return his principal (as a logged-in session would)."""
    user = create_user(
        session,
        username=username,
        password="Grid-Worker-2026",
        display_name=kw.pop("name", username),
        phone=kw.pop("phone", None),
    )
    assign_post(session, user, role, scope=scope, **kw)
    session.flush()
    return principal_for_user(session, user, via="session")


class Caller:
    """A test client whose principal is switched per request: `api(who).get(...)`."""

    def __init__(self, client: TestClient, holder: dict) -> None:
        self.client, self.holder = client, holder

    def __call__(self, principal: Principal) -> TestClient:
        self.holder["who"] = principal
        return self.client


def caller(
    request: pytest.FixtureRequest, session: Session, tmp_path: Any, **settings: Any
) -> Caller:
    """Return a Caller on an app serving the test session (extra Settings fields allowed)."""
    holder: dict = {}
    app = create_app(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'unused.db'}",
            upload_dir=tmp_path / "up",
            **settings,
        )
    )
    serve_session(app, session)
    app.dependency_overrides[get_principal] = lambda: holder["who"]
    app.dependency_overrides[get_now] = lambda: T0 + timedelta(hours=1)
    app.dependency_overrides[get_today] = lambda: TODAY
    client = TestClient(app)
    client.__enter__()
    request.addfinalizer(lambda: client.__exit__(None, None, None))
    return Caller(client, holder)


def photo(api: Caller, who: Principal) -> str:
    """Upload a photo as `who`; return its reference."""
    r = api(who).post("/api/v1/uploads", files={"file": ("p.jpg", jpeg(), "image/jpeg")})
    assert r.status_code == 201, r.text
    return f"/api/v1/uploads/{r.json()['id']}"


def report_body(api: Caller, who: Principal, category: str, **extra: Any) -> dict[str, Any]:
    """A report body with a fresh photo of `who`, at the world's first grid."""
    from tests.case_factories import LAT, LON

    return {
        "category_code": category,
        "description": "巡查发现问题",
        "lon": LON,
        "lat": LAT,
        "photos": [photo(api, who)],
        **extra,
    }
