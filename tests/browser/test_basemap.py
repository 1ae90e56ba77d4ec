"""The console map in a real browser: the district's own basemap, case filters kept in the
address, and the card of the grid clicked (issue 17: 6 and the map part of 3)."""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry import shape

from tests.browser.conftest import shot

pytestmark = pytest.mark.browser

MAP = "document.getElementById('map').dataset"
# Colours sampled from every loaded basemap tile (a grey, empty tile has one).
TILE_COLOURS = """() => {
  const tiles = [...document.querySelectorAll('#map img.leaflet-tile-loaded')].filter(i => i.naturalWidth > 0);
  const c = document.createElement('canvas'); c.width = 256; c.height = 256;
  const ctx = c.getContext('2d', {willReadFrequently: true});
  const colours = new Set();
  for (const img of tiles) {
    ctx.clearRect(0, 0, 256, 256); ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, 256, 256).data;
    for (let k = 0; k < d.length; k += 4 * 61) colours.add(`${d[k]},${d[k + 1]},${d[k + 2]}`);
  }
  return {tiles: tiles.length, colours: colours.size};
}"""


def test_the_map_shows_its_basemap_keeps_its_filters_and_opens_the_grid_card(new_page):
    page = new_page("admin")
    page.goto("/console/map")
    page.wait_for_function(f"{MAP}.grids > 0 && {MAP}.cases !== undefined")
    assert page.get_attribute("#map", "data-basemap") == "mbtiles"
    page.wait_for_function("document.querySelectorAll('#map img.leaflet-tile-loaded').length > 0")
    seen = page.evaluate(TILE_COLOURS)
    assert seen["tiles"] > 0 and seen["colours"] > 5, seen  # land, roads, water… not one grey
    assert "本区基础数据" in page.inner_text(".leaflet-control-attribution")

    # By default only open cases; the red ones alone are fewer, and a reload keeps the filter.
    open_cases = int(page.get_attribute("#map", "data-cases"))
    root = page.evaluate("new URLSearchParams(location.search).get('division')")
    red = page.request.get(f"/web/api/map/cases?division={root}&status=open&light=red").json()
    assert 0 < len(red["features"]) < open_cases, "the demo month has late and timely open cases"
    page.check("input[name=light][value=red]")
    page.wait_for_function(f"+{MAP}.cases === {len(red['features'])}")
    assert "light=red" in page.url
    page.reload()
    page.wait_for_function(f"{MAP}.grids > 0 && +{MAP}.cases === {len(red['features'])}")
    assert page.is_checked("input[name=light][value=red]")
    assert not page.is_checked("input[name=light][value=green]")

    # A community drawn with its outline on top: a click inside one of its grids opens the card.
    community = page.request.get("/api/v1/divisions?level=community").json()[0]["code"]
    page.goto(f"/console/map?division={community}&cases=0")
    page.wait_for_function(
        f"{MAP}.grids > 0 && document.getElementById('div-name').textContent.includes('{community}')"
    )
    layer = page.request.get(f"/web/api/map/layer?division={community}&layer=social").json()
    grid = next(f for f in layer["features"] if f["properties"]["type"] == "grid")
    inside = shapely.point_on_surface(shape(grid["geometry"]))
    x, y = page.evaluate(
        "([lat, lon]) => { const p = WG.map.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
        [inside.y, inside.x],
    )
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    card = page.locator("[data-testid=grid-card]")
    card.wait_for()
    assert page.inner_text("[data-testid=grid-card-code]") == grid["properties"]["code"]
    assert "网格员" in card.inner_text() and "未结案卷" in card.inner_text()
    link = page.get_attribute("[data-testid=grid-card-cases]", "href")
    assert f"grid={grid['properties']['code']}" in link
    shot(page, "console-map-basemap")
