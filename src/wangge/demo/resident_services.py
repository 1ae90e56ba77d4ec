"""代办 requests of the demo district: a fortnight of requests at every step, mostly in the first
community (where the demo's grid workers work), made and handled through the real use cases."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import numpy as np
from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.cases.deadlines import SHANGHAI
from wangge.common.models import utcnow
from wangge.demo.grids import active_social_grids
from wangge.grids.models import Grid, GridVersion
from wangge.resident_services.service import act, create_request, rate

WORKER = Principal(
    name="网格员（演示）", permissions=frozenset({"*"}), roles=frozenset({"supervisor"})
)
# days ago, service, how far it got (the last step), rating
PLAN = (
    (0, "YB-01", "requested", None), (3, "ZZ-01", "requested", None),
    (1, "SB-01", "take", None), (4, "CJ-01", "complex", None),
    (6, "YL-01", "close", None), (8, "JY-01", "close", "satisfied"),
    (9, "YB-02", "close", "basically_satisfied"), (12, "CJ-02", "close", "satisfied"),
    (13, "SB-02", "close", "unsatisfied"), (14, "YL-02", "close", "satisfied"),
)  # fmt: skip
NAMES = ("王秀英", "李建国", "张桂兰", "刘志强", "陈丽娟", "杨德明", "赵玉珍", "黄海涛")


def build_service_demo(
    session: Session, county: str, *, seed: int, now: datetime | None = None
) -> int:
    """File and work the demo's 代办 requests in the county's social grids; return how many."""
    grids = active_social_grids(session, GridVersion.county_code == county, Grid.kind == "basic")
    if not grids:
        return 0
    rng = np.random.default_rng([seed, 4, 19])
    today = (now or utcnow()).astimezone(SHANGHAI).date()
    made = 0
    for i, (days, code, last, rating) in enumerate(PLAN):
        grid = grids[i % 4] if i < 6 else grids[int(rng.integers(0, len(grids)))]
        if grid.geom is None:
            continue
        point = grid.geom.representative_point()
        at = datetime.combine(today - timedelta(days=days), time(9, 30), SHANGHAI)
        row, tracking = create_request(
            session,
            {"service_code": code, "applicant_name": NAMES[i % len(NAMES)],
             "phone": "139" + "".join(str(d) for d in rng.integers(0, 10, size=8)),
             "description": "", "lon": point.x, "lat": point.y, "crs": "EPSG:4490"},
            now=at,
        )  # fmt: skip
        made += 1
        if last == "requested":
            continue
        act(session, WORKER, row.id, "take", {}, now=at + timedelta(minutes=50))
        if last == "complex":
            note = "需区残联现场评定，按复杂事项办理"
            act(session, WORKER, row.id, "handle", {"note": note, "complex": True},
                now=at + timedelta(hours=3))  # fmt: skip
        if last == "close":
            act(session, WORKER, row.id, "close", {"note": "已代为办结，材料已交回居民"},
                now=at + timedelta(days=1))  # fmt: skip
        if rating is not None:
            rate(session, tracking, rating, None, now=at + timedelta(days=2))
    return made
