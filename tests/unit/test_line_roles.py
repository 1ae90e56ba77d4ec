"""Line classes → roles for automatic division: barrier, preferred boundary, crossable (issue 19)."""

import json
from pathlib import Path

import pytest
from shapely.geometry import LineString, box, mapping

from wangge.common.gisio import Feature, write_features
from wangge.errors import ImportFailed, ValidationFailed
from wangge.grids.dividing import read_lines
from wangge.grids.line_roles import CLASSES, ROLES, classify, parse_overrides

X0, Y0 = 116.30, 39.95


def _line(i: int) -> LineString:
    return LineString([(X0 + 0.001 * i, Y0), (X0 + 0.001 * i, Y0 + 0.01)])


def _geojson(path: Path, rows: list[tuple[dict, object]]) -> Path:
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": props, "geometry": mapping(geom)}
            for props, geom in rows
        ],
    }
    path.write_text(json.dumps(fc, ensure_ascii=False), "utf-8")
    return path


def _roles(lines) -> dict[str, list[float]]:
    """The x of each line by role, to tell which feature went where."""
    return {
        "barrier": [g.coords[0][0] for g in lines.barriers],
        "boundary": [g.coords[0][0] for g in lines.boundaries],
        "crossable": [g.coords[0][0] for g in lines.lanes],
    }


def test_a_geojson_layer_with_chinese_classes_is_read_by_role(tmp_path):
    river = box(X0 + 0.005, Y0, X0 + 0.006, Y0 + 0.01)  # a polygon: counts by its outline
    path = _geojson(
        tmp_path / "roads.geojson",
        [
            ({"等级": "主干道"}, _line(1)),
            ({"等级": "支路"}, _line(2)),
            ({"等级": "巷道"}, _line(3)),
            ({"名称": "无等级"}, _line(4)),  # no class at all: a preferred boundary
            ({"道路等级": "铁路"}, _line(6)),
            ({"等级": "河流"}, river),
            ({"等级": " 胡同 "}, _line(7)),
        ],
    )
    lines = read_lines(path)
    got = _roles(lines)
    assert got["boundary"] == pytest.approx([X0 + 0.002, X0 + 0.004])
    assert got["crossable"] == pytest.approx([X0 + 0.003, X0 + 0.007])
    assert got["barrier"][:2] == pytest.approx([X0 + 0.001, X0 + 0.006])
    assert lines.barriers[2].geom_type == "LineString"  # the river's outline
    assert lines.barriers[2].length == pytest.approx(river.length)
    assert len(lines) == 7 and len(lines.followed()) == 5


def test_a_geopackage_with_osm_highway_values_is_read_by_role(tmp_path):
    values = ["motorway", "primary_link", "residential", "tertiary", "service", "footway", "Trunk"]
    feats = [Feature(i + 1, _line(i + 1), {"highway": v}) for i, v in enumerate(values)]
    feats.append(Feature(8, _line(8), {"railway": "rail"}))
    feats.append(Feature(9, _line(9), {"waterway": "canal"}))
    path = write_features(tmp_path / "osm.gpkg", feats)
    got = _roles(read_lines(path))
    assert sorted(round((x - X0) * 1000) for x in got["barrier"]) == [1, 2, 7, 8, 9]
    assert sorted(round((x - X0) * 1000) for x in got["boundary"]) == [3, 4]
    assert sorted(round((x - X0) * 1000) for x in got["crossable"]) == [5, 6]


def test_an_explicit_role_column_wins_over_the_class():
    feats = [
        Feature(1, _line(1), {"作用": "可跨越", "等级": "主干道"}),
        Feature(2, _line(2), {"role": "barrier", "class": "alley"}),
        Feature(3, _line(3), {"ROLE": "优先边界"}),  # column names in any case
    ]
    got = _roles(classify("x.geojson", feats))
    assert got == {"barrier": [X0 + 0.002], "boundary": [X0 + 0.003], "crossable": [X0 + 0.001]}


def test_an_unknown_class_names_the_file_feature_field_and_value_and_the_accepted_values(
    tmp_path,
):
    path = _geojson(
        tmp_path / "roads.geojson",
        [
            ({"等级": "主干道"}, _line(1)),
            ({"等级": "大马路"}, _line(2)),
            ({"highway": "raceway"}, _line(3)),
            ({"等级": "大马路"}, _line(4)),
        ],
    )
    with pytest.raises(ImportFailed) as err:
        read_lines(path)
    exc = err.value
    assert (exc.file, exc.feature, exc.field) == ("roads.geojson", 2, "等级")
    assert exc.code == "unknown_line_class"
    for message in (exc.message_zh, exc.message_en):
        assert "roads.geojson" in message and "大马路" in message
        assert "主干道" in message and "motorway" in message and "巷道" in message
        assert "--line-roles" in message
    assert "第 2 个要素" in exc.message_zh and "feature 2" in exc.message_en
    # The other unknown classes of the file are named too, so one mapping can fix them all.
    assert "其他无法识别的等级：raceway" in exc.message_zh
    assert exc.message_en.endswith("Other unknown classes in this file: raceway")


def test_an_unknown_role_is_refused():
    with pytest.raises(ImportFailed) as err:
        classify("x.geojson", [Feature(1, _line(1), {"作用": "随便"})])
    assert err.value.field == "作用" and "随便" in err.value.message_zh
    assert "barrier" in err.value.message_en


def test_the_users_mapping_names_classes_the_table_lacks_and_overrides_it(tmp_path):
    path = _geojson(
        tmp_path / "roads.geojson",
        [
            ({"等级": "大马路"}, _line(1)),
            ({"等级": "支路"}, _line(2)),
            ({"等级": "巷道"}, _line(3)),
            ({"class": "Foot Path"}, _line(4)),
        ],
    )
    lines = read_lines(path, "大马路=barrier，支路=crossable, foot-path = 可跨越")
    got = _roles(lines)
    assert got["barrier"] == [X0 + 0.001]
    assert got["crossable"] == pytest.approx([X0 + 0.002, X0 + 0.003, X0 + 0.004])
    fallback = read_lines(path, {"*": "boundary"})  # every unknown class, as a dict (API)
    assert _roles(fallback)["boundary"] == pytest.approx([X0 + 0.001, X0 + 0.002, X0 + 0.004])


@pytest.mark.parametrize("spec", ["大马路", "大马路=wall", "=barrier"])
def test_a_bad_mapping_is_refused_naming_the_option(spec):
    with pytest.raises(ValidationFailed) as err:
        parse_overrides(spec)
    assert err.value.field == "line_roles"
    with pytest.raises(ValidationFailed):
        read_lines(None, spec)  # refused even without a line layer


def test_the_table_gives_each_class_one_role():
    seen: dict[str, str] = {}
    for role in ROLES:
        for value in CLASSES[role]:
            assert value not in seen, f"{value} is both {seen[value]} and {role}"
            seen[value] = role


def test_the_documented_table_is_the_table():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "division.md").read_text("utf-8")
    rows = {ln.split("|")[1].split()[0].strip("`"): ln for ln in doc.splitlines() if "|" in ln}
    for role in ROLES:
        assert sorted(" ".join(rows[role].split("|")[2:4]).split()) == sorted(CLASSES[role])
