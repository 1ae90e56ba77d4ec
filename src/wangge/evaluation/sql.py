"""The counts of `wangge.evaluation.facts` as ONE aggregate SQL query (PostgreSQL, SQLite,
DuckDB): window functions give each event its stage, spell and case flags, then GROUP BY
object with FILTER clauses counts them. Keep every predicate here equal to the one in facts.py
(the tests compare both on the same events).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from wangge.cases.vocabulary import HANDLING
from wangge.evaluation.facts import FILING, NO_STATE_CHANGE, SPELL_START, STOPPING
from wangge.evaluation.indicators import EvalConfig


@dataclass(frozen=True)
class Dialect:
    """The few expressions that differ between databases."""

    epoch: str
    hours: str
    rating: str
    # a text field of the payload ({key}); the texts of a payload array ({key}) as a table
    # `j` joined to the event (`e`), its column `item`
    text: str
    items: str
    item: str


DIALECTS = {
    "postgresql": Dialect(
        "CAST(EXTRACT(EPOCH FROM e.at) AS DOUBLE PRECISION)",
        "CAST(e.payload->>'hours' AS DOUBLE PRECISION)",
        "e.payload->>'rating'",
        "e.payload->>'{key}'",
        "json_array_elements_text(CASE WHEN json_typeof(e.payload->'{key}') = 'array' "
        "THEN e.payload->'{key}' END) AS j(dept)",
        "j.dept",
    ),
    "sqlite": Dialect(
        "((julianday(e.at) - 2440587.5) * 86400.0)",
        "CAST(json_extract(e.payload, '$.hours') AS REAL)",
        "json_extract(e.payload, '$.rating')",
        "json_extract(e.payload, '$.{key}')",
        "json_each(CASE WHEN json_type(e.payload, '$.{key}') = 'array' "
        "THEN json_extract(e.payload, '$.{key}') END) AS j",
        "j.value",
    ),
    "duckdb": Dialect(
        "epoch(e.at)",
        "TRY_CAST(json_extract_string(e.payload, '$.hours') AS DOUBLE)",
        "json_extract_string(e.payload, '$.rating')",
        "json_extract_string(e.payload, '$.{key}')",
        "unnest(CASE WHEN json_type(json_extract(e.payload, '$.{key}')) = 'ARRAY' "
        "THEN CAST(json_extract(e.payload, '$.{key}') AS VARCHAR[]) END) AS j(dept)",
        "j.dept",
    ),
}

_PUBLIC = "source IN ('hotline', 'online')"
_W = "role IN ('supervisor', 'grid_leader')"
# An area is counted from its filings and its verified public reports only.
_AREA_ROWS = "action IN ('file', 'verify_true')"
# One business line: the cases whose category belongs to it (parameter :line).
_LINE_CASES = (
    "SELECT lc.id FROM cases lc JOIN case_categories lcc ON lcc.code = lc.category_code "
    "WHERE lcc.business_line = :line"
)


def _in(values: Iterable[str]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in sorted(values)) + ")"


def _of_line(line: bool, column: str) -> str:
    return f" AND {column} IN ({_LINE_CASES})" if line else ""


def _ok(stage: str, cfg: EvalConfig) -> str:
    # due_at: the deadline the case showed (recorded on the event before); without one, the
    # old rule on gap: seconds since the previous state change (NULL for the first event)
    return (
        '(CASE WHEN due_at IS NOT NULL THEN "at" <= due_at '
        f"ELSE gap IS NOT NULL AND gap <= {cfg.limit_secs(stage)!r} END)"
    )


def _supervisor_counts(cfg: EvalConfig) -> dict[str, str]:
    rep = "action = 'report'"
    ver = "action IN ('verify_true', 'verify_false')"
    chk = "action IN ('check_pass', 'check_fail')"
    return {
        "reports": rep,
        "valid_reports": f"{rep} AND case_filed = 1",
        "closed_reports": f"{rep} AND case_filed = 1 AND case_closed = 1",
        "closed_on_time_reports": f"{rep} AND case_filed = 1 AND case_closed = 1 AND case_late = 0",
        "to_verify": ver,
        "verified_on_time": f"{ver} AND {_ok('verify', cfg)}",
        "to_check": chk,
        "checked_on_time": f"{chk} AND {_ok('check', cfg)}",
        "missed": f"action = 'verify_true' AND {_PUBLIC}",
        "self_handled": "action = 'self_handle'",
    }


def _centre_counts(cfg: EvalConfig) -> dict[str, tuple[str, str, dict[str, str]]]:
    """The centre's posts: acceptors (受理员), shift leaders (值班长) and dispatchers (派遣员)."""
    return {
        "acceptor": (
            "role = 'acceptor'",
            "actor_id",
            {
                "received": "action IN ('accept', 'reject_invalid', 'reject_duplicate')",
                "send_verify": "action = 'request_verification'",
                "send_verify_on_time": (
                    f"action = 'request_verification' AND {_ok('send_verify', cfg)}"
                ),
                "send_check": "action = 'request_check'",
                "send_check_on_time": f"action = 'request_check' AND {_ok('send_check', cfg)}",
            },
        ),
        "shift_leader": (
            "role = 'shift_leader'",
            "actor_id",
            {
                "filed": "action = 'file'",
                "filed_on_time": f"action = 'file' AND {_ok('file', cfg)}",
                "filed_accurate": "action = 'file' AND void_after_file = 0",
                "to_close": "action = 'close'",
                "closed_on_time": f"action = 'close' AND {_ok('close', cfg)}",
            },
        ),
        "dispatcher": (
            "role = 'dispatcher'",
            "actor_id",
            {
                "dispatched": "action = 'dispatch'",
                "dispatched_on_time": f"action = 'dispatch' AND {_ok('dispatch', cfg)}",
                "dispatched_accurate": "action = 'dispatch' AND wrong_dispatch = 0",
            },
        ),
    }


_DEPARTMENT_COUNTS = {
    "to_handle": "1 = 1",
    "handled": "seg_fed = 1",
    "handled_on_time": "seg_fed_on_time = 1",
    "rework": "seg_rework = 1",
    "closed": "case_closed = 1",
    "extended": "seg_ext = 1",
    "suspended": "seg_susp = 1",
    "returned": "seg_returned = 1",
}
_AREA_COUNTS = {
    "filed": "action = 'file'",
    "closed": "action = 'file' AND case_closed = 1",
    "closed_on_time": "action = 'file' AND case_closed = 1 AND case_late = 0",
    "public_verified": f"action = 'verify_true' AND {_PUBLIC}",
}


def groups(cfg: EvalConfig) -> dict[str, tuple[str, str, dict[str, str]]]:
    """Return {object type: (membership, key expression, {count: predicate})} as SQL."""
    return {
        "supervisor": (_W, "actor_id", _supervisor_counts(cfg)),
        **_centre_counts(cfg),
        "department": ("part IS NOT NULL AND seg_first = 1", "part", dict(_DEPARTMENT_COUNTS)),
        "grid": (_AREA_ROWS, "grid", dict(_AREA_COUNTS)),
        "community": (_AREA_ROWS, "community", dict(_AREA_COUNTS)),
        "street": (_AREA_ROWS, "SUBSTR(community, 1, 9)", dict(_AREA_COUNTS)),
    }


# the actions after which a dispatch was wrong (回退 approved, 返工)
WRONG = ("approve_return", "check_fail")


def stage_ctes(cfg: EvalConfig, *, source: str, extra: str) -> str:
    """Return the CTEs `l1` … `l4` over the events of `source` (columns of `case_events` plus
    `epoch` and `hours`): each event's previous state change (`gap`), handling spell (`hseg`,
    `handle_start`, `seg_rework`, `seg_rn`), the deadline it was judged against (`due_at`),
    extensions and suspensions so far in its spell, and whether a feedback or a closing was
    late (`late_fb`, `late_close`). `extra` adds columns to `l1` over the same windows: `w` the
    events before this one, `wf` those after it. The one statement of these rules in SQL, for
    the counting query (`facts_cte`) and the stored facts (`stored_sql`); `facts.py` is the
    reference both are tested against.
    """
    by_case = 'PARTITION BY case_id ORDER BY "at", id'
    by_part = 'PARTITION BY case_id, part ORDER BY "at", id'
    start = _in(SPELL_START)
    return f"""l1 AS (
  SELECT {source}.*,
    MAX(CASE WHEN action NOT IN {_in(NO_STATE_CHANGE)} THEN epoch END) OVER w AS prev,
    COALESCE(SUM(CASE WHEN action IN {start} THEN 1 ELSE 0 END) OVER w, 0)
      + CASE WHEN action IN {start} THEN 1 ELSE 0 END AS hseg,
    CASE WHEN action IN {start} THEN epoch
      ELSE MAX(CASE WHEN action IN {start} THEN epoch END) OVER w
    END AS handle_start,
    CASE WHEN action = 'check_fail' THEN 1 WHEN action = 'dispatch' THEN 0
      WHEN MAX(CASE WHEN action = 'check_fail' THEN epoch END) OVER w IS NULL THEN 0
      WHEN MAX(CASE WHEN action = 'dispatch' THEN epoch END) OVER w IS NULL THEN 1
      WHEN MAX(CASE WHEN action = 'check_fail' THEN epoch END) OVER w
        >= MAX(CASE WHEN action = 'dispatch' THEN epoch END) OVER w THEN 1 ELSE 0
    END AS seg_rework,
    {extra},
    LAG(deadline) OVER ({by_case}) AS prev_deadline,
    LAG(action) OVER ({by_part}) AS lag_action,
    LAG(epoch) OVER ({by_part}) AS lag_epoch,
    LAG(hours) OVER ({by_part}) AS lag_hours
  FROM {source}
  WINDOW w AS ({by_case} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
    wf AS ({by_case} ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)
), l2 AS (
  SELECT l1.*, epoch - prev AS gap,
    -- the deadline the case showed while waiting for this event (a feedback: its part's)
    CASE WHEN action = 'feed_back' THEN part_deadline ELSE prev_deadline END AS due_at,
    CASE WHEN action = 'approve_extension' THEN COALESCE(hours,
      CASE WHEN lag_action = 'request_extension' THEN lag_hours END, 0) ELSE 0 END AS ext,
    CASE WHEN action = 'resume' AND lag_action = 'approve_suspension'
      THEN epoch - lag_epoch ELSE 0 END AS susp
  FROM l1
), l3 AS (
  SELECT l2.*,
    SUM(ext) OVER ws AS ext_sum,
    SUM(susp) OVER ws AS susp_sum,
    ROW_NUMBER() OVER ws AS seg_rn
  FROM l2
  WINDOW ws AS (PARTITION BY case_id, hseg, part ORDER BY "at", id ROWS UNBOUNDED PRECEDING)
), l4 AS (
  SELECT l3.*,
    CASE WHEN action = 'feed_back' AND CASE WHEN due_at IS NOT NULL THEN "at" > due_at
      ELSE epoch - handle_start - susp_sum > {cfg.limit_secs("handle")!r} + ext_sum * 3600.0
      END THEN 1 ELSE 0 END AS late_fb,
    CASE WHEN action = 'close' AND NOT {_ok("close", cfg)} THEN 1 ELSE 0 END AS late_close
  FROM l3
)"""


# the counting query's own columns: whether a dispatch was returned or reworked before the
# next dispatch, and the case-wide flags (the events before, this one and those after)
_CASE_WIDE = f"""CASE WHEN MIN(CASE WHEN action IN {_in(WRONG)} THEN epoch END) OVER wf
        <= COALESCE(MIN(CASE WHEN action = 'dispatch' THEN epoch END) OVER wf, 1e18)
      THEN 1 ELSE 0 END AS wrong_dispatch,
CASE WHEN action IN ('file', 'self_handle')
      OR MAX(CASE WHEN action IN ('file', 'self_handle') THEN 1 END) OVER w = 1
      OR MAX(CASE WHEN action IN ('file', 'self_handle') THEN 1 END) OVER wf = 1
      THEN 1 ELSE 0 END AS case_filed,
    CASE WHEN action = 'close' OR MAX(CASE WHEN action = 'close' THEN 1 END) OVER w = 1
      OR MAX(CASE WHEN action = 'close' THEN 1 END) OVER wf = 1 THEN 1 ELSE 0 END AS case_closed,
    CASE WHEN (action = 'void' AND from_state = 'filed')
      OR MAX(CASE WHEN action = 'void' AND from_state = 'filed' THEN 1 END) OVER w = 1
      OR MAX(CASE WHEN action = 'void' AND from_state = 'filed' THEN 1 END) OVER wf = 1
      THEN 1 ELSE 0 END AS void_after_file"""


def facts_cte(
    dialect: str, cfg: EvalConfig, *, county: bool, events: str = "case_events", line: bool = False
) -> str:
    """Return `WITH ... f AS (...)`: every event before :end of the cases active in the period.

    Parameters: :start, :end (timestamps), :county (when `county`), :line (when `line`).
    """
    d = DIALECTS[dialect]
    where_county = ("AND county_code = :county" if county else "") + _of_line(line, "case_id")
    spell = "PARTITION BY case_id, hseg, part"
    return f"""
WITH active AS (
  SELECT DISTINCT case_id FROM {events} WHERE "at" >= :start AND "at" < :end {where_county}
), base AS (
  SELECT e.id, e.case_id, e."at", e.action, e.actor_id, e.role, e.from_state, e.part,
         e.deadline, e.part_deadline, {d.epoch} AS epoch,
         CASE WHEN e.action IN ('request_extension', 'approve_extension') THEN {d.hours} END
           AS hours
  FROM {events} e JOIN active a ON a.case_id = e.case_id
  WHERE e."at" < :end
    -- no event precedes its case's report: a bound that lets the time index do the work
    AND e."at" >= (SELECT MIN(c2.reported_at) FROM cases c2 JOIN active a2 ON a2.case_id = c2.id)
), {stage_ctes(cfg, source="base", extra=_CASE_WIDE)}, g AS (
  -- the spell's flags are read on its first event, so the frame runs from here to its end
  SELECT l4.*,
    MAX(CASE WHEN late_fb = 1 OR late_close = 1 THEN 1 ELSE 0 END)
      OVER (PARTITION BY case_id) AS case_late,
    MAX(CASE WHEN action = 'feed_back' THEN 1 ELSE 0 END) OVER wr AS seg_fed,
    MAX(CASE WHEN action = 'feed_back' AND late_fb = 0 THEN 1 ELSE 0 END) OVER wr
      AS seg_fed_on_time,
    MAX(CASE WHEN action = 'approve_extension' THEN 1 ELSE 0 END) OVER wr AS seg_ext,
    MAX(CASE WHEN action = 'approve_suspension' THEN 1 ELSE 0 END) OVER wr AS seg_susp,
    MAX(CASE WHEN action = 'approve_return' THEN 1 ELSE 0 END) OVER wr AS seg_returned
  FROM l4
  WINDOW wr AS ({spell} ORDER BY "at", id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
), f AS MATERIALIZED (
  -- the case's source and place are joined after the windows, so the sorts stay narrow
  SELECT g.*, CASE WHEN seg_rn = 1 THEN 1 ELSE 0 END AS seg_first, c.source,
         CAST(COALESCE(c.grid_id, c.unit_grid_id) AS VARCHAR(20)) AS grid,
         c.community_code AS community
  FROM g JOIN cases c ON c.id = g.case_id
  -- times, not epochs: SQLite's julianday arithmetic put an event at the very start before it
  WHERE g."at" >= :start
), fa AS (
  SELECT * FROM f WHERE {_AREA_ROWS}
)"""


# flag of the window query -> the stored column holding when it first became true
STORED_FLAGS = {
    "case_filed": "filed_at", "case_closed": "closed_at", "void_after_file": "void_at",
    "case_late": "late_at", "wrong_dispatch": "wrong_at", "seg_fed": "fed_at",
    "seg_fed_on_time": "fed_on_time_at", "seg_ext": "ext_at", "seg_susp": "susp_at",
    "seg_returned": "returned_at",
}  # fmt: skip


def stored_cte(*, county: bool, line: bool = False) -> str:
    """Return `WITH f AS (...), fa AS (...)` over `case_event_facts`: the period's events with
    the same columns as `facts_cte`, each flag as seen at :end. Parameters :start, :end
    (+ :county). Only rows some object counts are kept (department-side steps other than a
    spell's first event, reports by citizens, 督办 and 评价 count nowhere).
    """
    where_county = ("AND x.county_code = :county" if county else "") + _of_line(line, "x.case_id")
    stamps = ", ".join(f"x.{col}" for col in STORED_FLAGS.values())
    counted = ", ".join(f"'{r}'" for r in COUNTED_ROLES)
    return f"""
WITH f AS MATERIALIZED (
  SELECT x.event_id AS id, x.case_id, x."at", x.action, x.actor_id, x.role, x.part, x.source,
    x.gap, x.due_at, x.grid, x.community, x.seg_first, x.seg_rework, {stamps}
  FROM case_event_facts x
  WHERE x."at" >= :start AND x."at" < :end {where_county}
    AND (x.role IN ({counted}) OR x.seg_first OR x.{_AREA_ROWS})
), fa AS (
  SELECT * FROM f WHERE {_AREA_ROWS}
)"""


def open_sql(
    dialect: str, *, county: bool, stored: bool = False, line: bool = False,
    events: str = "case_events",
) -> str:  # fmt: skip
    """Return the clocks running past their deadline at :end (`facts.open_clocks`), one row
    each: (case_id, event_id, part, carried, reporter, grid, community). Parameters :start,
    :end (+ :county, :line). `stored` reads `case_clock_facts`; otherwise the clocks are
    derived from every event before :end of the cases not closed before :start.
    """
    if stored:
        return _stored_open_sql(county=county, line=line)
    return _derived_open_sql(dialect, county=county, line=line, events=events)


_COUNTED = "k.counted_at >= :start AND k.counted_at < :end"


def _stored_open_sql(*, county: bool, line: bool) -> str:
    where = ("AND k.county_code = :county" if county else "") + _of_line(line, "k.case_id")
    return f"""
SELECT k.case_id, k.event_id, k.part,
  CASE WHEN k.part IS NULL OR ({_COUNTED}) THEN 0 ELSE 1 END AS carried,
  k.reporter, k.grid, k.community
FROM case_clock_facts k
WHERE k."at" < :end AND k.deadline < :end AND (k.ends_at IS NULL OR k.ends_at >= :end) {where}"""


def named_departments(d: Dialect, pick: str, lead: str, *, union: str) -> str:
    """The SELECTs over `ev e` of the departments a dispatch (lead, assisting) or a rework
    names, each a clock start: `pick`, dept, deadline, runs (1), own (0)."""
    return f"""SELECT {pick}, {lead} AS dept, e.deadline, 1 AS runs, 0 AS own
  FROM ev e WHERE e.action = 'dispatch'
  {union}
  SELECT {pick}, {d.item}, e.deadline, 1, 0
  FROM ev e, {d.items.format(key="assisting")} WHERE e.action = 'dispatch'
  {union}
  SELECT {pick}, {d.item}, e.deadline, 1, 0
  FROM ev e, {d.items.format(key="departments")} WHERE e.action = 'check_fail'"""


def _derived_open_sql(dialect: str, *, county: bool, line: bool, events: str) -> str:
    d = DIALECTS[dialect]
    where = ("AND e.county_code = :county" if county else "") + _of_line(line, "e.case_id")
    named = named_departments(
        d, 'e.case_id, e."at", e.id, e.seq, e.hseg', d.text.format(key="department"),
        union="UNION ALL",
    )  # fmt: skip
    return f"""
WITH ev AS (
  SELECT e.id, e.case_id, e."at", e.action, e.actor_id, e.role, e.part, e.to_state, e.deadline,
    e.part_deadline, e.payload,
    ROW_NUMBER() OVER w AS seq,
    SUM(CASE WHEN e.action IN {_in(SPELL_START)} THEN 1 ELSE 0 END) OVER w AS hseg
  FROM {events} e
  WHERE e."at" < :end {where}
    -- a case closed before the period began cannot hold a clock at its end
    AND e.case_id NOT IN (SELECT c0.id FROM cases c0
      WHERE c0.state IN ('closed', 'rated') AND c0.closed_at < :start)
  WINDOW w AS (PARTITION BY e.case_id ORDER BY e."at", e.id)
), cs AS (
  SELECT case_id, MAX(seq) AS last_seq,
    MAX(CASE WHEN to_state IS NULL OR to_state NOT IN {_in(HANDLING)} THEN seq END) AS left_seq,
    MIN(CASE WHEN action IN {_in(FILING)} THEN seq END) AS filed_seq,
    MAX(CASE WHEN action = 'report' AND {_W} THEN actor_id END) AS reporter
  FROM ev GROUP BY case_id
), cc AS (
  -- the case's stage clock: the deadline its latest event recorded, once it was filed
  SELECT ev.case_id, ev.id AS event_id, CAST(NULL AS VARCHAR(32)) AS part, 0 AS carried,
    cs.reporter
  FROM ev JOIN cs ON cs.case_id = ev.case_id AND ev.seq = cs.last_seq
  WHERE cs.filed_seq IS NOT NULL AND ev.deadline IS NOT NULL AND ev.deadline < :end
), pr AS (
  -- a department's clock: started by a dispatch or rework naming it, carried by its events
  SELECT e.case_id, e."at", e.id, e.seq, e.hseg, e.part AS dept, e.part_deadline AS deadline,
    CASE WHEN e.action IN {_in(STOPPING)} THEN 0 ELSE 1 END AS runs, 1 AS own
  FROM ev e WHERE e.part IS NOT NULL
  UNION ALL
  {named}
), lt AS (
  SELECT pr.*, ROW_NUMBER() OVER (PARTITION BY case_id, dept ORDER BY seq DESC) AS rn,
    MIN(CASE WHEN own = 1 THEN "at" END) OVER (PARTITION BY case_id, hseg, dept) AS counted_at
  FROM pr WHERE dept IS NOT NULL
), pc AS (
  -- its latest row, if the clock runs and the case has not left handling since
  SELECT k.case_id, k.id AS event_id, k.dept AS part,
    CASE WHEN {_COUNTED} THEN 0 ELSE 1 END AS carried, CAST(NULL AS VARCHAR(64)) AS reporter
  FROM lt k JOIN cs ON cs.case_id = k.case_id
  WHERE k.rn = 1 AND k.runs = 1 AND k.deadline IS NOT NULL AND k.deadline < :end
    AND k.seq > COALESCE(cs.left_seq, 0)
)
SELECT x.case_id, x.event_id, x.part, x.carried, x.reporter,
  CAST(COALESCE(c.grid_id, c.unit_grid_id) AS VARCHAR(20)) AS grid, c.community_code AS community
FROM (SELECT * FROM cc UNION ALL SELECT * FROM pc) x JOIN cases c ON c.id = x.case_id"""


# the roles whose events people groups count (see `groups`)
COUNTED_ROLES = ("supervisor", "grid_leader", "acceptor", "shift_leader", "dispatcher")


_FLAG = re.compile(r"\b(" + "|".join([*STORED_FLAGS, "seg_first", "seg_rework"]) + r") = ([01])")


def stored_predicate(pred: str) -> str:
    """Rewrite a predicate of `groups` for the stored rows: `flag = 1` becomes "first set
    before the end" (`x_at < :end`); the two past-only flags are booleans there."""

    def one(m: re.Match[str]) -> str:
        flag, value = m.group(1), m.group(2) == "1"
        if flag in ("seg_first", "seg_rework"):
            return flag if value else f"NOT {flag}"
        col = STORED_FLAGS[flag]
        return f"{col} < :end" if value else f"({col} IS NULL OR {col} >= :end)"

    return _FLAG.sub(one, pred)


def _cte(
    dialect: str, cfg: EvalConfig, county: bool, stored: bool, events: str, line: bool = False
) -> str:
    if stored:
        return stored_cte(county=county, line=line)
    return facts_cte(dialect, cfg, county=county, events=events, line=line)


def _source(name: str) -> str:
    return "fa" if name in AREA_GROUPS else "f"


AREA_GROUPS = ("grid", "community", "street")


def count_sql(
    dialect: str,
    cfg: EvalConfig,
    *,
    county: bool,
    events: str = "case_events",
    stored: bool = False,
    line: bool = False,
) -> tuple[str, dict[str, list[str]]]:
    """Return the counting query and, per object type, the names of its c1..cN columns.

    Rows: (object_type, key, c1, ..., cN); parameters :start, :end (+ :county,
    :line). `stored` reads `case_event_facts` instead of deriving the facts from the events;
    `line` counts only the cases whose category belongs to the business line :line.
    """
    gs = groups(cfg)
    width = max(len(p) for _, _, p in gs.values())
    fix = stored_predicate if stored else str
    parts, names = [], {}
    for name, (member, key, preds) in gs.items():
        member = fix(member)
        cols = [
            f"COUNT(*) FILTER (WHERE {fix(p)}) AS c{i}" for i, p in enumerate(preds.values(), 1)
        ]
        cols += [f"0 AS c{i}" for i in range(len(preds) + 1, width + 1)]
        parts.append(
            f"SELECT '{name}' AS object_type, {key} AS key, {', '.join(cols)} "
            f"FROM {_source(name)} WHERE {member} AND {key} IS NOT NULL GROUP BY {key}"
        )
        names[name] = list(preds)
    query = _cte(dialect, cfg, county, stored, events, line) + "\n" + "\nUNION ALL\n".join(parts)
    return query, names


def drill_sql(
    dialect: str,
    cfg: EvalConfig,
    object_type: str,
    count_name: str,
    *,
    county: bool,
    stored: bool = False,
    line: bool = False,
) -> str:
    """Return the (case id, event id) rows behind one count, one per counted event (:key too)."""
    member, key, preds = groups(cfg)[object_type]
    fix = stored_predicate if stored else str
    return (
        _cte(dialect, cfg, county, stored, "case_events", line)
        + f"\nSELECT case_id, id FROM {_source(object_type)} WHERE {fix(member)} "
        f"AND {key} = :key AND {fix(preds[count_name])} ORDER BY case_id, id"
    )


def ratings_sql(dialect: str, *, county: bool, stored: bool = False, line: bool = False) -> str:
    """Return per grid worker (ratings, satisfied) of the cases he worked on.

    `stored` reads `case_event_facts`, where the rating is a column, instead of the events.
    """
    table = "case_event_facts" if stored else "case_events"
    rating = "e.rating" if stored else DIALECTS[dialect].rating
    where_county = ("AND e.county_code = :county" if county else "") + _of_line(line, "e.case_id")
    return f"""
WITH r AS (
  SELECT e.case_id, {rating} AS rating FROM {table} e
  WHERE e.action = 'rate' AND e."at" >= :start AND e."at" < :end {where_county}
), w AS (
  SELECT DISTINCT case_id, actor_id FROM {table}
  WHERE case_id IN (SELECT case_id FROM r) AND {_W} AND "at" < :end
)
SELECT w.actor_id, COUNT(*) AS ratings,
  COUNT(*) FILTER (WHERE r.rating IN ('satisfied', 'basically_satisfied')) AS satisfied
FROM r JOIN w ON w.case_id = r.case_id
GROUP BY w.actor_id"""


def area_ratings_sql(dialect: str, *, county: bool, stored: bool = False) -> str:
    """Return per community (ratings, satisfied) of the cases rated in the window.

    Each rated case counts once, in its community: the area's 群众满意率 with the same
    rating rule as the grid workers' (`ratings_sql`).
    """
    rating = "e.rating" if stored else DIALECTS[dialect].rating
    where_county = "AND e.county_code = :county" if county else ""
    if stored:
        source = "case_event_facts e"
        community = "e.community"
    else:
        source = "case_events e JOIN cases c ON c.id = e.case_id"
        community = "c.community_code"
    return f"""
SELECT {community} AS community, COUNT(*) AS ratings,
  COUNT(*) FILTER (WHERE {rating} IN ('satisfied', 'basically_satisfied')) AS satisfied
FROM {source}
WHERE e.action = 'rate' AND e."at" >= :start AND e."at" < :end {where_county}
GROUP BY {community}"""
