"""Pipelines on the console map in a real browser: from street zoom on a demo gas main is drawn
as a line (all its vertices, coloured by network, with its own popup); zoomed out it is gone."""

from __future__ import annotations

import pytest

from tests.browser.conftest import shot

pytestmark = pytest.mark.browser
MAP = "document.getElementById('map').dataset"


def test_a_pipeline_is_drawn_as_a_line_at_street_zoom_and_not_below(new_page):
    page = new_page("admin")
    page.goto("/console/map")
    page.wait_for_function(f"{MAP}.grids > 0")
    found = page.request.get("/api/v1/registry/components?network=gas&limit=200").json()["items"]
    main = next(c for c in found if c["name"] == "中压燃气管线")
    coords = main["geometry"]["coordinates"]
    assert main["geometry"]["type"] == "LineString" and len(coords) >= 3
    crs = page.get_attribute("#map", "data-crs") or "EPSG:4490"
    x, y = coords[1]  # a bend of the main, away from its anchor (the midpoint)
    box = f"{x - 0.004},{y - 0.004},{x + 0.004},{y + 0.004}"
    shown = page.request.get(f"/web/api/map/lines?bbox={box}&zoom=17&crs={crs}").json()
    mine = next(f for f in shown["features"] if f["properties"]["code"] == main["code"])
    bx, by = mine["geometry"]["coordinates"][1]  # the same bend in the base map's CRS

    page.check("#show-components")
    page.evaluate("([lat, lon]) => { WG.map.setView([lat, lon], 17, {animate: false}); }", [by, bx])
    page.wait_for_function(
        "code => (WG.mapLayers.lines || {features: []}).features.some(f => f.code === code)",
        arg=main["code"],
    )
    drawn = next(
        f for f in page.evaluate("WG.mapLayers.lines.features") if f["code"] == main["code"]
    )
    assert drawn["type"] == "LineString" and drawn["network"] == "gas"
    assert drawn["vertices"] == len(coords)  # the whole line, not one anchor point
    assert "管线" in page.inner_text("#pipeline-legend")

    # Clicking on the drawn bend opens the pipeline's own popup (network and owner).
    pos = page.evaluate(
        "([lat, lon]) => { const p = WG.map.latLngToContainerPoint([lat, lon]);"
        " const r = document.getElementById('map').getBoundingClientRect();"
        " return [r.left + p.x, r.top + p.y]; }",
        [by, bx],
    )
    page.mouse.click(pos[0], pos[1])
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    text = popup.inner_text()
    assert main["code"] in text and "燃气" in text and "权属部门" in text
    shot(page, "console-map-pipeline")

    # Zoomed out below street level the lines go; the clustered 部件 layer stands for them.
    page.evaluate("() => { WG.map.setZoom(14, {animate: false}); }")
    page.wait_for_function(f"{MAP}.linesZoom === '14'")
    assert page.get_attribute("#map", "data-lines-shown") == "0"
