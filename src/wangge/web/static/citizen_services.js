/* 代办 on the citizen page: pick a service, see its materials and promise, request it with a
   position (the grid that serves you), follow it with the tracking code and rate it. */
(function () {
  const $ = id => document.getElementById(id);
  if (!$('svc-form')) return;
  const T = WG.t;
  let items = [], posCrs = 'EPSG:4326';
  async function post(url, body) {
    const r = await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
    const data = await r.json().catch(() => null);
    if (!r.ok) {
      const first = data && data.errors && data.errors[0];
      const detail = data && (WG.lang === 'en' ? data.detail_en : data.detail);
      throw new Error(detail || (first ? `${first.field}: ${first.reason}` : 'HTTP ' + r.status));
    }
    return data;
  }
  const hours = i => i.around_the_clock ? T('小时', 'hours') : T('个工作小时', 'working hours');
  function showMaterials() {
    const i = items.find(x => x.code === $('svc-service').value);
    $('svc-materials').innerHTML = !i ? '' :
      `<p class="muted">${T('需准备材料', 'Bring')}：</p><ul data-testid="svc-material-list">` +
      i.materials.map(m => `<li>${WG.esc(m)}</li>`).join('') + '</ul>' +
      `<p class="muted" data-testid="svc-rule">${T('承诺', 'Promised')} ${i.respond_hours} ${hours(i)}${T('内接单', ' to answer')}，` +
      `${i.answer_hours} ${hours(i)}${T('内办结', ' to settle')}（${T('复杂事项', 'complex matters')} ${i.complex_hours} ${hours(i)}）</p>`;
  }
  fetch('/web/api/citizen/services').then(r => r.json()).then(list => {
    items = list;
    $('svc-service').innerHTML = list.map(i => `<option value="${WG.esc(i.code)}">${WG.esc(WG.lang === 'en' ? i.family_en : i.family_zh)} · ${WG.esc(WG.lang === 'en' ? i.name_en : i.name)}</option>`).join('');
    showMaterials();
  });
  $('svc-service').addEventListener('change', showMaterials);
  ['svc-lon', 'svc-lat'].forEach(id => $(id).addEventListener('input', () => { posCrs = 'EPSG:4326'; }));
  $('svc-locate').addEventListener('click', () => {
    if (!navigator.geolocation) return;
    navigator.geolocation.getCurrentPosition(p => {
      $('svc-lon').value = p.coords.longitude.toFixed(6); $('svc-lat').value = p.coords.latitude.toFixed(6); posCrs = WG.geolocationCrs;
    }, () => {}, {enableHighAccuracy: true, timeout: 8000});
  });
  $('svc-form').addEventListener('submit', async ev => {
    ev.preventDefault();
    const msg = $('svc-msg'), button = $('svc-submit');
    if (button.disabled) return;
    button.disabled = true;
    try {
      const out = await post('/web/api/citizen/services', {
        service_code: $('svc-service').value, applicant_name: $('svc-name').value.trim(),
        phone: $('svc-phone').value.trim(), description: $('svc-description').value.trim(),
        lon: Number($('svc-lon').value), lat: Number($('svc-lat').value), crs: posCrs,
        address: $('svc-address').value.trim() || null});
      remember(out.tracking);
      msg.className = 'msg ok';
      msg.innerHTML = `${T('已提交代办申请', 'Request received')}：<b data-testid="svc-tracking-code">${WG.esc(out.tracking)}</b><br>` +
        `${T('请妥善保存查询编码', 'Keep this tracking code to follow your request')}<br>${WG.esc(WG.lang === 'en' ? out.promise.text_en : out.promise.text_zh)}`;
      $('svc-tracking').value = out.tracking;
    } catch (e) { msg.className = 'msg err'; msg.textContent = e.message; }
    finally { button.disabled = false; }
  });
  const KEPT = 'wg.service-trackings';
  const kept = () => { try { return JSON.parse(localStorage.getItem(KEPT) || '[]'); } catch (e) { return []; } };
  function showKept() {
    $('svc-kept').innerHTML = kept().map(c => `<li><a href="#" data-svc-tracking="${WG.esc(c)}">${WG.esc(c)}</a></li>`).join('');
    $('svc-kept').querySelectorAll('[data-svc-tracking]').forEach(a => a.addEventListener('click', ev => {
      ev.preventDefault(); $('svc-tracking').value = a.dataset.svcTracking; track();
    }));
  }
  function remember(code) {
    localStorage.setItem(KEPT, JSON.stringify([code].concat(kept().filter(c => c !== code)).slice(0, 20)));
    showKept();
  }
  const due = (label, at) => at ? `<br><span class="muted">${label} ${WG.fmt(at)}</span>` : '';
  async function track() {
    const code = $('svc-tracking').value.trim(), out = $('svc-track-out');
    if (!code) return;
    let d;
    try { d = await post('/web/api/citizen/services/track', {tracking: code}); }
    catch (e) { out.innerHTML = `<p class="msg err">${WG.esc(e.message)}</p>`; return; }
    const p = d.promise;
    let html = `<p><b>${WG.esc(d.code)}</b> ${WG.esc(WG.lang === 'en' ? d.service_name_en : d.service_name)} ` +
      `<span class="badge" data-testid="svc-state" data-state="${WG.esc(d.state)}">${WG.esc(WG.lang === 'en' ? d.state_en : d.state_zh)}</span></p>` +
      `<p class="msg">${WG.esc(WG.lang === 'en' ? p.text_en : p.text_zh)}` +
      (p.responded_at ? due(T('已接单', 'Answered'), p.responded_at) : due(T('接单期限', 'Answer due'), p.respond_due)) +
      due(T('办结期限', 'Settle due'), p.solve_due) + '</p>';
    if (d.complex) html += `<p class="muted">${T('复杂事项，延长办理', 'Complex matter, longer limit')}：${WG.esc(d.complex_reason || '')}</p>`;
    if (d.result) html += `<p data-testid="svc-result"><b>${T('办结结果', 'Result')}</b>：${WG.esc(d.result)}</p>`;
    html += '<ul class="timeline">' + d.timeline.map(e => `<li><b>${WG.esc(WG.lang === 'en' ? e.action_en : e.action_zh)}</b> <span class="when">${WG.fmt(e.at)}</span>` +
      (e.note ? `<br>${WG.esc(e.note)}` : '') + '</li>').join('') + '</ul>';
    if (d.can_rate) html += `<p>${['satisfied', 'basically_satisfied', 'unsatisfied'].map(v =>
      `<button class="btn" data-svc-rate="${v}">${WG.label('satisfaction', v)}</button>`).join('')}</p>`;
    if (d.rating) html += `<p data-testid="svc-rating">${T('您的评价', 'Your rating')}：${WG.esc(WG.label('satisfaction', d.rating))}</p>`;
    out.innerHTML = html;
    out.querySelectorAll('[data-svc-rate]').forEach(b => b.addEventListener('click', async () => {
      try { await post('/web/api/citizen/services/rate', {tracking: code, rating: b.dataset.svcRate}); track(); }
      catch (e) { out.insertAdjacentHTML('beforeend', `<p class="msg err">${WG.esc(e.message)}</p>`); }
    }));
  }
  $('svc-track-btn').addEventListener('click', track);
  showKept();
})();
