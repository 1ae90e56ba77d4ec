"""The public page's reports (no login): file a report, track it, rate or reopen it.

The reporter has no account: the tracking code's secret half is his identity (`_citizen`).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from pydantic import Field
from sqlalchemy import select

from wangge.api.deps import SessionDep, SettingsDep
from wangge.auth.principal import Principal
from wangge.cases.access import visible
from wangge.cases.models import Case, Category
from wangge.cases.public import public_view
from wangge.cases.vocabulary import Satisfaction, Source
from wangge.common.models import utcnow
from wangge.common.schemas import InputModel
from wangge.errors import NotFound, ValidationFailed

router = APIRouter(prefix="/web/api", include_in_schema=False)


class CitizenReport(InputModel):
    """A citizen's report from the public page."""

    category_code: str = Field(min_length=1, max_length=16)
    description: str = Field(min_length=1, max_length=2000)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    # Browser geolocation is WGS84; a native app wrapper with a GCJ-02 map SDK sends "GCJ-02".
    crs: str = Field(default="EPSG:4326", max_length=64)
    address: str | None = Field(default=None, max_length=200)
    photos: list[str] = Field(default_factory=list, max_length=9)


class CitizenAction(InputModel):
    rating: Satisfaction | None = None
    note: str | None = Field(default=None, max_length=2000)


def _citizen(secret: str) -> Principal:
    """The anonymous reporter, identified by the secret half of his tracking code.

    Events and the case carry only a hash of the secret, so staff who read the timeline
    cannot rate or reopen in the citizen's name.
    """
    digest = hashlib.sha256(f"wangge-citizen:{secret}".encode()).hexdigest()[:24]
    return Principal(
        name=f"citizen-web:{digest}",
        permissions=frozenset({"cases.report"}),
        scope_prefixes=frozenset(),
        via="anonymous",
        roles=frozenset({"citizen"}),
    )


def _split(tracking: str) -> tuple[str, str]:
    code, _, secret = tracking.strip().rpartition("-")
    if not code or len(secret) < 8:
        raise NotFound("查询编码不正确", "unknown tracking code", code="bad_tracking_code")
    return code, secret


def _tracked(session: SessionDep, tracking: str) -> tuple[Case, Principal]:
    code, secret = _split(tracking)
    who = _citizen(secret)
    case = session.scalars(select(Case).where(Case.code == code, visible(who))).first()
    if case is None:
        raise NotFound("查询编码不正确", "unknown tracking code", code="bad_tracking_code")
    return case, who


@router.post("/citizen/reports", status_code=201)
def citizen_report(
    body: CitizenReport,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(max_length=64)] = None,
) -> dict[str, Any]:
    """File a citizen's report without an account; return the tracking code.

    A resent report (a double click, a retry after a lost answer) with the same Idempotency-Key
    and body returns the first answer, tracking code included, instead of filing it again.
    """
    if not settings.public_reporting:
        raise NotFound("未开放公众上报", "public reporting is switched off", code="no_public")
    from wangge.api.idempotency import fingerprint, run_once

    def work() -> tuple[int, dict[str, Any]]:
        return 201, _file_citizen_report(session, request, body)

    # Each anonymous report has its own principal (a fresh secret), so the key cannot belong
    # to one: the page's random key with the identical body makes it the same request.
    _status, out, _replayed = run_once(
        session,
        owner="citizen-web",
        key=idempotency_key,
        fingerprint=fingerprint("POST", "/citizen/reports", body.model_dump(mode="json")),
        work=work,
    )
    return dict(out)


def _file_citizen_report(
    session: SessionDep, request: Request, body: CitizenReport
) -> dict[str, Any]:
    from wangge.cases.reporting import CaseIn, create_case
    from wangge.open311.public_intake import count_ip, reportable

    category = session.get(Category, body.category_code)
    if category is not None and category.code.startswith("S04"):
        # 代办 is a request to the grid worker, not a problem report (wangge.resident_services).
        raise ValidationFailed(
            "代办事项请在本页「代办服务」中选择事项申请",
            "services (代办) are requested in the 'Resident services' section of this page",
            code="bad_category",
            field="category_code",
            details={"use": "/web/api/citizen/services"},
        )
    if not reportable(category):
        raise ValidationFailed(
            "请选择问题类别", "choose a category", code="bad_category", field="category_code"
        )
    count_ip(session, request)
    secret = secrets.token_urlsafe(9).replace("-", "x")
    try:
        case = create_case(
            session,
            CaseIn(
                category_code=category.code,
                description=body.description,
                lon=body.lon,
                lat=body.lat,
                crs=body.crs,
                source=Source.ONLINE,
                address=body.address,
                photos=list(body.photos),  # each checked: an anonymous upload not yet used
            ),
            _citizen(secret),
            now=utcnow(),
        )
    except ValidationFailed as exc:
        if exc.code != "outside_grids":
            raise
        raise _outside_service_area(request.app.state.settings.public_hotline) from None
    from wangge.cases.response import promise_view

    return {
        "code": case.code,
        "tracking": f"{case.code}-{secret}",
        "state": case.state,
        "promise": promise_view(case),
    }


def _outside_service_area(hotline: str) -> ValidationFailed:
    """Return the "no grid here" refusal in words a citizen can act on (no county codes)."""
    return ValidationFailed(
        f"这个位置不在本区的服务范围内。请重新定位或修改位置，或拨打 {hotline} 热线反映。",
        f"This place is outside the district's service area. Move the position (or locate "
        f"yourself again), or call the {hotline} hotline.",
        code="outside_service_area",
        field="lon",
        details={"hotline": hotline},
    )


class Tracking(InputModel):
    """The tracking code travels in the body: in a URL it would land in logs and histories."""

    tracking: str = Field(min_length=10, max_length=120)


class TrackingAction(Tracking, CitizenAction):
    pass


@router.post("/citizen/track")
def citizen_track(body: Tracking, session: SessionDep) -> dict[str, Any]:
    """Return the public progress of a report by its tracking code."""
    case, _ = _tracked(session, body.tracking)
    return public_view(session, case)


@router.post("/citizen/track/{action}")
def citizen_act(action: str, body: TrackingAction, session: SessionDep) -> dict[str, Any]:
    """Rate the result or reopen the report (within the reopening period)."""
    from wangge.cases.service import act

    if action not in ("rate", "reopen"):
        raise NotFound(f"操作 {action} 不存在", f"unknown action {action}")
    case, who = _tracked(session, body.tracking)
    payload: dict[str, Any] = {}
    if action == "rate" and body.rating is not None:
        payload["rating"] = str(body.rating)
    if body.note:
        payload["note"] = body.note
    act(
        session,
        case.id,
        action,
        who,
        expected_version=case.version,
        payload=payload,
        now=utcnow(),
    )
    session.flush()
    session.refresh(case)
    return public_view(session, case)
