"""Response rules without a database: selection, defaults, promise text, stricter-of, clocks."""

from __future__ import annotations

from datetime import datetime, timedelta

from wangge.cases import timing
from wangge.cases.deadlines import SHANGHAI, Light
from wangge.cases.limits import (
    DEFAULT_CHANNEL_RULES,
    RULE_STAGES,
    ChannelRule,
    Stage,
    TimeLimits,
    pick_channel_rules,
    promise_text,
)
from wangge.cases.models import Case
from wangge.cases.vocabulary import Source

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)  # a Monday
H = timedelta(hours=1)


def rule(source: str, stage: str, hours: float, urgent: bool | None = None, **kw) -> ChannelRule:
    return ChannelRule(source=source, stage=stage, hours=hours, urgent=urgent, **kw)


def test_a_rule_for_the_cases_own_urgency_beats_one_for_either():
    rules = [
        rule("online", "respond", 2),
        rule("online", "respond", 1, urgent=True),
        rule("online", "solve", 24, urgent=False),
        rule("hotline", "respond", 8),
    ]
    ordinary = pick_channel_rules(rules, source="online", urgent=False)
    urgent = pick_channel_rules(reversed(rules), source="online", urgent=True)
    assert ordinary["respond"].hours == 2 and ordinary["solve"].hours == 24
    assert urgent["respond"].hours == 1 and "solve" not in urgent
    assert pick_channel_rules(rules, source="video", urgent=False) == {}


def test_the_defaults_follow_jinniu_for_online_and_mark_the_rest_as_placeholders():
    online = pick_channel_rules(DEFAULT_CHANNEL_RULES, source="online", urgent=False)
    assert (online["respond"].hours, online["solve"].hours) == (2, 24)
    assert online["respond"].around_the_clock and online["solve"].around_the_clock
    for r in DEFAULT_CHANNEL_RULES:
        assert r.source in set(Source) and r.stage in RULE_STAGES
        assert "金牛" in r.name or "占位" in r.name


def test_urgent_matters_are_answered_sooner_on_every_channel():
    for source in ("online", "hotline"):
        ordinary = pick_channel_rules(DEFAULT_CHANNEL_RULES, source=source, urgent=False)
        urgent = pick_channel_rules(DEFAULT_CHANNEL_RULES, source=source, urgent=True)
        for kind in ("respond", "solve"):
            due = {
                name: timing.CLOCK.deadline(T0, r[kind].hours, urgent=r[kind].around_the_clock)
                for name, r in (("ordinary", ordinary), ("urgent", urgent))
            }
            assert due["urgent"] <= due["ordinary"], (source, kind)
        assert urgent["respond"].hours < 2


def test_the_promise_reads_as_the_citizen_is_told():
    online = pick_channel_rules(DEFAULT_CHANNEL_RULES, source="online", urgent=False)
    assert promise_text(online) == (
        "承诺 2 小时内答复 / 24 小时内办结",
        "Promised: answered within 2 hours; solved within 24 hours",
    )
    hotline = pick_channel_rules(DEFAULT_CHANNEL_RULES, source="hotline", urgent=False)
    assert promise_text(hotline)[0] == "承诺 1 个工作日内答复 / 5 个工作日内办结"
    assert promise_text({"respond": rule("x", "respond", 3, around_the_clock=False)}) == (
        "承诺 3 个工作小时内答复",
        "Promised: answered within 3 working hours",
    )
    assert promise_text({}) is None


def test_a_stage_rule_applies_only_where_it_is_stricter():
    limits = TimeLimits()  # accept: 1 working hour
    friday_evening = datetime(2026, 11, 27, 17, 30, tzinfo=SHANGHAI)
    plain = timing.stage_deadline(limits, "E0102", "B", False, Stage.ACCEPT, friday_evening)
    assert plain == datetime(2026, 11, 30, 8, 30, tzinfo=SHANGHAI)
    # Two wall-clock hours beat Monday morning; 100 do not.
    tight = {"accept": rule("hotline", "accept", 2)}
    loose = {"accept": rule("hotline", "accept", 100)}
    args = (limits, "E0102", "B", False, Stage.ACCEPT, friday_evening)
    assert timing.stage_deadline(*args, tight) == friday_evening + 2 * H
    assert timing.stage_deadline(*args, loose) == plain


def _case(**kw) -> Case:
    case = Case(state="reported", reported_at=T0, stage="accept", stage_started_at=T0, **kw)
    case.deadline = T0 + H
    return case


def test_a_new_case_gets_the_promises_and_its_earliest_due_moment():
    case = _case()
    channel = pick_channel_rules(DEFAULT_CHANNEL_RULES, source="online", urgent=False)
    timing.open_promises(case, channel, T0)
    assert (case.respond_due, case.solve_due) == (T0 + 2 * H, T0 + 24 * H)
    assert timing.next_due(case) == T0 + H
    case.responded_at, case.deadline = T0, None
    assert timing.next_due(case) == T0 + 24 * H
    case.state = "closed"
    assert timing.next_due(case) is None and timing.lights(case, T0) == {}


def test_each_clock_has_its_light_and_the_case_shows_the_worst():
    case = _case()
    timing.open_promises(case, {"respond": rule("online", "respond", 2)}, T0)
    assert timing.lights(case, T0 + 30 * timedelta(minutes=1)) == {
        "stage": Light.GREEN,
        "respond": Light.GREEN,
    }
    case.deadline = T0 + 10 * H
    assert timing.lights(case, T0 + 100 * timedelta(minutes=1))["respond"] is Light.YELLOW
    assert timing.light(case, T0 + 121 * timedelta(minutes=1)) is Light.RED


def test_missed_names_each_clock_until_the_sweep_marks_it():
    case = _case()
    timing.open_promises(case, {"respond": rule("online", "respond", 2)}, T0)
    assert timing.missed(case, T0 + 30 * timedelta(minutes=1)) == {}
    assert set(timing.missed(case, T0 + 3 * H)) == {"stage", "respond"}
    case.overdue_escalated_for = case.deadline
    case.respond_escalated_for = case.respond_due
    assert timing.missed(case, T0 + 3 * H) == {}
    case.responded_at = T0 + 4 * H  # answered late: the answer clock has stopped
    case.respond_escalated_for = None
    assert timing.missed(case, T0 + 5 * H) == {}
