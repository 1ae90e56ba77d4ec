"""受理登记 (`/console/intake`): the acceptor registers a 12345 call, a counter visit or a letter;
the video supervisor raises a case from a camera. The form posts `POST /api/v1/cases` with its
`intake` details; the page holds no rule of its own.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from wangge.api.deps import SessionDep
from wangge.auth.principal import Principal
from wangge.cases.models import Category
from wangge.divisions.models import Division
from wangge.intake.rules import CALLER_CHANNELS, CHANNELS
from wangge.web.views import MeDep, render

router = APIRouter(include_in_schema=False)


def _area(session: SessionDep, me: Principal) -> dict[str, object] | None:
    """Return the division the map opens on (the user's area) with its extent."""
    prefixes = sorted(me.scope_prefixes or [])
    code = prefixes[0][:12] if prefixes else None
    query = select(Division).where(Division.minx.is_not(None))
    query = query.where(Division.code == code) if code else query.where(Division.level == "county")
    div = session.scalars(query.order_by(Division.code)).first()
    if div is None:
        return None
    return {"code": div.code, "name": div.name, "county": div.county_code,
            "bounds": [[div.miny, div.minx], [div.maxy, div.maxx]]}  # fmt: skip


@router.get("/console/intake")
def intake_page(request: Request, session: SessionDep, me: MeDep) -> Response:
    if me is None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    if not me.can("cases.intake"):
        return render(request, "message.html", me, title="受理登记",
                      message="只有受理员和视频监督员可以受理登记")  # fmt: skip
    video_only = "video_supervisor" in me.roles and "acceptor" not in me.roles
    mode = request.query_params.get("mode") or ("video" if video_only else "call")
    if video_only:
        mode = "video"
    categories = session.scalars(
        select(Category).where(Category.is_active).order_by(Category.code)
    ).all()
    channels = [(c, CHANNELS[c]) for c in ("hotline_12345", "counter", "letter")]
    return render(
        request,
        "console_intake.html",
        me,
        mode="video" if mode == "video" else "call",
        video_only=video_only,
        categories=categories,
        channels=channels,
        caller_channels=sorted(CALLER_CHANNELS),
        area=_area(session, me),
    )
