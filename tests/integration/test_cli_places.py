"""`wangge cases fill-addresses` and `wangge places search` on a SQLite file."""

from __future__ import annotations

import json

from sqlalchemy import select, update
from typer.testing import CliRunner

from tests.case_factories import build_world, report
from tests.places_support import NEAR_LAT, NEAR_LON, add_places
from wangge.cases.models import Case
from wangge.cli import app
from wangge.db import make_engine, session_factory
from wangge.dbadmin import upgrade

runner = CliRunner()


def _run(db: str, *args: str):
    return runner.invoke(app, [*args, "--database-url", db], catch_exceptions=False)


def _db(tmp_path, *, with_cases: bool) -> str:
    url = f"sqlite:///{tmp_path / 'places.db'}"
    engine = make_engine(url)
    upgrade(engine)
    if with_cases:
        with session_factory(engine)() as s:
            build_world(s)
            add_places(s)
            for _ in range(3):
                report(s, lon=NEAR_LON, lat=NEAR_LAT)
            s.execute(update(Case).values(address=None))
            s.commit()
    engine.dispose()
    return url


def _addresses(url: str) -> list[str | None]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            return list(s.scalars(select(Case.address).order_by(Case.id)))
    finally:
        engine.dispose()


def test_fill_addresses_on_an_empty_database_says_there_was_nothing(tmp_path):
    url = _db(tmp_path, with_cases=False)
    result = _run(url, "cases", "fill-addresses")
    assert result.exit_code == 0, result.output
    assert "0 / 0" in result.output


def test_fill_addresses_fills_every_case_without_one(tmp_path):
    url = _db(tmp_path, with_cases=True)
    assert _addresses(url) == [None, None, None]
    result = _run(url, "cases", "fill-addresses")
    assert result.exit_code == 0, result.output
    assert "3 / 3" in result.output
    assert all(a and "幸福路12号附近" in a for a in _addresses(url))
    again = _run(url, "cases", "fill-addresses")
    assert "0 / 0" in again.output


def test_places_search_lists_the_house_number(tmp_path):
    url = _db(tmp_path, with_cases=True)
    result = _run(url, "places", "search", "幸福路12")
    assert result.exit_code == 0, result.output
    assert "幸福路12号" in result.output and "building" in result.output


def test_import_roads_merges_segments_by_name_and_addresses_use_them(tmp_path):
    url = _db(tmp_path, with_cases=True)
    x = NEAR_LON - 0.0003  # ~25 m west of the test building
    layer = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"名称": "和平路"},
             "geometry": {"type": "LineString", "coordinates": [[x, 39.95], [x, 39.96]]}},
            {"type": "Feature", "properties": {"名称": "和平路"},
             "geometry": {"type": "LineString", "coordinates": [[x, 39.96], [x, 39.97]]}},
            {"type": "Feature", "properties": {"名称": ""},
             "geometry": {"type": "LineString", "coordinates": [[x, 39.95], [x + 0.01, 39.95]]}},
        ],
    }  # fmt: skip
    path = tmp_path / "roads.geojson"
    path.write_text(json.dumps(layer, ensure_ascii=False), encoding="utf-8")
    result = _run(url, "places", "import-roads", str(path), "--county", "110108")
    assert result.exit_code == 0, result.output
    assert "已导入 1 条道路" in result.output and "跳过" in result.output
    found = _run(url, "places", "search", "和平路")
    assert "road" in found.output and "和平路" in found.output
    _run(url, "cases", "fill-addresses")  # the three cases have no address yet
    # The import replaced the county's roads: 和平路 is now the nearest one, named beside the 门牌.
    assert all(a and "和平路，幸福路12号附近" in a for a in _addresses(url))


def test_import_roads_refuses_a_file_without_named_lines(tmp_path):
    url = _db(tmp_path, with_cases=False)
    path = tmp_path / "points.geojson"
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"名称": "某点"},
             "geometry": {"type": "Point", "coordinates": [116.3, 39.95]}}]}),
        encoding="utf-8",
    )  # fmt: skip
    result = _run(url, "places", "import-roads", str(path), "--county", "110108")
    assert result.exit_code != 0
    assert "没有带名称的线要素" in result.output and "no named line features" in result.output
