"""A report costs a known number of database round trips (issue 15: every grid worker, hotline
operator and camera hits this path at once, and each statement is a round trip under the
report's lock-free transaction). Counted through the HTTP entry point on both backends; a new
statement on this path must be a decision, not an accident."""

from __future__ import annotations

from sqlalchemy import event

from tests.case_factories import LAT, LON

# open patrol, case id (sequence), case, event, reporter, fact, rollup deltas (one INSERT ...
# SELECT of the day and month rows), audit entry (the bearer token's lookup is not counted:
# the test logs in by override)
BUDGET = 8


def test_a_grid_workers_report_takes_at_most_its_budget_of_statements(patrol_api, session):
    client, _ = patrol_api
    body = {"category_code": "E0102", "description": "暴露垃圾", "lon": LON, "lat": LAT}
    assert client.post("/api/v1/cases", json=body).status_code == 201  # caches warm
    seen: list[str] = []

    def keep(_conn, _cursor, statement, *_rest) -> None:  # type: ignore[no-untyped-def]
        if not statement.lstrip().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            seen.append(" ".join(statement.split()))

    conn = session.connection()
    event.listen(conn, "before_cursor_execute", keep)
    try:
        body = {**body, "description": "又一处暴露垃圾", "lon": LON + 0.0001}
        r = client.post("/api/v1/cases", json=body)
    finally:
        event.remove(conn, "before_cursor_execute", keep)
    assert r.status_code == 201, r.text
    assert len(seen) <= BUDGET, "\n".join(s[:100] for s in seen)
    assert any(s.startswith("INSERT INTO cases") for s in seen)
    # the report's evaluation deltas were written (by the statement counted above)
    assert any("INSERT INTO evaluation_rollups" in s for s in seen), "\n".join(
        s[:100] for s in seen
    )
