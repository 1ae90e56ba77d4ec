/* 受理登记: the acceptor's call/visit/letter form and the video supervisor's camera form.
   The position comes from a click on the map, a hit of the place search (GET /api/v1/places,
   when the server has it) or, in video mode, the chosen camera. Submitting posts
   /api/v1/cases with `intake` and opens the new case's page; a refusal marks the field the
   problem+json names. */
(function () {
  const cfg = window.INTAKE || {};
  const form = document.getElementById('intake-form');
  if (!form) return;
  const $ = id => document.getElementById(id);
  const video = cfg.mode === 'video';
  const msg = $('intake-msg');
  const FIELDS = {caller_phone: 'caller_phone', caller_name: 'caller_name', work_order_no: 'work_order_no',
    channel: 'channel', category_code: 'category_code', description: 'description', camera_key: 'camera_key',
    address: 'address', lon: 'position', lat: 'position', county_code: 'position'};
  let pos = null;      // {lon, lat} where the problem is
  let camera = null;   // the chosen camera (video mode)

  const mapEl = $('intake-map');
  const map = L.map(mapEl, {preferCanvas: true});
  WG.addBasemap(map);  // the settings' basemap (static/basemap.js); positions go in its CRS
  form.dataset.crs = WG.basemapCrs();
  if (cfg.area && cfg.area.bounds) map.fitBounds(cfg.area.bounds); else map.setView([39.9, 116.4], 12);
  if (cfg.area && cfg.area.code) {
    fetch(`/web/api/map/layer?division=${encodeURIComponent(cfg.area.code)}&layer=social`, {credentials: 'same-origin'})
      .then(r => r.ok ? r.json() : null)
      .then(g => { if (g) L.geoJSON(g, {interactive: false, style: {color: '#1d5fbf', weight: 1, fillOpacity: 0.03}}).addTo(map); })
      .catch(() => {});
  }
  WG.intakeMap = map;  // for the browser tests and the console's own scripts
  const marker = L.circleMarker([0, 0], {radius: 9, color: '#fff', weight: 2, fillColor: '#d93025', fillOpacity: 1});

  function place(lon, lat, text) {
    pos = {lon, lat};
    marker.setLatLng([lat, lon]).addTo(map);
    const where = $('position');
    where.textContent = `${WG.t('位置', 'Position')}：${lon.toFixed(6)}, ${lat.toFixed(6)}${text ? ' · ' + text : ''}`;
    where.dataset.lon = lon; where.dataset.lat = lat;
    where.classList.remove('invalid');
  }

  if (!video) {
    map.on('click', e => place(e.latlng.lng, e.latlng.lat));
    const channel = $('channel');
    const syncChannel = () => { $('work-order-box').hidden = channel.value !== 'hotline_12345'; };
    channel.addEventListener('change', syncChannel); syncChannel();
    // Place search: optional, the form works by map click alone when the server has no index.
    const q = $('place-q'), hits = $('place-hits');
    q.addEventListener('keydown', async e => {
      if (e.key !== 'Enter') return;
      e.preventDefault();
      const text = q.value.trim();
      if (!text) return;
      hits.textContent = '…';
      try {
        const r = await fetch(`/api/v1/places?q=${encodeURIComponent(text)}&limit=10&crs=${encodeURIComponent(form.dataset.crs)}`, {credentials: 'same-origin'});
        if (r.status === 404 || r.status === 405) { hits.innerHTML = `<li class="muted">${WG.t('地点搜索暂不可用，请在地图上点击位置', 'Place search is not available: click the map')}</li>`; return; }
        const data = await r.json();
        const items = (data && data.items) || [];
        hits.innerHTML = items.length ? items.map((p, i) => `<li data-i="${i}" data-testid="place-hit"><b>${WG.esc(p.name)}</b> <span class="muted">${WG.esc(p.address || '')} ${WG.esc(p.community_name || '')}</span></li>`).join('')
          : `<li class="muted">${WG.t('没有找到', 'Nothing found')}</li>`;
        hits.querySelectorAll('li[data-i]').forEach(li => li.addEventListener('click', () => {
          const p = items[Number(li.dataset.i)];
          place(p.lon, p.lat, p.name);
          if (!$('address').value) $('address').value = p.address || p.name;
          map.setView([p.lat, p.lon], Math.max(map.getZoom(), 17));
          hits.textContent = '';
        }));
      } catch (err) {
        hits.innerHTML = `<li class="muted">${WG.t('地点搜索暂不可用，请在地图上点击位置', 'Place search is not available: click the map')}</li>`;
      }
    });
  } else {
    // Cameras: drawn from street zoom on; a click (or a key typed in) chooses one.
    const camLayer = L.layerGroup().addTo(map);
    function choose(c) {
      camera = c;
      $('camera_key').value = c.key;
      $('camera_key').classList.remove('invalid');
      $('camera-info').textContent = `${WG.t('摄像头', 'Camera')} ${c.key} ${c.name || ''}`;
      $('camera-info').dataset.key = c.key;
      place(c.lon, c.lat, c.key);
    }
    async function drawCameras() {
      camLayer.clearLayers();
      if (map.getZoom() < 15) return;
      const b = map.getBounds();
      try {
        const data = await WG.api('GET', `/api/v1/cameras?bbox=${[b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(v => v.toFixed(6)).join(',')}&limit=300`);
        data.items.forEach(c => L.circleMarker([c.lat, c.lon], {radius: 7, color: '#fff', weight: 2, fillColor: '#0b6e4f', fillOpacity: 1})
          .bindTooltip(`${c.key} ${c.name || ''}`).on('click', () => choose(c)).addTo(camLayer));
      } catch (err) { /* the layer stays empty; the key box still works */ }
    }
    map.on('moveend', drawCameras);
    async function findCamera() {
      const key = $('camera_key').value.trim();
      if (!key) return;
      try {
        const c = await WG.api('GET', `/api/v1/cameras/${encodeURIComponent(key)}`);
        choose(c);
        map.setView([c.lat, c.lon], 17);
      } catch (err) { fail(err.message, 'camera_key'); }
    }
    $('camera-find').addEventListener('click', findCamera);
    $('camera_key').addEventListener('keydown', e => { if (e.key === 'Enter') { e.preventDefault(); findCamera(); } });
  }

  function fail(text, field) {
    msg.className = 'msg err'; msg.textContent = text;
    const el = field && $(FIELDS[field] || field);
    if (el) { el.classList.add('invalid'); if (el.focus) el.focus(); }
  }

  form.addEventListener('submit', async e => {
    e.preventDefault();
    form.querySelectorAll('.invalid').forEach(el => el.classList.remove('invalid'));
    msg.className = ''; msg.textContent = '';
    if (!$('category_code').value) return fail(WG.t('请选择类别', 'Choose a category'), 'category_code');
    if (!$('description').value.trim()) return fail(WG.t('请填写问题描述', 'Describe the problem'), 'description');
    if (video && !camera) return fail(WG.t('请选择摄像头', 'Choose a camera'), 'camera_key');
    if (!pos) return fail(WG.t('请在地图上点击问题位置', 'Click the map where the problem is'), 'position');
    const intake = video ? {channel: 'video', camera_key: camera.key} : {channel: $('channel').value};
    if (!video) {
      for (const k of ['work_order_no', 'caller_name', 'caller_phone']) {
        const v = $(k).value.trim();
        if (v && !(k === 'work_order_no' && intake.channel !== 'hotline_12345')) intake[k] = v;
      }
    }
    const body = {category_code: $('category_code').value, description: $('description').value.trim(),
      lon: pos.lon, lat: pos.lat, crs: video ? 'EPSG:4490' : form.dataset.crs, urgent: $('urgent').checked,
      source: video ? 'video' : 'hotline', intake};
    if (!video && $('address').value.trim()) body.address = $('address').value.trim();
    // A point just outside every grid still belongs to the user's county.
    if (cfg.area && cfg.area.county) body.county_code = cfg.area.county;
    const button = $('intake-submit');
    button.disabled = true;  // one case per click
    try {
      const c = await WG.api('POST', '/api/v1/cases', body, {'Idempotency-Key': form.dataset.key || (form.dataset.key = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random())});
      window.location.href = `/console/cases/${c.id}`;
    } catch (err) {
      button.disabled = false;
      fail(err.message, err.data && err.data.field);
    }
  });
})();
