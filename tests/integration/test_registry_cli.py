"""`wangge registry template|import|export|rehash`, and records following re-divisions."""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner

from tests.factories import load_territory, quarters
from tests.ops_support import fresh_database
from tests.registry_factories import CENTER, A, centre_of, id_number
from wangge.auth import service as auth
from wangge.cli import app
from wangge.config import Settings
from wangge.db import make_engine, session_factory, unit_of_work
from wangge.dbadmin import upgrade
from wangge.grids.models import Grid
from wangge.grids.service import GridIn, add_grids, new_version
from wangge.grids.versions import activate_version
from wangge.main import create_app
from wangge.registry import houses, people
from wangge.registry.access import personal_hash, use_hash_key
from wangge.registry.models_people import Person

runner = CliRunner()
GOOD = id_number("11010819850307123")


def _db(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with unit_of_work(session_factory(engine)) as session:
        load_territory(session)
    engine.dispose()
    return url


def _run(db: str, *args: str):
    return runner.invoke(app, ["registry", *args, "--database-url", db], catch_exceptions=False)


def test_template_import_and_export_from_the_command_line(tmp_path):
    db = _db(tmp_path)
    template = tmp_path / "people.xlsx"
    assert _run(db, "template", "people", str(template)).exit_code == 0
    wb = load_workbook(template)
    ws = wb.worksheets[0]
    ws.append([None, "张三", GOOD, "13812345678", "户籍", None, A])
    ws.append(
        [
            None,
            "李四",
            GOOD[:-1] + "0" if GOOD[-1] != "0" else GOOD[:-1] + "1",
            None,
            "户籍",
            None,
            A,
        ]
    )
    wb.save(template)
    refused = _run(db, "import", "people", str(template))
    assert refused.exit_code == 2 and "未写入" in refused.output
    partial = _run(db, "import", "people", str(template), "--valid-only")
    assert partial.exit_code == 2 and "新增 1" in partial.output
    out = tmp_path / "out.xlsx"
    assert _run(db, "export", "people", str(out)).exit_code == 0
    rows = list(
        load_workbook(io.BytesIO(out.read_bytes())).worksheets[0].iter_rows(values_only=True)
    )
    assert [r[1] for r in rows[1:]] == ["张三"] and GOOD not in str(rows)


def test_an_unknown_kind_exits_with_a_bilingual_error(tmp_path):
    result = _run(_db(tmp_path), "template", "cars", str(tmp_path / "x.xlsx"))
    assert result.exit_code == 2 and "未知的数据类别" in result.output


def test_buildings_follow_a_re_division(session):
    load_territory(session)
    v1 = new_version(session, "110108", "social", "v1")
    add_grids(session, v1, [GridIn(kind="basic", geom=g) for g in quarters(A)], width=3)
    activate_version(session, v1.id)
    lon, lat = centre_of(A)
    b = houses.save_building(
        session, CENTER, {"name": "1号楼", "community_code": A, "lon": lon, "lat": lat}
    )
    old = b.grid_id
    v2 = new_version(session, "110108", "social", "v2")
    from tests.factories import COMMUNITIES

    add_grids(session, v2, [GridIn(kind="basic", geom=COMMUNITIES[A])], width=3)
    report = activate_version(session, v2.id)
    session.refresh(b)
    new_grid = session.scalars(select(Grid).where(Grid.id == b.grid_id)).one()
    assert b.grid_id != old and new_grid.version_id == v2.id
    assert report["moved"]["buildings"]["total"] == 1


# ------------------------------------------------------- `wangge registry rehash` (key rotation)

BOTH = ["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)]
ADMIN_PASSWORD = "Rotation-Key-2026"
PHONE = "13812345678"


@pytest.fixture
def keys() -> Iterator[tuple[str, str]]:
    """An old and a new key; the process goes back to its configured key afterwards."""
    yield secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    use_hash_key(None)


def _people_db(url: str, old_key: str) -> None:
    """Migrate; register an admin and three people hashed with `old_key`, committed."""
    engine = make_engine(url)
    upgrade(engine)
    use_hash_key(old_key)
    with unit_of_work(session_factory(engine)) as session:
        load_territory(session)
        auth.seed_roles(session)
        admin = auth.create_user(
            session, username="admin", password=ADMIN_PASSWORD, display_name="中心"
        )
        auth.assign_post(session, admin, "admin")
        people.save_person(
            session,
            CENTER,
            {"name": "张三", "id_number": GOOD, "phone": PHONE, "community_code": A},
        )
        people.save_person(
            session,
            CENTER,
            {"name": "李四", "id_number": id_number("11010819790512456"), "community_code": A},
        )
        people.save_person(session, CENTER, {"name": "王五", "community_code": A})
    engine.dispose()


def _hashes(url: str) -> list[tuple]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            rows = session.execute(
                select(
                    Person.id_number,
                    Person.id_hash,
                    Person.phone,
                    Person.phone_hash,
                    Person.updated_at,
                ).order_by(Person.id)
            ).all()
            return [tuple(r) for r in rows]
    finally:
        engine.dispose()


def _rehash(url: str, env: dict[str, str], **kw):
    return runner.invoke(app, ["registry", "rehash", "--database-url", url], env=env, **kw)


@pytest.mark.parametrize("kind", BOTH)
def test_rehash_on_an_empty_database_succeeds_and_writes_nothing(kind, tmp_path, keys):
    old, new = keys
    with fresh_database(kind, tmp_path, "wangge_rehash") as url:
        result = _rehash(
            url, {"WANGGE_PERSONAL_HASH_KEY": new, "WANGGE_OLD_PERSONAL_HASH_KEY": old}
        )
        assert result.exit_code == 0, result.output
        assert "共 0 人" in result.output and "rehashed 0 of 0" in result.output
        assert old not in result.output and new not in result.output
        assert _hashes(url) == []


@pytest.mark.parametrize("kind", BOTH)
def test_rehash_moves_every_hash_to_the_new_key_and_search_still_finds_people(kind, tmp_path, keys):
    old, new = keys
    with fresh_database(kind, tmp_path, "wangge_rehash") as url:
        _people_db(url, old)
        before = _hashes(url)
        result = _rehash(
            url, {"WANGGE_PERSONAL_HASH_KEY": new, "WANGGE_OLD_PERSONAL_HASH_KEY": old}
        )
        assert result.exit_code == 0, result.output
        assert "rehashed 2 of 3" in result.output and "旧密钥相符 3" in result.output
        assert old not in result.output and new not in result.output
        after = _hashes(url)
        for (number, id_hash, phone, phone_hash, updated), was in zip(after, before, strict=True):
            assert id_hash == (personal_hash("id", number, key=new.encode()) if number else None)
            assert phone_hash == (
                personal_hash("phone", phone, key=new.encode()) if phone else None
            )
            assert updated == was[4]  # a new key is no change of the person's record
        # Run again: already done, nothing to change.
        again = _rehash(url, {"WANGGE_PERSONAL_HASH_KEY": new, "WANGGE_OLD_PERSONAL_HASH_KEY": old})
        assert again.exit_code == 0 and "rehashed 0 of 3" in again.output

        # The servers restarted with the new key find people by ID number and phone.
        with TestClient(create_app(Settings(database_url=url, personal_hash_key=new))) as client:
            login = client.post(
                "/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
            )
            headers = {"X-CSRF-Token": login.json()["csrf_token"]}
            for q in (GOOD, PHONE):
                found = client.post(
                    "/api/v1/registry/people/search", json={"q": q}, headers=headers
                )
                assert [p["name"] for p in found.json()["items"]] == ["张三"], q


@pytest.mark.parametrize("kind", BOTH)
def test_rehash_with_a_wrong_old_key_changes_nothing(kind, tmp_path, keys):
    old, new = keys
    with fresh_database(kind, tmp_path, "wangge_rehash") as url:
        _people_db(url, old)
        before = _hashes(url)
        wrong = secrets.token_urlsafe(24)
        result = _rehash(
            url, {"WANGGE_PERSONAL_HASH_KEY": new, "WANGGE_OLD_PERSONAL_HASH_KEY": wrong}
        )
        assert result.exit_code == 2 and "旧密钥与库中的散列不符" in result.output
        assert wrong not in result.output and new not in result.output
        assert _hashes(url) == before


def test_rehash_asks_for_the_old_key_without_echo_and_refuses_the_same_key(tmp_path, keys):
    old, new = keys
    url = f"sqlite:///{tmp_path / 'rehash.db'}"
    _people_db(url, old)
    same = _rehash(url, {"WANGGE_PERSONAL_HASH_KEY": old}, input=f"{old}\n")
    assert same.exit_code == 2 and "相同" in same.output and old not in same.output
    typed = _rehash(url, {"WANGGE_PERSONAL_HASH_KEY": new}, input=f"{old}\n")
    assert typed.exit_code == 0, typed.output
    assert "旧密钥 old key" in typed.output and old not in typed.output
    assert _hashes(url)[0][1] == personal_hash("id", GOOD, key=new.encode())


def test_production_refuses_the_development_hash_key(tmp_path, keys):
    url = f"sqlite:///{tmp_path / 'rehash.db'}"
    result = _rehash(url, {"WANGGE_ENV": "production", "WANGGE_OLD_PERSONAL_HASH_KEY": keys[0]})
    assert result.exit_code == 2 and "WANGGE_PERSONAL_HASH_KEY" in result.output
    with pytest.raises(ValueError, match="WANGGE_PERSONAL_HASH_KEY"):
        Settings(env="production", audit_key=secrets.token_urlsafe(24)).check_secrets()
    with pytest.raises(ValueError, match="WANGGE_PERSONAL_HASH_KEY"):
        Settings(env="production", personal_hash_key="short").check_personal_hash_key()
    Settings(env="production", personal_hash_key=keys[1]).check_personal_hash_key()
