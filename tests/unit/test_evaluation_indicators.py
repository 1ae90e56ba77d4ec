"""The evaluation formulas, checked against hand-computed figures (no database)."""

from __future__ import annotations

from datetime import date

import pytest

from tests.evaluation_factories import COMMUNITY, D1, D2, GRID, scenario_rows
from wangge.evaluation import facts
from wangge.evaluation.analysis import find_hotspots
from wangge.evaluation.indicators import (
    VOLUME_DOWN,
    VOLUME_GRID,
    VOLUME_UP,
    EvalConfig,
    band_score,
    evaluate_object,
    grade,
    patrol_visits,
    rank,
    rate,
)
from wangge.evaluation.periods import parse_period, period_of, previous, same_last_year

NOV = parse_period("2026-11")


@pytest.fixture(scope="module")
def counts():
    return facts.count(scenario_rows(), NOV.start, NOV.end)


def test_an_empty_denominator_gives_no_data_rather_than_zero_or_a_hundred():
    assert rate(0, 0) is None
    assert rate(3, None) is None
    assert rate(0, 4) == 0.0
    assert rate(4, 4) == 100.0


def test_grades_follow_the_bounds_a90_b75_c60_d40():
    assert [grade(s) for s in (100, 90, 89.99, 75, 74.9, 60, 59.9, 40, 39.9, 0)] == list(
        "AABBCCDDEE"
    )
    assert grade(None) is None


def test_volume_bands_follow_the_standard_tables():
    assert [band_score(n, VOLUME_UP) for n in (0, 100, 101, 300, 301, 501, 1201, 2001)] == [
        0, 0, 40, 40, 60, 75, 90, 100,
    ]  # fmt: skip
    assert [band_score(n, VOLUME_DOWN) for n in (50, 51, 101, 201, 501, 1000)] == [
        100, 90, 75, 60, 40, 0,
    ]  # fmt: skip
    assert [band_score(n, VOLUME_GRID) for n in (0, 2, 3, 5, 7, 9)] == [100, 90, 75, 60, 40, 0]


def test_supervisor_counts_and_score_match_the_hand_computation(counts):
    w1 = counts["supervisor"]["w1"]
    assert w1["reports"] == 3 and w1["valid_reports"] == 3
    assert w1["to_verify"] == 1 and w1["verified_on_time"] == 0  # verified after 3 h > 2 h
    assert w1["missed"] == 1  # the hotline report he verified true
    assert w1["closed_reports"] == 2 and w1["closed_on_time_reports"] == 2
    row = evaluate_object("supervisor", "w1", w1)
    assert row["rates"] == {"valid_rate": 100.0, "verify_on_time_rate": 0.0,
                            "check_on_time_rate": None, "missed_rate": 25.0}  # fmt: skip
    # (100·40 + (100−25)·20 + 0·20) / 80: 按时核查率 has no data, its weight is left out.
    assert row["score"] == 68.75 and row["grade"] == "C"
    assert row["no_data"] == ["check_on_time_rate"]


def test_a_late_check_counts_against_the_checker(counts):
    w2 = counts["supervisor"]["w2"]
    assert (w2["to_check"], w2["checked_on_time"]) == (3, 2)


def test_an_approved_extension_lengthens_the_handling_limit_and_suspension_stops_the_clock(counts):
    d1 = counts["department"][D1]
    assert d1 == {"to_handle": 2, "handled": 2, "handled_on_time": 2, "rework": 0, "closed": 1,
                  "extended": 1, "suspended": 1, "returned": 0, "overdue_open": 0,
                  "overdue_carried": 0}  # fmt: skip
    row = evaluate_object("department", D1, d1)
    # 立案数分值 100·10 + 结案率 50·30 + 按期处置率 100·30 + (100 − 返工率 0)·30
    assert row["score"] == 85.0 and row["grade"] == "B"


def test_without_the_extension_the_same_handling_would_be_late():
    rows = [r for r in scenario_rows() if not (r.case_id == 1 and "extension" in r.action)]
    d1 = facts.count(rows, NOV.start, NOV.end)["department"][D1]
    assert d1["handled_on_time"] == 1


def test_rework_opens_a_second_handling_spell_and_marks_the_dispatch_inaccurate(counts):
    d2 = counts["department"][D2]
    assert (d2["to_handle"], d2["handled"], d2["rework"], d2["closed"]) == (2, 2, 1, 2)
    assert evaluate_object("department", D2, d2)["rates"]["rework_rate"] == 50.0
    disp = counts["dispatcher"]["disp1"]
    # case 1 dispatched 3 h after filing (the 督办 in between changes no state); case 3 reworked
    assert disp == {"dispatched": 3, "dispatched_on_time": 2, "dispatched_accurate": 2}
    assert evaluate_object("dispatcher", "disp1", disp)["score"] == 53.33


def test_a_filing_later_voided_is_not_accurate(counts):
    shift = counts["shift_leader"]["shift1"]
    assert shift == {"filed": 4, "filed_on_time": 4, "filed_accurate": 3, "to_close": 2,
                     "closed_on_time": 2}  # fmt: skip
    row = evaluate_object("shift_leader", "shift1", shift)
    assert row["score"] == 90.0 and row["grade"] == "A"


def test_acceptor_sending_is_timed_from_the_previous_step(counts):
    acc = counts["acceptor"]["acc1"]
    assert acc == {"received": 4, "send_verify": 1, "send_verify_on_time": 1, "send_check": 3,
                   "send_check_on_time": 3}  # fmt: skip
    assert evaluate_object("acceptor", "acc1", acc)["score"] == 75.0


def test_area_figures_use_the_inferred_forty_percent_weight_and_grid_bands(counts):
    c = counts["community"][COMMUNITY]
    # the scenario's events record no deadlines: nothing is found overdue at the end
    assert c == {"filed": 4, "closed": 2, "closed_on_time": 2, "public_verified": 1,
                 "overdue_cases": 0}  # fmt: skip
    # (100 − 25)·10 + 100·20 + 50·30 + 50·40
    assert evaluate_object("community", COMMUNITY, c)["score"] == 62.5
    # the grid's 立案数 of 4 scores 75 on the region bands
    assert evaluate_object("grid", GRID, counts["grid"][GRID])["score"] == 57.5
    assert counts["street"][COMMUNITY[:9]] == c


def test_events_after_the_period_do_not_change_it_and_earlier_ones_only_time_the_next_stage():
    rows = scenario_rows()
    day = period_of("day", date(2026, 11, 10))  # Beijing day: up to T + 7 h
    c = facts.count(rows, day.start, day.end)
    assert c["shift_leader"]["shift1"]["filed"] == 4
    assert c["shift_leader"]["shift1"]["to_close"] == 0  # the closings come later
    later = period_of("custom", date(2026, 11, 11), date(2026, 11, 15))
    c2 = facts.count(rows, later.start, later.end)
    # no filing counted twice; case 3's closing is timed from its check the day before
    assert c2["shift_leader"]["shift1"] == {"filed": 0, "filed_on_time": 0, "filed_accurate": 0,
                                            "to_close": 2, "closed_on_time": 2}  # fmt: skip


def test_ratings_count_for_grid_workers_who_worked_on_the_case():
    r = facts.ratings(scenario_rows(), NOV.start, NOV.end)
    assert r["w1"] == {"ratings": 1, "satisfied": 1} and r["w2"] == r["w1"]
    assert "acc1" not in r


def test_drill_down_lists_have_as_many_entries_as_the_count(counts):
    rows = scenario_rows()
    for group, objects in counts.items():
        for key, cs in objects.items():
            for name, n in cs.items():
                assert len(facts.drill(rows, NOV.start, NOV.end, group, key, name)) == n
    assert [c for c, _ in facts.drill(rows, NOV.start, NOV.end, "department", D2, "rework")] == [3]


def test_patrol_visits_count_at_most_the_required_visits_per_grid_and_day():
    visits = {("g1", "d1"): 3, ("g1", "d2"): 1, ("g2", "d1"): 2}
    assert patrol_visits(visits, ["g1", "g2"], ["d1", "d2"], 2) == (2 + 1 + 2 + 0, 8)
    row = evaluate_object("grid_worker", "w", {"visits": 5, "visits_required": 8})
    assert row["rates"]["patrol_rate"] == 62.5 and row["score"] == 62.5


def test_rankings_put_no_data_last_and_share_places_on_ties():
    rows = [{"key": k, "score": s} for k, s in (("a", 80), ("b", None), ("c", 90), ("d", 80))]
    assert [(r["key"], r["rank"]) for r in rank(rows)] == [
        ("c", 1), ("a", 2), ("d", 2), ("b", None),
    ]  # fmt: skip


def test_weights_are_configuration():
    from wangge.evaluation.indicators import DEFAULT_WEIGHTS, Component

    cfg = EvalConfig(weights=DEFAULT_WEIGHTS | {"supervisor": (Component("valid_rate", 1),)})
    row = evaluate_object("supervisor", "x", {"reports": 4, "valid_reports": 3}, cfg)
    assert row["score"] == 75.0


def test_periods_cover_day_week_month_quarter_year_and_custom():
    d = date(2026, 11, 26)
    assert period_of("week", d).first == date(2026, 11, 23)
    assert period_of("month", d).days == 30
    assert parse_period("2026-Q4").first == date(2026, 10, 1)
    assert parse_period("2026-Q4").last == date(2026, 12, 31)
    assert parse_period("2026").days == 365
    assert parse_period("2026-W48").first == date(2026, 11, 23)
    assert parse_period("2026-11-23").days == 1
    assert parse_period("2026-11-01..2026-11-10").days == 10
    assert NOV.start.isoformat() == "2026-11-01T00:00:00+08:00"


def test_previous_and_same_period_last_year():
    assert previous(NOV).label == "2026-10"
    assert previous(parse_period("2026-01")).label == "2025-12"
    assert same_last_year(NOV).label == "2025-11"
    assert same_last_year(parse_period("2028-02-29")).first == date(2027, 2, 28)
    custom = parse_period("2026-11-01..2026-11-10")
    assert (previous(custom).first, previous(custom).last) == (
        date(2026, 10, 22),
        date(2026, 10, 31),
    )
    assert previous(parse_period("2026-Q1")).label == "2025-Q4"


def test_hot_spots_group_one_class_at_one_component_or_within_the_radius():
    pts = [
        {
            "id": i,
            "category": "E0102",
            "component": None,
            "lon": 116.3 + i * 1e-5,
            "lat": 39.9,
            "grid": 1,
        }
        for i in range(4)
    ]  # 4 reports within ~3.4 m
    pts += [
        {
            "id": 10 + i,
            "category": "C0101",
            "component": "1101080101000001",
            "lon": 116.0 + i,
            "lat": 39.0,
            "grid": 2,
        }
        for i in range(3)
    ]  # same manhole cover, far-apart points
    pts += [
        {"id": 20, "category": "E0102", "component": None, "lon": 116.31, "lat": 39.9, "grid": 1}
    ]  # ~850 m away: not part of the place
    spots = find_hotspots(pts, min_count=3, radius_m=50)
    assert [(s["kind"], s["count"]) for s in spots] == [("place", 4), ("component", 3)]
    assert spots[0]["case_ids"] == [0, 1, 2, 3]
    assert find_hotspots(pts, min_count=5, radius_m=50) == []
