"""The web layer over HTTP: public citizen routes, "my grid worker", map layers, dashboard, pages."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.case_factories import (
    ACCEPTOR,
    CGW,
    DISPATCHER,
    GRID1,
    HANDLER,
    LAT,
    LON,
    OTHER_LAT,
    OTHER_LON,
    SHIFT,
    SUPERVISOR,
    do,
    jpeg,
    person,
    report,
)
from wangge.auth.principal import ANONYMOUS, LOCAL_OPERATOR
from wangge.auth.service import assign_post, create_user, seed_roles
from wangge.cases.models import Case, CaseEvent
from wangge.common.models import utcnow

COMMUNITY = GRID1[:12]


def citizen_report(client: TestClient, **extra) -> dict:
    body = {
        "category_code": "E0102",
        "description": "小区门口垃圾堆放",
        "lon": LON,
        "lat": LAT,
        "crs": "EPSG:4490",
        **extra,
    }
    r = client.post("/web/api/citizen/reports", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def walk_to_closed(session, code: str) -> Case:
    from sqlalchemy import select

    case = session.scalars(select(Case).where(Case.code == code)).one()
    now = utcnow()
    do(session, case, "accept", ACCEPTOR, now)
    do(session, case, "request_verification", ACCEPTOR, now)
    do(session, case, "verify_true", SUPERVISOR, now, photos=["photo://onsite"])
    do(session, case, "file", SHIFT, now)
    do(session, case, "dispatch", DISPATCHER, now, department=CGW)
    do(session, case, "department_accept", HANDLER, now)
    do(session, case, "feed_back", HANDLER, now, photos=["photo://after"])
    do(session, case, "request_check", ACCEPTOR, now)
    do(session, case, "check_pass", SUPERVISOR, now, photos=["photo://check"])
    return do(session, case, "close", SHIFT, now)


def test_a_citizen_report_without_login_returns_a_tracking_code_that_shows_progress(web):
    client, _ = web
    out = citizen_report(client)
    assert out["tracking"].startswith(out["code"] + "-") and out["state"] == "reported"
    r = client.post("/web/api/citizen/track", json={"tracking": out["tracking"]})
    assert r.status_code == 200
    body = r.json()
    assert body["state_zh"] == "已上报" and [e["action"] for e in body["timeline"]] == ["report"]
    assert "actor_id" not in body["timeline"][0]


def test_a_tracking_code_with_a_wrong_secret_finds_nothing(web):
    client, _ = web
    out = citizen_report(client)
    r = client.post("/web/api/citizen/track", json={"tracking": f"{out['code']}-wrongsecret1"})
    assert r.status_code == 404 and r.json()["code"] == "bad_tracking_code"
    assert client.post("/web/api/citizen/track", json={"tracking": out["code"]}).status_code == 404


def test_the_reporter_id_stored_on_the_case_does_not_reveal_the_tracking_secret(web, session):
    from sqlalchemy import select

    client, _ = web
    out = citizen_report(client)
    secret = out["tracking"].rsplit("-", 1)[1]
    case = session.scalars(select(Case).where(Case.code == out["code"])).one()
    assert case.reporter_id.startswith("citizen-web:") and secret not in case.reporter_id


def test_the_citizen_rates_a_closed_report_and_can_then_reopen_it(web, session):
    from sqlalchemy import select

    client, _ = web
    out = citizen_report(client)
    walk_to_closed(session, out["code"])
    track = client.post("/web/api/citizen/track", json={"tracking": out["tracking"]}).json()
    assert track["can_rate"] and track["state"] == "closed"
    handled = next(e for e in track["timeline"] if e["action"] == "feed_back")
    fed_back = session.scalars(select(CaseEvent).where(CaseEvent.action == "feed_back")).one()
    assert handled["photos"] == [f"{fed_back.attachments[0]}/public"]
    r = client.post(
        "/web/api/citizen/track/rate", json={"tracking": out["tracking"], "rating": "satisfied"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "rated"
    r = client.post(
        "/web/api/citizen/track/reopen", json={"tracking": out["tracking"], "note": "又堆上了"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "filed"


def test_someone_else_cannot_rate_with_a_guessed_code(web, session):
    client, _ = web
    out = citizen_report(client)
    walk_to_closed(session, out["code"])
    r = client.post(
        "/web/api/citizen/track/rate",
        json={"tracking": f"{out['code']}-guessedsecret", "rating": "unsatisfied"},
    )
    assert r.status_code == 404


def test_a_citizen_report_in_gcj02_is_stored_in_cgcs2000(web, session):
    from sqlalchemy import select

    from wangge.common.geo import wgs84_to_gcj02

    client, _ = web
    glon, glat = wgs84_to_gcj02(LON, LAT)
    out = citizen_report(client, lon=float(glon), lat=float(glat), crs="GCJ02")
    case = session.scalars(select(Case).where(Case.code == out["code"])).one()
    assert abs(case.lon - LON) < 1e-5 and abs(case.lat - LAT) < 1e-5


def test_public_reporting_switched_off_refuses_citizen_reports(web):
    client, _ = web
    client.app.state.settings.public_reporting = False
    r = client.post(
        "/web/api/citizen/reports",
        json={"category_code": "E0102", "description": "x", "lon": LON, "lat": LAT},
    )
    assert r.status_code == 404 and r.json()["code"] == "no_public"


def test_a_citizen_cannot_report_in_a_category_outside_the_public_list(web, session):
    from wangge.cases.models import Category

    client, _ = web
    social = session.query(Category).filter_by(kind="social").first()
    for code in (social.code, "ZZZZ"):
        r = client.post(
            "/web/api/citizen/reports",
            json={"category_code": code, "description": "x", "lon": LON, "lat": LAT},
        )
        assert r.status_code in (400, 422) and r.json()["code"] == "bad_category", code


def test_my_grid_lists_only_the_grid_posts_of_that_grid_with_name_and_work_phone(web, session):
    client, _ = web
    seed_roles(session)
    posts = [
        ("worker1", "王网格", "010-1", "supervisor", GRID1),
        ("worker2", "李网格长", "010-2", "grid_leader", COMMUNITY),
        ("worker3", "张受理", "010-3", "acceptor", COMMUNITY),
        ("worker4", "赵远方", "010-4", "supervisor", "110108002001"),
        ("worker5", "钱全区", "010-5", "supervisor", "110108"),
    ]
    for username, name, phone, role, scope in posts:
        user = create_user(
            session, username=username, password="Secret-123456", display_name=name, phone=phone
        )
        assign_post(session, user, role, scope=scope)
    session.flush()
    r = client.get(f"/web/api/public/my-grid?lon={LON}&lat={LAT}&crs=EPSG:4490")
    assert r.status_code == 200
    body = r.json()
    assert body["grid"]["code"] == GRID1 and body["grid"]["geometry"]["type"] in (
        "Polygon",
        "MultiPolygon",
    )
    assert sorted(w["name"] for w in body["workers"]) == ["李网格长", "王网格"]
    assert all(set(w) == {"name", "phone", "post", "post_en"} for w in body["workers"])
    assert {w["post_en"] for w in body["workers"]} == {"Grid leader", "Supervisor / grid worker"}
    assert {w["phone"] for w in body["workers"]} == {"010-1", "010-2"}


def test_my_grid_outside_every_grid_says_there_is_none(web):
    client, _ = web
    r = client.get("/web/api/public/my-grid?lon=100.0&lat=30.0")
    assert r.status_code == 200 and r.json() == {"grid": None, "workers": []}


def test_the_map_layer_gives_child_divisions_and_simplified_grids(web):
    client, holder = web
    holder["who"] = LOCAL_OPERATOR
    r = client.get("/web/api/map/layer?division=110108&layer=social")
    assert r.status_code == 200
    body = r.json()
    kinds = [f["properties"]["type"] for f in body["features"]]
    assert kinds.count("grid") == 12 and body["division"]["code"] == "110108"
    streets = [f for f in body["features"] if f["properties"]["type"] == "division"]
    assert {f["properties"]["code"] for f in streets if not f["properties"]["self"]} == {
        "110108001",
        "110108002",
    }
    coords = body["features"][-1]["geometry"]["coordinates"][0][0]
    assert all(len(str(c).split(".")[-1]) <= 6 for c in coords)
    community = client.get(f"/web/api/map/layer?division={COMMUNITY}&layer=social").json()
    assert sum(f["properties"]["type"] == "grid" for f in community["features"]) == 4


def test_the_map_layer_outside_the_callers_scope_is_not_found(web):
    client, holder = web
    holder["who"] = person(40, "supervisor", scope={"110108002001"})
    assert client.get(f"/web/api/map/layer?division={COMMUNITY}").status_code == 404
    assert client.get("/web/api/map/layer?division=110108002001").status_code == 200


def test_the_map_layer_needs_a_login(web):
    client, _ = web
    assert client.get("/web/api/map/layer?division=110108").status_code == 401


def test_the_case_layer_colours_cases_by_state_and_keeps_to_the_scope(web, session):
    client, holder = web
    report(session, at=utcnow())
    report(session, at=utcnow(), lon=OTHER_LON, lat=OTHER_LAT)
    holder["who"] = person(41, "acceptor", scope={COMMUNITY})
    feats = client.get("/web/api/map/cases").json()["features"]
    assert len(feats) == 1 and feats[0]["properties"]["state"] == "reported"
    assert feats[0]["properties"]["light"] in ("green", "yellow", "red")


def test_search_finds_a_grid_by_code_and_a_case_by_its_code(web, session):
    client, holder = web
    holder["who"] = LOCAL_OPERATOR
    case = report(session, at=utcnow())
    hits = client.get(f"/web/api/search?q={GRID1}").json()
    assert any(h["kind"] == "grid" and h["code"] == GRID1 for h in hits)
    hits = client.get(f"/web/api/search?q={case.code}").json()
    assert [h["url"] for h in hits if h["kind"] == "case"] == [f"/console/cases/{case.id}"]


def test_the_dashboard_counts_today_by_state_and_groups_by_category_and_source(web, session):
    client, holder = web
    holder["who"] = LOCAL_OPERATOR
    for _ in range(3):
        report(session, at=utcnow())
    c = report(session, at=utcnow(), category="E0104")
    do(session, c, "accept", ACCEPTOR, utcnow())
    body = client.get("/web/api/dashboard").json()
    assert body["total"] == 4 and body["today"]["total"] == 4
    states = {s["state"]: s["count"] for s in body["today"]["by_state"]}
    assert states == {"reported": 3, "accepted": 1}
    assert {c["code"]: c["count"] for c in body["by_category"]} == {"E0102": 3, "E0104": 1}
    assert body["by_source"] == [{"code": "patrol", "name": "巡查上报", "count": 4}]
    assert sum(c[2] for c in body["heat"]["cells"]) == 4


def test_a_console_page_without_a_session_redirects_to_the_login_page(web):
    client, _ = web
    r = client.get("/console/cases", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/console/cases"


def test_pages_are_chinese_by_default_and_english_on_request(web):
    client, holder = web
    holder["who"] = ACCEPTOR
    zh = client.get("/console/cases")
    assert zh.status_code == 200 and "工作队列" in zh.text and 'lang="zh-CN"' in zh.text
    en = client.get("/console/cases?lang=en")
    assert "Work queues" in en.text and en.cookies.get("wangge_lang") == "en"


def test_the_case_page_offers_exactly_the_actions_the_user_may_take(web, session):
    client, holder = web
    case = report(session, at=utcnow())
    holder["who"] = ACCEPTOR
    page = client.get(f"/console/cases/{case.id}").text
    assert 'data-action="accept"' in page and 'data-action="file"' not in page
    holder["who"] = SHIFT
    page = client.get(f"/console/cases/{case.id}").text
    assert 'data-action="accept"' not in page


def test_the_mobile_page_is_an_installable_app_with_a_service_worker(web):
    client, holder = web
    holder["who"] = SUPERVISOR
    page = client.get("/m").text
    assert 'rel="manifest"' in page and 'capture="environment"' in page
    manifest = client.get("/m/manifest.webmanifest").json()
    assert manifest["start_url"] == "/m" and manifest["icons"]
    sw = client.get("/m/sw.js")
    assert sw.status_code == 200 and "caches" in sw.text
    for icon in manifest["icons"]:
        assert client.get(icon["src"]).headers["content-type"] == "image/png"


def test_every_vendored_library_is_served_locally(web):
    client, _ = web
    for path in (
        "/static/vendor/leaflet/leaflet.js",
        "/static/vendor/leaflet/leaflet.css",
        "/static/vendor/echarts/echarts.min.js",
    ):
        assert client.get(path).status_code == 200, path


def test_the_grid_management_page_lists_every_version_with_its_grid_count(web):
    client, holder = web
    holder["who"] = LOCAL_OPERATOR
    page = client.get("/console/grids")
    assert page.status_code == 200
    assert page.text.count("data-version=") == 1 and "<td>12</td>" in page.text


def test_the_users_page_is_for_administrators_only(web, session):
    client, holder = web
    seed_roles(session)
    create_user(session, username="someone", password="Secret-123456", display_name="某人")
    session.flush()
    holder["who"] = LOCAL_OPERATOR
    assert "someone" in client.get("/console/users").text
    holder["who"] = ACCEPTOR
    page = client.get("/console/users").text
    assert "someone" not in page and "只有管理员可以查看用户" in page


def test_the_map_and_dashboard_pages_render_for_a_logged_in_user(web):
    client, holder = web
    holder["who"] = LOCAL_OPERATOR
    assert 'id="map"' in client.get("/console/map").text
    assert "echarts.min.js" in client.get("/dashboard").text


def test_search_hits_follow_the_base_maps_crs(web):
    from wangge.common.geo import wgs84_to_gcj02

    client, holder = web
    holder["who"] = LOCAL_OPERATOR
    plain = next(h for h in client.get(f"/web/api/search?q={GRID1}").json() if h["kind"] == "grid")
    gcj = next(
        h for h in client.get(f"/web/api/search?q={GRID1}&crs=GCJ02").json() if h["kind"] == "grid"
    )
    x, y = wgs84_to_gcj02(plain["lon"], plain["lat"])
    assert abs(gcj["lon"] - float(x)) < 1e-7 and abs(gcj["lat"] - float(y)) < 1e-7
    assert gcj["bounds"][0] != plain["bounds"][0]


def _upload(client: TestClient) -> str:
    r = client.post("/api/v1/uploads", files={"file": ("p.jpg", jpeg(), "image/jpeg")})
    assert r.status_code == 201, r.text
    return f"/api/v1/uploads/{r.json()['id']}"


def test_a_citizens_anonymous_photo_goes_with_one_report_and_nobody_else_can_use_it(web, session):
    from sqlalchemy import select

    client, holder = web
    body = {"category_code": "E0102", "description": "x", "lon": LON, "lat": LAT}
    citizen = lambda photo: client.post(  # noqa: E731
        "/web/api/citizen/reports", json={**body, "crs": "EPSG:4490", "photos": [photo]}
    )
    photo = _upload(client)
    out = citizen_report(client, photos=[photo])
    case = session.scalars(select(Case).where(Case.code == out["code"])).one()
    assert case.photos == [photo]
    # Used once: a second report (anyone's, since the id is now public) cannot take it again.
    again = citizen(photo)
    assert again.status_code == 422 and again.json()["code"] == "photo_not_yours"
    assert photo in again.json()["detail"] and again.json()["field"] == "photos"
    assert citizen("photo://fake").json()["code"] == "unknown_photo"
    # Staff cannot pass off a citizen's photo as their own, nor a citizen a staff member's.
    fresh = _upload(client)
    holder["who"] = SUPERVISOR
    r = client.post("/api/v1/cases", json={**body, "photos": [fresh]})
    assert r.status_code == 422 and r.json()["code"] == "photo_not_yours"
    staff = _upload(client)
    holder["who"] = ANONYMOUS
    assert citizen(staff).json()["code"] == "photo_not_yours"


def test_a_citizen_report_resent_with_its_idempotency_key_is_filed_once(web, session):
    from sqlalchemy import func, select

    client, _ = web
    body = {"category_code": "E0102", "description": "路灯不亮", "lon": LON, "lat": LAT}
    key = {"Idempotency-Key": "3f6c2a1e-citizen-double-click"}
    answers = [client.post("/web/api/citizen/reports", json=body, headers=key) for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert len({a.json()["tracking"] for a in answers}) == 1  # the same report, the same code
    count = select(func.count(Case.id)).where(Case.description == "路灯不亮")
    assert session.scalar(count) == 1
    # The tracking code of the replay works like the first.
    r = client.post("/web/api/citizen/track", json={"tracking": answers[2].json()["tracking"]})
    assert r.status_code == 200 and r.json()["state"] == "reported"
    # The same key for another report is a client error, not a silent replay.
    other = client.post("/web/api/citizen/reports", json={**body, "description": "x"}, headers=key)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_mismatch"
    # Without a key (or with a new one) each report is filed.
    client.post("/web/api/citizen/reports", json=body)
    assert session.scalar(count) == 2


def test_a_citizen_report_with_an_unknown_field_is_refused_naming_it(web):
    client, _ = web
    body = {"category_code": "E0102", "description": "x", "lon": LON, "lat": LAT}
    r = client.post("/web/api/citizen/reports", json={**body, "caller_phone": "13800000000"})
    assert r.status_code == 422
    assert "caller_phone" in r.json()["detail"] and "caller_phone" in r.json()["detail_en"]
