"""The console map's 部件 and 房屋 layers in a real browser: clusters with counts, zoom, popups."""

from __future__ import annotations

import pytest

from tests.browser.conftest import shot

pytestmark = pytest.mark.browser

MAP = "document.getElementById('map').dataset"


def _counts(page) -> list[int]:
    return [int(t.replace(",", "")) for t in page.locator(".wg-cluster").all_inner_texts()]


def _click_biggest_cluster(page) -> None:
    counts = _counts(page)
    page.locator(".wg-cluster").nth(counts.index(max(counts))).click()


def test_toggling_components_shows_cluster_counts_and_clicking_zooms_in(new_page):
    page = new_page("admin")
    page.goto("/console/map")
    page.wait_for_function(f"{MAP}.grids > 0")
    assert page.locator(".wg-cluster").count() == 0  # off until asked for
    page.check("#show-components")
    page.wait_for_function(f"{MAP}.componentsMode === 'clusters'")
    counts = _counts(page)
    total = int(page.get_attribute("#map", "data-components-total"))
    # The demo district has ~3,100 components; every one is in exactly one cluster.
    assert len(counts) > 3 and sum(counts) == total > 2500
    assert page.locator("#component-class option").count() >= 7  # 全部大类 + six major classes
    assert "部件" in page.inner_text("#components-stats")
    timing = page.evaluate("WG.mapLayers.components")
    assert timing["fetchMs"] >= 0 and timing["drawMs"] >= 0
    shot(page, "console-map-components")

    # Clicking a cluster zooms in around it; a few clicks later the points themselves show.
    for _ in range(8):
        if page.get_attribute("#map", "data-components-mode") == "points":
            break
        zoom = int(page.get_attribute("#map", "data-components-zoom"))
        _click_biggest_cluster(page)
        page.wait_for_function(f"+{MAP}.componentsZoom > {zoom}")
    assert page.get_attribute("#map", "data-components-mode") == "points"
    assert page.locator(".wg-cluster").count() == 0

    # A point's popup: code, class, state and grid.
    x, y, code = page.evaluate(
        """() => {
          const size = WG.map.getSize();
          for (const p of WG.mapLayers.components.points) {
            const c = WG.map.latLngToContainerPoint([p.lat, p.lon]);
            if (c.x > 40 && c.y > 40 && c.x < size.x - 40 && c.y < size.y - 40) return [c.x, c.y, p.code];
          }
          return null;
        }"""
    )
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    text = popup.inner_text()
    assert code in text and "状态" in text and "所在网格" in text


def test_the_class_filter_and_the_houses_layer(new_page):
    page = new_page("admin")
    page.goto("/console/map")
    page.wait_for_function(f"{MAP}.grids > 0")
    page.check("#show-components")
    page.wait_for_function(f"{MAP}.componentsMode === 'clusters'")
    everything = int(page.get_attribute("#map", "data-components-total"))
    page.select_option("#component-class", "02")
    page.wait_for_function(f"+{MAP}.componentsTotal < {everything}")
    only = int(page.get_attribute("#map", "data-components-total"))
    assert only > 0 and sum(_counts(page)) == only
    page.uncheck("#show-components")
    page.wait_for_function(f"!{MAP}.componentsMode")
    assert page.locator(".wg-cluster").count() == 0

    page.check("#show-buildings")
    page.wait_for_function(f"{MAP}.buildingsMode === 'clusters'")
    buildings = int(page.get_attribute("#map", "data-buildings-total"))
    assert sum(_counts(page)) == buildings > 300  # the demo's ~460 buildings
