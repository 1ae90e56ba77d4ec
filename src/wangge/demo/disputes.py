"""Disputes of the demo district: a month of 矛盾纠纷 at every step, in grids of several communities.

Own random stream (the rest of the seeded demo is unchanged); rows are written directly with
their history events, as if mediated over the past weeks (no audit entries: nobody acted).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import shapely
from sqlalchemy.orm import Session

from wangge.common.models import utcnow
from wangge.demo.grids import active_social_grids
from wangge.disputes.models import Dispute, DisputeEvent, DisputeParty, DisputeSession
from wangge.grids.models import Grid, GridVersion

SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗"
GIVEN = ("建国", "秀英", "志强", "丽娟", "海涛", "桂兰", "文博", "晓燕", "德明", "玉珍")
CASES = (  # kind, summary, outcome (None: still open), agreement terms
    (
        "neighbour",
        "楼上卫生间漏水渗到楼下，双方对维修费用分担有争议",
        "settled",
        "楼上负责修复防水层，赔偿楼下800元",
    ),
    (
        "neighbour",
        "相邻住户因楼道堆物和噪声多次争吵",
        "settled",
        "楼道杂物三日内清理，晚十点后不再施工",
    ),
    (
        "property",
        "业主认为物业多收停车管理费，拒交物业费",
        "settled",
        "物业退还多收费用，业主补交物业费",
    ),
    ("family", "老人赡养费用子女之间分担不均", "failed", None),
    ("labour", "装修工人被拖欠工资两个月", "transferred", None),
    ("land", "村民之间宅基地边界有争议", "transferred", None),
    ("neighbour", "楼下商户油烟影响楼上住户", None, None),
    ("property", "电梯维修资金使用方案业主意见不一", None, None),
    ("other", "小区内宠物伤人，双方对赔偿有争议", "settled", "犬主承担医疗费并赔偿误工费1200元"),
)
TRANSFER_TO = {"labour": "区劳动保障监察大队", "land": "街道综治中心"}


def _name(rng: np.random.Generator) -> str:
    return str(rng.choice(list(SURNAMES))) + str(rng.choice(GIVEN))


def _phone(rng: np.random.Generator) -> str:
    return "13" + "".join(str(d) for d in rng.integers(0, 10, size=9))


def build_dispute_demo(
    session: Session, county: str, *, seed: int, now: datetime | None = None
) -> int:
    """Register the demo's disputes in social grids of the county; return how many."""
    grids = active_social_grids(
        session, GridVersion.county_code == county, Grid.kind.in_(("basic", "exclusive"))
    )
    if not grids:
        return 0
    rng = np.random.default_rng([seed, 4, 18])
    now = now or utcnow()
    # The first community's grids first (the demo's grid workers work there), then a spread.
    picks = list(grids[:4]) + [grids[int(i)] for i in rng.integers(0, len(grids), size=14)]
    saved = 0
    for i, grid in enumerate(picks):
        kind, summary, outcome, terms = CASES[i % len(CASES)]
        where = grid.geom.representative_point() if grid.geom is not None else None
        if where is None or not shapely.within(where, grid.geom):
            continue
        d, events = _register(session, rng, county, grid, where, kind, summary, now)
        if i % len(CASES) != 7:  # one stays registered, not yet mediated
            events.append(_hold_session(session, d))
        if outcome is not None:
            events += _conclude(d, kind, outcome, terms, now)
        for at, action, old, new, detail in events:
            session.add(DisputeEvent(
                dispute_id=d.id, at=at, actor_id="demo", actor_name="演示数据", action=action,
                from_state=old, to_state=new, detail=detail,
            ))  # fmt: skip
        saved += 1
    session.flush()
    return saved


# When, action, from state, to state, detail: one `DisputeEvent` of the history.
_Event = tuple[datetime, str, str | None, str, dict[str, Any]]


def _register(
    session: Session,
    rng: np.random.Generator,
    county: str,
    grid: Grid,
    where: shapely.Point,
    kind: str,
    summary: str,
    now: datetime,
) -> tuple[Dispute, list[_Event]]:
    """Register one dispute with its two parties, a few weeks ago."""
    registered = now - timedelta(days=int(rng.integers(3, 28)), hours=int(rng.integers(0, 8)))
    d = Dispute(
        county_code=county, community_code=grid.community_code, grid_id=grid.id,
        grid_code=grid.code, lon=round(where.x, 7), lat=round(where.y, 7),
        address=f"{grid.name}内", kind=kind, summary=summary, state="registered",
        reporter_id="demo", reporter_name="网格员", registered_at=registered,
        mediator_user_id=None, mediator_name="人民调解员" + _name(rng),
    )  # fmt: skip
    session.add(d)
    session.flush()
    for _ in range(2):
        session.add(DisputeParty(dispute_id=d.id, name=_name(rng), phone=_phone(rng)))
    return d, [(registered, "register", None, "registered", {"kind": kind, "parties": 2})]


def _hold_session(session: Session, d: Dispute) -> _Event:
    """Hold a mediation session the day after the registration."""
    held = d.registered_at + timedelta(days=1)
    session.add(DisputeSession(
        dispute_id=d.id, held_on=held.date(), place="社区人民调解室",
        notes="双方陈述事实和诉求，调解员释法说理", recorded_by=d.mediator_name,
        recorded_at=held,
    ))  # fmt: skip
    d.state = "mediating"
    return (held, "session", "registered", "mediating", {})


def _conclude(
    d: Dispute, kind: str, outcome: str, terms: str | None, now: datetime
) -> list[_Event]:
    """Record the outcome two days after the registration, and the visit a week later."""
    d.outcome_at = d.registered_at + timedelta(days=2)
    d.state = d.outcome = outcome
    d.outcome_note = terms
    d.transferred_to = TRANSFER_TO.get(kind) if outcome == "transferred" else None
    if outcome == "settled":
        d.no_agreement_reason = "协议书纸质件存档于社区（演示数据）"
    events: list[_Event] = [(d.outcome_at, "outcome", "mediating", outcome, {"outcome": outcome})]
    if d.outcome_at + timedelta(days=7) < now:  # visited a week after the outcome
        d.followed_up_at = d.outcome_at + timedelta(days=7)
        d.follow_up_on = d.followed_up_at.date()
        d.follow_up_worker, d.follow_up_result = "网格员", "当事人表示满意，未再发生争执"
        events.append((d.followed_up_at, "follow_up", outcome, "followed_up", {}))
        d.state = "followed_up"
    return events
