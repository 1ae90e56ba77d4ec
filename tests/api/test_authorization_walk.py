"""Walk every endpoint with every default role, in and out of area, and look for leaks.

Each role gets a post in community A (110108001001) — or department CGW, or nothing for a
citizen. Community B (110108001002) holds a case dispatched to another department, a grid
and a grid worker. For every route, with its path parameters pointed at B's objects, a 2xx
answer must not carry any of B's markers; writes aimed at B must not succeed. A few
in-area reads must succeed, so the test cannot pass by refusing everything.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api_support import serve_session
from tests.case_factories import CGW, T0, build_world
from tests.factories import DX, DY, X0, Y0
from wangge.api.deps import get_principal
from wangge.auth import service as auth
from wangge.auth.roles import DEFAULT_ROLES
from wangge.cases.reporting import CaseIn, create_case
from wangge.cases.service import act
from wangge.cases.vocabulary import Action, Source
from wangge.config import Settings
from wangge.disputes.schemas import DisputeIn, PartyIn
from wangge.disputes.service import create as register_dispute
from wangge.grids.models import Grid
from wangge.main import create_app

A, B = "110108001001", "110108001002"
B_MARKERS = (B, "B区域的秘密案件")
WHOLE = {"admin", "leader"}


def _user(session, name: str, role: str, *, scope: str | None = None, dept: str | None = None):  # type: ignore[no-untyped-def]
    user = auth.create_user(
        session, username=name, password="Walk-Every-Route-1", display_name=name
    )
    auth.assign_post(session, user, role, scope=scope, department=dept)
    return auth.principal_for_user(session, user, via="bearer")


@pytest.fixture
def world(session, tmp_path) -> Iterator[dict[str, Any]]:
    build_world(session)
    auth.seed_roles(session)
    # Actors in B make B's case: reported, accepted, filed and dispatched to another department.
    b_worker = _user(session, "b-worker", "supervisor", scope=B)
    b_center = {
        r: _user(session, f"b-{r}", r, scope="110108")
        for r in ("acceptor", "shift_leader", "dispatcher")
    }
    case_b = create_case(
        session,
        CaseIn(
            category_code="E0102",
            description="B区域的秘密案件 13812345678",
            lon=X0 + 1.25 * DX,
            lat=Y0 + 0.25 * DY,
            source=Source.PATROL,
        ),
        b_worker,
        now=T0,
    )
    for action, who, payload in (
        (Action.ACCEPT, "acceptor", {}),
        (Action.FILE, "shift_leader", {}),
        (Action.DISPATCH, "dispatcher", {"department": "110108-SZSR"}),
    ):
        act(
            session,
            case_b.id,
            action,
            b_center[who],
            expected_version=case_b.version,
            payload=payload,
            now=T0,
        )
        session.refresh(case_b)
    # A dispute in B (矛盾纠纷): its routes are walked with B's id too.
    dispute_b = register_dispute(
        session,
        b_worker,
        DisputeIn(
            kind="other", summary="B区域的秘密案件 纠纷", lon=X0 + 1.25 * DX, lat=Y0 + 0.25 * DY,
            parties=[PartyIn(name="张三丰", phone="13812345678")],
        ),
        now=T0,
    )  # fmt: skip
    principals = {}
    for role in DEFAULT_ROLES:
        if role in WHOLE:
            principals[role] = _user(session, f"a-{role}", role)
        elif role == "department":
            principals[role] = _user(session, f"a-{role}", role, dept=CGW)
        elif role == "citizen":
            principals[role] = _user(session, f"a-{role}", role)
        else:
            principals[role] = _user(session, f"a-{role}", role, scope=A)
    case_a = create_case(
        session,
        CaseIn(
            category_code="E0102", description="A区域案件", lon=X0 + 0.25 * DX, lat=Y0 + 0.75 * DY
        ),
        principals["supervisor"],
        now=T0,
    )
    grid_b = session.scalars(select(Grid).where(Grid.code.startswith(B))).first()
    grid_a = session.scalars(select(Grid).where(Grid.code.startswith(A))).first()
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}"))
    serve_session(app, session)
    values_b = {
        "case_id": case_b.id,
        "dispute_id": dispute_b.id,
        "grid_id": grid_b.id,
        "code": B,
        "user_id": b_worker.user_id,
        "version_id": grid_b.version_id,
        "request_id": case_b.code,
        "token": case_b.code,
    }
    yield {
        "app": app,
        "principals": principals,
        "values_b": values_b,
        "case_a": case_a,
        "grid_a": grid_a,
    }


def _path(template: str, values: dict[str, Any]) -> str:
    def fill(m: re.Match[str]) -> str:
        name = m.group(1).split(":")[0]
        if name == "fmt":
            return "json"
        return str(values.get(name, 999_999))

    return re.sub(r"\{([^}]+)\}", fill, template)


def _routes(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Every documented (method, path template) of the app, from its OpenAPI schema."""
    paths = app.openapi()["paths"]
    return [
        (m.upper(), p)
        for p, ops in paths.items()
        for m in ops
        if m in ("get", "post", "put", "patch", "delete")
    ]


# Public by design: the Open311 surface (city-management cases only, descriptions scrubbed),
# grid lookup (上岗公示) and health endpoints.
PUBLIC = re.compile(
    r"^/(open311/|api/v1/grids/locate|healthz|readyz|metrics|web/|static/|m/|citizen|dashboard)"
)


@pytest.mark.parametrize("role", sorted(DEFAULT_ROLES))
def test_no_role_sees_or_changes_what_lies_outside_its_area(world, role):
    app, principal = world["app"], world["principals"][role]
    app.dependency_overrides[get_principal] = lambda: principal
    leaks, writes = [], []
    with TestClient(app, raise_server_exceptions=False) as client:
        routes = _routes(app)
        assert len(routes) > 40  # the walk really covers the API
        for method, template in routes:
            path = _path(template, world["values_b"])
            if PUBLIC.match(template) or role in WHOLE:
                continue
            body: Any = {"expected_version": 1} if "/actions/" in template else {}
            response = client.request(method, path, json=body if method != "GET" else None)
            if method == "GET" and response.status_code < 300:
                text = response.text
                leaks += [f"{method} {template}: {m}" for m in B_MARKERS if m in text]
            elif method != "GET" and response.status_code < 300 and "{" in template:
                writes.append(f"{method} {template} -> {response.status_code}")
    assert leaks == [], f"{role} sees B's data"
    assert writes == [], f"{role} changed B's data"


def test_in_area_reads_work_for_the_roles_that_need_them(world):
    app = world["app"]
    case_a = world["case_a"]
    expectations = {
        "supervisor": 200,
        "acceptor": 200,
        "shift_leader": 200,
        "grid_leader": 200,
        "leader": 200,
        "admin": 200,
        "citizen": 404,
    }
    with TestClient(app) as client:
        for role, status in expectations.items():
            principal = world["principals"][role]
            app.dependency_overrides[get_principal] = lambda p=principal: p
            got = client.get(f"/api/v1/cases/{case_a.id}").status_code
            assert got == status, f"{role}: GET case in area -> {got}"
        app.dependency_overrides[get_principal] = lambda: world["principals"]["supervisor"]
        assert client.get(f"/api/v1/grids/{world['grid_a'].id}").status_code == 200
        assert any(g["code"].startswith(A) for g in client.get("/api/v1/grids").json())
