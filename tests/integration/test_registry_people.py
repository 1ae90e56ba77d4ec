"""People: identity checks, history, addresses, search by keyed hash, labels, scope, duplicates."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.registry_factories import (
    CENTER,
    WORKER_A,
    WORKER_B,
    A,
    B,
    centre_of,
    id_number,
    setup_grids,
)
from wangge.audit.models import AuditEntry
from wangge.auth.principal import Principal
from wangge.errors import Forbidden, NotFound, ValidationFailed
from wangge.registry import houses, people, people_search
from wangge.registry.history import history
from wangge.registry.quality import completeness, duplicate_groups, resolve_duplicate

ZHANG = id_number("11010819850307123")  # 1985-03-07, 17th digit 3: male


@pytest.fixture
def territory(session):
    setup_grids(session)
    return session


def _person(session, principal=CENTER, **data):
    return people.save_person(session, principal, {"name": "张三", "community_code": A, **data})


def test_an_id_number_gives_birth_date_and_sex_and_is_searchable_by_hash(territory):
    p = _person(territory, id_number=ZHANG, phone="13812345678")
    assert p.birth_date == date(1985, 3, 7) and p.sex == "男"
    assert p.id_hash and ZHANG not in p.id_hash
    found = territory.scalars(people_search.people_query(CENTER, q=ZHANG)).all()
    assert [x.id for x in found] == [p.id]
    assert [
        x.id for x in territory.scalars(people_search.people_query(CENTER, q="138 1234 5678"))
    ] == [p.id]


def test_a_legacy_15_digit_id_number_is_converted_to_18(territory):
    p = _person(territory, id_number="110108850307123")
    assert len(p.id_number) == 18 and p.id_number.startswith("11010819850307123")
    assert p.birth_date == date(1985, 3, 7)


def test_a_wrong_check_character_names_position_18(territory):
    bad = ZHANG[:17] + ("0" if ZHANG[17] != "0" else "1")
    with pytest.raises(ValidationFailed) as err:
        _person(territory, id_number=bad)
    assert "第18位" in err.value.message_zh and err.value.field == "id_number"


def test_every_change_is_kept_with_masked_personal_values(territory):
    p = _person(territory, id_number=ZHANG)
    people.save_person(territory, CENTER, {"name": "张叁", "phone": "13900001111"}, person_id=p.id)
    changes = history(territory, "person", p.id)
    assert [c.action for c in changes] == ["create", "update"]
    assert changes[1].changes["name"] == ["张三", "张叁"]
    assert changes[1].changes["phone"] == [None, "139****1111"]
    assert ZHANG not in str([c.changes for c in changes])
    assert changes[1].actor == "center"


def test_moving_house_keeps_the_old_address(territory):
    lon, lat = centre_of(A)
    b = houses.save_building(
        territory, CENTER, {"name": "1号楼", "community_code": A, "lon": lon, "lat": lat}
    )
    r1 = houses.save_room(territory, CENTER, {"building_id": b.id, "unit": "1", "number": "101"})
    r2 = houses.save_room(territory, CENTER, {"building_id": b.id, "unit": "2", "number": "202"})
    p = _person(territory, room_id=r1.id)
    assert p.grid_id == b.grid_id is not None and "101室" in p.address
    people.save_person(territory, CENTER, {"room_id": r2.id}, person_id=p.id)
    rows = people.addresses(territory, CENTER, p.id)
    assert [r.room_id for r in rows] == [r1.id, r2.id]
    assert rows[0].until is not None and rows[1].until is None


def test_a_community_worker_sees_only_his_community(territory):
    mine = _person(territory, WORKER_A, id_number=ZHANG)
    theirs = people.save_person(territory, WORKER_B, {"name": "李四", "community_code": B})
    assert [p.id for p in territory.scalars(people_search.people_query(WORKER_A))] == [mine.id]
    assert list(territory.scalars(people_search.people_query(WORKER_A, q="李四"))) == []
    with pytest.raises(NotFound):
        people.get_person(territory, WORKER_A, theirs.id)
    with pytest.raises(Forbidden):
        people.save_person(territory, WORKER_A, {"name": "王五", "community_code": B})


def test_a_grid_level_post_sees_the_people_of_its_grid(territory):
    lon, lat = centre_of(A)
    b = houses.save_building(
        territory, CENTER, {"name": "1号楼", "community_code": A, "lon": lon, "lat": lat}
    )
    room = houses.save_room(territory, CENTER, {"building_id": b.id, "number": "101"})
    inside = _person(territory, room_id=room.id)
    _person(territory, name="无房人员")
    from wangge.grids.models import Grid

    code = territory.scalar(select(Grid.code).where(Grid.id == b.grid_id))
    worker = Principal(
        name="g", permissions=frozenset({"registry.read"}), scope_prefixes=frozenset({code})
    )
    assert [p.id for p in territory.scalars(people_search.people_query(worker))] == [inside.id]


def test_special_group_labels_need_the_special_permission(territory):
    p = _person(territory, labels=["elderly_alone", "released"])
    sensitive = {
        "released",
        "corrections",
        "mental_disorder",
        "drug_user",
        "aids_risk",
        "key_youth",
    }
    assert people.person_out(p, WORKER_A, sensitive)["labels"] == ["elderly_alone"]
    assert people.person_out(p, CENTER, sensitive)["labels"] == ["elderly_alone", "released"]
    with pytest.raises(Forbidden):
        people.save_person(territory, WORKER_A, {"labels": ["key_youth"]}, person_id=p.id)
    # A worker who rewrites the visible labels does not erase the ones he cannot see.
    people.save_person(territory, WORKER_A, {"labels": ["disabled"]}, person_id=p.id)
    assert sorted(p.labels) == ["disabled", "released"]


def test_revealing_a_full_id_number_needs_permission_and_a_reason_and_is_audited(territory):
    p = _person(territory, id_number=ZHANG)
    with pytest.raises(Forbidden):
        people.reveal_person(territory, WORKER_A, p.id, "核实身份")
    with pytest.raises(ValidationFailed):
        people.reveal_person(territory, CENTER, p.id, "")
    assert people.reveal_person(territory, CENTER, p.id, "核实低保资格")["id_number"] == ZHANG
    entry = territory.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (entry.action, entry.actor, entry.reason) == (
        "personal.unmask",
        "center",
        "核实低保资格",
    )
    assert entry.object_id == str(p.id)
    for row in territory.scalars(select(AuditEntry)):
        assert ZHANG not in f"{row.detail} {row.reason}"


def test_duplicates_by_id_number_and_by_name_birth_and_address_are_found_and_resolved(territory):
    a = _person(territory, id_number=ZHANG, address="甲街1号")
    b = _person(territory, id_number=ZHANG, name="张三丰", phone="13812345678")
    c = _person(
        territory, name="李四", id_number=id_number("11010819900101002"), address="乙街 2 号"
    )
    d = _person(territory, name="李四", id_number=id_number("11010819900101010"), address="乙街2号")
    groups = {(g["reason"], tuple(g["ids"])) for g in duplicate_groups(territory, CENTER)}
    assert ("same_id_number", (a.id, b.id)) in groups
    assert ("same_name_birth_address", (c.id, d.id)) in groups
    resolve_duplicate(territory, CENTER, a.id, b.id, "merge")
    resolve_duplicate(territory, CENTER, c.id, d.id, "not_duplicate")
    assert duplicate_groups(territory, CENTER) == []
    assert a.phone == "13812345678" and b.merged_into_id == a.id
    assert b.id not in [p.id for p in territory.scalars(people_search.people_query(CENTER))]
    assert [h.action for h in history(territory, "person", a.id)][-1] == "merge"


def test_completeness_is_reported_per_community_and_street(territory):
    _person(territory, id_number=ZHANG, phone="13812345678")
    _person(territory, name="空白")
    rows = completeness(territory, CENTER, "people", level="community")
    assert [r["area"] for r in rows] == [A] and rows[0]["records"] == 2
    # Seven fields count (name, ID, phone, address, room, household, relation): 3 + 1 of 14.
    assert rows[0]["completeness"] == pytest.approx(4 / 14, abs=1e-4)
    street = completeness(territory, CENTER, "people", level="street")
    assert street[0]["area"] == A[:9]
