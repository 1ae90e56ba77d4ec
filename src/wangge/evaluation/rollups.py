"""Per-day, per-object rollups of the evaluation counts, kept in step with `case_event_facts`.

The counts of a period are `sql.count_sql` over the stored facts: each fact row of the
period adds 0 or 1 to some counts of its objects, judged with its flags as seen at the
period's end (a flag is set when its `*_at` time is before the end). As the end moves on, a
row's contribution changes only at its flags' times. So each row is stored as signed deltas:
its contribution just after it happened, then the change at each later flag time, each under
the local day (Asia/Shanghai) of the row (`day`) and of the change (`eff_day`). A period of
whole local days [first, end) is then the sum of the deltas with `first <= day < end` and
`eff_day < end`: a GROUP BY over a few rows per object and day instead of one per event.
Each delta is also kept per month (`span` "m", `month_sql`), which the whole months of a
period read instead of their days.

The deltas come from ONE query (`contribution_sql`) built from the same predicates as the
count query (`sql.groups` rewritten by `sql.stored_predicate`), run over one case's rows by
the case service (before and after its facts change: the difference is inserted) and over
the whole table by a rebuild. Nothing is updated in place: concurrent actions on the same
day and dispatcher only insert rows; `compact` sums a day's rows into one per key.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Date, Table, TextClause, bindparam, delete, func, insert, select, text
from sqlalchemy.orm import Session

from wangge.cases.models import UTCDateTime
from wangge.common.cache import TTLCache
from wangge.evaluation import sql
from wangge.evaluation.indicators import EvalConfig
from wangge.evaluation.models import EvaluationState
from wangge.evaluation.periods import SHANGHAI
from wangge.evaluation.rollup_models import COUNT_COLUMNS, WIDTH, EvaluationRollup

_TABLE: Table = EvaluationRollup.__table__  # type: ignore[assignment]  # a mapped Table
STATE_KEY = "rollups.layout"
COMPACTED_KEY = "rollups.compacted_id"
Key = tuple[str, date, date, str, str]  # county, day, eff_day, object type, object key

# the local day of a UTC time (Asia/Shanghai has kept UTC+8 without summer time since 1991)
_DAY = {
    "postgresql": "CAST(({x} AT TIME ZONE 'Asia/Shanghai') AS DATE)",
    "sqlite": "date({x}, '+8 hours')",
    "duckdb": "CAST({x} + INTERVAL 8 HOUR AS DATE)",
}


# the first and the last day of a day's month
_MONTH = {
    "postgresql": (
        "CAST(date_trunc('month', {x}) AS DATE)",
        "CAST(date_trunc('month', {x}) + INTERVAL '1 month - 1 day' AS DATE)",
    ),
    "sqlite": ("date({x}, 'start of month')", "date({x}, 'start of month', '+1 month', '-1 day')"),
    "duckdb": (
        "CAST(date_trunc('month', {x}) AS DATE)",
        "CAST(date_trunc('month', {x}) + INTERVAL 1 MONTH - INTERVAL 1 DAY AS DATE)",
    ),
}


def month_sql(
    dialect: str,
    *,
    county: bool = False,
    source: str = "evaluation_rollups",
    days_only: bool = True,
) -> str:
    """Return the month rows (county_code, span, day, eff_day, object_type, key, c0..cN) summed
    from the day rows of `source` (its `span = 'd'` rows; all of them with `days_only` off,
    for a source of day deltas without `span`): `day` the month's first day, `eff_day` at
    least its last day."""
    first, last = (m.format(x="day") for m in _MONTH[dialect])
    sums = ", ".join(f"SUM({c})" for c in COUNT_COLUMNS)
    having = " OR ".join(f"SUM({c}) <> 0" for c in COUNT_COLUMNS)
    where = " AND ".join(
        (["span = 'd'"] if days_only else []) + (["county_code = :county"] if county else [])
    )
    return f"""
SELECT county_code, 'm', m_day, m_eff, object_type, key, {sums} FROM (
  SELECT county_code, {first} AS m_day,
    CASE WHEN eff_day < {last} THEN {last} ELSE eff_day END AS m_eff, object_type, key,
    {", ".join(COUNT_COLUMNS)}
  FROM {source}{" WHERE " + where if where else ""}
) z
GROUP BY county_code, m_day, m_eff, object_type, key
HAVING {having}"""


def _judged(pred: str, *, at_point: bool) -> str:
    # a stored predicate judged at the point p_t instead of before :end: flags set at or
    # before it (just after the point), or strictly before it (just before the point)
    p = sql.stored_predicate(pred)
    if at_point:
        return p.replace(" < :end", " <= pts.p_t").replace(" >= :end", " > pts.p_t")
    return p.replace(":end", "pts.p_t")


@cache  # built from the same few arguments on every case action
def contribution_sql(
    dialect: str, where: str, *, nonzero: bool = True, source: str = "case_event_facts"
) -> str:
    """Return the delta rows (county_code, day, eff_day, object_type, key, c0..cN) of the
    fact rows `x` of `source` matching `where`, summed per key. Parameters: those of `where`.

    The points of a row are its time and the later times of its flags; at each, the delta is
    its counts just after minus just before (nothing before its own time). No window: each
    (row, point) pair is judged on its own, so a rebuild is one hash aggregation.
    """
    cfg = EvalConfig()
    day = _DAY[dialect]
    points = ['SELECT event_id AS p_id, "at" AS p_t FROM r'] + [
        f'SELECT event_id, {col} FROM r WHERE {col} > "at"' for col in sql.STORED_FLAGS.values()
    ]
    counted = ", ".join(f"'{r}'" for r in sql.COUNTED_ROLES)
    parts = []
    for name, (member, key, preds) in sql.groups(cfg).items():
        cols = [
            f"(CASE WHEN {_judged(p, at_point=True)} THEN 1 ELSE 0 END) - "
            f'(CASE WHEN pts.p_t > r."at" AND {_judged(p, at_point=False)} THEN 1 ELSE 0 END)'
            for p in preds.values()
        ]
        cols += ["0"] * (WIDTH - len(cols))
        parts.append(
            f"SELECT '{name}' AS object_type, CAST({key} AS VARCHAR(64)) AS key, r.county_code, "
            f'r."at" AS r_at, pts.p_t, CASE WHEN pts.p_t = r."at" THEN 1 ELSE 0 END AS c0, '
            + ", ".join(f"{c} AS c{i}" for i, c in enumerate(cols, 1))
            + " FROM r JOIN pts ON pts.p_id = r.event_id "
            f"WHERE {sql.stored_predicate(member)} AND {key} IS NOT NULL"
        )
    sums = ", ".join(f"SUM({c}) AS {c}" for c in COUNT_COLUMNS)
    having = " OR ".join(f"SUM({c}) <> 0" for c in COUNT_COLUMNS)
    return f"""
WITH r AS (
  SELECT x.* FROM {source} x
  WHERE ({where}) AND (x.role IN ({counted}) OR x.seg_first OR x.{sql._AREA_ROWS})
), pts AS (
  {" UNION ".join(points)}
), v AS (
  {" UNION ALL ".join(parts)}
), d AS (
  SELECT county_code, {day.format(x="r_at")} AS day, {day.format(x="p_t")} AS eff_day,
    object_type, key, {", ".join(COUNT_COLUMNS)}
  FROM v
)
SELECT county_code, day, eff_day, object_type, key, {sums} FROM d
GROUP BY county_code, day, eff_day, object_type, key
{"HAVING " + having if nonzero else ""}"""


@cache
@cache
def layout() -> str:
    """Return what the stored rollups depend on (the contribution query's text, hashed)."""
    body = contribution_sql("postgresql", "1 = 1") + month_sql("postgresql")
    return hashlib.sha256(body.encode()).hexdigest()[:32]


class _KnownBuilt(TTLCache):
    """Databases seen with their rollups built: every case action asks, and the answer never
    turns back to "no" while this code runs (only a rebuild writes the mark, with the current
    layout; a new layout is new code, so a new process). "No" is never kept: a rebuild by
    another process must be seen by the next action here, or its deltas would be missed."""

    def __init__(self) -> None:
        super().__init__(ttl=float("inf"))

    def known(self, key: str) -> bool:
        return key in self._items

    def remember(self, key: str) -> None:
        self._items[key] = (0.0, True)


_BUILT = _KnownBuilt()


def built(session: Session) -> bool:
    """Whether the rollups were built (by a rebuild) with the current layout."""
    key = str(session.get_bind().engine.url)
    if _BUILT.known(key):
        return True
    row = session.get(EvaluationState, STATE_KEY)
    done = row is not None and row.value == layout()
    if done:
        _BUILT.remember(key)
    return done


def _mark(session: Session, key: str, value: str) -> None:
    row = session.get(EvaluationState, key)
    if row is None:
        session.add(EvaluationState(key=key, value=value))
    else:
        row.value = value
    session.flush()


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def contributions(
    session: Session,
    *,
    case_ids: Iterable[int] = (),
    event_id: int | None = None,
    since: datetime | None = None,
) -> dict[Key, list[int]]:
    """Return the deltas of some cases' (or one event's) fact rows, summed per key; `since`:
    no fact of these cases is older (their report: the months before it are not read)."""
    args: dict[str, Any]
    if event_id is not None:
        where, args = "x.event_id = :event_id", {"event_id": event_id}
    else:
        where, args = "x.case_id IN :case_ids", {"case_ids": list(case_ids)}
        if not args["case_ids"]:
            return {}
    if since is not None:
        where, args = f"{where} AND x.at >= :since", {**args, "since": since}
    q = _contribution_query(session.get_bind().dialect.name, where)
    out: dict[Key, list[int]] = {}
    for row in session.execute(q, args):
        out[(row[0], _day(row[1]), _day(row[2]), row[3], row[4])] = [int(v) for v in row[5:]]
    return out


@cache  # text() parses its SQL for bind parameters: ~0.3 ms for this one, once per process
def _contribution_query(dialect: str, where: str) -> TextClause:
    q = text(contribution_sql(dialect, where))
    if ":since" in where:  # typed: SQLite compares the stored UTC text
        q = q.bindparams(bindparam("since", type_=UTCDateTime()))
    return q.bindparams(bindparam("case_ids", expanding=True)) if ":case_ids" in where else q


@cache
def _event_insert(dialect: str) -> TextClause:
    # with the event's time: the facts are partitioned by month (PostgreSQL), one is read
    days = contribution_sql(dialect, "x.event_id = :event_id AND x.at = :at")
    cols = ", ".join(COUNT_COLUMNS)
    months = month_sql(dialect, source="c", days_only=False)
    return text(f"""
WITH c AS ({days})
INSERT INTO {EvaluationRollup.__tablename__}
  (county_code, span, day, eff_day, object_type, key, {cols})
SELECT county_code, 'd', day, eff_day, object_type, key, {cols} FROM c
UNION ALL {months}""").bindparams(
        bindparam("at", type_=UTCDateTime())
    )  # as stored (SQLite: UTC text)


def add_event(session: Session, event_id: int, at: datetime) -> None:
    """Insert the day and month deltas of one event's new fact rows (a report: nothing to
    subtract) in one statement; the same rows as `add(session, contributions(event_id=…))`."""
    q = _event_insert(session.get_bind().dialect.name)
    session.execute(q, {"event_id": event_id, "at": at})


def _month_last(day: date) -> date:
    nxt = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def monthly(deltas: dict[Key, list[int]]) -> dict[Key, list[int]]:
    """Return the month rows of day deltas (as `month_sql` sums them)."""
    out: dict[Key, list[int]] = defaultdict(lambda: [0] * len(COUNT_COLUMNS))
    for (county, day, eff, kind, key), v in deltas.items():
        k = (county, day.replace(day=1), max(eff, _month_last(day)), kind, key)
        out[k] = [a + b for a, b in zip(out[k], v, strict=True)]
    return {k: v for k, v in out.items() if any(v)}


def _insert(session: Session, rows: dict[tuple[str, Key], list[int]]) -> None:
    values = [
        {"span": span, "county_code": k[0], "day": k[1], "eff_day": k[2], "object_type": k[3],
         "key": k[4]} | dict(zip(COUNT_COLUMNS, v, strict=True))
        for (span, k), v in rows.items()
        if any(v)
    ]  # fmt: skip
    if values:  # Core, not the ORM's bulk insert: this runs in every case action
        session.execute(insert(_TABLE), values)


def add(
    session: Session, new: dict[Key, list[int]], old: dict[Key, list[int]] | None = None
) -> None:
    """Insert `new` minus `old` (the contributions after and before a change) as delta rows,
    per day and per month."""
    diff: dict[Key, list[int]] = {k: list(v) for k, v in new.items()}
    for k, v in (old or {}).items():
        have = diff.setdefault(k, [0] * len(COUNT_COLUMNS))
        diff[k] = [a - b for a, b in zip(have, v, strict=True)]
    diff = {k: v for k, v in diff.items() if any(v)}
    rows = {("d", k): v for k, v in diff.items()} | {("m", k): v for k, v in monthly(diff).items()}
    _insert(session, rows)


def clear(session: Session, model: Any, county: str | None) -> None:
    """Delete a derived table's rows (of one county, if given) before they are recomputed."""
    q = delete(model)
    if county:
        q = q.where(model.county_code == county)
    session.execute(q)


def for_bulk(session: Session) -> str:
    """Return the dialect; on PostgreSQL keep this transaction's sorts in memory and turn JIT
    off (compiling these wide queries took longer than running them)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SET LOCAL work_mem = '256MB'"))
        session.execute(text("SET LOCAL jit = off"))
    return dialect


def rebuild(session: Session, *, county: str | None = None) -> int:
    """Recompute the rollups from the stored facts in the caller's transaction (one INSERT ...
    SELECT); return the rows. `evaluation.rebuild_pg` rebuilds a whole PostgreSQL database
    faster, into a fresh table."""
    clear(session, EvaluationRollup, county)
    dialect = for_bulk(session)
    where = "x.county_code = :county" if county else "1 = 1"
    days = contribution_sql(dialect, where).replace(
        "SELECT county_code, day,", "SELECT county_code, 'd', day,", 1
    )
    into = EvaluationRollup.__tablename__
    n = write_days_and_months(session, days, into=into, dialect=dialect, county=county)
    mark_rebuilt(session)
    return n


def write_days_and_months(
    session: Session, days: str, *, into: str, dialect: str, county: str | None = None
) -> int:
    """Insert the day rows `days` selects (county_code, 'd', day, eff_day, object_type, key,
    c0..cN) into `into`, then the month rows summed from them; return the rows written."""
    cols = "county_code, span, day, eff_day, object_type, key, " + ", ".join(COUNT_COLUMNS)
    args = {"county": county} if county else {}
    n = session.execute(text(f"INSERT INTO {into} ({cols}) {days}"), args)
    month = month_sql(dialect, county=bool(county), source=into)
    m = session.execute(text(f"INSERT INTO {into} ({cols}) {month}"), args)
    return int(n.rowcount + m.rowcount)  # type: ignore[attr-defined]


def sum_parts_sql(parts: str) -> str:
    """The day rows (county_code, 'd', day, eff_day, object_type, key, c0..cN) summed from
    partial delta rows of `contribution_sql` stored in table `parts` (per range of cases)."""
    sums = ", ".join(f"SUM({c})" for c in COUNT_COLUMNS)
    having = " OR ".join(f"SUM({c}) <> 0" for c in COUNT_COLUMNS)
    keys = "county_code, day, eff_day, object_type, key"
    return (
        f"SELECT county_code, 'd', day, eff_day, object_type, key, {sums} FROM {parts} "
        f"GROUP BY {keys} HAVING {having}"
    )


def mark_rebuilt(session: Session) -> None:
    """Record that the stored rollups follow the current contribution query."""
    _mark(session, STATE_KEY, layout())


def compact(session: Session) -> int:
    """Sum the rows of each (county, day) that got deltas since the last compaction into one
    row per key; return the rows removed. Safe beside concurrent inserts: DELETE ... RETURNING
    sums exactly the rows it removed."""
    t: Any = EvaluationRollup.__table__
    state = session.get(EvaluationState, COMPACTED_KEY)
    since = int(state.value) if state is not None else 0
    top = session.scalar(select(func.max(t.c.id)))
    if top is None or top <= since:
        return 0
    days = session.execute(select(t.c.county_code, t.c.day).where(t.c.id > since).distinct()).all()
    cols = [t.c.span, t.c.county_code, t.c.day, t.c.eff_day, t.c.object_type, t.c.key]
    cols += [t.c[c] for c in COUNT_COLUMNS]
    removed = 0
    for county, day in days:
        # the day's rows and, on a month's first day, the month's rows
        gone = session.execute(
            delete(t).where(t.c.county_code == county, t.c.day == day).returning(*cols)
        ).all()
        removed += len(gone)
        sums: dict[tuple[str, Key], list[int]] = defaultdict(lambda: [0] * len(COUNT_COLUMNS))
        for row in gone:
            k = (row[0], (row[1], _day(row[2]), _day(row[3]), row[4], row[5]))
            sums[k] = [a + int(b) for a, b in zip(sums[k], row[6:], strict=True)]
        _insert(session, dict(sums))
        removed -= sum(1 for v in sums.values() if any(v))
    _mark(session, COMPACTED_KEY, str(session.scalar(select(func.max(t.c.id))) or 0))
    return removed


def _summed(rows: Iterable[Any]) -> dict[Key, list[int]]:
    out: dict[Key, list[int]] = defaultdict(lambda: [0] * len(COUNT_COLUMNS))
    for row in rows:
        k = (row[0], _day(row[1]), _day(row[2]), row[3], row[4])
        out[k] = [a + int(b) for a, b in zip(out[k], row[5:], strict=True)]
    return {k: v for k, v in out.items() if any(v)}


def stale_days(session: Session, *, limit: int = 20) -> list[tuple[str, date]]:
    """Return the (county, day) whose rollups differ from a recomputation from the stored
    facts (for `wangge check`; a month row names its first day); none when the rollups are
    not built (nothing reads them)."""
    if not built(session):
        return []
    t = EvaluationRollup.__table__
    cols = [t.c.county_code, t.c.day, t.c.eff_day, t.c.object_type, t.c.key]
    sums = [t.c[c] for c in COUNT_COLUMNS]
    bad: set[tuple[str, date]] = set()
    fresh = _summed(
        session.execute(text(contribution_sql(session.get_bind().dialect.name, "1 = 1")))
    )
    for span, want in (("d", fresh), ("m", monthly(fresh))):
        have = _summed(session.execute(select(*cols, *sums).where(t.c.span == span)))
        bad |= {k[:2] for k in have.keys() | want.keys() if have.get(k) != want.get(k)}
    return sorted(bad)[:limit]


def _midnight(moment: datetime) -> date | None:
    local = moment.astimezone(SHANGHAI)
    return local.date() if local.time() == time() else None


def days_sql(*, county: bool) -> str:
    """Return the counting query over the rollups: rows (object_type, key, c0, c1..cN) of the
    local days [:first, :last) as seen at the midnight before :last (+ :county); the whole
    months [:m0, :m1) are read from their month rows (`month_bounds`)."""
    sums = ", ".join(f"SUM({c}) AS {c}" for c in COUNT_COLUMNS)
    where = " AND county_code = :county" if county else ""
    return (
        f"SELECT object_type, key, {sums} FROM evaluation_rollups "
        "WHERE eff_day < :last AND ("
        "(span = 'm' AND day >= :m0 AND day < :m1) OR (span = 'd' AND "
        f"((day >= :first AND day < :m0) OR (day >= :m1 AND day < :last)))){where} "
        "GROUP BY object_type, key"
    )


def month_bounds(first: date, last: date) -> tuple[date, date]:
    """Return [m0, m1): the whole months inside the days [first, last) (empty: both first)."""
    m0 = first if first.day == 1 else _month_last(first) + timedelta(days=1)
    m1 = last.replace(day=1)
    return (m0, m1) if m0 < m1 else (first, first)


def as_counts(rows: Iterable[Any]) -> dict[str, dict[str, dict[str, int]]]:
    """Return {object_type: {key: {count: n}}} of the rows of `days_sql`."""
    names = {g: list(preds) for g, (_, _, preds) in sql.groups(EvalConfig()).items()}
    out: dict[str, dict[str, dict[str, int]]] = {g: {} for g in names}
    for row in rows:
        if not row[2]:  # no member row in the period (deltas that cancel out)
            continue
        cols = names[row[0]]
        out[row[0]][str(row[1])] = {c: int(row[3 + i] or 0) for i, c in enumerate(cols)}
    return out


def count_days(
    session: Session, start: datetime, end: datetime, *, county: str | None = None
) -> dict[str, dict[str, dict[str, int]]] | None:
    """Return the counts of [start, end) from the rollups ({object_type: {key: {count: n}}}),
    or None when the period is not whole local days (the caller reads the facts then)."""
    first, last = _midnight(start), _midnight(end)
    if first is None or last is None:
        return None
    q = text(days_sql(county=county is not None)).bindparams(
        *(bindparam(k, type_=Date()) for k in ("first", "last", "m0", "m1"))
    )
    m0, m1 = month_bounds(first, last)
    args: dict[str, Any] = {"first": first, "last": last, "m0": m0, "m1": m1}
    if county:
        args["county"] = county
    return as_counts(session.execute(q, args))


__all__ = [
    "add",
    "built",
    "compact",
    "contributions",
    "count_days",
    "days_sql",
    "rebuild",
    "stale_days",
]
