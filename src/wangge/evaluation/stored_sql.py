"""The stored facts (`facts.stored_facts_of_case`, `facts.clock_spans`) derived by the database:
two INSERT ... SELECT statements over a range of cases, for `wangge eval rebuild-facts`.

The Python derivation stays the reference (the case service writes one case's facts with it,
and `stored.stale_cases` compares stored rows against it); this is the same rules as window
functions, so that rebuilding millions of events needs no round trip per row. The tests hold
a rebuild by this module equal to the Python one on simulated months (PostgreSQL and SQLite).
"""

from __future__ import annotations

from wangge.cases.vocabulary import HANDLING
from wangge.evaluation.facts import FILING, SPELL_START, STOPPING, WORKER_ROLES
from wangge.evaluation.indicators import EvalConfig
from wangge.evaluation.sql import DIALECTS, WRONG, _in, named_departments, stage_ctes

_RANGE = "e.case_id >= :lo AND e.case_id < :hi"


def _events(dialect: str, county: bool, payload: str, where: str = "") -> str:
    """The events of the cases in [:lo, :hi) (+ :county, + `where`)."""
    d = DIALECTS[dialect]
    where = _RANGE + (" AND e.county_code = :county" if county else "") + where
    return f"""
  SELECT e.id, e.case_id, e."at", e.action, e.actor_id, e.role, e.from_state, e.to_state,
    e.part, e.deadline, e.part_deadline, {d.epoch} AS epoch, {payload}
  FROM case_events e
  WHERE {where}"""


# the case's source and place, joined after the windows so that their sorts stay narrow
_PLACE = (
    "JOIN cases c ON c.id = x.case_id AND c.id >= :lo AND c.id < :hi",
    "c.county_code, c.source, CAST(COALESCE(c.grid_id, c.unit_grid_id) AS VARCHAR(20)), "
    "c.community_code",
)


def event_facts_sql(
    dialect: str, cfg: EvalConfig, *, county: bool, into: str = "case_event_facts"
) -> str:
    """Return the INSERT of `case_event_facts` rows of the cases in [:lo, :hi) (+ :county)
    into `into` (the table or its fresh copy).

    Rules as in `facts._facts_of_case` / `stored_facts_of_case`: flags that later events can
    set are stored as the time of the first event setting them (`*_at`).
    """
    d = DIALECTS[dialect]
    with_payload = _in(("request_extension", "approve_extension", "rate", "dispatch", "check_fail"))
    payload = (
        f"CASE WHEN e.action IN ('request_extension', 'approve_extension') THEN {d.hours} END "
        f"AS hours, CASE WHEN e.action IN {with_payload} THEN {d.rating} END AS rating"
    )
    # the stored facts' own: the nearest later 回退/返工 and dispatch (for `wrong_at`)
    extra = f"""MIN(CASE WHEN action IN {_in(WRONG)} THEN "at" END) OVER wf AS next_wrong,
    MIN(CASE WHEN action = 'dispatch' THEN "at" END) OVER wf AS next_dispatch"""
    return f"""
INSERT INTO {into} (event_id, case_id, county_code, source, grid, community, "at",
  action, actor_id, role, part, rating, gap, due_at, seg_first, seg_rework, filed_at,
  closed_at, void_at, late_at, wrong_at, fed_at, fed_on_time_at, ext_at, susp_at, returned_at)
WITH base AS ({_events(dialect, county, payload)}
), {stage_ctes(cfg, source="base", extra=extra)}
SELECT x.id, x.case_id, {_PLACE[1]}, x."at", x.action, x.actor_id, x.role, x.part,
  x.rating, x.gap, x.due_at, x.seg_first, x.seg_rework, x.filed_at, x.closed_at, x.void_at,
  x.late_at, x.wrong_at, x.fed_at, x.fed_on_time_at, x.ext_at, x.susp_at, x.returned_at
FROM (
SELECT id, case_id, "at", action, actor_id, role, part, rating, gap, due_at,
  CASE WHEN part IS NOT NULL AND seg_rn = 1 THEN TRUE ELSE FALSE END AS seg_first,
  CASE WHEN seg_rework = 1 THEN TRUE ELSE FALSE END AS seg_rework,
  MIN(CASE WHEN action IN {_in(FILING)} THEN "at" END) OVER c AS filed_at,
  MIN(CASE WHEN action = 'close' THEN "at" END) OVER c AS closed_at,
  MIN(CASE WHEN action = 'void' AND from_state = 'filed' THEN "at" END) OVER c AS void_at,
  MIN(CASE WHEN late_fb = 1 OR late_close = 1 THEN "at" END) OVER c AS late_at,
  CASE WHEN next_dispatch IS NULL OR next_wrong <= next_dispatch THEN next_wrong END
    AS wrong_at,
  MIN(CASE WHEN action = 'feed_back' THEN "at" END) OVER s AS fed_at,
  MIN(CASE WHEN action = 'feed_back' AND late_fb = 0 THEN "at" END) OVER s AS fed_on_time_at,
  MIN(CASE WHEN action = 'approve_extension' THEN "at" END) OVER s AS ext_at,
  MIN(CASE WHEN action = 'approve_suspension' THEN "at" END) OVER s AS susp_at,
  MIN(CASE WHEN action = 'approve_return' THEN "at" END) OVER s AS returned_at
FROM l4
WINDOW c AS (PARTITION BY case_id), s AS (PARTITION BY case_id, hseg, part)
) x {_PLACE[0]}"""


# each event's place in its case's clocks: order, handling spell, whether the case was filed
# by then, whether it leaves handling and when it next does, the next event, the reporter
_CLOCK_EVENTS = f"""SELECT b.*,
    ROW_NUMBER() OVER w AS seq,
    SUM(CASE WHEN action IN {_in(SPELL_START)} THEN 1 ELSE 0 END) OVER w AS hseg,
    MAX(CASE WHEN action IN {_in(FILING)} THEN 1 ELSE 0 END) OVER w AS filed,
    CASE WHEN to_state IS NULL OR to_state NOT IN {_in(HANDLING)} THEN 1 ELSE 0 END AS leaves,
    MIN(CASE WHEN to_state IS NULL OR to_state NOT IN {_in(HANDLING)} THEN "at" END)
      OVER (PARTITION BY case_id ORDER BY "at", id
        ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS next_leave,
    LEAD("at") OVER (PARTITION BY case_id ORDER BY "at", id) AS next_at,
    MIN(CASE WHEN action = 'report' AND role IN {_in(WORKER_ROLES)} THEN actor_id END)
      OVER (PARTITION BY case_id) AS reporter
  FROM base b
  WINDOW w AS (PARTITION BY case_id ORDER BY "at", id ROWS UNBOUNDED PRECEDING)"""


def clock_facts_sql(dialect: str, *, county: bool, into: str = "case_clock_facts") -> str:
    """Return the INSERT of `case_clock_facts` rows of the cases in [:lo, :hi) (+ :county)
    into `into`:
    the clocks of `facts.clock_spans` that outlived their deadline or still run."""
    d = DIALECTS[dialect]
    pick = 'e.case_id, e."at", e.id, e.seq, e.hseg, e.leaves, e.next_leave'
    payload = f"{d.text.format(key='department')} AS lead_dept, e.payload"
    # only cases that recorded a deadline have clocks (none before migration 0018)
    recorded = (
        " AND e.case_id IN (SELECT r.case_id FROM case_events r WHERE r.case_id >= :lo"
        " AND r.case_id < :hi AND (r.deadline IS NOT NULL OR r.part_deadline IS NOT NULL))"
    )
    kept = "(ends_at IS NULL OR ends_at > deadline)"
    return f"""
INSERT INTO {into} (event_id, case_id, county_code, part, "at", deadline, ends_at,
  counted_at, reporter, grid, community)
WITH base AS ({_events(dialect, county, payload, recorded)}
), ev AS (
  {_CLOCK_EVENTS}
), stage AS (
  -- the case's stage clock once it was filed: each event shows it until the next event
  SELECT id AS event_id, case_id, CAST(NULL AS VARCHAR(32)) AS part, "at", deadline,
    next_at AS ends_at, CAST(NULL AS {_ts(dialect)}) AS counted_at, reporter
  FROM ev WHERE filed = 1 AND deadline IS NOT NULL
), spell AS (
  -- the departments a dispatch or a rework names (UNION: one row per department)
  {named_departments(d, pick, "e.lead_dept", union="UNION")}
), touch AS (
  -- what moves a department's clock: its own events (the feedback, suspension and return
  -- stop it) and the dispatches and reworks naming it (which start it); own rows first
  SELECT {pick}, e.part AS dept, e.part_deadline AS deadline,
    CASE WHEN e.action IN {_in(STOPPING)} THEN 0 ELSE 1 END AS runs, 1 AS own
  FROM ev e WHERE e.part IS NOT NULL
  UNION ALL
  SELECT * FROM spell
), spans AS (
  SELECT t.*,
    LEAD("at") OVER (PARTITION BY case_id, dept ORDER BY seq, own DESC) AS next_touch,
    MIN(CASE WHEN own = 1 THEN "at" END) OVER (PARTITION BY case_id, hseg, dept) AS first_own
  FROM touch t WHERE dept IS NOT NULL
), part AS (
  SELECT id AS event_id, case_id, dept AS part, "at", deadline,
    CASE WHEN next_touch IS NULL THEN next_leave
      WHEN next_leave IS NULL OR next_touch <= next_leave THEN next_touch
      ELSE next_leave END AS ends_at,
    first_own AS counted_at, CAST(NULL AS VARCHAR(64)) AS reporter
  FROM spans WHERE runs = 1 AND deadline IS NOT NULL AND leaves = 0
)
SELECT x.event_id, x.case_id, c.county_code, x.part, x."at", x.deadline, x.ends_at,
  x.counted_at, x.reporter, CAST(COALESCE(c.grid_id, c.unit_grid_id) AS VARCHAR(20)),
  c.community_code
FROM (SELECT * FROM stage WHERE {kept} UNION ALL SELECT * FROM part WHERE {kept}) x
  {_PLACE[0]}"""


def _ts(dialect: str) -> str:
    return "TIMESTAMP WITH TIME ZONE" if dialect == "postgresql" else "TIMESTAMP"
