/* Console map: the place search box (门牌, roads, communities, grids, cameras) pans the map to
   the place picked and marks it. */
(function () {
  const $ = id => document.getElementById(id);
  if (!$('place-q') || !WG.placeSearch || !WG.map) return;
  const ZOOM = {building: 18, camera: 18, unit_grid: 17, road: 16, grid: 16, community: 15, street: 14};
  let marker = null;
  $('place-form').addEventListener('submit', ev => ev.preventDefault());
  WG.placeSearch({
    input: $('place-q'), list: $('place-hits'), status: $('place-status'),
    crs: () => (WG.basemapCrs ? WG.basemapCrs() : 'EPSG:4490'),
    near: () => { const c = WG.map.getCenter(); return [c.lng, c.lat]; },  // in the basemap's system
    onPick(p) {
      $('place-q').value = p.name;
      WG.map.setView([p.lat, p.lon], ZOOM[p.kind] || 16);
      if (marker) marker.remove();
      marker = L.circleMarker([p.lat, p.lon], {radius: 9, color: '#c2255c', weight: 3, fillOpacity: 0.2,
        renderer: WG.mapRenderer, interactive: false}).addTo(WG.map);
      $('place-status').textContent = `${p.name} · ${p.address}`;
      $('place-status').dataset.picked = p.name;
    },
  });
})();
