"""Evaluation on SQLite and PostgreSQL: SQL aggregation equals the pure recomputation, drill-down
lists match the counts, comparisons, hot spots, the credit list, reports and case files."""

from __future__ import annotations

import io
from datetime import date, timedelta

import openpyxl
import pypdf
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.case_factories import LAT, LON, SUPERVISOR, T0, build_world, report
from tests.evaluation_factories import D1, D2, store_scenario
from wangge.cases.models import Case
from wangge.evaluation import analysis, facts, reports, service
from wangge.evaluation.casefile import case_pdf
from wangge.evaluation.periods import parse_period
from wangge.grids.models import Grid

NOV = parse_period("2026-11")

# The shared simulated month (tests/conftest.py) is built once on the worker running these.
pytestmark = pytest.mark.xdist_group("simulated")


def _text(pdf: bytes) -> str:
    return "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def _scenario(session) -> dict[int, int]:
    build_world(session)
    grid = session.scalars(select(Grid.id).order_by(Grid.id)).first()
    return store_scenario(session, grid)


def test_sql_aggregation_equals_the_hand_computed_scenario_and_the_pure_recomputation(session):
    _scenario(session)
    got = service.count_period(session, NOV.start, NOV.end)
    assert got["department"][D1] == {"to_handle": 2, "handled": 2, "handled_on_time": 2,
                                     "rework": 0, "closed": 1, "extended": 1, "suspended": 1,
                                     "returned": 0, "overdue_open": 0,
                                     "overdue_carried": 0}  # fmt: skip
    assert got["department"][D2]["rework"] == 1
    assert got["dispatcher"]["disp1"] == {"dispatched": 3, "dispatched_on_time": 2,
                                          "dispatched_accurate": 2}  # fmt: skip
    assert got["supervisor"]["w1"]["missed"] == 1
    pure = facts.count(service.load_events(session, NOV.start, NOV.end), NOV.start, NOV.end)
    assert facts.as_counts(got) == facts.as_counts(pure)
    assert service.ratings(session, NOV.start, NOV.end)["w1"] == {"ratings": 1, "satisfied": 1}


def test_sql_aggregation_equals_the_pure_recomputation_over_a_simulated_month(simulated):
    session, _ = simulated
    p = parse_period(f"{(T0 - timedelta(days=20)).date()}..{T0.date()}")
    got = service.count_period(session, p.start, p.end, county="110108")
    pure = facts.count(
        service.load_events(session, p.start, p.end, county="110108"), p.start, p.end
    )
    assert facts.as_counts(got) == facts.as_counts(pure)
    assert sum(c["to_handle"] for c in got["department"].values()) > 10
    assert facts.ratings(
        service.load_events(session, p.start, p.end), p.start, p.end
    ) == service.ratings(session, p.start, p.end)


def test_the_demo_month_shows_a_plausible_evaluation_whose_figures_drill_down_to_cases(simulated):
    session, _ = simulated
    p = parse_period(f"{(T0 - timedelta(days=29)).date()}..{(T0 + timedelta(days=1)).date()}")
    result = service.evaluate(session, p, county="110108")
    deps = result["objects"]["department"]
    assert len(deps) >= 3
    assert all(r["score"] is None or 0 <= r["score"] <= 100 for r in deps)
    assert {r["grade"] for r in deps} <= set("ABCDE") | {None}
    assert deps[0]["rank"] == 1 and deps[0]["name"] != deps[0]["key"]  # named departments
    top = deps[0]
    drill = service.drill(session, p, "department", top["key"], "handle_on_time_rate",
                          county="110108")  # fmt: skip
    assert len(drill["numerator"]["cases"]) == top["counts"]["handled_on_time"]
    # the denominator: 应处置数 and the spells still overdue at the end that it does not hold
    assert len(drill["denominator"]["cases"]) == (
        top["counts"]["to_handle"] + top["counts"]["overdue_carried"]
    )
    street = result["objects"]["street"][0]
    d2 = service.drill(session, p, "street", street["key"], "close_rate", county="110108")
    assert len(d2["denominator"]["cases"]) == street["counts"]["filed"]
    assert {c["id"] for c in d2["numerator"]["cases"]} <= {
        c["id"] for c in d2["denominator"]["cases"]
    }
    assert all(c["code"] for c in d2["denominator"]["cases"])
    # the simulated grid workers patrol twice a day and miss some rounds: 巡查到位率 in (50, 100)
    workers = [r for r in result["objects"]["grid_worker"] if r["counts"].get("visits_required")]
    assert len(workers) >= 2
    assert all(50 < r["rates"]["patrol_rate"] < 100 for r in workers), [
        r["rates"]["patrol_rate"] for r in workers
    ]


def test_a_period_is_compared_with_the_previous_one_and_the_same_one_last_year(session):
    _scenario(session)
    dec = service.compare(session, parse_period("2026-12"))
    assert dec["previous"]["label"] == "2026-11" and dec["last_year"]["label"] == "2025-12"
    assert dec["objects"]["department"] == []  # nothing happened in December
    nov = service.compare(session, NOV)
    d1 = next(r for r in nov["objects"]["department"] if r["key"] == D1)
    assert d1["score"] == 85.0
    assert d1["previous_score"] is None and d1["change_previous"] is None  # October: no data
    q4 = service.evaluate(session, parse_period("2026-Q4"))
    d1q = next(r for r in q4["objects"]["department"] if r["key"] == D1)
    assert d1q["counts"] == d1["counts"]


def test_hot_spots_find_the_same_problem_reported_again_and_again_at_one_place(session):
    build_world(session)
    ids = [report(session, at=T0 + timedelta(hours=i), lon=LON + i * 1e-5, lat=LAT).id
           for i in range(4)]  # fmt: skip
    report(session, at=T0, category="E0103", lon=LON, lat=LAT)  # another class: not counted
    found = analysis.hotspots(session, end=T0 + timedelta(days=1), days=30, min_count=3)
    place = found["places"][0]
    assert place["kind"] == "place" and place["case_ids"] == ids and place["category"] == "E0102"
    assert found["grids"][0]["count"] == 4
    assert analysis.hotspots(session, end=T0 + timedelta(days=1), min_count=5)["places"] == []


def test_the_credit_list_scores_units_by_street_order_cases_at_their_door(session):
    build_world(session)
    for i in range(3):
        report(session, at=T0 + timedelta(hours=i), category="E0504", address="幸福路1号饭店")
    report(session, at=T0, category="E0504", address="幸福路9号超市")
    report(session, at=T0, category="E0102", address="幸福路9号超市")  # not 街面秩序
    units = analysis.unit_credit(session, NOV)
    assert [(u["name"], u["cases"], u["score"], u["grade"]) for u in units] == [
        ("幸福路1号饭店", 3, 55.0, "D"),
        ("幸福路9号超市", 1, 85.0, "B"),
    ]


def test_breakdowns_split_the_cases_by_source_hour_and_class(session):
    _scenario(session)
    by_source = analysis.breakdown(session, NOV, "source")
    assert {r["key"]: r["reported"] for r in by_source} == {"patrol": 3, "hotline": 1}
    assert {r["key"]: r["name"] for r in by_source} == {"patrol": "巡查上报", "hotline": "热线"}
    assert analysis.breakdown(session, NOV, "hour")[0]["key"] == "17"  # 09:00 UTC = 17:00
    assert analysis.breakdown(session, NOV, "weekday")[0]["name"] == "周二"
    trend = analysis.trend(session, NOV, bucket="week")
    assert sum(t["filed"] for t in trend) == 4 and len(trend) == 6  # Sun 1st .. Mon 30th


def test_the_monthly_report_opens_in_excel_and_as_a_chinese_pdf(session):
    _scenario(session)
    result = service.compare(session, NOV)
    wb = openpyxl.load_workbook(io.BytesIO(reports.monthly_xlsx(result)))
    assert {"概览", "专业部门", "网格员", "监督员"} <= set(wb.sheetnames)
    ws = wb["专业部门"]
    assert ws["A1"].value == "排名" and ws._charts
    assert ws.max_row == 1 + len(result["objects"]["department"])
    pdf = reports.monthly_pdf(result, analysis.trend(session, NOV, bucket="week"))
    assert pdf.startswith(b"%PDF")
    text = _text(pdf)
    assert "综合评价报告" in text and "专业部门评价" in text and "监督员评价" in text


def test_the_case_file_pdf_shows_the_timeline_and_deadlines(session):
    ids = _scenario(session)
    pdf = case_pdf(session, session.get(Case, ids[1]))
    text = _text(pdf)
    assert pdf.startswith(b"%PDF")
    for heading in ("案卷", "基本信息", "办理过程", "派遣", "同意延期", "督办"):
        assert heading in text, heading


def test_the_eval_command_writes_the_month_report(tmp_path):
    from wangge.cli import app

    db = f"sqlite:///{tmp_path / 'w.db'}"
    out = tmp_path / "report.xlsx"
    res = CliRunner().invoke(app, ["eval", "month", "2026-11", "--out", str(out),
                                   "--database-url", db], catch_exceptions=False)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "综合评价 2026-11" in res.output and "期末超期" in res.output
    assert openpyxl.load_workbook(out).sheetnames[0] == "概览"
    pdf = tmp_path / "report.pdf"
    res = CliRunner().invoke(app, ["eval", "month", "2026-11", "--out", str(pdf),
                                   "--database-url", db], catch_exceptions=False)  # fmt: skip
    assert pdf.read_bytes().startswith(b"%PDF")


def test_the_supervisor_report_scenario_is_unchanged_by_an_unrelated_county(session):
    _scenario(session)
    assert service.count_period(session, NOV.start, NOV.end, county="990001")["department"] == {}
    assert SUPERVISOR.name


def test_patrol_coverage_counts_visits_per_grid_and_day_against_two_required(session):
    from wangge.cases.patrol import end_patrol, start_patrol

    build_world(session)
    for hours in (0, 4, 24):  # two patrols on the first day, one on the second
        p = start_patrol(session, SUPERVISOR, lon=LON, lat=LAT, now=T0 + timedelta(hours=hours))
        end_patrol(session, p.id, SUPERVISOR, now=T0 + timedelta(hours=hours + 1))
    two_days = parse_period(f"{T0.date()}..{(T0 + timedelta(days=1)).date()}")
    got = service.patrol_counts(session, two_days)["4"]
    assert got == {"visits": 3, "visits_required": 4}
    worker = service.evaluate(session, two_days)["objects"]["grid_worker"]
    assert next(r for r in worker if r["key"] == "4")["rates"]["patrol_rate"] == 75.0
    # on the first day only, the period so far is one day long
    assert service.patrol_counts(session, two_days, as_of=T0 + timedelta(hours=5))["4"] == {
        "visits": 2, "visits_required": 2,
    }  # fmt: skip


def test_the_case_file_embeds_uploaded_photos(session, tmp_path):
    from PIL import Image

    from wangge.uploads.service import save_upload
    from wangge.uploads.storage import LocalStorage

    ids = _scenario(session)
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "JPEG")
    storage = LocalStorage(tmp_path)
    up = save_upload(session, storage, buf.getvalue(), principal=SUPERVISOR, max_bytes=10**6,
                     max_pixels=10**7)  # fmt: skip
    case = session.get(Case, ids[2])
    case.photos = [up.id, "demo://missing.jpg"]
    session.flush()
    pdf = case_pdf(session, case, storage=storage)
    assert b"/Subtype /Image" in pdf
    assert "文件未存储" in _text(pdf)  # the reference without a stored file is still listed
    assert b"/Subtype /Image" not in case_pdf(session, case, storage=None)


def test_drill_down_lists_are_as_long_as_their_figures_even_when_a_case_counts_twice(session):
    ids = _scenario(session)
    d = service.drill(session, NOV, "department", D2, "rework_rate")
    # case 3 has two handling spells at D2 (the first, then the rework)
    assert [c["id"] for c in d["denominator"]["cases"]] == [ids[3], ids[3]]
    assert [c["id"] for c in d["numerator"]["cases"]] == [ids[3]]
    counts = service.count_period(session, NOV.start, NOV.end)
    for group in ("supervisor", "shift_leader", "dispatcher", "department", "community"):
        for key, cs in counts[group].items():
            for name, n in cs.items():
                assert len(service.drill(session, NOV, group, key, name)["numerator"]["cases"]) == n


def test_stored_facts_count_like_the_events_for_periods_that_end_mid_case(session):
    # Periods ending while cases are still moving: the stored "first became true" times must
    # give the flags as seen at each end, e.g. case 1 is not yet closed at T + 36 h.
    _scenario(session)
    from tests.evaluation_factories import T

    for hours in (0.6, 4.5, 34.5, 36, 40.5, 60, 24 * 30):
        end = T + timedelta(hours=hours)
        stored_counts = service.count_period(session, NOV.start, end)
        events = service.count_period(session, NOV.start, end, from_events=True)
        pure = facts.count(service.load_events(session, NOV.start, end), NOV.start, end)
        assert facts.as_counts(stored_counts) == facts.as_counts(pure), hours
        assert facts.as_counts(events) == facts.as_counts(pure), hours
    at_36 = service.count_period(session, NOV.start, T + timedelta(hours=36))
    assert at_36["department"][D1]["closed"] == 0
    assert service.count_period(session, NOV.start, NOV.end)["department"][D1]["closed"] == 1


def test_the_case_service_keeps_the_stored_facts_equal_to_a_rebuild(simulated):
    from wangge.evaluation import stored

    session, _ = simulated
    assert stored.usable(session, stored.EvalConfig())
    assert stored.stale_cases(session) == []
    p = parse_period(f"{(T0 - timedelta(days=20)).date()}..{T0.date()}")
    live = service.count_period(session, p.start, p.end, county="110108")
    assert live == service.count_period(session, p.start, p.end, from_events=True, county="110108")
    stored.rebuild(session)
    assert service.count_period(session, p.start, p.end, county="110108") == live
    # a fact row edited behind the service's back is found by the check
    from wangge.evaluation.models import CaseEventFact

    row = session.scalars(select(CaseEventFact).where(CaseEventFact.action == "dispatch")).first()
    row.gap = (row.gap or 0) + 99_999
    session.flush()
    assert stored.stale_cases(session) == [row.case_id]


def _derived_by_the_database_equal_python(session) -> None:
    """`stored.rebuild` derives in SQL; `stale_cases` recomputes every case in Python."""
    from sqlalchemy import func

    from wangge.cases.models import CaseEvent
    from wangge.evaluation import stored
    from wangge.evaluation.models import CaseClockFact, CaseEventFact

    n = stored.rebuild(session, batch=37)  # several batches, cut inside the month
    assert n == session.scalar(select(func.count()).select_from(CaseEvent))
    assert stored.stale_cases(session, limit=100_000) == []
    clocks = session.scalars(select(CaseClockFact.part)).all()
    assert any(p is None for p in clocks) and any(p is not None for p in clocks), clocks
    assert session.scalar(select(func.count()).where(CaseEventFact.wrong_at.is_not(None))) > 0


def test_a_rebuild_by_the_database_equals_the_python_derivation_row_for_row(simulated):
    session, _ = simulated
    _derived_by_the_database_equal_python(session)


@pytest.mark.parametrize(("seed", "cases", "days"), [(11, 200, 10), (29, 45, 1), (3, 90, 40)])
def test_the_database_derivation_holds_on_other_simulated_months(tmp_path, seed, cases, days):
    from wangge.db import make_engine, session_factory
    from wangge.dbadmin import upgrade
    from wangge.demo.simulate import simulate_month

    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(engine)
    with session_factory(engine)() as s:
        build_world(s)
        simulate_month(s, county_code="110108", seed=seed, now=T0 + timedelta(days=days),
                       n_cases=cases)  # fmt: skip
        _derived_by_the_database_equal_python(s)
    engine.dispose()


def test_rebuild_facts_derives_the_facts_of_events_written_outside_the_service(tmp_path):
    # e.g. events copied in by a bulk load: the command makes the fast path right again
    from sqlalchemy import delete

    from wangge.cli import app
    from wangge.db import make_engine, session_factory
    from wangge.dbadmin import upgrade
    from wangge.evaluation import stored
    from wangge.evaluation.models import CaseEventFact

    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with session_factory(engine)() as s:
        _scenario(s)
        s.execute(delete(CaseEventFact))
        s.commit()
        assert len(stored.stale_cases(s)) == 4
    res = CliRunner().invoke(app, ["eval", "rebuild-facts", "--database-url", url],
                             catch_exceptions=False)  # fmt: skip
    assert res.exit_code == 0, res.output
    from tests.evaluation_factories import SCENARIO

    assert f"已重建 {sum(len(steps) for _, steps in SCENARIO.values())} 条考核事实" in res.output
    with session_factory(engine)() as s:
        assert stored.stale_cases(s) == []
        got = service.count_period(s, NOV.start, NOV.end)
        pure = facts.count(service.load_events(s, NOV.start, NOV.end), NOV.start, NOV.end)
        assert facts.as_counts(got) == facts.as_counts(pure)
    res = CliRunner().invoke(app, ["check", "--database-url", url], catch_exceptions=False)
    assert "evaluation_facts" not in res.output


def test_the_stored_facts_follow_a_case_that_a_re_division_moves_to_another_grid(session):
    import shapely

    from tests.case_factories import ACCEPTOR, SHIFT, do, report
    from tests.factories import COUNTY, quarters
    from wangge.evaluation import stored
    from wangge.grids.service import GridIn, add_grids, new_version
    from wangge.grids.versions import activate_version

    build_world(session)
    case = report(session, at=T0)
    do(session, case, "accept", ACCEPTOR, T0 + timedelta(minutes=10))
    do(session, case, "file", SHIFT, T0 + timedelta(minutes=20))
    p = parse_period(str(T0.date()))
    before = service.count_period(session, p.start, p.end)["grid"]
    # filed at 09:20, not dispatched by the day's end: past its 1-working-hour deadline
    assert before == {str(case.grid_id): {"filed": 1, "closed": 0, "closed_on_time": 0,
                                          "public_verified": 0, "overdue_cases": 1}}  # fmt: skip
    # v2 merges the community's four quarters into one grid: the case moves to it
    v2 = new_version(session, COUNTY, "social", "v2")
    rows = [
        GridIn(kind="basic", geom=shapely.union_all(quarters(c)), community_code=c)
        for c in ("110108001001", "110108001002", "110108002001")
    ]
    add_grids(session, v2, rows, width=3)
    activate_version(session, v2.id)
    session.refresh(case)
    after = service.count_period(session, p.start, p.end)["grid"]
    assert list(after) == [str(case.grid_id)] != list(before)
    assert after == service.count_period(session, p.start, p.end, from_events=True)["grid"]
    assert stored.stale_cases(session) == []


@pytest.mark.postgis
def test_rebuild_facts_on_postgresql_spreads_over_connections_and_equals_one_connection(
    worker_id, monkeypatch
):
    # `wangge eval rebuild-facts --jobs 2` on a committed PostgreSQL database: the facts of
    # events written outside the service are derived by two connections into fresh tables;
    # the same rows as one connection in the caller's transaction, and as Python
    from sqlalchemy import delete, func, text

    from tests.conftest import scratch_pg
    from wangge.cli import app
    from wangge.db import session_factory
    from wangge.dbadmin import upgrade
    from wangge.demo.simulate import simulate_month
    from wangge.evaluation import rebuild_pg, stored
    from wangge.evaluation.models import CaseClockFact, CaseEventFact
    from wangge.evaluation.rollup_models import EvaluationRollup
    from wangge.ops import partitions

    jobs_used: list[int] = []
    over = rebuild_pg._Runner.over

    def spy(self, *args, **kwargs):
        jobs_used.append(self.jobs)
        return over(self, *args, **kwargs)

    monkeypatch.setattr(rebuild_pg._Runner, "over", spy)

    def dump(s):
        tables = (CaseEventFact, CaseClockFact, EvaluationRollup)
        skip = {"id"}
        return [
            sorted(
                tuple(str(getattr(r, c.key)) for c in t.__table__.columns if c.key not in skip)
                for r in s.scalars(select(t))
            )
            for t in tables
        ]

    def cli(command: str) -> None:
        args = ["eval", command, "--jobs", "2", "--database-url", url]
        res = CliRunner().invoke(app, args, catch_exceptions=False)
        assert res.exit_code == 0, res.output

    for engine in scratch_pg(worker_id, "rebuild"):
        upgrade(engine)
        url = engine.url.render_as_string(hide_password=False)
        with session_factory(engine)() as s:
            build_world(s)
            simulate_month(s, county_code="110108", seed=11, now=T0 + timedelta(days=10),
                           n_cases=200)  # fmt: skip
            # the facts are partitioned by month: November's get their own partition
            assert "case_event_facts_p202611" in partitions.ensure(
                s.connection(), today=date(2026, 10, 1)
            )
            s.commit()
            before = dump(s)
            s.execute(delete(CaseEventFact))
            s.commit()
        cli("rebuild-facts")
        assert jobs_used == [2]
        with session_factory(engine)() as s:
            assert stored.stale_cases(s, limit=100_000) == []
            parallel = dump(s)
            assert parallel[0] == before[0] and parallel[1] == before[1]
            left = "SELECT count(*) FROM pg_tables WHERE strpos(tablename, '__') > 0"
            assert s.scalar(text(left)) == 0  # no fresh or scratch table left behind
            named = "SELECT count(*) FROM pg_indexes WHERE strpos(indexname, '__') > 0"
            assert s.scalar(text(named)) == 0  # nor an index named after a fresh partition
            # the fresh facts took the old ones' partitions: November's rows are in November's
            assert partitions.is_partitioned(s.connection(), "case_event_facts")
            november = s.scalar(
                text(
                    "SELECT count(*) FROM case_event_facts WHERE at >= '2026-11-01 00:00+08' "
                    "AND at < '2026-12-01 00:00+08'"
                )
            )
            in_month = s.scalar(text("SELECT count(*) FROM case_event_facts_p202611"))
            assert in_month == november > 0
            n = stored.rebuild(s, jobs=1, batch=37)
            assert n == s.scalar(select(func.count()).select_from(CaseEventFact))
            assert jobs_used == [2, 1]
            assert dump(s) == parallel
            s.commit()
        cli("rebuild-rollups")
        assert jobs_used == [2, 1, 2]
        with session_factory(engine)() as s:
            assert dump(s) == parallel
            got = service.count_period(s, NOV.start, NOV.end)
            pure = facts.count(service.load_events(s, NOV.start, NOV.end), NOV.start, NOV.end)
            assert facts.as_counts(got) == facts.as_counts(pure)
