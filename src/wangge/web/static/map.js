/* Console map: drill-down 区 → 街道 → 社区 → 网格, grid and case layers, search. */
(function () {
  const el = document.getElementById('map');
  const crs = el.dataset.crs || 'EPSG:4490';
  const map = L.map('map', {preferCanvas: true, zoomSnap: 0.25, attributionControl: true});
  window.WG.map = map;  // other layers of the page (map_points.js) draw on the same map
  if (el.dataset.basemap) {
    L.tileLayer(el.dataset.basemap, {maxZoom: 19, attribution: el.dataset.attribution || ''}).addTo(map);
  }
  const renderer = L.canvas({padding: 0.2});
  window.WG.mapRenderer = renderer;  // one canvas for every vector layer: a second one on top would take all clicks
  const LIGHT = {green: '#1e8e3e', yellow: '#f2a900', red: '#d93025', closed: '#8a94a6'};
  let layer = 'social', divisionLayer = null, gridLayer = null, caseLayer = null, current = null;
  const stack = [];
  const stats = document.getElementById('map-stats');
  const info = document.getElementById('info');

  async function getJSON(url) {
    const r = await fetch(url, {credentials: 'same-origin'});
    if (r.status === 401) { location.href = '/login?next=/console/map'; throw new Error('login'); }
    if (!r.ok) throw new Error('HTTP ' + r.status);
    return r.json();
  }

  async function load(code, fit) {
    const t0 = performance.now();
    const data = await getJSON(`/web/api/map/layer?division=${code}&layer=${layer}&crs=${encodeURIComponent(crs)}`);
    const t1 = performance.now();
    current = data.division;
    if (divisionLayer) map.removeLayer(divisionLayer);
    if (gridLayer) map.removeLayer(gridLayer);
    const divs = data.features.filter(f => f.properties.type === 'division');
    // Many grids (a whole district) come as one mesh feature: one layer, not clickable;
    // drilling down to a street or community gives clickable grids.
    const grids = data.features.filter(f => f.properties.type === 'grid' || f.properties.type === 'grid-mesh');
    gridLayer = L.geoJSON({type: 'FeatureCollection', features: grids}, {
      renderer,
      interactive: grids.some(f => f.properties.type === 'grid'),
      style: () => ({color: '#3b6fb6', weight: 0.8, fillColor: '#9cc3ff', fillOpacity: 0.12}),
      onEachFeature: (f, lyr) => { if (f.properties.type === 'grid') lyr.on('click', () => showGrid(f.properties, lyr)); },
    });
    divisionLayer = L.geoJSON({type: 'FeatureCollection', features: divs}, {
      renderer,
      style: f => f.properties.self ? {color: '#0b2447', weight: 3, fill: false}
                                   : {color: '#e8590c', weight: 2, fillOpacity: 0.02},
      onEachFeature: (f, lyr) => {
        if (!f.properties.self) {
          lyr.bindTooltip(f.properties.name, {sticky: true});
          lyr.on('click', () => { stack.push(current); load(f.properties.code, true); });
        }
      },
    });
    // Fit first, then add: adding at the old view and fitting after would project and draw
    // every grid twice.
    if (fit && divisionLayer.getBounds().isValid()) map.fitBounds(divisionLayer.getBounds(), {animate: false});
    gridLayer.addTo(map);
    divisionLayer.addTo(map);
    // Time to first render: from navigation start until the frame after the layer was drawn.
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    const t2 = performance.now();
    if (!window.WG.mapFirstRenderMs) {
      window.WG.mapFirstRenderMs = Math.round(t2);
      window.WG.mapFetchMs = Math.round(t1 - t0);
      window.WG.mapDrawMs = Math.round(t2 - t1);
    }
    el.dataset.grids = String(data.grid_count);
    stats.textContent = `${data.division.name}：${data.grid_count} ${WG.t('个网格', 'grids')}，${Math.round(t2 - t0)} ms`;
    document.getElementById('div-name').textContent = `${data.division.name} (${data.division.code})`;
    crumbs();
    loadCases();
  }

  function crumbs() {
    const c = document.getElementById('crumbs');
    c.innerHTML = '';
    if (current && current.parent) {
      const a = document.createElement('a'); a.href = '#'; a.textContent = '↑ ' + WG.t('返回上级', 'Up one level');
      a.addEventListener('click', ev => { ev.preventDefault(); stack.pop(); load(current.parent, true); });
      c.appendChild(a);
    }
  }

  let caseSeq = 0;
  async function loadCases() {
    const seq = ++caseSeq;
    if (caseLayer) { map.removeLayer(caseLayer); caseLayer = null; }
    if (!document.getElementById('show-cases').checked || !current) return;
    const data = await getJSON(`/web/api/map/cases?division=${current.code}&crs=${encodeURIComponent(crs)}`);
    // Unticked, or asked again, while the request ran: only the latest call draws (an older
    // one would leave points no later call removes).
    if (seq !== caseSeq || !document.getElementById('show-cases').checked) return;
    caseLayer = L.geoJSON(data, {
      pointToLayer: (f, ll) => L.circleMarker(ll, {renderer, radius: 4, weight: 1, color: '#fff',
        fillColor: LIGHT[f.properties.light] || '#1d5fbf', fillOpacity: 0.9}),
      onEachFeature: (f, lyr) => lyr.bindPopup(
        `<a href="/console/cases/${f.properties.id}">${WG.esc(f.properties.code)}</a><br>${WG.esc(WG.label('state', f.properties.state))}<br>${WG.esc(f.properties.address || '')}`),
    }).addTo(map);
    el.dataset.cases = String(data.features.length);
  }

  function showGrid(p, lyr) {
    info.innerHTML = `<div class="card"><b>${WG.esc(p.name)}</b><br>${WG.t('网格编码', 'Grid code')}: ${WG.esc(p.code)}<br>` +
      `<a href="/console/cases?queue=all${layer === 'social' ? '&grid=' + encodeURIComponent(p.code) : ''}">${WG.t('案卷', 'Cases')}</a></div>`;
    map.fitBounds(lyr.getBounds(), {maxZoom: 17});
  }

  document.querySelectorAll('input[name=layer]').forEach(r => r.addEventListener('change', () => {
    layer = r.value; load(current.code, false);
  }));
  document.getElementById('show-cases').addEventListener('change', loadCases);
  document.getElementById('search-form').addEventListener('submit', async ev => {
    ev.preventDefault();
    const q = document.getElementById('search').value.trim();
    const ul = document.getElementById('hits');
    ul.innerHTML = '';
    if (!q) return;
    const hits = await getJSON('/web/api/search?q=' + encodeURIComponent(q) + '&crs=' + encodeURIComponent(crs));
    if (!hits.length) ul.innerHTML = `<li class="muted">${WG.t('没有结果', 'No result')}</li>`;
    for (const h of hits) {
      const li = document.createElement('li');
      li.textContent = `[${({division: WG.t('区划', 'division'), grid: WG.t('网格', 'grid'), case: WG.t('案卷', 'case')})[h.kind]}] ${h.code} ${h.name || ''}`;
      li.addEventListener('click', async () => {
        if (h.kind === 'case') { location.href = h.url; return; }
        if (h.kind === 'division') { await load(h.code, true); return; }
        await load(h.division, false);
        if (h.bounds) map.fitBounds([[h.bounds[1], h.bounds[0]], [h.bounds[3], h.bounds[2]]], {maxZoom: 17});
      });
      ul.appendChild(li);
    }
  });
  map.setView([39.96, 116.3], 12);
  // A layer the server refuses leaves a message, not an uncaught error and a blank page.
  load(el.dataset.root, true).catch(err => {
    stats.textContent = WG.t('地图加载失败：', 'The map could not load: ') + err.message;
  });
})();
