"""`wangge check`: the database agrees with itself (events, locations, codes, audit chain)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Row, inspect, select, text
from sqlalchemy.orm import Session

# Points on a shared edge are inside either neighbour; 1e-7° is about a centimetre.
EDGE_TOLERANCE_DEG = 1e-7
MAX_LISTED = 20


@dataclass(frozen=True)
class Problem:
    """One inconsistency, with a bilingual explanation and what it concerns."""

    check: str
    zh: str
    en: str
    ref: str | None = None


@dataclass
class IntegrityReport:
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Return True when no check found anything."""
        return not self.problems


def _table_exists(session: Session, name: str) -> bool:
    return inspect(session.connection()).has_table(name)


def check_case_events(session: Session, report: IntegrityReport) -> None:
    """Every case starts with `report`, each event follows the last, the state caches the last."""
    if not _table_exists(session, "cases"):
        return
    found = [
        Problem(
            "case_events",
            f"案卷 {case_id} 没有任何事件",
            f"case {case_id} has no events",
            f"case:{case_id}",
        )
        for (case_id,) in session.execute(
            text(
                "SELECT c.id FROM cases c WHERE NOT EXISTS "
                "(SELECT 1 FROM case_events e WHERE e.case_id = c.id) ORDER BY c.id"
            )
        )
    ]
    rows = session.execute(
        text(
            "SELECT e.case_id, e.id, e.action, e.from_state, e.to_state, c.state "
            "FROM case_events e JOIN cases c ON c.id = e.case_id ORDER BY e.case_id, e.id"
        )
    )
    report.counts["case_events"] = _check_event_chains(rows, found)
    report.problems.extend(found)


def _check_event_chains(rows: Iterable[Any], found: list[Problem]) -> int:
    """Walk the events case by case, appending the breaks to `found`; return how many."""
    current: int | None = None
    prev_to: str | None = None
    last: tuple[int, str, str] | None = None
    events = 0
    for case_id, event_id, action, from_state, to_state, state in rows:
        events += 1
        if case_id != current:
            _check_state_cache(last, found)
            current, prev_to = case_id, None
            if action != "report":
                found.append(
                    Problem(
                        "case_events",
                        f"案卷 {case_id} 的第一个事件是 {action}，不是 report（上报）",
                        f"case {case_id} starts with {action}, not report",
                        f"case:{case_id}",
                    )
                )
        elif from_state != prev_to:
            found.append(
                Problem(
                    "case_events",
                    f"案卷 {case_id} 的事件 {event_id} 从 {from_state} 出发，但上一事件结束于 {prev_to}",
                    f"case {case_id} event {event_id} starts from {from_state}, "
                    f"but the previous event ended in {prev_to}",
                    f"case:{case_id}",
                )
            )
        prev_to = to_state
        last = (case_id, to_state, state)
    _check_state_cache(last, found)
    return events


def _check_state_cache(last: tuple[int, str, str] | None, found: list[Problem]) -> None:
    """The case's state is its last event's result (`last`: case id, result, state)."""
    if last is not None and last[1] != last[2]:
        found.append(
            Problem(
                "case_state",
                f"案卷 {last[0]} 状态为 {last[2]}，但最后一个事件的结果是 {last[1]}",
                f"case {last[0]} is {last[2]} but its last event leads to {last[1]}",
                f"case:{last[0]}",
            )
        )


def check_locations(session: Session, report: IntegrityReport) -> None:
    """Every located record lies in the grid it carries (on-edge within a centimetre)."""
    from wangge.grids.models import Grid
    from wangge.grids.versions import LOCATED

    geoms: dict[int, Any] = {}
    for spec in LOCATED:
        model: Any = spec.model
        if not _table_exists(session, model.__tablename__):
            continue
        checked = 0
        for column in spec.grid_columns.values():
            rows = session.execute(
                select(model.id, model.lon, model.lat, getattr(model, column)).where(
                    getattr(model, column).is_not(None)
                )
            ).all()
            if not rows:
                continue
            needed = {r[3] for r in rows} - geoms.keys()
            if needed:
                for gid, geom in session.execute(
                    select(Grid.id, Grid.geom).where(Grid.id.in_(sorted(needed)))
                ):
                    geoms[gid] = geom
            points = shapely.points(np.array([(r[1], r[2]) for r in rows], dtype=float))
            polygons = np.array([geoms.get(r[3]) for r in rows], dtype=object)
            distance = shapely.distance(polygons, points)
            # distance is NaN where the grid geometry is missing.
            bad = ~(distance <= EDGE_TOLERANCE_DEG)
            checked += len(rows)
            for row in np.array(rows, dtype=object)[bad][:MAX_LISTED]:
                rid, lon, lat, gid = row
                report.problems.append(
                    Problem(
                        "location",
                        f"{spec.label_zh} {rid} 的位置 ({lon}, {lat}) 不在其网格 {gid} 内",
                        f"{model.__tablename__} {rid} at ({lon}, {lat}) lies outside its "
                        f"grid {gid} ({column})",
                        f"{model.__tablename__}:{rid}",
                    )
                )
            extra = int(bad.sum()) - MAX_LISTED
            if extra > 0:
                report.problems.append(
                    Problem(
                        "location",
                        f"{spec.label_zh}：另有 {extra} 条记录不在其网格内",
                        f"{model.__tablename__}: {extra} more records outside their grid",
                    )
                )
        report.counts[f"located:{model.__tablename__}"] = checked


_AnyRow = Row[*tuple[Any, ...]]  # a row of a textual query


def _duplicates(session: Session, sql: str) -> list[_AnyRow]:
    return list(session.execute(text(sql)))


def check_codes(session: Session, report: IntegrityReport) -> None:
    """Grid codes are unique per version; case and component codes are unique."""
    checks: list[tuple[str, str, Callable[[_AnyRow], tuple[str, str]]]] = [
        (
            "grids",
            "SELECT version_id, code, count(*) FROM grids GROUP BY version_id, code "
            "HAVING count(*) > 1",
            lambda r: (
                f"网格版本 {r[0]} 中编码 {r[1]} 重复 {r[2]} 次",
                f"grid code {r[1]} appears {r[2]} times in version {r[0]}",
            ),
        ),
        (
            "cases",
            "SELECT code, count(*) FROM cases WHERE code IS NOT NULL GROUP BY code "
            "HAVING count(*) > 1",
            lambda r: (f"案卷编号 {r[0]} 重复 {r[1]} 次", f"case code {r[0]} appears {r[1]} times"),
        ),
        (
            "components",
            "SELECT code, count(*) FROM components WHERE code IS NOT NULL GROUP BY code "
            "HAVING count(*) > 1",
            lambda r: (
                f"部件编码 {r[0]} 重复 {r[1]} 次",
                f"component code {r[0]} appears {r[1]} times",
            ),
        ),
    ]
    for table, sql, describe in checks:
        if not _table_exists(session, table):
            continue
        for row in _duplicates(session, sql):
            zh, en = describe(row)
            report.problems.append(Problem("codes", zh, en, table))


def check_audit(session: Session, report: IntegrityReport) -> None:
    """The hash chain of the audit log is unbroken."""
    from wangge.audit.chain import verify_chain

    if not _table_exists(session, "audit_log"):
        return
    chain = verify_chain(session)
    report.counts["audit_entries"] = chain.checked
    if not chain.ok:
        report.problems.append(
            Problem(
                "audit",
                f"审计链断裂：{chain.reason_zh}",
                f"audit chain broken: {chain.reason_en}",
                f"audit:{chain.first_broken_id}",
            )
        )


def check_evaluation_facts(session: Session, report: IntegrityReport) -> None:
    """The stored evaluation facts equal a recomputation from the events."""
    from wangge.evaluation import stored

    if not _table_exists(session, "case_event_facts"):
        return
    for case_id in stored.stale_cases(session, limit=MAX_LISTED):
        report.problems.append(
            Problem(
                "evaluation_facts",
                f"案卷 {case_id} 的考核事实与事件不一致，请运行 wangge eval rebuild-facts",
                f"the evaluation facts of case {case_id} differ from its events; "
                "run `wangge eval rebuild-facts`",
                f"case:{case_id}",
            )
        )
    from wangge.evaluation import rollups

    if not _table_exists(session, "evaluation_rollups"):
        return
    for county, day in rollups.stale_days(session, limit=MAX_LISTED):
        report.problems.append(
            Problem(
                "evaluation_rollups",
                f"{county} 区县 {day} 的考核日汇总与考核事实不一致，请运行 wangge eval rebuild-rollups",
                f"the evaluation rollups of county {county} on {day} differ from the stored "
                "facts; run `wangge eval rebuild-rollups`",
                f"rollups:{county}:{day}",
            )
        )


CHECKS: dict[str, Callable[[Session, IntegrityReport], None]] = {
    "case_events": check_case_events,
    "locations": check_locations,
    "codes": check_codes,
    "audit": check_audit,
    "evaluation_facts": check_evaluation_facts,
}


def check_database(session: Session, *, only: list[str] | None = None) -> IntegrityReport:
    """Run every integrity check (or the named ones) and collect the problems."""
    report = IntegrityReport()
    for name, check in CHECKS.items():
        if only and name not in only:
            continue
        check(session, report)
    return report
