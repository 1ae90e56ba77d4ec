"""A month of realistic case activity for the demo, made by calling the real service functions.

Every path of the loop appears: the standard one, public reports verified on site, invalid and
duplicate reports, minor cases settled by the grid leader, rework, extensions, suspensions,
returns, joint cases, voided and urged cases, escalations, and cases left open past their
deadline (then swept once at `now`).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wangge.assignments.models import GridAssignment
from wangge.assignments.service import in_force
from wangge.auth.models import User
from wangge.auth.principal import Principal
from wangge.auth.roles import DEFAULT_ROLES
from wangge.auth.service import principal_for_user
from wangge.cases.categories import DEPARTMENTS, department_code
from wangge.cases.deadlines import SHANGHAI, ensure_aware
from wangge.cases.models import AreaClassRule, Case, Category, RoutingRule
from wangge.cases.patrol import add_points, end_patrol, start_patrol
from wangge.cases.reporting import CaseIn, create_case
from wangge.cases.scheduled import sweep_overdue
from wangge.cases.service import act
from wangge.cases.store import parts_of
from wangge.cases.vocabulary import Source
from wangge.divisions.models import Division
from wangge.errors import DomainError
from wangge.grids.locating import locate_refs
from wangge.grids.models import Grid, GridVersion, LocatedPoint
from wangge.uploads.service import demo_photo, photo_ref

# Share of each path among new reports (the rest follow the standard path).
PATHS: tuple[tuple[str, float], ...] = (
    ("public", 0.14),
    ("invalid", 0.04),
    ("duplicate", 0.10),
    ("self_handle", 0.08),
    ("rework", 0.06),
    ("extension", 0.05),
    ("suspension", 0.03),
    ("return", 0.03),
    ("joint", 0.06),
    ("void", 0.02),
    ("stalled", 0.05),
)
_DESCRIPTIONS = ("现场发现{}", "群众反映{}", "巡查发现{}，需尽快处理", "{}，影响通行和市容")


def _person(uid: str, role: str, scope: set[str] | None, dept: str | None = None) -> Principal:
    return Principal(
        name=uid,
        permissions=frozenset(DEFAULT_ROLES[role][1]),
        scope_prefixes=frozenset(scope) if scope is not None else None,
        roles=frozenset({role}),
        department_codes=frozenset({dept}) if dept else frozenset(),
        via="local",
    )


def seed_configuration(session: Session, county_code: str) -> list[str]:
    """Area classes and a few routing rules of the demo county, unless it has its own.

    The categories and departments come first, from the county's setup (`wangge.setup`) or a
    test world; rules go through the routing service, so they are checked like a clerk's.
    """
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.cases.routing import RuleIn, set_routing_rule

    streets = sorted(
        session.scalars(
            select(Division.code).where(
                Division.county_code == county_code, Division.level == "street"
            )
        )
    )
    configured = session.scalar(
        select(AreaClassRule.id).where(AreaClassRule.county_code == county_code)
    ) or session.scalar(select(RoutingRule.id).where(RoutingRule.county_code == county_code))
    if configured is not None:
        return streets  # a county's own configuration is never overwritten
    if streets:
        # The first street is the core area (A), the last the outer one (C); the rest B.
        session.add(AreaClassRule(county_code=county_code, prefix=streets[0], area_class="A"))
        session.add(AreaClassRule(county_code=county_code, prefix=streets[-1], area_class="C"))
    for category, dept, assisting in (
        ("E0506", "JTW", []),
        ("E0302", "HBJ", ["ZJW"]),
        ("E0116", "HBJ", ["CGW"]),
    ):
        rule = RuleIn(
            county_code=county_code,
            category_code=category,
            department_code=department_code(county_code, dept),
            assisting=[department_code(county_code, a) for a in assisting],
        )
        set_routing_rule(session, rule, principal=LOCAL_OPERATOR)
    session.flush()
    return streets


class _Sim:
    """The cast and the step helper of one simulated month."""

    def __init__(self, session: Session, county: str, rng: random.Random, now: datetime) -> None:
        self.s, self.county, self.rng, self.now = session, county, rng, now
        scope = {county}
        self.acceptor = _person("sim-acceptor", "acceptor", scope)
        self.shift = _person("sim-shift-leader", "shift_leader", scope)
        self.dispatcher = _person("sim-dispatcher", "dispatcher", scope)
        self.leader = _person("sim-leader", "leader", scope)
        self.checker = _person("sim-checker", "supervisor", scope)
        self.handlers = {
            department_code(county, k): _person(
                f"sim-{k.lower()}", "department", None, department_code(county, k)
            )
            for k in DEPARTMENTS
        }
        self.counts: Counter[str] = Counter()
        self.assigned = _assigned_people(session, county, now)

    def supervisor(self, community: str | None) -> Principal:
        c = community or self.county
        found = self.assigned.get((c, "full_time"))
        return found or _person(f"sim-sup-{c[-6:]}", "supervisor", {c})

    def grid_leader(self, community: str | None) -> Principal:
        c = community or self.county
        found = self.assigned.get((c, "leader"))
        return found or _person(f"sim-gl-{c[-6:]}", "grid_leader", {c})

    def citizen(self) -> Principal:
        return _person(f"sim-citizen-{self.rng.randrange(600):03d}", "citizen", set())

    def later(self, at: datetime, lo: float, hi: float) -> datetime:
        """Return a moment lo–hi hours later."""
        return at + timedelta(hours=self.rng.uniform(lo, hi))

    def photo(self, who: Principal, at: datetime) -> list[str]:
        """Return one fresh photo of `who` taken at `at` (a row sharing the demo picture)."""
        return [photo_ref(demo_photo(self.s, principal=who, at=at).id)]

    def do(
        self,
        case: Case,
        action: str,
        who: Principal,
        at: datetime,
        *,
        photo: bool = False,
        **payload: Any,
    ) -> bool:
        """Act if `at` is already past, with a fresh on-site photo if `photo`; False stops the
        path (future or refused)."""
        if at >= self.now:
            return False
        if photo:
            payload["photos"] = self.photo(who, at)
        try:
            act(
                self.s, case.id, action, who, expected_version=case.version, payload=payload, now=at
            )
        except DomainError:
            self.counts["refused"] += 1
            return False
        self.counts[action] += 1
        return True


def _handle(sim: _Sim, case: Case, at: datetime, path: str) -> datetime | None:
    """Walk a dispatched case through its department(s); return when it was fed back."""
    for part in parts_of(sim.s, case.id):
        handler = sim.handlers[part.department_code]
        at = sim.later(at, 0.2, 2)
        if path == "return" and part.lead:
            ok = sim.do(case, "return_dispatch", handler, at, note="不属于本单位职责")
            at = sim.later(at, 0.2, 1)
            if not ok or not sim.do(case, "approve_return", sim.dispatcher, at):
                return None
            other = sim.rng.choice([d for d in sim.handlers if d != part.department_code])
            at = sim.later(at, 0.1, 1)
            if not sim.do(case, "dispatch", sim.dispatcher, at, department=other):
                return None
            return _handle(sim, case, at, "standard")
        if not sim.do(case, "department_accept", handler, at):
            return None
        if path == "extension" and part.lead:
            at = sim.later(at, 1, 6)
            sim.do(case, "request_extension", handler, at, note="需协调施工", hours=8)
            at = sim.later(at, 0.2, 2)
            if sim.rng.random() < 0.8:
                sim.do(case, "approve_extension", sim.dispatcher, at)
            else:
                sim.do(case, "reject_extension", sim.dispatcher, at, note="时限内可完成")
        if path == "suspension" and part.lead:
            at = sim.later(at, 1, 4)
            sim.do(case, "request_suspension", handler, at, note="等待产权单位确认")
            at = sim.later(at, 0.2, 2)
            sim.do(case, "approve_suspension", sim.dispatcher, at)
            at = sim.later(at, 12, 72)
            sim.do(case, "resume", handler, at)
        slow = path == "stalled"
        at = sim.later(at, 30, 120) if slow else sim.later(at, 0.5, 10)
        if not sim.do(case, "feed_back", handler, at, photo=True, note="已处置"):
            return None
    return at


def _check_and_close(sim: _Sim, case: Case, at: datetime, path: str) -> None:
    at = sim.later(at, 0.1, 1)
    if not sim.do(case, "request_check", sim.acceptor, at):
        return
    at = sim.later(at, 0.3, 3)
    if path == "rework":
        if not sim.do(case, "check_fail", sim.checker, at, note="现场仍未整改到位"):
            return
        for part in parts_of(sim.s, case.id):
            at = sim.later(at, 1, 8)
            handler = sim.handlers[part.department_code]
            if not sim.do(case, "feed_back", handler, at, photo=True):
                return
        _check_and_close(sim, case, at, "standard")
        return
    if not sim.do(case, "check_pass", sim.checker, at, photo=True):
        return
    at = sim.later(at, 0.1, 1)
    if sim.do(case, "close", sim.shift, at) and case.source in (Source.ONLINE, Source.HOTLINE):
        rating = sim.rng.choices(["satisfied", "basically_satisfied", "unsatisfied"], [85, 11, 4])[
            0
        ]
        sim.do(
            case,
            "rate",
            _person(case.reporter_id, "citizen", set()),
            sim.later(at, 1, 24),
            rating=rating,
        )


def _assigned_people(
    session: Session, county: str, now: datetime
) -> dict[tuple[str, str], Principal]:
    """The real people assigned to a community's grids (the demo's 监督员 and 网格长): they
    report, verify, settle and patrol there instead of a simulated stand-in."""
    day = now.astimezone(SHANGHAI).date()
    out: dict[tuple[str, str], Principal] = {}
    for a, user in session.execute(
        select(GridAssignment, User)
        .join(User, User.id == GridAssignment.user_id)
        .where(
            GridAssignment.county_code == county,
            GridAssignment.layer == "social",
            GridAssignment.kind.in_(("full_time", "leader")),
            in_force(day),
        )
        .order_by(GridAssignment.id)
    ):
        key = (a.grid_code[:12], a.kind)
        if key not in out and user.is_active:
            out[key] = principal_for_user(session, user, via="local")
    return out


def _walk(sim: _Sim, case: Case, at: datetime, path: str, originals: list[Case]) -> None:
    public = case.source in (Source.ONLINE.value, Source.HOTLINE.value)
    at = sim.later(at, 0.05, 0.8)
    if path == "invalid":
        sim.do(case, "reject_invalid", sim.acceptor, at, note="不属于受理范围")
        return
    if path == "duplicate" and originals:
        target = sim.rng.choice(originals[-30:])
        sim.do(case, "reject_duplicate", sim.acceptor, at, duplicate_of=str(target.id))
        return
    if path == "self_handle":
        leader = sim.grid_leader(case.community_code)
        if sim.do(case, "self_handle", leader, sim.later(at, 0.2, 2), photo=True):
            _check_and_close(sim, case, at + timedelta(hours=2), "standard")
        return
    if not sim.do(case, "accept", sim.acceptor, at):
        return
    if public:
        at = sim.later(at, 0.1, 0.5)
        sim.do(case, "request_verification", sim.acceptor, at)
        at = sim.later(at, 0.2, 2)
        who = sim.supervisor(case.community_code)
        if sim.rng.random() < 0.1:
            sim.do(case, "verify_false", who, at, note="现场未发现")
            return
        if not sim.do(case, "verify_true", who, at, photo=True):
            return
    at = sim.later(at, 0.1, 1)
    if not sim.do(case, "file", sim.shift, at):
        return
    if path == "void":
        sim.do(case, "void", sim.shift, sim.later(at, 0.1, 1), note="立案有误")
        return
    at = sim.later(at, 0.1, 1)
    payload: dict[str, Any] = {}
    if path == "joint":
        payload["assisting"] = [department_code(sim.county, "JDB")]
    if not sim.do(case, "dispatch", sim.dispatcher, at, **payload):
        return
    if sim.rng.random() < 0.03:
        sim.do(case, "urge", sim.leader, sim.later(at, 1, 8), note="请加快处置进度")
    if sim.rng.random() < 0.02:
        sim.do(case, "escalate", sim.shift, sim.later(at, 1, 8), note="需街道协调")
    done = _handle(sim, case, at, path)
    if done is not None:
        _check_and_close(sim, case, done, path)


def _locations(session: Session, county: str) -> list[tuple[float, float]]:
    rows = session.execute(
        select(LocatedPoint.lon, LocatedPoint.lat).where(
            LocatedPoint.county_code == county, LocatedPoint.grid_id.is_not(None)
        )
    ).all()
    if rows:
        return [(float(x), float(y)) for x, y in rows]
    # No point layer: fall back to the inside points of the county's grids.
    geoms = session.scalars(select(Grid.geom).where(Grid.county_code == county)).all()
    spots = [g.representative_point() for g in geoms if g is not None]
    return [(p.x, p.y) for p in spots] or [(116.3, 39.95)]


def _community(session: Session, lon: float, lat: float) -> str | None:
    found = locate_refs(session, lon, lat)
    grid = found.get("social") or found.get("unit")
    return grid.community_code if grid is not None else None


def _patrol_routes(session: Session, county: str) -> list[tuple[str, list[tuple[float, float]]]]:
    """Each community of the active social layer with up to 8 inside points of its grids."""
    by_community: dict[str, list[tuple[float, float]]] = {}
    for community, geom in session.execute(
        select(Grid.community_code, Grid.geom)
        .join(GridVersion, GridVersion.id == Grid.version_id)
        .where(
            Grid.county_code == county,
            GridVersion.layer == "social",
            GridVersion.status == "active",
        )
        .order_by(Grid.code)
    ):
        if geom is not None:
            spot = geom.representative_point()
            by_community.setdefault(community, []).append((spot.x, spot.y))
    return [(c, by_community[c][:8]) for c in sorted(by_community)]


def _patrols(
    sim: _Sim,
    community: str,
    spots: list[tuple[float, float]],
    start: datetime,
    now: datetime,
) -> int:
    """The community's grid worker patrols its grids twice a day, missing some rounds.

    Gives the 巡查到位率 of the evaluation something to count: about 85% of patrols are made
    and each passes about 90% of the community's grids.
    """
    made = 0
    worker = sim.supervisor(community)
    for day in range((now - start).days):
        for hour in (9, 15):  # local morning and afternoon rounds
            if sim.rng.random() > 0.85:
                continue
            t = (start + timedelta(days=day)).astimezone(SHANGHAI)
            t = t.replace(hour=hour, minute=sim.rng.randrange(60))
            route = [p for p in spots if sim.rng.random() < 0.9] or spots[:1]
            points = [(x, y, t + timedelta(minutes=6 * i)) for i, (x, y) in enumerate(route)]
            patrol = start_patrol(sim.s, worker, lon=route[0][0], lat=route[0][1], now=points[0][2])
            add_points(sim.s, patrol.id, worker, points[1:])
            end_patrol(sim.s, patrol.id, worker, now=points[-1][2] + timedelta(minutes=5))
            made += 1
    return made


# Cases per committed chunk: small, because on SQLite a chunk holds the only write lock and a
# login or a report on the server waits for it (25 cases per chunk made logins wait ~7 s).
CHUNK_CASES = 5


class MonthSimulation:
    """A month of activity ending at `now`, cut into chunks that can be committed one by one.

    Chunk i (of `n_chunks`) reports and walks its share of the month's cases with a random
    generator seeded by (seed, i), then the patrols of one community per chunk, then the
    overdue sweep: so a run killed after chunk k and resumed from chunk k+1 makes the same
    month as an uninterrupted one, and `run_all` inside one transaction (the tests) too.
    """

    def __init__(
        self, session: Session, *, county_code: str, seed: int, now: datetime, n_cases: int
    ) -> None:
        self.s, self.county, self.seed = session, county_code, seed
        self.now = ensure_aware(now, "now")
        self.start = self.now - timedelta(days=30)
        rng = random.Random(seed)
        self.moments = sorted(
            self.start + timedelta(seconds=rng.uniform(0, 30 * 86400)) for _ in range(n_cases)
        )
        self.case_chunks = max(1, -(-n_cases // CHUNK_CASES))
        self.communities = _patrol_routes(session, county_code)
        self.n_chunks = self.case_chunks + len(self.communities) + 1
        self.counts: Counter[str] = Counter()

    def run_chunk(self, i: int) -> None:
        """Do chunk i: a slice of the cases, one community's patrols, or the final sweep."""
        sim = _Sim(self.s, self.county, random.Random(f"{self.seed}/{i}"), self.now)
        sim.counts = self.counts
        if i < self.case_chunks:
            self._cases(sim, self.moments[i * CHUNK_CASES : (i + 1) * CHUNK_CASES])
        elif i < self.n_chunks - 1:
            community, spots = self.communities[i - self.case_chunks]
            self.counts["patrols"] += _patrols(sim, community, spots, self.start, self.now)
        else:
            swept = sweep_overdue(self.s, self.now, limit=10_000)
            self.counts["swept_escalated"] += len(swept.escalated)
            self.counts["swept_urged"] += len(swept.urged)

    def run_all(self) -> dict[str, int]:
        """Run every chunk in this session; return counts per action and path."""
        for i in range(self.n_chunks):
            self.run_chunk(i)
        return dict(self.counts)

    def _cases(self, sim: _Sim, moments: list[datetime]) -> None:
        rng, session = sim.rng, self.s
        categories = list(session.scalars(select(Category).where(Category.is_active.is_(True))))
        weights = [
            3.0 if c.kind == "event" else 1.0 if c.kind == "component" else 1.5 for c in categories
        ]
        spots = _locations(session, self.county)
        originals = _recent_originals(session, self.county)
        for at in moments:
            local = at.astimezone(SHANGHAI)
            # Most reports come in by day; push night-time ones into the morning.
            if local.hour < 7 or local.hour > 21:
                at = at + timedelta(hours=10)
                if at >= self.now:
                    continue
            path = rng.choices(
                [p for p, _ in PATHS] + ["standard"],
                [w for _, w in PATHS] + [1 - sum(w for _, w in PATHS)],
            )[0]
            category = rng.choices(categories, weights)[0]
            lon, lat = rng.choice(spots)
            if path == "duplicate" and originals:
                # A second report of the same problem a few metres away.
                category = next(c for c in categories if c.code == originals[-1].category_code)
                lon, lat = originals[-1].lon + rng.uniform(-2e-4, 2e-4), originals[-1].lat
            public = path == "public" or (path == "duplicate" and rng.random() < 0.7)
            source = (
                rng.choice([Source.ONLINE, Source.HOTLINE])
                if public
                else rng.choice([Source.PATROL, Source.PATROL, Source.PATROL, Source.VIDEO])
            )
            if path == "self_handle" and not (category.minor and category.admitted_to_grid):
                # 小事一格解决 takes what both lists give the grid (小事清单, 准入清单)
                category = rng.choice([c for c in categories if c.minor and c.admitted_to_grid])
            data = CaseIn(
                category_code=category.code,
                description=rng.choice(_DESCRIPTIONS).format(category.name),
                lon=lon + rng.uniform(-5e-5, 5e-5),
                lat=lat + rng.uniform(-5e-5, 5e-5),
                source=source,
                county_code=self.county,
            )
            reporter = sim.citizen() if public else sim.supervisor(_community(session, lon, lat))
            grid_work = reporter.user_id is not None and source is Source.PATROL
            if grid_work and not category.admitted_to_grid:
                # an assigned grid worker's patrol reports keep to the 准入清单
                category = rng.choice([c for c in categories if c.admitted_to_grid])
                description = rng.choice(_DESCRIPTIONS).format(category.name)
                data = replace(data, category_code=category.code, description=description)
            data = replace(data, photos=sim.photo(reporter, at))
            try:
                case = create_case(session, data, reporter, now=at)
            except DomainError:
                sim.counts["refused"] += 1
                continue
            sim.counts["report"] += 1
            sim.counts[f"path:{path}"] += 1
            _walk(sim, case, at, path, originals)
            if path not in ("duplicate", "invalid"):
                originals.append(case)


def _recent_originals(session: Session, county: str) -> list[Case]:
    """The county's latest cases that a duplicate report may repeat (read, not remembered,
    so a resumed run sees what an uninterrupted one would)."""
    rows = session.scalars(
        select(Case)
        .where(Case.county_code == county, Case.state != "rejected")
        .order_by(Case.id.desc())
        .limit(30)
    ).all()
    return list(reversed(rows))


def simulate_month(
    session: Session,
    *,
    county_code: str,
    seed: int,
    now: datetime,
    n_cases: int | None = None,
) -> dict[str, int]:
    """Generate a month of activity ending at `now` in one go; return counts per action."""
    if n_cases is None:
        n_cases = default_case_count(session)
    seed_configuration(session, county_code)
    month = MonthSimulation(session, county_code=county_code, seed=seed, now=now, n_cases=n_cases)
    return month.run_all()


def default_case_count(session: Session) -> int:
    """About 25 ms a case on SQLite and twice that over a PostgreSQL connection."""
    return 2000 if session.get_bind().dialect.name == "sqlite" else 1000
