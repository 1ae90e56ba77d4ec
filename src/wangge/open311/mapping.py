"""Our categories and cases as Open311 GeoReport v2 services and service requests.

Only city-management classes (GB/T 30428.2 events and components) are published as services;
social-governance matters (disputes, assistance) are not public. Descriptions are scrubbed of
ID and phone numbers before they are shown to anyone through Open311.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wangge.cases.models import Case, CaseEvent, CasePart, Category
from wangge.cases.vocabulary import STATE_ZH, CaseState
from wangge.common.masking import scrub
from wangge.departments.models import Department
from wangge.uploads.service import public_url, upload_id_of

SHANGHAI = ZoneInfo("Asia/Shanghai")
PUBLIC_KINDS = ("event", "component")
CLOSED_STATES = {
    CaseState.CLOSED.value,
    CaseState.RATED.value,
    CaseState.REJECTED.value,
    CaseState.VOIDED.value,
}


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 with the China offset, as the spec asks (w3c format with time zone)."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        from datetime import UTC

        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(SHANGHAI).isoformat(timespec="seconds")


def service(category: Category) -> dict[str, Any]:
    """A category as an Open311 service."""
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.filing_condition or category.name,
        "metadata": True,
        "type": "realtime",
        "keywords": ",".join(k for k in (category.major_name, category.kind) if k),
        "group": category.major_name,
    }


def definition(category: Category) -> dict[str, Any]:
    """The service definition: the attributes a reporter can give for this category."""
    attributes: list[dict[str, Any]] = [
        {
            "variable": True,
            "code": "urgent",
            "datatype": "singlevaluelist",
            "required": False,
            "datatype_description": "是否紧急 / is it urgent",
            "order": 1,
            "description": "情况紧急（如危及安全）/ Urgent (danger to people)",
            "values": [{"key": "no", "name": "否 No"}, {"key": "yes", "name": "是 Yes"}],
        },
        {
            "variable": False,
            "code": "filing_condition",
            "datatype": "text",
            "required": False,
            "datatype_description": "立案条件 / when a report is filed",
            "order": 3,
            "description": category.filing_condition or "",
        },
    ]
    if category.kind == "component":
        attributes.insert(
            1,
            {
                "variable": True,
                "code": "component_code",
                "datatype": "string",
                "required": False,
                "datatype_description": "部件标识码（16 或 17 位，见部件上的标牌）/ component id on its plate",
                "order": 2,
                "description": "部件编码 / Component code",
            },
        )
    return {"service_code": category.code, "attributes": attributes}


def status_of(case: Case) -> str:
    """open / closed, as Open311 allows only these two."""
    return "closed" if case.state in CLOSED_STATES else "open"


def requests_for(session: Session, cases: list[Case]) -> list[dict[str, Any]]:
    """Cases as Open311 service requests (one query each for names, agencies and updates)."""
    if not cases:
        return []
    ids = [c.id for c in cases]
    names = dict(
        session.execute(
            select(Category.code, Category.name).where(
                Category.code.in_({c.category_code for c in cases})
            )
        ).all()
    )
    agencies = dict(
        session.execute(
            select(CasePart.case_id, Department.name)
            .join(Department, Department.code == CasePart.department_code)
            .where(CasePart.case_id.in_(ids), CasePart.lead.is_(True))
        ).all()
    )
    updated = dict(
        session.execute(
            select(CaseEvent.case_id, func.max(CaseEvent.at))
            .where(CaseEvent.case_id.in_(ids))
            .group_by(CaseEvent.case_id)
        ).all()
    )
    notes = _last_notes(session, ids)
    return [
        request(
            c,
            names.get(c.category_code, ""),
            agencies.get(c.id),
            updated.get(c.id),
            notes.get(c.id),
        )
        for c in cases
    ]


def _last_notes(session: Session, ids: list[int]) -> dict[int, str]:
    latest = (
        select(CaseEvent.case_id, func.max(CaseEvent.id).label("eid"))
        .where(CaseEvent.case_id.in_(ids))
        .group_by(CaseEvent.case_id)
        .subquery()
    )
    rows = session.execute(
        select(CaseEvent.case_id, CaseEvent.note).join(latest, latest.c.eid == CaseEvent.id)
    ).all()
    return {cid: note for cid, note in rows if note}


def request(
    case: Case, service_name: str, agency: str | None, updated: datetime | None, note: str | None
) -> dict[str, Any]:
    """One case as an Open311 service request."""
    state_zh = STATE_ZH.get(CaseState(case.state), case.state)
    notes = f"{state_zh}（{case.state}）" + (f"：{scrub(note)}" if note else "")
    return {
        "service_request_id": case.code,
        "status": status_of(case),
        "status_notes": notes,
        "service_name": service_name,
        "service_code": case.category_code,
        "description": scrub(case.description or ""),
        "agency_responsible": agency or "",
        "service_notice": "",
        "requested_datetime": iso(case.reported_at),
        "updated_datetime": iso(updated or case.reported_at),
        # The promise of report → close when a response rule made one, else the stage's.
        "expected_datetime": iso(case.solve_due or case.deadline)
        if status_of(case) == "open"
        else None,
        "address": case.address or "",
        "address_id": "",
        "zipcode": "",
        "lat": case.lat,
        "long": case.lon,
        "media_url": _media_url(case.photos),
    }


def _media_url(photos: list[str] | None) -> str:
    """The public copy (no location data) of the case's first uploaded photo, if any."""
    for ref in photos or ():
        upload_id = upload_id_of(ref)
        if upload_id:
            return public_url(upload_id)
    return ""
