/* Citizen page: report (no login), follow with the tracking code, rate/reopen, find my grid worker.
   Positions are sent with their coordinate system and converted on the server: browser
   geolocation is WGS84 ("EPSG:4326"), or what a native wrapper declares in
   window.WG_GEOLOCATION_CRS (e.g. "GCJ-02", see common.js); typed positions count as WGS84. */
(function () {
  const $ = id => document.getElementById(id);
  const T = WG.t;
  function position() {
    return new Promise(resolve => {
      if (!navigator.geolocation) return resolve(null);
      navigator.geolocation.getCurrentPosition(p => resolve({lon: p.coords.longitude, lat: p.coords.latitude, crs: WG.geolocationCrs}),
        () => resolve(null), {enableHighAccuracy: true, timeout: 8000});
    });
  }
  async function post(url, body, headers) {
    const r = await fetch(url, {method: 'POST', headers: Object.assign({'Content-Type': 'application/json'}, headers || {}), body: JSON.stringify(body)});
    const data = await r.json().catch(() => null);
    if (!r.ok) throw new Error(data && (WG.lang === 'en' ? data.detail_en : data.detail) || ('HTTP ' + r.status));
    return data;
  }
  const TYPED = 'EPSG:4326';
  let posCrs = TYPED, gridCrs = TYPED;  // the systems of the positions in the two forms
  ['lon', 'lat'].forEach(id => $(id) && $(id).addEventListener('input', () => { posCrs = TYPED; }));
  ['g-lon', 'g-lat'].forEach(id => $(id) && $(id).addEventListener('input', () => { gridCrs = TYPED; }));
  if ($('report-form')) {
    fetch('/api/v1/case-categories').then(r => r.json()).then(cats => {
      $('category').innerHTML = cats.filter(c => c.kind !== 'social').map(c => `<option value="${WG.esc(c.code)}">${WG.esc(c.major_name)} · ${WG.esc(c.name)}</option>`).join('');
    });
    document.querySelector('[data-locate]').addEventListener('click', async () => {
      const p = await position();
      if (p) { $('lon').value = p.lon.toFixed(6); $('lat').value = p.lat.toFixed(6); posCrs = p.crs; }
    });
    // One submission = one Idempotency-Key (and one uploaded photo): pressing 提交 again after a
    // lost answer resends the same report, which the server files once. Editing the form
    // starts a new submission.
    let submission = null;
    const newKey = () => (crypto.randomUUID ? crypto.randomUUID() : Date.now().toString(36) + Math.random().toString(36).slice(2));
    ['input', 'change'].forEach(t => $('report-form').addEventListener(t, () => { submission = null; }));
    $('report-form').addEventListener('submit', async ev => {
      ev.preventDefault();
      const msg = $('report-msg'), button = $('report-submit');
      if (button.disabled) return;  // a double click sends nothing twice
      button.disabled = true;
      submission = submission || {key: newKey(), photos: null};
      const mine = submission;
      try {
        const f = $('photo').files[0];
        if (mine.photos === null && f) {
          const fd = new FormData(); fd.append('file', f);
          const r = await fetch('/api/v1/uploads', {method: 'POST', body: fd});
          if (!r.ok) throw new Error((await r.json().catch(() => ({}))).detail || '照片上传失败 / photo upload failed');  // e.g. too many photos from this network
          mine.photos = ['/api/v1/uploads/' + (await r.json()).id];
        }
        const out = await post('/web/api/citizen/reports', {
          category_code: $('category').value, description: $('description').value.trim(),
          lon: Number($('lon').value), lat: Number($('lat').value), crs: posCrs,
          address: $('address').value.trim() || null, photos: mine.photos || []}, {'Idempotency-Key': mine.key});
        remember(out.tracking);
        msg.className = 'msg ok';
        msg.innerHTML = `${T('已受理登记', 'Received')}：<b data-testid="tracking">${WG.esc(out.tracking)}</b><br>${T('请妥善保存查询编码', 'Keep this tracking code to follow your report')}` + promise(out.promise);
        $('tracking').value = out.tracking;
      } catch (e) { msg.className = 'msg err'; msg.textContent = e.message; }
      finally { button.disabled = false; }
    });
  }
  // What the channel's response rules promise the reporter (承诺 2 小时内答复 / 24 小时内办结).
  function promise(p) {
    if (!p) return '';
    const due = (label, at) => at ? `<br><span class="muted">${label} ${WG.fmt(at)}</span>` : '';
    return `<p class="msg" data-testid="promise">${WG.esc(WG.lang === 'en' ? p.text_en : p.text_zh)}` +
      (p.responded_at ? due(T('已答复', 'Answered'), p.responded_at) : due(T('答复期限', 'Answer due'), p.respond_due)) +
      due(T('办结期限', 'Solve due'), p.solve_due) + '</p>';
  }
  async function track() {
    const code = $('tracking').value.trim();
    const out = $('track-out');
    if (!code) return;
    const r = await fetch('/web/api/citizen/track', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({tracking: code})});
    const d = await r.json();
    if (!r.ok) { out.innerHTML = `<p class="msg err">${WG.esc(d.detail)}</p>`; return; }
    let html = `<p><b>${WG.esc(d.code)}</b> <span class="badge" data-state="${WG.esc(d.state)}">${WG.esc(WG.label('state', d.state))}</span></p>` + promise(d.promise) + '<ul class="timeline">' +
      d.timeline.map(e => `<li><b>${WG.esc(WG.label('action', e.action))}</b> <span class="when">${WG.fmt(e.at)}</span>` +
        e.photos.map(p => `<br><img src="${p}" style="max-width:140px">`).join('') + '</li>').join('') + '</ul>';
    if (d.can_rate) html += `<p>${['satisfied', 'basically_satisfied', 'unsatisfied'].map(v =>
      `<button class="btn" data-rate="${v}">${WG.label('satisfaction', v)}</button>`).join('')}</p>`;
    if (d.can_reopen) html += `<p><input id="reopen-note" placeholder="${T('未解决的原因', 'Why it is not fixed')}"><button class="btn danger" id="reopen">${T('重新打开', 'Reopen')}</button></p>`;
    out.innerHTML = html;
    out.querySelectorAll('[data-rate]').forEach(b => b.addEventListener('click', async () => {
      try { await post('/web/api/citizen/track/rate', {tracking: code, rating: b.dataset.rate}); track(); }
      catch (e) { out.insertAdjacentHTML('beforeend', `<p class="msg err">${WG.esc(e.message)}</p>`); }
    }));
    const re = $('reopen');
    if (re) re.addEventListener('click', async () => {
      try { await post('/web/api/citizen/track/reopen', {tracking: code, note: $('reopen-note').value || '问题仍未解决'}); track(); }
      catch (e) { out.insertAdjacentHTML('beforeend', `<p class="msg err">${WG.esc(e.message)}</p>`); }
    });
  }
  $('track-btn').addEventListener('click', track);

  // Every tracking code this browser was given stays listed (newest first), whatever is
  // reported or refused after it: a second report or an error never takes the first one away.
  const KEPT = 'wg.trackings';
  function kept() {
    let codes = [];
    try { codes = JSON.parse(localStorage.getItem(KEPT) || '[]'); } catch (e) { codes = []; }
    const old = localStorage.getItem('wg.tracking');  // the one code kept before the list
    return old && !codes.includes(old) ? codes.concat([old]) : codes;
  }
  function showKept() {
    const codes = kept(), box = $('my-tracking');
    box.hidden = !codes.length;
    $('my-tracking-list').innerHTML = codes.map(c => `<li><a href="#" data-tracking="${WG.esc(c)}">${WG.esc(c)}</a></li>`).join('');
    box.querySelectorAll('[data-tracking]').forEach(a => a.addEventListener('click', ev => {
      ev.preventDefault(); $('tracking').value = a.dataset.tracking; track();
    }));
    if (codes.length && !$('tracking').value) $('tracking').value = codes[0];
  }
  function remember(code) {
    localStorage.setItem(KEPT, JSON.stringify([code].concat(kept().filter(c => c !== code)).slice(0, 20)));
    localStorage.removeItem('wg.tracking');
    showKept();
  }
  showKept();

  let gmap = null, glayer = null;
  async function findGrid() {
    const out = $('grid-out');
    const r = await fetch(`/web/api/public/my-grid?lon=${Number($('g-lon').value)}&lat=${Number($('g-lat').value)}&crs=${encodeURIComponent(gridCrs)}`);
    const d = await r.json();
    if (!r.ok || !d.grid) { out.innerHTML = `<p class="msg err">${T('未找到网格', 'No grid found here')}</p>`; return; }
    out.innerHTML = `<p><b data-testid="grid-name">${WG.esc(d.grid.name)}</b>（${WG.esc(d.grid.community)}）<br><span class="muted">${WG.esc(d.grid.code)}</span></p>` +
      `<table><tr><th>${T('岗位', 'Post')}</th><th>${T('名称', 'Name')}</th><th>${T('电话', 'Work phone')}</th></tr>` +
      (d.workers.length ? d.workers.map(w => `<tr data-testid="worker"><td>${WG.esc(WG.t(w.post, w.post_en || w.post))}</td><td>${WG.esc(w.name)}</td><td><a href="tel:${WG.esc(w.phone || '')}">${WG.esc(w.phone || '')}</a></td></tr>`).join('')
        : `<tr><td colspan="3">${T('责任人', 'Responsible')}: ${WG.esc(d.grid.responsible_party || '')}</td></tr>`) + '</table>';
    if (d.grid.geometry) {
      $('gridmap').style.display = 'block';
      if (!gmap) {
        gmap = L.map('gridmap', {zoomControl: false});
        // The outline comes in the position's CRS: a GCJ-02 basemap would sit off it.
        if (WG.addBasemap && gridCrs !== 'GCJ02') WG.addBasemap(gmap, {shifts: false});
      }
      if (glayer) gmap.removeLayer(glayer);
      glayer = L.geoJSON(d.grid.geometry, {style: {color: '#1d5fbf', weight: 2, fillOpacity: 0.1}}).addTo(gmap);
      gmap.invalidateSize(); gmap.fitBounds(glayer.getBounds());
    }
  }
  $('grid-btn').addEventListener('click', findGrid);
  $('grid-locate').addEventListener('click', async () => {
    const p = await position();
    if (p) { $('g-lon').value = p.lon.toFixed(6); $('g-lat').value = p.lat.toFixed(6); gridCrs = p.crs; findGrid(); }
  });
})();
