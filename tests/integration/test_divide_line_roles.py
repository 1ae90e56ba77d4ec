"""Line roles in division on stored communities and through `wangge grid divide` (issue 19)."""

import json
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import LineString, Point, box, mapping
from typer.testing import CliRunner

from tests.factories import COMMUNITIES, COUNTY, DX, DY, X0, Y0, load_territory
from wangge.cli import app
from wangge.grids.dividing import _communities, _frame, build_inputs
from wangge.grids.geometry import LocalFrame
from wangge.grids.line_roles import ClassedLines
from wangge.grids.partition_quality import line_crossings

COMMUNITY = "110108001001"
# An east-west main road across the first community (and on into the second), a little skewed.
BARRIER = LineString([(X0 - 0.001, Y0 + 0.46 * DY), (X0 + 1.5 * DX, Y0 + 0.52 * DY)])
STREETS = [
    LineString([(X0 + f * DX, Y0 - 0.001), (X0 + f * DX, Y0 + DY + 0.001)]) for f in (0.35, 0.7)
]
LANE = LineString([(X0 + 0.1 * DX, Y0 + 0.2 * DY), (X0 + 0.3 * DX, Y0 + 0.25 * DY)])

runner = CliRunner()


def test_each_community_gets_the_lines_of_each_role_that_touch_it(session):
    load_territory(session)
    rows = _communities(session, COUNTY, None)
    frame = _frame(rows)
    far_lane = LineString([(X0 + 0.1 * DX, Y0 + 1.5 * DY), (X0 + 0.2 * DX, Y0 + 1.6 * DY)])
    lines = ClassedLines(boundaries=STREETS, barriers=[BARRIER], lanes=[LANE, far_lane])
    inputs = {i.community_key: i for i in build_inputs(rows, frame, [], lines, [])}
    first, second, north = inputs[COMMUNITY], inputs["110108001002"], inputs["110108002001"]
    assert (len(first.lines), len(first.barriers), len(first.lanes)) == (2, 1, 1)
    assert (len(second.lines), len(second.barriers), len(second.lanes)) == (0, 1, 0)
    assert (len(north.lines), len(north.barriers), len(north.lanes)) == (
        2,
        0,
        1,
    )  # streets end in it
    # In frame metres, like the community boundary.
    assert first.barriers[0].length == pytest.approx(frame.forward(BARRIER).length)
    # A plain list of lines is what it always was: preferred boundaries.
    plain = build_inputs(rows, frame, [], STREETS, [])
    assert [len(i.lines) for i in plain] == [2, 0, 2] and not any(i.barriers for i in plain)


def _write(path: Path, rows: list[tuple[dict, object]]) -> Path:
    fc = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": p, "geometry": mapping(g)} for p, g in rows],
    }
    path.write_text(json.dumps(fc, ensure_ascii=False), "utf-8")
    return path


def _territory(tmp_path: Path) -> Path:
    rows = [
        ({"区划代码": COUNTY, "名称": "海淀区"}, box(X0, Y0, X0 + 2 * DX, Y0 + 2 * DY)),
        ({"区划代码": "110108001", "名称": "甲街道"}, box(X0, Y0, X0 + 2 * DX, Y0 + DY)),
        ({"区划代码": "110108002", "名称": "乙街道"}, box(X0, Y0 + DY, X0 + 2 * DX, Y0 + 2 * DY)),
        *[({"区划代码": c, "名称": f"社区{c[-3:]}"}, g) for c, g in COMMUNITIES.items()],
    ]
    return _write(tmp_path / "d.geojson", rows)


def _buildings(tmp_path: Path, n: int = 80) -> Path:
    rng = np.random.default_rng(19)
    rows = []
    for i in range(n):
        x, y = X0 + rng.uniform(0.03, 0.97) * DX, Y0 + rng.uniform(0.03, 0.97) * DY
        rows.append(({"编号": f"B{i:03d}", "户数": int(rng.integers(15, 40))}, Point(x, y)))
    return _write(tmp_path / "b.geojson", rows)


def _lines(tmp_path: Path, main_road_class: str = "主干道") -> Path:
    rows = [
        ({"名称": "主路", "等级": main_road_class}, BARRIER),
        *[({"名称": f"街{i}", "等级": "支路"}, s) for i, s in enumerate(STREETS)],
        ({"名称": "小巷", "等级": "巷道"}, LANE),
    ]
    return _write(tmp_path / "roads.geojson", rows)


def _run(db: str, *args: str):
    return runner.invoke(app, [*args, "--database-url", db], catch_exceptions=False)


def _divide(db: str, tmp_path: Path, *extra: str):
    return _run(
        db,
        "grid",
        "divide",
        "--county",
        COUNTY,
        "--community",
        COMMUNITY,
        "--buildings",
        str(tmp_path / "b.geojson"),
        "--lines",
        str(tmp_path / "roads.geojson"),
        "--target",
        "300",
        "--report",
        str(tmp_path / "r.json"),
        *extra,
    )


def _grids_of_last_version(db: str):
    from wangge.db import make_engine, session_factory
    from wangge.grids.models import GridVersion
    from wangge.grids.service import version_grids

    engine = make_engine(db)
    try:
        with session_factory(engine)() as s:
            version = max(s.query(GridVersion).all(), key=lambda v: v.id)
            return [g.geom for g in version_grids(s, version.id)]
    finally:
        engine.dispose()


def test_grid_divide_never_lets_a_grid_cross_a_barrier_road(tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    assert _run(db, "division", "import", str(_territory(tmp_path))).exit_code == 0
    _buildings(tmp_path)
    _lines(tmp_path)
    result = _divide(db, tmp_path)
    assert result.exit_code == 0, result.output
    grids = _grids_of_last_version(db)
    assert len(grids) > 2
    frame = LocalFrame.at(X0 + DX / 2, Y0 + DY / 2)  # metres, for the 1 m crossing threshold
    barrier = frame.forward(BARRIER)
    crossed = [i for i, g in enumerate(grids) if line_crossings(frame.forward(g), [barrier])]
    assert crossed == [], f"grids {crossed} cross the main road (a barrier)"
    # The check has teeth: the undivided community is crossed by the road.
    assert line_crossings(frame.forward(COMMUNITIES[COMMUNITY]), [barrier]) == 1
    report = json.loads((tmp_path / "r.json").read_text("utf-8"))
    assert all(g.get("barrier_crossings", 0) == 0 for g in report["grids"])


def test_grid_divide_refuses_an_unknown_line_class_unless_mapped(tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    _run(db, "division", "import", str(_territory(tmp_path)))
    _buildings(tmp_path)
    _lines(tmp_path, main_road_class="大马路")
    refused = _divide(db, tmp_path)
    assert refused.exit_code == 2
    out = " ".join(refused.output.split())  # rich wraps long messages
    assert "roads.geojson" in out and "第 1 个要素" in out and "大马路" in out
    assert "--line-roles" in out
    mapped = _divide(db, tmp_path, "--line-roles", "大马路=barrier")
    assert mapped.exit_code == 0, mapped.output
    bad = _divide(db, tmp_path, "--line-roles", "大马路=wall")
    assert bad.exit_code == 2 and "wall" in bad.output
