"""`GET /api/v1/places` and `/api/v1/places/reverse` through the app: contract, scope, errors."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from tests.case_factories import ACCEPTOR, CITIZEN, FAR_SUPERVISOR, LAT, LON, person, report
from tests.factories import DY, Y0
from tests.places_support import NEAR_LAT, NEAR_LON, OTHER_LAT, OTHER_LON, add_places
from wangge.auth.principal import ANONYMOUS
from wangge.common.geo import wgs84_to_gcj02
from wangge.common.models import utcnow
from wangge.divisions.models import Division
from wangge.grids.locating import locate_point


class ByTestId(HTMLParser):
    """The text of every element with a data-testid (spaces collapsed)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.text: dict[str, str] = {}
        self._open: list[tuple[str | None, list[str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("input", "br", "img", "meta", "link", "i"):
            self._open.append((dict(attrs).get("data-testid"), []))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("input", "br", "img", "meta", "link", "i") or not self._open:
            return
        tid, parts = self._open.pop()
        text = " ".join("".join(parts).split())
        if tid:
            self.text[tid] = text
        if self._open:
            self._open[-1][1].append(" " + "".join(parts) + " ")

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][1].append(data)


STREET1_USER = person(20, "dispatcher", scope={"110108001"})
FIELDS = {"name", "kind", "address", "lon", "lat", "grid_code", "community_name"}


@pytest.fixture
def places(web, session):
    add_places(session)
    session.commit()
    return web


def _search(c, q, **params):
    return c.get("/api/v1/places", params={"q": q, **params})


def test_search_returns_the_contract_of_a_house_number(places, session):
    c, holder = places
    holder["who"] = ACCEPTOR
    r = _search(c, "幸福路12")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert set(items[0]) == FIELDS
    hit = items[0]
    assert hit["name"] == "幸福路12号" and hit["kind"] == "building"
    assert hit["lon"] == pytest.approx(NEAR_LON, abs=1e-6)
    assert hit["lat"] == pytest.approx(NEAR_LAT, abs=1e-6)
    grid = locate_point(session, NEAR_LON, NEAR_LAT)["social"]
    assert hit["grid_code"] == grid.code
    community = session.get(Division, "110108001001")
    assert hit["community_name"] == community.name
    assert hit["address"].endswith("幸福路12号") and community.name in hit["address"]


def test_search_finds_roads_communities_streets_and_grid_codes_by_part(places, session):
    c, holder = places
    holder["who"] = ACCEPTOR
    kinds = {i["kind"] for i in _search(c, "幸福").json()["items"]}
    assert {"road", "building"} <= kinds
    assert _search(c, "七里").json()["items"][0] == {
        **_search(c, "七里街").json()["items"][0],
    }
    street = session.get(Division, "110108001")
    assert _search(c, street.name[:2]).json()["items"][0]["kind"] == "street"
    grid = locate_point(session, LON, LAT)["social"]
    codes = [i["grid_code"] for i in _search(c, grid.code[:13]).json()["items"]]
    assert grid.code in codes and all(code.startswith(grid.code[:13]) for code in codes if code)
    assert len(_search(c, "幸福", limit=1).json()["items"]) == 1


def test_a_user_of_one_street_does_not_find_places_of_another(places):
    c, holder = places
    holder["who"] = STREET1_USER
    names = [i["name"] for i in _search(c, "幸福路", limit=50).json()["items"]]
    assert "幸福路12号" in names and "幸福路88号" not in names
    holder["who"] = FAR_SUPERVISOR  # community 110108002001, in the other street
    names = [i["name"] for i in _search(c, "幸福路", limit=50).json()["items"]]
    assert "幸福路88号" in names and "幸福路12号" not in names
    holder["who"] = STREET1_USER  # street 001 is the south half of the test world
    items = _search(c, "社区", limit=50).json()["items"]
    assert {i["kind"] for i in items} >= {"community", "grid"}
    # (幸福路 runs through both streets: it is found, with its middle on the border.)
    assert all(i["lat"] < Y0 + DY for i in items if i["kind"] != "road")
    assert all(i["grid_code"].startswith("110108001") for i in items if i["grid_code"])


@pytest.mark.parametrize(
    ("params", "field"),
    [({}, "q"), ({"q": "幸"}, "q"), ({"q": "  幸 "}, "q"), ({"q": "幸福", "limit": 0}, "limit")],
)
def test_a_missing_or_too_short_query_is_refused_in_both_languages(places, params, field):
    c, holder = places
    holder["who"] = ACCEPTOR
    r = c.get("/api/v1/places", params=params)
    assert r.status_code == 422
    body = r.json()
    assert body.get("field") == field or field in str(body)
    assert body["detail"] and body["detail_en"]


def test_citizens_find_nothing_and_anonymous_callers_are_refused(places):
    c, holder = places
    holder["who"] = CITIZEN  # may report, but holds no area
    r = _search(c, "幸福路")
    assert r.status_code == 200 and r.json()["items"] == []
    holder["who"] = ANONYMOUS
    assert _search(c, "幸福路").status_code in (401, 403)
    assert c.get("/api/v1/places/reverse", params={"lon": LON, "lat": LAT}).status_code in (
        401,
        403,
    )


def test_reverse_gives_road_building_community_and_grid(places, session):
    c, holder = places
    holder["who"] = ACCEPTOR
    r = c.get("/api/v1/places/reverse", params={"lon": NEAR_LON, "lat": NEAR_LAT})
    assert r.status_code == 200, r.text
    body = r.json()
    grid = locate_point(session, NEAR_LON, NEAR_LAT)["social"]
    assert body["road"] == "幸福路" and 25 < body["road_distance_m"] < 45
    assert body["building"] == "幸福路12号" and body["building_distance_m"] < 1
    assert body["community"] == {"code": "110108001001", "name": "社区001"}
    assert body["street"]["code"] == "110108001"
    assert body["grid"] == {"code": grid.code, "name": grid.name}
    assert body["unit_grid"] is None  # the test world has no unit grid layer
    assert body["address"].startswith(session.get(Division, "110108001").name)
    # A phone's GCJ-02 position of the same spot gives the same place.
    x, y = wgs84_to_gcj02(NEAR_LON, NEAR_LAT)
    r2 = c.get("/api/v1/places/reverse", params={"lon": x, "lat": y, "crs": "GCJ-02"})
    assert r2.json()["building"] == "幸福路12号"


def test_reverse_outside_the_district_is_refused_with_a_clear_error(places):
    c, holder = places
    holder["who"] = ACCEPTOR
    r = c.get("/api/v1/places/reverse", params={"lon": 117.5, "lat": 40.5})
    assert r.status_code == 422
    assert r.json()["code"] == "outside_district" and "不在" in r.json()["detail"]
    missing = c.get("/api/v1/places/reverse", params={"lon": NEAR_LON})
    assert missing.status_code == 422


def test_reverse_answers_a_street_user_anywhere_in_his_county(places):
    c, holder = places
    holder["who"] = STREET1_USER
    r = c.get("/api/v1/places/reverse", params={"lon": OTHER_LON, "lat": OTHER_LAT})
    assert r.status_code == 200 and r.json()["community"]["code"] == "110108002001"


def test_search_gives_positions_in_the_basemaps_system_when_asked(places):
    c, holder = places
    holder["who"] = ACCEPTOR
    plain = _search(c, "幸福路12").json()["items"][0]
    shifted = _search(c, "幸福路12", crs="GCJ-02").json()["items"][0]
    x, y = wgs84_to_gcj02(plain["lon"], plain["lat"])
    assert shifted["lon"] == pytest.approx(float(x), abs=1e-6)
    assert shifted["lat"] == pytest.approx(float(y), abs=1e-6)
    bad = _search(c, "幸福路12", crs="EPSG:99999")
    assert bad.status_code == 422 and bad.json()["code"] == "bad_crs"


def test_the_case_page_and_list_show_the_address_street_community_and_grid(places, session):
    c, holder = places
    case = report(session, lon=NEAR_LON, lat=NEAR_LAT, at=utcnow())
    session.commit()
    holder["who"] = ACCEPTOR
    page = ByTestId(c.get(f"/console/cases/{case.id}").text).text
    grid = locate_point(session, NEAR_LON, NEAR_LAT)["social"]
    street = session.get(Division, "110108001")
    community = session.get(Division, "110108001001")
    assert "幸福路12号附近" in page["case-address"]
    shown = {tid: page.get(tid) for tid in ("place-street", "place-community", "place-grid")}
    assert shown == {
        "place-street": f"{street.name} {street.code}",
        "place-community": f"{community.name} {community.code}",
        "place-grid": f"{grid.name} {grid.code}",
    }
    assert "place-unit-grid" not in page  # the test world has no unit grid layer
    listing = c.get("/console/cases", params={"queue": "all"}).text
    assert case.address in listing
    en = c.get(f"/console/cases/{case.id}?lang=en").text
    assert '<th>Street</th><td data-testid="place-street"' in en
    assert '<th>Grid</th><td data-testid="place-grid"' in en
