"""What the public sees of a case (the citizen's tracking page): its progress without staff
names, the public copies of the photos of the work done, the promise made to the reporter,
and what the reporter may do next (the transitions table decides)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.cases.labels import label
from wangge.cases.models import Case, CaseEvent, events_of
from wangge.cases.response import promise_view
from wangge.cases.vocabulary import Action, CaseState
from wangge.cases.workflow import TRANSITIONS
from wangge.uploads.service import public_url, upload_id_of

# The steps whose photos show the public the work done (处置反馈, 核查通过, 自行处置); the
# report's own photos and the inspectors' stay inside.
PUBLIC_PHOTO_ACTIONS = frozenset({Action.FEED_BACK, Action.CHECK_PASS, Action.SELF_HANDLE})


def public_photos(action: str, attachments: list[str] | None) -> list[str]:
    """Return the public copies of an event's photos when its step shows them, else none."""
    if action not in PUBLIC_PHOTO_ACTIONS:
        return []
    ids = (upload_id_of(a) for a in attachments or [])
    return [public_url(i) for i in ids if i]


def public_view(session: Session, case: Case) -> dict[str, Any]:
    """Return the case as its reporter may follow it."""
    events = session.scalars(select(CaseEvent).where(*events_of(case)).order_by(CaseEvent.id)).all()
    state = CaseState(case.state)
    return {
        "code": case.code,
        "state": case.state,
        "state_zh": label("state", case.state),
        "category": case.category_code,
        "description": case.description,
        "address": case.address,
        "reported_at": case.reported_at.isoformat(),
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "deadline": case.deadline.isoformat() if case.deadline else None,
        "promise": promise_view(case),  # 承诺 2 小时内答复 / 24 小时内办结 (response rules)
        "can_rate": (state, Action.RATE) in TRANSITIONS,
        "can_reopen": (state, Action.REOPEN) in TRANSITIONS,
        "timeline": [
            {
                "action": e.action,
                "action_zh": label("action", e.action),
                "at": e.at.isoformat(),
                "state_zh": label("state", e.to_state),
                "photos": public_photos(e.action, e.attachments),
            }
            for e in events
        ],
    }
