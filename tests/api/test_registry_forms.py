"""信息采集 over HTTP: the form writes use the import's checks, land in the history, stay in
the worker's grid, and a person without a room still gets a grid (and says which)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.factories import X0, Y0
from tests.forms_support import World, build, client_for, login
from tests.registry_factories import A, credit_code, id_number
from wangge.registry.models import Building, Organisation, Person, RecordChange

GOOD_ID = id_number("11010819850307123")


@pytest.fixture
def world(session) -> World:
    return build(session)


@pytest.fixture
def client(session, world, tmp_path) -> Iterator[TestClient]:
    yield from client_for(session, tmp_path)


def _count(session, model) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(model))


def test_a_resident_added_to_a_household_gets_its_room_and_grid_and_a_history_row(
    client, world, session
):
    headers = login(client)
    r = client.post(
        "/api/v1/registry/people",
        json={"name": "新住户", "id_number": GOOD_ID, "household_id": world.households[0],
              "relation": "子女", "residence_kind": "流动"},
        headers=headers,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["grid_id"] == world.grids[0] and body["room_id"] == world.rooms[0]
    assert body["grid_source"] == "household" and body["grid_source_name"] == "所属户的房屋所在网格"
    assert body["household_id"] == world.households[0] and GOOD_ID not in r.text
    history = client.get(f"/api/v1/registry/people/{body['id']}/history").json()
    assert [h["action"] for h in history] == ["create"] and history[0]["actor"] == "wangwu"
    assert history[0]["changes"]["id_number"][1] != GOOD_ID  # masked in the history too


def test_a_person_without_a_room_gets_the_grid_workers_grid_and_the_answer_says_so(client, world):
    headers = login(client)
    r = client.post(
        "/api/v1/registry/people", json={"name": "暂住者", "community_code": A}, headers=headers
    )
    assert r.status_code == 201, r.text
    assert r.json()["grid_id"] == world.grids[0] and r.json()["grid_source"] == "worker"
    assert "网格员" in r.json()["grid_source_name"] and r.json()["grid_source_name_en"]
    read = client.get(f"/api/v1/registry/people/{r.json()['id']}").json()
    assert read["grid_id"] == world.grids[0]


def test_a_bad_id_number_is_refused_naming_the_check_and_nothing_is_written(client, world, session):
    headers = login(client)
    before = _count(session, Person)
    bad = GOOD_ID[:-1] + ("0" if GOOD_ID[-1] != "0" else "1")
    r = client.post(
        "/api/v1/registry/people",
        json={"name": "错号", "id_number": bad, "household_id": world.households[0]},
        headers=headers,
    )
    assert r.status_code == 422 and r.json()["field"] == "id_number"
    assert "校验" in r.json()["detail"] and "check" in r.json()["detail_en"].lower()
    assert _count(session, Person) == before
    assert session.scalar(select(func.count()).where(RecordChange.object_type == "person")) == 2


def test_a_bad_credit_code_is_refused_and_no_organisation_is_written(client, session):
    headers = login(client)
    good = credit_code("87654321")
    bad = good[:-1] + ("A" if good[-1] != "A" else "B")
    r = client.post(
        "/api/v1/registry/organisations",
        json={"name": "某公司", "credit_code": bad, "community_code": A},
        headers=headers,
    )
    assert r.status_code == 422 and r.json()["field"] == "credit_code"
    assert r.json()["detail"] and r.json()["detail_en"]
    assert _count(session, Organisation) == 0


def test_a_building_or_organisation_placed_outside_the_county_is_refused(client, session):
    headers = login(client, "admin", "Center-Pass-2026")
    before = _count(session, Building)
    for path, body in (
        ("buildings", {"name": "界外楼", "community_code": A, "lon": X0 - 0.3, "lat": Y0}),
        ("organisations", {"name": "界外厂", "community_code": A, "lon": X0 - 0.3, "lat": Y0}),
    ):
        r = client.post(f"/api/v1/registry/{path}", json=body, headers=headers)
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "outside_county" and r.json()["field"] == "lon"
        assert "110108" in r.json()["detail"] and "outside county" in r.json()["detail_en"]
    assert _count(session, Building) == before and _count(session, Organisation) == 0


def test_a_grid_worker_deletes_people_and_records_contracts_of_his_grid_only(
    client, world, session
):
    from wangge.registry.models_people import Person

    theirs = session.scalars(
        select(Person).where(Person.household_id == world.households[1])
    ).first()
    headers = login(client)
    refused = client.delete(f"/api/v1/registry/people/{theirs.id}", headers=headers)
    assert refused.status_code == 403 and refused.json()["code"] == "not_your_grid"
    assert session.get(Person, theirs.id) is not None
    contract = {"tenant_name": "租客乙", "start_date": "2026-11-01"}
    refused = client.post(
        f"/api/v1/registry/rooms/{world.rooms[1]}/tenancies", json=contract, headers=headers
    )
    assert refused.status_code == 403 and refused.json()["code"] == "not_your_grid"
    mine = client.post(
        f"/api/v1/registry/rooms/{world.rooms[0]}/tenancies", json=contract, headers=headers
    )
    assert mine.status_code == 201, mine.text


def test_a_grid_worker_edits_rooms_of_his_grid_only_and_each_edit_is_in_the_history(client, world):
    headers = login(client)
    mine = client.patch(
        f"/api/v1/registry/rooms/{world.rooms[0]}",
        json={"use": "出租", "area_m2": 63.5, "landlord_name": "房东甲"},
        headers=headers,
    )
    assert mine.status_code == 200 and mine.json()["use"] == "rented"
    history = client.get(f"/api/v1/registry/rooms/{world.rooms[0]}/history").json()
    assert history[-1]["action"] == "update"
    assert history[-1]["changes"]["use"] == ["owner_occupied", "rented"]
    theirs = client.patch(
        f"/api/v1/registry/rooms/{world.rooms[1]}", json={"use": "空置"}, headers=headers
    )
    assert theirs.status_code == 403 and theirs.json()["code"] == "not_your_grid"
    assert "网格员" in theirs.json()["detail"] and theirs.json()["detail_en"]
    other = client.post(
        "/api/v1/registry/people",
        json={"name": "隔壁", "household_id": world.households[1]},
        headers=headers,
    )
    assert other.status_code == 403


def test_a_form_resent_with_the_same_idempotency_key_creates_one_person(client, world, session):
    headers = login(client) | {"Idempotency-Key": "form-1"}
    body = {"name": "重发", "household_id": world.households[0]}
    first = client.post("/api/v1/registry/people", json=body, headers=headers)
    again = client.post("/api/v1/registry/people", json=body, headers=headers)
    assert first.status_code == 201 and again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert session.scalar(select(func.count()).where(Person.name == "重发")) == 1


def test_households_are_created_and_edited_with_history(client, world):
    headers = login(client)
    h = client.post(
        "/api/v1/registry/households", json={"number": "H9", "room_id": world.rooms[0]},
        headers=headers,
    )  # fmt: skip
    assert h.status_code == 201, h.text
    assert h.json()["grid_id"] == world.grids[0] and h.json()["address"]
    dup = client.post(
        "/api/v1/registry/households", json={"number": "H9", "community_code": A}, headers=headers
    )
    assert dup.status_code == 422 and dup.json()["code"] == "duplicate_household"
    edit = client.patch(
        f"/api/v1/registry/households/{h.json()['id']}", json={"number": "H10"}, headers=headers
    )
    assert edit.status_code == 200 and edit.json()["number"] == "H10"
    history = client.get(f"/api/v1/registry/households/{h.json()['id']}/history").json()
    assert [c["action"] for c in history] == ["create", "update"]
    assert history[1]["changes"]["number"] == ["H9", "H10"]
    theirs = client.patch(
        f"/api/v1/registry/households/{world.households[1]}", json={"number": "X"}, headers=headers
    )
    assert theirs.status_code == 403


def test_a_worker_of_several_grids_chooses_the_grid_of_a_person_without_a_room(
    client, world, session
):
    from datetime import timedelta

    from sqlalchemy import select as sql_select

    from wangge.assignments.service import add_assignment
    from wangge.auth.models import User
    from wangge.auth.principal import LOCAL_OPERATOR
    from wangge.common.models import utcnow

    worker = session.scalar(sql_select(User).where(User.username == "wangwu"))
    add_assignment(
        session, LOCAL_OPERATOR, user_id=worker.id, grid_code=world.codes[1], kind="full_time",
        starts_on=(utcnow() - timedelta(days=1)).date(),
    )  # fmt: skip
    session.flush()
    headers = login(client)
    unplaced = client.post(
        "/api/v1/registry/people", json={"name": "未定网格", "community_code": A}, headers=headers
    )
    assert unplaced.status_code == 201 and unplaced.json()["grid_id"] is None
    assert unplaced.json()["grid_source"] == "several"
    chosen = client.post(
        "/api/v1/registry/people",
        json={"name": "选定网格", "community_code": A, "grid_id": world.grids[1]},
        headers=headers,
    )
    assert chosen.status_code == 201 and chosen.json()["grid_id"] == world.grids[1]
    assert chosen.json()["grid_source"] == "chosen"
    unknown = client.post(
        "/api/v1/registry/people", json={"name": "无此网格", "grid_id": 987654}, headers=headers
    )
    assert unknown.status_code == 422 and unknown.json()["field"] == "grid_id"
