/* Console map: 部件 (components) and 房屋 (buildings) layers.
   The server clusters per zoom cell (a district's 1.4 million components never reach the
   browser): circles with counts at low zoom, click to zoom in; the points themselves,
   coloured by class and state, with a popup, once few enough are in view. */
(function () {
  const map = WG.map;
  const el = document.getElementById('map');
  if (!map || !document.getElementById('show-components')) return;
  const crs = el.dataset.crs || 'EPSG:4490';
  // The page's canvas: a canvas of our own above it would swallow the clicks on grids.
  const renderer = WG.mapRenderer || L.canvas({padding: 0.2});
  const MAX_ZOOM = 19;
  // Major classes of GB/T 30428.2 (01–06) and local classes (21); building purposes by hash.
  const GROUP_COLOURS = {'01': '#1d5fbf', '02': '#e8590c', '03': '#2b8a3e', '04': '#5c940d',
    '05': '#8d5524', '06': '#7048e8', '21': '#495057'};
  const PALETTE = ['#c2255c', '#1098ad', '#f08c00', '#5f3dc4', '#2f9e44', '#495057', '#d6336c', '#1864ab'];
  const STATE_COLOURS = {'完好': '#ffffff', '破损': '#f59f00', '丢失': '#e03131', '占用': '#9c36b5', '废弃': '#495057'};
  WG.mapLayers = WG.mapLayers || {};

  function colour(group) {
    if (GROUP_COLOURS[group]) return GROUP_COLOURS[group];
    let h = 0;
    for (const ch of String(group)) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
    return PALETTE[h % PALETTE.length];
  }
  const fmt = n => n.toLocaleString(WG.lang === 'en' ? 'en' : 'zh-CN');
  const groupName = g => (WG.lang === 'en' && g.name_en) ? g.name_en : g.name;

  function gridText(g) { return g ? `${WG.esc(g.code)} ${WG.esc(g.name || '')}` : '—'; }

  function componentPopup(p) {
    const state = WG.label('component_state', p.state);
    return `<b>${WG.esc(p.class_name)}</b> (${WG.esc(p.class_code)})<br>` +
      `${WG.t('部件标识码', 'Component code')}: <a href="/console/registry/components/${p.id}">${WG.esc(p.code)}</a><br>` +
      (p.name ? `${WG.t('名称', 'Name')}: ${WG.esc(p.name)}<br>` : '') +
      `${WG.t('状态', 'State')}: <span class="pt-state">${WG.esc(state)}</span><br>` +
      `${WG.t('所在网格', 'Grid')}: ${gridText(p.grid)}<br>` +
      `${WG.t('单元网格', 'Unit grid')}: ${gridText(p.unit_grid)}`;
  }

  function buildingPopup(p) {
    return `<b><a href="/console/registry/buildings/${p.id}">${WG.esc(p.name)}</a></b><br>` +
      (p.address ? `${WG.esc(p.address)}<br>` : '') +
      `${WG.t('用途', 'Use')}: ${WG.esc(p.purpose || '—')}　${WG.t('层数', 'Floors')}: ${p.floors == null ? '—' : p.floors}<br>` +
      `${WG.t('所在网格', 'Grid')}: ${gridText(p.grid)}`;
  }

  function clusterMarker(c, groups, z) {
    const d = Math.round(26 + 8 * Math.log10(Math.max(1, c.count)));
    let top = 0;
    c.groups.forEach((n, i) => { if (n > c.groups[top]) top = i; });
    const main = groups[top] ? colour(groups[top].code) : '#1d5fbf';
    const icon = L.divIcon({
      className: 'wg-cluster',
      html: `<span style="width:${d}px;height:${d}px;line-height:${d}px;border-color:${main}">${fmt(c.count)}</span>`,
      iconSize: [d, d],
    });
    const m = L.marker([c.lat, c.lon], {icon, keyboard: false, riseOnHover: true});
    const parts = c.groups.map((n, i) => n ? `${WG.esc(groupName(groups[i]))} ${fmt(n)}` : '').filter(Boolean);
    m.bindTooltip(parts.join('<br>'), {direction: 'top'});
    // Click: zoom in two levels around the cluster's mean position (its members spread out).
    m.on('click', () => map.setView([c.lat, c.lon], Math.min(z + 2, MAX_ZOOM)));
    return m;
  }

  function PointsLayer(kind, checkbox, opts) {
    const group = L.layerGroup();
    let ctrl = null, timer = null, knownGroups = null;
    const stats = document.getElementById(kind + '-stats');

    async function refresh() {
      if (ctrl) ctrl.abort();
      if (!checkbox.checked) {
        group.clearLayers(); map.removeLayer(group);
        if (stats) stats.textContent = '';
        delete el.dataset[kind + 'Mode'];
        return;
      }
      group.addTo(map);
      const b = map.getBounds().pad(0.1);
      const w = Math.max(-180, b.getWest()), s = Math.max(-90, b.getSouth());
      const e = Math.min(180, b.getEast()), n = Math.min(90, b.getNorth());
      const z = Math.min(22, Math.max(0, Math.floor(map.getZoom())));
      const classes = opts.classes ? opts.classes() : '';
      const url = `/web/api/map/${kind}?bbox=${w.toFixed(6)},${s.toFixed(6)},${e.toFixed(6)},${n.toFixed(6)}` +
        `&zoom=${z}&crs=${encodeURIComponent(crs)}` + (classes ? `&classes=${encodeURIComponent(classes)}` : '');
      ctrl = new AbortController();
      const t0 = performance.now();
      let data;
      try {
        const r = await fetch(url, {credentials: 'same-origin', signal: ctrl.signal});
        if (r.status === 401) { location.href = '/login?next=/console/map'; return; }
        if (!r.ok) throw new Error('HTTP ' + r.status);
        data = await r.json();
      } catch (err) {
        if (err.name !== 'AbortError' && stats) stats.textContent = WG.t('加载失败', 'Failed to load') + ': ' + err.message;
        return;
      }
      const t1 = performance.now();
      group.clearLayers();
      const groups = data.groups || [];
      if (!knownGroups && groups.length) { knownGroups = groups; if (opts.onGroups) opts.onGroups(groups); }
      if (data.mode === 'clusters') {
        for (const c of data.clusters) group.addLayer(clusterMarker(c, groups, z));
      } else {
        for (const p of data.points) {
          const stateColour = STATE_COLOURS[p.state];
          const marker = L.circleMarker([p.lat, p.lon], {
            renderer, radius: 6, fillColor: colour(p.group), fillOpacity: 0.9,
            bubblingMouseEvents: false,  // its own popup, not the grid card under it
            color: stateColour && p.state !== '完好' ? stateColour : '#ffffff',
            weight: p.state && p.state !== '完好' ? 3 : 1,
          });
          marker.bindPopup(kind === 'components' ? componentPopup(p) : buildingPopup(p));
          group.addLayer(marker);
        }
      }
      await new Promise(res => requestAnimationFrame(() => requestAnimationFrame(res)));
      const t2 = performance.now();
      const shown = data.mode === 'clusters' ? data.clusters.length : data.points.length;
      el.dataset[kind + 'Mode'] = data.mode;
      el.dataset[kind + 'Shown'] = String(shown);
      el.dataset[kind + 'Total'] = String(data.total);
      el.dataset[kind + 'Zoom'] = String(z);
      WG.mapLayers[kind] = {fetchMs: Math.round(t1 - t0), drawMs: Math.round(t2 - t1), mode: data.mode, shown,
        total: data.total, zoom: z, points: data.mode === 'points' ? data.points : null};
      if (stats) {
        stats.textContent = `${opts.label()}: ${fmt(data.total)}` +
          (data.mode === 'clusters' ? ` (${WG.t('聚合', 'clusters')} ${fmt(shown)})` : '') +
          `，${Math.round(t2 - t0)} ms`;
      }
    }

    function soon() { clearTimeout(timer); timer = setTimeout(refresh, 120); }
    checkbox.addEventListener('change', () => { if (WG.rememberMap) WG.rememberMap(); refresh(); });
    map.on('moveend', soon);
    return {refresh};
  }

  const select = document.getElementById('component-class');
  const legend = document.getElementById('component-legend');
  const components = PointsLayer('components', document.getElementById('show-components'), {
    label: () => WG.t('部件', 'Components'),
    classes: () => select ? select.value : '',
    onGroups(groups) {
      if (select) {
        for (const g of groups) {
          const o = document.createElement('option');
          o.value = g.code; o.textContent = `${g.code} ${groupName(g)}`;
          select.appendChild(o);
        }
        // The class kept in the address (a reload, a shared link) once its option exists.
        const kept = new URLSearchParams(location.search).get('class');
        if (kept && groups.some(g => g.code === kept) && !select.value) { select.value = kept; components.refresh(); }
      }
      if (legend) {
        legend.innerHTML = groups.map(g =>
          `<span><i class="lamp" style="background:${colour(g.code)}"></i>${WG.esc(groupName(g))}</span>`).join('') +
          `<span><i class="lamp" style="background:#fff;border:3px solid ${STATE_COLOURS['破损']}"></i>${WG.t('非完好', 'Not intact')}</span>`;
      }
    },
  });
  if (select) select.addEventListener('change', () => { if (WG.rememberMap) WG.rememberMap(); components.refresh(); });
  PointsLayer('buildings', document.getElementById('show-buildings'), {label: () => WG.t('房屋', 'Buildings')});
})();
