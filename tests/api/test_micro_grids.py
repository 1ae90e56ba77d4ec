"""Micro grids that work (一网多层, issue 18 item 2), over HTTP on SQLite and PostgreSQL.

Community 110108001001's north-west grid (…001) holds two buildings far apart; micro grids are
drawn from them (one per building: …00101 west/north, …00102), a third building lies in
community 110108001002. Records are registered and reported through the API and must carry
their micro grid; each 微网格长 must see exactly his micro grid's households and cases.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient

from tests.api_support import serve_session
from tests.case_factories import build_world
from tests.factories import DX, DY, X0, Y0
from wangge.auth import service as auth
from wangge.config import Settings
from wangge.main import create_app

PASSWORD = "Micro-Grids-2026"
NW = "110108001001001"  # north-west grid of community 110108001001
OTHER = "110108001002001"  # north-west grid of community 110108001002
A_POS = (X0 + 0.10 * DX, Y0 + 0.90 * DY)  # building A, inside NW
B_POS = (X0 + 0.40 * DX, Y0 + 0.60 * DY)  # building B, inside NW, ~300 m from A
C_POS = (X0 + 1.10 * DX, Y0 + 0.90 * DY)  # building C, inside OTHER
BARE = (X0 + 0.40 * DX, Y0 + 0.90 * DY)  # inside NW, in no micro grid


@dataclass
class World:
    client: TestClient
    micro: dict[str, str] = field(default_factory=dict)  # name -> micro grid code
    ids: dict[str, int] = field(default_factory=dict)  # records by name

    def login(self, username: str) -> dict[str, str]:
        self.client.cookies.clear()
        r = self.client.post(
            "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        return {"X-CSRF-Token": r.json()["csrf_token"]}


def _user(session, name: str, role: str, scope: str | None) -> int:
    user = auth.create_user(session, username=name, password=PASSWORD, display_name=name)
    auth.assign_post(session, user, role, scope=scope)
    return user.id


@pytest.fixture
def world(session, tmp_path) -> Iterator[World]:
    build_world(session)
    auth.seed_roles(session)
    _user(session, "admin", "admin", None)
    _user(session, "nw_worker", "supervisor", NW)
    app = create_app(
        Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", upload_dir=tmp_path / "up")
    )
    serve_session(app, session)
    with TestClient(app) as client:
        w = World(client)
        h = w.login("admin")
        for name, (lon, lat), community in (
            ("A", A_POS, "110108001001"),
            ("B", B_POS, "110108001001"),
            ("C", C_POS, "110108001002"),
        ):
            r = client.post(
                "/api/v1/registry/buildings",
                json={"name": f"{name}楼", "community_code": community, "lon": lon, "lat": lat},
                headers=h,
            )
            assert r.status_code == 201, r.text
            assert r.json()["micro_grid_id"] is None  # no micro grids yet
            w.ids[f"building_{name}"] = r.json()["id"]
        for parent in (NW, OTHER):
            r = client.post(
                "/api/v1/micro-grids/from-buildings",
                json={"parent_code": parent, "mode": "building", "margin_m": 20},
                headers=h,
            )
            assert r.status_code == 201, r.text
        w.micro = {"A": f"{NW}01", "B": f"{NW}02", "C": f"{OTHER}01"}
        for name in ("A", "B", "C"):
            room = client.post(
                "/api/v1/registry/rooms",
                json={"building_id": w.ids[f"building_{name}"], "number": "101"},
                headers=h,
            )
            assert room.status_code == 201, room.text
            person = client.post(
                "/api/v1/registry/people",
                json={
                    "name": f"住户{name}",
                    "room_id": room.json()["id"],
                    "household_number": f"H{name}",
                },
                headers=h,
            )
            assert person.status_code == 201, person.text
            w.ids[f"person_{name}"] = person.json()["id"]
            w.ids[f"household_{name}"] = person.json()["household_id"]
        h = w.login("nw_worker")  # the grid's worker reports what he finds
        for name, (lon, lat) in (("A", A_POS), ("B", B_POS), ("BARE", BARE)):
            case = client.post(
                "/api/v1/cases",
                json={"category_code": "E0102", "description": f"垃圾{name}", "lon": lon,
                      "lat": lat},
                headers=h,
            )  # fmt: skip
            assert case.status_code == 201, case.text
            w.ids[f"case_{name}"] = case.json()["id"]
        _user(session, "micro_a", "grid_leader", w.micro["A"])
        _user(session, "micro_b", "grid_leader", w.micro["B"])
        session.commit()
        yield w


def test_drawing_from_buildings_makes_one_micro_grid_per_building_in_its_grid(world):
    h = world.login("admin")
    for name in ("A", "B", "C"):
        b = world.client.get(f"/api/v1/registry/buildings/{world.ids[f'building_{name}']}")
        micro = world.client.get(
            "/api/v1/grids/locate", params={"lon": b.json()["lon"], "lat": b.json()["lat"]}
        ).json()["micro_grid"]
        assert micro["code"] == world.micro[name] and micro["kind"] == "micro"
        assert b.json()["micro_grid_id"] == micro["id"]  # placed when the micro grid was drawn
    again = world.client.post(
        "/api/v1/micro-grids/from-buildings",
        json={"parent_code": NW, "mode": "group", "gap_m": 500},
        headers=h,
    )
    assert again.status_code == 201, again.text  # numbered after the existing ones
    assert [c["code"] for c in again.json()["created"]] == [f"{NW}03"]
    assert again.json()["created"][0]["buildings"] == 2


def test_locate_returns_the_base_grid_and_the_micro_grid(world):
    world.login("admin")
    found = world.client.get("/api/v1/grids/locate", params={"lon": A_POS[0], "lat": A_POS[1]})
    assert found.json()["grid"]["code"] == NW
    assert found.json()["micro_grid"]["code"] == world.micro["A"]
    bare = world.client.get("/api/v1/grids/locate", params={"lon": BARE[0], "lat": BARE[1]})
    assert bare.json()["grid"]["code"] == NW and bare.json()["micro_grid"] is None


def test_people_and_cases_carry_their_micro_grid(world):
    world.login("admin")
    codes = {}
    for name in ("A", "B", "C"):
        person = world.client.get(f"/api/v1/registry/people/{world.ids[f'person_{name}']}")
        codes[name] = person.json()["micro_grid_id"]
    located = {
        name: world.client.get(
            "/api/v1/grids/locate", params={"lon": pos[0], "lat": pos[1]}
        ).json()["micro_grid"]["id"]
        for name, pos in (("A", A_POS), ("B", B_POS), ("C", C_POS))
    }
    assert codes == located
    cases = {
        name: world.client.get(f"/api/v1/cases/{world.ids[f'case_{name}']}").json()
        for name in ("A", "B", "BARE")
    }
    assert cases["A"]["micro_grid_id"] == located["A"]
    assert cases["B"]["micro_grid_id"] == located["B"]
    assert cases["BARE"]["micro_grid_id"] is None
    assert {c["grid_id"] for c in cases.values()} == {cases["A"]["grid_id"]}  # all in NW
    page = world.client.get(f"/console/cases/{world.ids['case_A']}").text
    assert 'data-testid="place-micro-grid"' in page and world.micro["A"] in page


def _case_ids(world: World) -> set[int]:
    return {c["id"] for c in world.client.get("/api/v1/cases?limit=100").json()["items"]}


def _people_ids(world: World) -> set[int]:
    return {p["id"] for p in world.client.get("/api/v1/registry/people").json()["items"]}


def test_a_micro_grid_leader_sees_exactly_his_households_and_cases(world):
    for who, mine, other in (("micro_a", "A", "B"), ("micro_b", "B", "A")):
        world.login(who)
        assert _case_ids(world) == {world.ids[f"case_{mine}"]}
        assert world.client.get(f"/api/v1/cases/{world.ids[f'case_{mine}']}").status_code == 200
        assert world.client.get(f"/api/v1/cases/{world.ids[f'case_{other}']}").status_code == 404
        assert _people_ids(world) == {world.ids[f"person_{mine}"]}
        assert (
            world.client.get(f"/api/v1/registry/people/{world.ids[f'person_{other}']}").status_code
            == 404
        )
        view = world.client.get("/api/v1/micro-grids/mine").json()["micro_grids"]
        assert [g["grid"]["code"] for g in view] == [world.micro[mine]]
        assert [h["number"] for h in view[0]["households"]] == [f"H{mine}"]
        assert [c["id"] for c in view[0]["cases"]] == [world.ids[f"case_{mine}"]]
        neighbour = world.client.get(f"/api/v1/micro-grids/{world.micro[other]}/records")
        assert neighbour.status_code == 404


def test_a_micro_grid_leader_edits_and_visits_in_his_micro_grid_only(world):
    for who, mine, other in (("micro_a", "A", "B"), ("micro_b", "B", "A")):
        h = world.login(who)
        edited = world.client.patch(
            f"/api/v1/registry/people/{world.ids[f'person_{mine}']}",
            json={"phone": "13800138000"},
            headers=h,
        )
        assert edited.status_code == 200, edited.text
        visit = world.client.post(
            f"/api/v1/registry/households/{world.ids[f'household_{mine}']}/visits",
            json={"notes": "入户走访"},
            headers=h,
        )
        assert visit.status_code == 201, visit.text
        refused = world.client.patch(
            f"/api/v1/registry/people/{world.ids[f'person_{other}']}",
            json={"phone": "13800138000"},
            headers=h,
        )
        assert refused.status_code in (403, 404)  # his neighbour's resident: not his to edit
        refused = world.client.post(
            f"/api/v1/registry/households/{world.ids[f'household_{other}']}/visits",
            json={"notes": "入户走访"},
            headers=h,
        )
        assert refused.status_code in (403, 404)


def test_other_posts_see_what_they_saw_before(world):
    world.login("nw_worker")  # the base grid's worker: every case and person of his grid
    assert _case_ids(world) == {world.ids[f"case_{n}"] for n in ("A", "B", "BARE")}
    assert _people_ids(world) == {world.ids["person_A"], world.ids["person_B"]}
    records = world.client.get(f"/api/v1/micro-grids/{world.micro['B']}/records").json()
    assert [h["number"] for h in records["households"]] == ["HB"]


def test_a_household_moved_into_another_communitys_micro_grid_is_refused(world):
    h = world.login("admin")
    url = f"/api/v1/registry/households/{world.ids['household_A']}/micro-grid"
    r = world.client.put(url, json={"micro_grid_code": world.micro["C"]}, headers=h)
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "micro_grid_other_community"
    assert "不能跨社区" in body["detail"] and "another community" in body["detail_en"]
    person = world.client.get(f"/api/v1/registry/people/{world.ids['person_A']}").json()
    assert person["micro_grid_id"] is not None  # nothing written
    before = person["micro_grid_id"]
    unknown = world.client.put(url, json={"micro_grid_code": "110108001001001999"}, headers=h)
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_micro_grid"
    moved = world.client.put(url, json={"micro_grid_code": world.micro["B"]}, headers=h)
    assert moved.status_code == 200, moved.text
    assert moved.json()["members"][0]["micro_grid_id"] != before
    world.login("micro_b")
    assert world.ids["person_A"] in _people_ids(world)


def test_bad_generation_requests_name_what_is_wrong(world):
    h = world.login("admin")
    post = world.client.post
    r = post("/api/v1/micro-grids/from-buildings", json={"parent_code": "110108001001009"},
             headers=h)  # fmt: skip
    assert r.status_code == 422 and r.json()["code"] == "unknown_parent_grid"
    assert "110108001001009" in r.json()["detail"]
    r = post("/api/v1/micro-grids/from-buildings",
             json={"parent_code": "110108001001004"}, headers=h)  # fmt: skip
    assert r.status_code == 422 and r.json()["code"] == "no_buildings"
    r = post("/api/v1/micro-grids/from-buildings", json={"parent_code": NW, "mode": "lane"},
             headers=h)  # fmt: skip
    assert r.status_code == 422
    world.login("micro_a")  # a 微网格长 does not draw grids
    r = post(
        "/api/v1/micro-grids/from-buildings",
        json={"parent_code": NW},
        headers={"X-CSRF-Token": world.login("micro_a")["X-CSRF-Token"]},
    )
    assert r.status_code == 403


def test_a_published_micro_grid_leader_appears_on_my_grid_where_he_serves(world, session):
    h = world.login("admin")
    users = {u["username"]: u["id"] for u in world.client.get("/api/v1/users").json()}
    r = world.client.post(
        "/api/v1/grid-assignments",
        json={"user_id": users["micro_a"], "grid_code": world.micro["A"], "kind": "micro_leader",
              "starts_on": "2026-01-01"},
        headers=h,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assignment = r.json()["id"]

    def posts_at(pos: tuple[float, float]) -> list[str]:
        world.client.cookies.clear()
        d = world.client.get(
            "/web/api/public/my-grid", params={"lon": pos[0], "lat": pos[1], "crs": "EPSG:4490"}
        ).json()
        return [w["name"] for w in d["workers"]]

    assert "micro_a" not in posts_at(A_POS)  # not published yet
    h = world.login("admin")
    console = world.client.get("/console/users/assignments").text
    assert f'data-publish="{assignment}" data-published="false"' in console
    r = world.client.post(
        f"/api/v1/grid-assignments/{assignment}/publish", json={"published": True}, headers=h
    )
    assert r.status_code == 200, r.text
    assert "micro_a" in posts_at(A_POS)
    world.login("admin")
    console = world.client.get("/console/users/assignments").text
    assert f'data-publish="{assignment}" data-published="true"' in console
    assert "micro_a" not in posts_at(B_POS)  # the neighbour micro grid has its own leader
