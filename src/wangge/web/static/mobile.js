/* Grid-worker page: my grid, my tasks, patrol with GPS track, reports that survive being offline.
   Positions carry their coordinate system: browser geolocation is WGS84 ("EPSG:4326"); a native
   app wrapper whose location comes from a GCJ-02 map SDK sets window.WG_GEOLOCATION_CRS =
   'GCJ-02' (see common.js), and typed positions or the grid's centre are CGCS2000. */
(function () {
  const $ = id => document.getElementById(id);
  let sent = 0;
  let posCrs = 'EPSG:4490';  // the system of the position in the lon/lat inputs
  let watch = null, buffer = [];  // the running patrol's GPS watch and points not yet queued
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/m/sw.js', {scope: '/m'}).catch(() => {});

  function netBadge() {
    const on = navigator.onLine;
    $('net').textContent = on ? WG.t('在线', 'online') : WG.t('离线', 'offline');
    $('net').className = 'badge ' + (on ? 'on' : 'off');
  }
  async function countQueued() {
    $('queued').textContent = String((await Outbox.reports()).length);
    $('track-queued').textContent = String(await Outbox.pointsQueued() + buffer.length);
  }
  async function sync() {
    try {
      await Outbox.sync(c => {
        sent += 1; $('sent').textContent = String(sent);
        const li = document.createElement('li'); li.textContent = `${c.code} · ${WG.label('state', c.state)}`; li.dataset.code = c.code;
        $('sent-list').appendChild(li);
      });
    } catch (e) { /* still offline or refused: keep the rows and try again later */ }
    await countQueued();
  }
  window.addEventListener('online', () => { netBadge(); sync(); });
  window.addEventListener('offline', netBadge);

  function position() {
    return new Promise(resolve => {
      if (!navigator.geolocation) return resolve(null);
      navigator.geolocation.getCurrentPosition(p => resolve({lon: p.coords.longitude, lat: p.coords.latitude, crs: WG.geolocationCrs}),
        () => resolve(null), {enableHighAccuracy: true, timeout: 8000, maximumAge: 30000});
    });
  }
  $('locate').addEventListener('click', async () => {
    const p = await position();
    if (p) { $('lon').value = p.lon.toFixed(6); $('lat').value = p.lat.toFixed(6); posCrs = p.crs; }
  });
  ['lon', 'lat'].forEach(id => $(id).addEventListener('input', () => { posCrs = 'EPSG:4490'; }));
  WG.posCrs = () => posCrs;  // the address lookup (mobile_places.js) sends it along

  // The grids assigned to me today (网格员配置); without any, the area of my post.
  let mine = [];
  async function myGrid(me) {
    const assigned = mine.filter(a => a.layer === 'social').map(a => a.grid_code);
    const prefixes = assigned.length ? assigned : (me.scope_prefixes || []);
    const scope = prefixes.find(p => p.length >= 12) || prefixes[0];
    if (!scope) { $('mygrid-text').textContent = WG.t('全区', 'whole district'); return; }
    const m = L.map('mygrid', {preferCanvas: true, zoomControl: false});
    // The basemap script is not in the offline shell: without it the grid shows alone.
    const crs = WG.addBasemap ? (WG.addBasemap(m), WG.basemapCrs()) : 'EPSG:4490';
    const r = await fetch(`/web/api/map/layer?division=${scope.slice(0, 12)}&layer=social&crs=${encodeURIComponent(crs)}`, {credentials: 'same-origin'});
    if (!r.ok) return;
    const data = await r.json();
    const grids = data.features.filter(f => f.properties.type === 'grid' && (assigned.length ? assigned : [scope]).some(p => f.properties.code.startsWith(p)));
    const lyr = L.geoJSON({type: 'FeatureCollection', features: grids}, {style: {color: '#1d5fbf', weight: 1.5, fillOpacity: 0.1}}).addTo(m);
    if (lyr.getBounds().isValid()) m.fitBounds(lyr.getBounds());
    $('mygrid-text').textContent = `${data.division.name}：` + grids.map(g => g.properties.name).join('、') +
      (mine.length ? ' · ' + [...new Set(mine.map(a => WG.label('assignment_kind', a.kind)))].join('、') : '');
    const c = lyr.getBounds().isValid() ? lyr.getBounds().getCenter() : null;
    if (c && !$('lon').value) { $('lon').value = c.lng.toFixed(6); $('lat').value = c.lat.toFixed(6); posCrs = 'EPSG:4490'; }
  }

  // My tasks: the cases of my assigned grids (when I have any), optionally of one business line.
  function taskFilter() {
    const p = new URLSearchParams();
    if (mine.length) p.set('assigned', 'true');
    if ($('task-line').value) p.set('line', $('task-line').value);
    return p.toString();
  }
  async function lines() {
    try {
      const all = await WG.api('GET', '/api/v1/business-lines');
      $('task-line').innerHTML = `<option value="">${WG.t('全部条线', 'All lines')}</option>` +
        all.filter(l => l.is_active).map(l => `<option value="${WG.esc(l.code)}">${WG.esc(l.name)}</option>`).join('');
    } catch (e) { /* no lines to choose from: all tasks */ }
  }
  async function tasks() {
    const box = $('tasks');
    const filter = taskFilter();
    try {
      const qs = await WG.api('GET', '/api/v1/cases/queues?' + filter);
      const keys = Object.keys(qs).filter(k => k !== 'overdue');
      let html = keys.map(k => `<span class="badge">${WG.esc(WG.label('queue', k))} ${qs[k].count}</span>`).join(' ');
      const rows = [];
      for (const k of keys) {
        if (!qs[k].count) continue;
        const page = await WG.api('GET', `/api/v1/cases?queue=${k}&limit=10&${filter}`);
        rows.push(...page.items);
      }
      html += '<ul class="hits">' + rows.map(c => `<li data-case="${c.id}"><i class="lamp ${c.light || ''}"></i>${WG.esc(c.code)} ${WG.esc(WG.label('state', c.state))}<br><span class="muted">${WG.esc(c.address || c.description)}</span></li>`).join('') + '</ul>';
      box.innerHTML = html;
      box.querySelectorAll('li[data-case]').forEach(li => li.addEventListener('click', () => task(li.dataset.case)));
    } catch (e) { box.textContent = e.message; }
  }

  async function task(id) {
    const c = await WG.api('GET', `/api/v1/cases/${id}`);
    const mine = c.allowed_actions.filter(a => ['verify_true', 'verify_false', 'check_pass', 'check_fail', 'self_handle'].includes(a));
    $('task-detail').innerHTML = `<div class="card"><b>${WG.esc(c.code)}</b> ${WG.esc(WG.label('state', c.state))}<br>${WG.esc(c.description)}` +
      `<label>${WG.t('现场照片', 'Fresh photo')}</label><input type="file" id="task-photo" accept="image/*" capture="environment">` +
      `<input id="task-note" placeholder="${WG.t('备注', 'Note')}">` +
      mine.map(a => `<button class="btn" data-act="${a}">${WG.esc(WG.label('action', a))}</button>`).join('') + '<div id="task-msg"></div></div>';
    $('task-detail').querySelectorAll('[data-act]').forEach(b => b.addEventListener('click', async () => {
      try {
        const body = {expected_version: c.version, photos: []};
        const note = $('task-note').value.trim(); if (note) body.note = note;
        const f = $('task-photo').files[0];
        if (f) { const fd = new FormData(); fd.append('file', f); const up = await WG.api('POST', '/api/v1/uploads', fd); body.photos.push('/api/v1/uploads/' + up.id); }
        await WG.api('POST', `/api/v1/cases/${c.id}/actions/${b.dataset.act}`, body);
        $('task-msg').className = 'msg ok'; $('task-msg').textContent = WG.t('操作成功', 'Done');
        tasks();
      } catch (e) { $('task-msg').className = 'msg err'; $('task-msg').textContent = e.message; }
    }));
  }

  // Patrol: one running patrol per worker, remembered across reloads. Track points go in
  // batches into the outbox (IndexedDB) first, so a batch taken offline waits there and is
  // sent with its Idempotency-Key when the network returns; the patrol's end queues behind.
  function patrolId() { return Number(localStorage.getItem('wg.patrol') || 0) || null; }
  async function flush() {
    const id = patrolId();
    if (!id || !buffer.length) return;
    const batch = buffer; buffer = [];
    await Outbox.addPoints(id, batch);
    await sync();
  }
  function patrolUi() {
    const id = patrolId();
    $('patrol-btn').textContent = id ? WG.t('结束巡查', 'Stop patrol') : WG.t('开始巡查', 'Start patrol');
    $('patrol-state').textContent = id ? `#${id} ${WG.t('巡查中', 'patrolling')}` : '';
  }
  function track() {
    if (!navigator.geolocation || watch !== null) return;
    let last = 0;
    watch = navigator.geolocation.watchPosition(p => {
      // Browsers may deliver the same (cached) fix more than once: keep each fix once.
      if (p.timestamp <= last) return;
      last = p.timestamp;
      buffer.push({lon: p.coords.longitude, lat: p.coords.latitude, at: new Date(p.timestamp).toISOString(), crs: WG.geolocationCrs});
      $('track-queued').textContent = String(Number($('track-queued').textContent) + 1);
      if (buffer.length >= 5 || !navigator.onLine) flush();
    }, () => {}, {enableHighAccuracy: true, maximumAge: 5000});
  }
  $('patrol-btn').addEventListener('click', async () => {
    try {
      if (patrolId()) {
        if (watch !== null) { navigator.geolocation.clearWatch(watch); watch = null; }
        const id = patrolId();
        await flush();
        await Outbox.addPatrolEnd(id);  // sent after its points, now or when back online
        localStorage.removeItem('wg.patrol');
        await sync();
      } else {
        await sync();  // an earlier patrol's queued points and end go first
        const p = (await position()) || {lon: Number($('lon').value), lat: Number($('lat').value), crs: posCrs};
        const started = await WG.api('POST', '/api/v1/patrols', p);
        localStorage.setItem('wg.patrol', String(started.id));
        track();
      }
    } catch (e) { $('patrol-state').textContent = e.message; }
    patrolUi();
  });
  setInterval(flush, 15000);
  // A phone closes or backgrounds the page without warning: keep what is buffered.
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'hidden') flush(); });

  $('report-form').addEventListener('submit', async ev => {
    ev.preventDefault();
    const msg = $('report-msg');
    const lon = Number($('lon').value), lat = Number($('lat').value);
    if (!lon || !lat) { msg.className = 'msg err'; msg.textContent = WG.t('请先获取位置', 'Get a position first'); return; }
    const body = {category_code: $('category').value, description: $('description').value.trim(), lon, lat, crs: posCrs, source: 'patrol'};
    // 地址: prefilled from the position (mobile_places.js); empty, the server fills it on arrival.
    if ($('address') && $('address').value.trim()) body.address = $('address').value.trim();
    if (patrolId()) body.patrol_id = patrolId();
    try {
      await Outbox.add(body, $('photo').files[0] || null);
    } catch (e) {  // not queued: the form keeps what was typed for another try
      msg.className = 'msg err'; msg.textContent = Outbox.notKept(e);
      return;
    }
    $('report-form').reset();
    $('lon').value = lon; $('lat').value = lat;  // posCrs still describes them
    await countQueued();
    if (!navigator.onLine) { msg.className = 'msg ok'; msg.textContent = WG.t('离线，已存入待发送队列', 'Offline: queued, will be sent when the network returns'); return; }
    await sync();
    const left = (await Outbox.reports()).length;
    msg.className = 'msg ok';
    msg.textContent = left ? WG.t('离线，已存入待发送队列', 'Offline: queued, will be sent when the network returns') : WG.t('已发送', 'Sent');
  });

  // The classes to report under, kept in this browser: a page reloaded without network (the
  // service worker serves its shell) can still take a report, which waits in the outbox.
  const CATEGORIES = 'wg.categories';
  async function categories() {
    let cats;
    try {
      cats = (await WG.api('GET', '/api/v1/case-categories')).map(c => ({code: c.code, name: c.name, major_name: c.major_name}));
      localStorage.setItem(CATEGORIES, JSON.stringify(cats));
    } catch (e) {
      if (e.status !== undefined) throw e;  // an answer, not a missing network
      cats = JSON.parse(localStorage.getItem(CATEGORIES) || '[]');
    }
    $('category').innerHTML = cats.map(c => `<option value="${WG.esc(c.code)}">${WG.esc(c.name)}（${WG.esc(c.major_name)}）</option>`).join('');
  }

  // What needs the server (my grid, tasks, lines) starts when the network is there.
  async function online(me) {
    try { mine = await WG.api('GET', '/api/v1/grid-assignments/mine'); } catch (e) { mine = []; }
    $('task-line').addEventListener('change', tasks);
    await lines();
    myGrid(me); tasks(); sync();
    setInterval(sync, 20000);
  }

  (async function init() {
    netBadge();
    patrolUi();
    await countQueued();  // from the outbox itself, network or not
    let me;
    try { me = await WG.me(); } catch (e) { me = undefined; }  // no network: undefined
    if (me === null) { location.href = '/login?next=/m'; return; }
    await categories();
    if (patrolId()) track();
    if (me) { await online(me); return; }
    window.addEventListener('online', async function started() {
      const who = await WG.me().catch(() => undefined);
      if (who === undefined) return;  // not yet: wait for the next 'online'
      window.removeEventListener('online', started);
      if (who === null) { location.href = '/login?next=/m'; return; }
      await categories();
      await online(who);
    });
  })();
})();
