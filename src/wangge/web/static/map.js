/* Console map: drill-down 区 → 街道 → 社区 → 网格, grid and case layers, search, the basemap,
   case filters (light, open/closed) kept in the address, and the card of the grid clicked. */
(function () {
  const el = document.getElementById('map');
  const crs = el.dataset.crs || 'EPSG:4490';
  const map = L.map('map', {preferCanvas: true, zoomSnap: 0.25, attributionControl: true});
  window.WG.map = map;  // other layers of the page (map_points.js) draw on the same map
  WG.addBasemap(map);
  const renderer = L.canvas({padding: 0.2});
  window.WG.mapRenderer = renderer;  // one canvas for every vector layer: a second one on top would take all clicks
  // Case markers: one colour per light, grey once closed, blue while no clock runs.
  const LIGHT = {green: '#1e8e3e', yellow: '#f2a900', red: '#d93025', closed: '#8a94a6', none: '#1d5fbf'};
  const $ = id => document.getElementById(id);
  const stack = [];
  const stats = $('map-stats');

  // The page's state lives in its address, so a reload or a shared link shows the same map.
  const query = new URLSearchParams(location.search);
  const STATUSES = ['open', 'closed', 'all'];
  let layer = query.get('layer') === 'unit' ? 'unit' : 'social';
  let divisionLayer = null, gridLayer = null, caseLayer = null, cameraLayer = null, current = null;
  document.querySelectorAll('input[name=layer]').forEach(r => { r.checked = r.value === layer; });
  $('show-cases').checked = query.get('cases') !== '0';
  $('show-cameras').checked = query.get('cameras') === '1';
  $('case-status').value = STATUSES.includes(query.get('status')) ? query.get('status') : 'open';
  const wanted = (query.get('light') || '').split(',').filter(Boolean);
  document.querySelectorAll('input[name=light]').forEach(b => { b.checked = wanted.includes(b.value); });
  for (const kind of ['components', 'buildings']) {
    const box = $('show-' + kind);
    if (box && query.get(kind) === '1') box.checked = true;
  }

  function lights() {
    return [...document.querySelectorAll('input[name=light]:checked')].map(b => b.value);
  }

  /** Write the map's state into the address (no reload, no history entry per click). */
  function remember() {
    const q = new URLSearchParams();
    if (current) q.set('division', current.code);
    if (layer !== 'social') q.set('layer', layer);
    if (!$('show-cases').checked) q.set('cases', '0');
    if ($('show-cameras').checked) q.set('cameras', '1');
    const status = $('case-status').value;
    if (status !== 'open') q.set('status', status);
    if (lights().length) q.set('light', lights().join(','));
    for (const kind of ['components', 'buildings']) {
      const box = $('show-' + kind);
      if (box && box.checked) q.set(kind, '1');
    }
    const cls = $('component-class');
    if (cls && cls.value) q.set('class', cls.value);
    const text = q.toString();
    history.replaceState(null, '', location.pathname + (text ? '?' + text : ''));
    WG.mapQuery = text;
  }
  WG.rememberMap = remember;  // map_points.js calls it when its controls change

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
    // Many grids (a whole district) come as one mesh feature. Grids take no clicks of their
    // own: a click anywhere asks the server for the grid there (the grid card, below).
    const grids = data.features.filter(f => f.properties.type === 'grid' || f.properties.type === 'grid-mesh');
    gridLayer = L.geoJSON({type: 'FeatureCollection', features: grids}, {
      renderer, interactive: false,
      style: () => ({color: '#3b6fb6', weight: 0.8, fillColor: '#9cc3ff', fillOpacity: 0.12}),
    });
    divisionLayer = L.geoJSON({type: 'FeatureCollection', features: divs}, {
      renderer,
      style: f => f.properties.self ? {color: '#0b2447', weight: 3, fill: false}
                                   : {color: '#e8590c', weight: 2, fillOpacity: 0.02},
      onEachFeature: (f, lyr) => {
        if (f.properties.self) {
          lyr.options.interactive = false;  // the outline drawn on top must not take the clicks
        } else {
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
    $('div-name').textContent = `${data.division.name} (${data.division.code})`;
    crumbs();
    remember();
    loadCases();
    loadCameras();
  }

  function crumbs() {
    const c = $('crumbs');
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
    const status = $('case-status').value;
    // Lights are clocks of open cases: with "closed" they do not apply.
    document.querySelectorAll('input[name=light]').forEach(b => { b.disabled = status === 'closed'; });
    remember();
    if (caseLayer) { map.removeLayer(caseLayer); caseLayer = null; }
    if (!$('show-cases').checked || !current) { delete el.dataset.cases; return; }
    const q = new URLSearchParams({division: current.code, crs, status});
    if (status !== 'closed') for (const l of lights()) q.append('light', l);
    const data = await getJSON('/web/api/map/cases?' + q.toString());
    // Unticked, or asked again, while the request ran: only the latest call draws (an older
    // one would leave points no later call removes).
    if (seq !== caseSeq || !$('show-cases').checked) return;
    caseLayer = L.geoJSON(data, {
      pointToLayer: (f, ll) => L.circleMarker(ll, {renderer, radius: 4, weight: 1, color: '#fff',
        fillColor: LIGHT[f.properties.light || 'none'], fillOpacity: 0.9, bubblingMouseEvents: false}),
      onEachFeature: (f, lyr) => lyr.bindPopup(
        `<a href="/console/cases/${f.properties.id}">${WG.esc(f.properties.code)}</a><br>${WG.esc(WG.label('state', f.properties.state))}<br>${WG.esc(f.properties.address || '')}`),
    }).addTo(map);
    el.dataset.cases = String(data.features.length);
    $('case-count').textContent = `${WG.t('显示案卷', 'Cases shown')}: ${data.features.length}`;
  }

  let cameraSeq = 0;
  async function loadCameras() {
    const seq = ++cameraSeq;
    remember();
    if (cameraLayer) { map.removeLayer(cameraLayer); cameraLayer = null; }
    if (!$('show-cameras').checked || !current) { delete el.dataset.cameras; return; }
    const data = await getJSON(`/web/api/map/cameras?division=${current.code}&crs=${encodeURIComponent(crs)}`);
    if (seq !== cameraSeq || !$('show-cameras').checked) return;
    cameraLayer = L.geoJSON(data, {
      pointToLayer: (f, ll) => L.circleMarker(ll, {renderer, radius: 3.5, weight: 1, color: '#fff',
        fillColor: '#212529', fillOpacity: 0.95, bubblingMouseEvents: false}),
      onEachFeature: (f, lyr) => lyr.bindPopup(`<b>${WG.esc(f.properties.name)}</b><br>${WG.t('编号', 'Key')}: ${WG.esc(f.properties.key)}` +
        (f.properties.grid ? `<br>${WG.t('所在网格', 'Grid')}: ${WG.esc(f.properties.grid)}` : '')),
    }).addTo(map);
    el.dataset.cameras = String(data.features.length);
  }

  // ---- the grid card: a click anywhere inside a grid ------------------------------------
  function gridCardHtml(d) {
    const g = d.grid;
    const place = [d.street && `${WG.t('街道', 'Street')}: ${WG.esc(d.street.name)}`,
      d.community && `${WG.t('社区', 'Community')}: ${WG.esc(d.community.name)} (${WG.esc(d.community.code)})`].filter(Boolean).join('<br>');
    const people = d.workers.length
      ? d.workers.map(w => `<li>${WG.esc(WG.t(w.post, w.post_en || w.post))} ${WG.esc(w.name)}` +
          (w.phone ? ` <a href="tel:${WG.esc(w.phone)}">${WG.esc(w.phone)}</a>` : '') + '</li>').join('')
      : `<li class="muted">${WG.t('责任人', 'Responsible')}: ${WG.esc(g.responsible_party || '—')}</li>`;
    return `<div class="grid-card" data-testid="grid-card"><b>${WG.esc(g.name || '')}</b><br>` +
      `${WG.t('网格编码', 'Grid code')}: <span data-testid="grid-card-code">${WG.esc(g.code)}</span><br>${place}` +
      `<br>${WG.t('网格员', 'Grid workers')}:<ul>${people}</ul>` +
      `${WG.t('未结案卷', 'Open cases')}: <b data-testid="grid-card-open">${d.open_cases}</b>　` +
      `${WG.t('超期', 'Overdue')}: <b class="${d.overdue ? 'late' : ''}">${d.overdue}</b><br>` +
      `<a href="${WG.esc(d.links.cases)}" data-testid="grid-card-cases">${WG.t('本网格案卷', 'Cases of this grid')}</a>` +
      (d.overdue ? ` · <a href="${WG.esc(d.links.overdue)}">${WG.t('超期案卷', 'Overdue cases')}</a>` : '') + '</div>';
  }

  let cardSeq = 0;
  map.on('click', async ev => {
    const seq = ++cardSeq;
    const q = new URLSearchParams({lon: ev.latlng.lng.toFixed(7), lat: ev.latlng.lat.toFixed(7), crs, layer});
    const r = await fetch('/web/api/map/grid-card?' + q.toString(), {credentials: 'same-origin'});
    if (seq !== cardSeq) return;
    const html = r.ok ? gridCardHtml(await r.json())
      : `<span class="muted">${r.status === 404 ? WG.t('此处没有您辖区内的网格', 'No grid of your area here') : 'HTTP ' + r.status}</span>`;
    L.popup({maxWidth: 320}).setLatLng(ev.latlng).setContent(html).openOn(map);
  });

  document.querySelectorAll('input[name=layer]').forEach(r => r.addEventListener('change', () => {
    layer = r.value; load(current.code, false);
  }));
  $('show-cases').addEventListener('change', loadCases);
  $('show-cameras').addEventListener('change', loadCameras);
  $('case-status').addEventListener('change', loadCases);
  document.querySelectorAll('input[name=light]').forEach(b => b.addEventListener('change', loadCases));
  $('search-form').addEventListener('submit', async ev => {
    ev.preventDefault();
    const q = $('search').value.trim();
    const ul = $('hits');
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
  // A division from the address (a reload, a shared link) if it is a code; else the root.
  const start = /^[0-9]{6,12}$/.test(query.get('division') || '') ? query.get('division') : el.dataset.root;
  // A layer the server refuses leaves a message, not an uncaught error and a blank page.
  load(start, true).catch(err => {
    if (start !== el.dataset.root) { load(el.dataset.root, true).catch(() => {}); return; }
    stats.textContent = WG.t('地图加载失败：', 'The map could not load: ') + err.message;
  });
})();
