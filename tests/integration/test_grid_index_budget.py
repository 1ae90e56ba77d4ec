"""Grid indexes of many counties within a memory budget (issue 20: a province per worker).

Three counties side by side, each with a fine social grid layer. With a budget that holds two
counties' indexes, locating in the third drops the least recently used one; a point of one
county never builds another county's index once that one's extent is known; every answer
stays exact whatever was dropped. SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from shapely.geometry import MultiPolygon, box

from wangge.divisions.service import DivisionIn, load_divisions
from wangge.grids import locating
from wangge.grids.service import GridIn, add_grids, new_version
from wangge.grids.versions import activate_version

COUNTIES = ("110101", "110102", "110105")
X0, Y0, SIDE, N = 116.2, 39.8, 0.04, 12  # each county a 12 × 12 grid of cells


def _county_box(i: int):  # type: ignore[no-untyped-def]
    return box(X0 + i * SIDE, Y0, X0 + (i + 1) * SIDE, Y0 + SIDE)


def _cell(i: int, row: int, col: int):  # type: ignore[no-untyped-def]
    d = SIDE / N
    x, y = X0 + i * SIDE + col * d, Y0 + row * d
    return box(x, y, x + d, y + d)


@pytest.fixture
def province(session) -> Iterator[object]:  # type: ignore[no-untyped-def]
    for i, county in enumerate(COUNTIES):
        street, community = f"{county}001", f"{county}001001"
        load_divisions(
            session,
            [
                DivisionIn(county, f"县{i}", _county_box(i)),
                DivisionIn(street, f"街道{i}", _county_box(i)),
                DivisionIn(community, f"社区{i}", _county_box(i)),
            ],
        )
        version = new_version(session, county, "social", "v1")
        cells = [
            GridIn(kind="basic", geom=_cell(i, r, c), community_code=community)
            for r in range(N)
            for c in range(N)
        ]
        add_grids(session, version, cells, width=3)
        activate_version(session, version.id)
    session.flush()
    locating.clear_cache()
    yield session
    locating.set_budget(0)
    locating.clear_cache()


def _centre(i: int, row: int, col: int) -> tuple[float, float]:
    c = _cell(i, row, col).centroid
    return c.x, c.y


def _where(session, i: int, row: int = 3, col: int = 5) -> str:  # type: ignore[no-untyped-def]
    lon, lat = _centre(i, row, col)
    ref = locating.locate_refs(session, lon, lat)["social"]
    assert ref is not None
    return ref.code


def test_a_budget_keeps_the_counties_in_use_and_answers_stay_exact(province):
    session = province
    # Measure one county's index, then allow two and a half.
    _where(session, 0)
    size = locating.cached_bytes()
    assert size > 0
    locating.clear_cache()
    locating.set_budget(2.5 * size / 2**20)

    codes = {i: _where(session, i) for i in (0, 1)}
    built = locating.builds
    assert locating.cached_bytes() <= 2.5 * size
    codes[2] = _where(session, 2)  # a third county: the least recently used (0) is dropped
    assert locating.builds == built + 1 and locating.evictions >= 1
    assert locating.cached_bytes() <= 2.5 * size

    # County 1 is still cached; county 0 is rebuilt when a point of it comes again.
    built = locating.builds
    assert _where(session, 1) == codes[1] and locating.builds == built
    assert _where(session, 0) == codes[0] and locating.builds == built + 1
    # Exact wherever the index came from: every cell of county 0 still maps to its grid.
    seen = {_where(session, 0, r, c) for r in range(0, N, 3) for c in range(0, N, 3)}
    assert len(seen) == 16 and all(code.startswith("110101001001") for code in seen)


def test_the_start_up_warm_up_leaves_half_the_budget_to_the_counties_requests_ask_for(province):
    """A province's worker does not know at start which counties it will serve: the warm-up
    fills half the budget, so the first requests of other counties evict nothing."""
    session = province
    _where(session, 0)
    size = locating.cached_bytes()
    locating.clear_cache()
    locating.set_budget(3 * size / 2**20)

    assert locating.warm(session) == 2  # the whole budget would have taken all three
    held = locating.cached_bytes()
    assert size * 1.5 <= held <= size * 2.5
    evicted = locating.evictions
    codes = {i: _where(session, i) for i in range(len(COUNTIES))}
    assert locating.evictions == evicted and len(set(codes.values())) == len(COUNTIES)

    locating.clear_cache()
    locating.set_budget(0)  # no budget (a district): everything is warmed
    assert locating.warm(session) == len(COUNTIES)


def test_a_point_never_builds_another_countys_index_once_its_extent_is_known(province):
    session = province
    for i in range(3):
        _where(session, i)
    locating.set_budget(1e-6)  # keeps only the index in hand
    for i in range(3):  # each drops the previous one
        _where(session, i)
    built = locating.builds
    for _ in range(5):  # county 2 again and again: only its own index is looked at
        assert _where(session, 2).startswith("110105")
    assert locating.builds == built  # still cached: the others were skipped by extent


def test_a_grid_edited_beyond_its_countys_old_extent_is_found_within_a_second(province):
    import time
    from datetime import timedelta

    from sqlalchemy import select

    from wangge.common.models import utcnow
    from wangge.grids.models import Grid, GridVersion

    session = province
    for i in range(3):
        _where(session, i)
    edge = X0 + 3 * SIDE  # the east edge of the last county
    grid = session.scalars(
        select(Grid)
        .join(GridVersion, GridVersion.id == Grid.version_id)
        .where(GridVersion.county_code == COUNTIES[2])
        .order_by(Grid.code)
    ).first()
    grid.geom = MultiPolygon([box(edge - SIDE / N, Y0, edge + SIDE / N, Y0 + SIDE / N)])  # past it
    grid.minx, grid.maxx = edge - SIDE / N, edge + SIDE / N
    grid.updated_at = utcnow() + timedelta(seconds=1)
    session.flush()
    lon, lat = edge + SIDE / (2 * N), Y0 + SIDE / (2 * N)
    time.sleep(1.1)  # the extent is checked against the grids at most once a second
    found = locating.locate_refs(session, lon, lat)["social"]
    assert found is not None and found.code == grid.code
