/* Console map: pipelines (and other line components) drawn as lines from street zoom on,
   while the 部件 layer is shown; coloured by network, a popup with code, class and owner.
   Below street zoom the clustered 部件 layer (map_points.js) stands for them. */
(function () {
  const map = WG.map;
  const el = document.getElementById('map');
  const checkbox = document.getElementById('show-components');
  if (!map || !checkbox) return;
  const crs = el.dataset.crs || 'EPSG:4490';
  const renderer = WG.mapRenderer || L.canvas({padding: 0.2});
  const COLOURS = {water: '#1c7ed6', drainage: '#7c4a1e', power: '#e03131', telecom: '#2f9e44',
    gas: '#f59f00', heat: '#c2255c'};
  const NAMES = {water: ['给水', 'Water'], drainage: ['排水', 'Drainage'], power: ['电力', 'Power'],
    telecom: ['通信', 'Telecom'], gas: ['燃气', 'Gas'], heat: ['热力', 'Heating']};
  const group = L.layerGroup();
  let ctrl = null, timer = null, minZoom = 16;
  const select = document.getElementById('component-class');

  const legend = document.getElementById('map-legend');
  if (legend) {
    const span = document.createElement('span');
    span.id = 'pipeline-legend';
    span.innerHTML = '<br>' + WG.t('管线（街道级以上显示为线）', 'Pipelines (lines from street zoom)') + ': ' +
      Object.keys(COLOURS).map(k => `<span><i class="sw" style="border-top:3px solid ${COLOURS[k]};height:0"></i>${WG.t(NAMES[k][0], NAMES[k][1])}</span>`).join(' ');
    legend.appendChild(span);
  }

  function popup(p) {
    const net = p.network ? WG.t(NAMES[p.network][0], NAMES[p.network][1]) : '—';
    return `<b>${WG.esc(p.name || p.class_name)}</b> (${WG.esc(p.class_code)} ${WG.esc(p.class_name)})<br>` +
      `${WG.t('部件标识码', 'Component code')}: <a href="/console/registry/components/${p.id}">${WG.esc(p.code)}</a><br>` +
      `${WG.t('管线类别', 'Network')}: ${WG.esc(net)}<br>` +
      `${WG.t('权属部门', 'Owner')}: ${WG.esc(p.owner_department_code || '—')}`;
  }

  async function refresh() {
    if (ctrl) ctrl.abort();
    const z = Math.floor(map.getZoom());
    if (!checkbox.checked || z < minZoom) {
      group.clearLayers(); map.removeLayer(group);
      el.dataset.linesShown = '0'; el.dataset.linesZoom = String(z);
      return;
    }
    const b = map.getBounds().pad(0.1);
    const q = new URLSearchParams({
      bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(v => v.toFixed(6)).join(','),
      zoom: String(z), crs,
    });
    if (select && select.value) q.set('classes', select.value);
    ctrl = new AbortController();
    let data;
    try {
      const r = await fetch('/web/api/map/lines?' + q.toString(), {credentials: 'same-origin', signal: ctrl.signal});
      if (!r.ok) return;
      data = await r.json();
    } catch (e) { return; }
    minZoom = data.min_zoom || minZoom;
    group.clearLayers();
    const layer = L.geoJSON(data, {
      renderer,
      style: f => ({color: COLOURS[f.properties.network] || '#495057', weight: 4, opacity: 0.9,
        dashArray: f.properties.state && f.properties.state !== '完好' ? '6 4' : null}),
      onEachFeature: (f, l) => { l.options.bubblingMouseEvents = false; l.bindPopup(popup(f.properties)); },
    });
    group.addLayer(layer);
    group.addTo(map);
    el.dataset.linesShown = String(data.features.length);
    el.dataset.linesZoom = String(z);
    WG.mapLayers = WG.mapLayers || {};
    WG.mapLayers.lines = {zoom: z, features: data.features.map(f => ({id: f.properties.id, code: f.properties.code,
      network: f.properties.network, type: f.geometry.type, vertices: JSON.stringify(f.geometry.coordinates).split('],[').length}))};
  }
  function soon() { clearTimeout(timer); timer = setTimeout(refresh, 150); }
  checkbox.addEventListener('change', refresh);
  if (select) select.addEventListener('change', refresh);
  map.on('moveend', soon);
  if (checkbox.checked) soon();
})();
