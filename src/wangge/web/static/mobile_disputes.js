/* 矛盾纠纷 on the grid worker's phone (templates/mobile_disputes.html): register a dispute in my
   grid with its parties, then on its card record sessions, upload the agreement (photo or PDF),
   set the outcome and record the follow-up visit. Every step posts /api/v1/disputes; a refusal
   shows the server's own message. Needs the network (registering is not queued offline). */
(function () {
  const $ = id => document.getElementById(id);
  if (!$('disputes-card')) return;
  const esc = s => String(s == null ? '' : s).replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
  let posCrs = 'EPSG:4490';

  function say(text, ok) {
    const m = $('dispute-msg');
    m.hidden = !text; m.textContent = text || ''; m.className = 'msg ' + (ok ? 'ok' : 'err');
  }
  function addParty() {
    const n = $('dispute-parties-in').children.length + 1;
    const div = document.createElement('div');
    div.className = 'party';
    div.innerHTML = `<input class="p-name" required maxlength="50" placeholder="${WG.t('当事人', 'Party')} ${n} ${WG.t('姓名', 'name')}" data-testid="party-name">` +
      `<input class="p-phone" inputmode="tel" maxlength="32" placeholder="${WG.t('联系电话（可不填）', 'Phone (optional)')}" data-testid="party-phone">` +
      `<input class="p-id" maxlength="18" placeholder="${WG.t('身份证号（可不填）', 'ID number (optional)')}" data-testid="party-id">`;
    $('dispute-parties-in').appendChild(div);
  }
  addParty(); addParty();
  $('dispute-add-party').addEventListener('click', addParty);
  $('dispute-locate').addEventListener('click', () => {
    if (!navigator.geolocation) return;
    navigator.geolocation.getCurrentPosition(p => {
      $('dispute-lon').value = p.coords.longitude.toFixed(6); $('dispute-lat').value = p.coords.latitude.toFixed(6);
      posCrs = WG.geolocationCrs;
    }, () => say(WG.t('无法获取位置', 'No position'), false), {enableHighAccuracy: true, timeout: 8000, maximumAge: 30000});
  });
  ['dispute-lon', 'dispute-lat'].forEach(id => $(id).addEventListener('input', () => { posCrs = 'EPSG:4490'; }));
  // Opening the form takes the report form's position (my grid's centre) when mine is empty.
  $('dispute-new').addEventListener('toggle', () => {
    if (!$('dispute-lon').value && $('lon') && $('lon').value) {
      $('dispute-lon').value = $('lon').value; $('dispute-lat').value = $('lat').value;
      posCrs = WG.posCrs ? WG.posCrs() : 'EPSG:4490';
    }
  });

  $('dispute-form').addEventListener('submit', async ev => {
    ev.preventDefault();
    const parties = [...$('dispute-parties-in').querySelectorAll('.party')].map(d => ({
      name: d.querySelector('.p-name').value.trim(),
      phone: d.querySelector('.p-phone').value.trim() || null,
      id_number: d.querySelector('.p-id').value.trim() || null,
    })).filter(p => p.name);
    const body = {kind: $('dispute-kind').value, summary: $('dispute-summary').value.trim(), parties,
      lon: parseFloat($('dispute-lon').value), lat: parseFloat($('dispute-lat').value), crs: posCrs,
      address: $('dispute-address').value.trim() || null};
    if (!isFinite(body.lon) || !isFinite(body.lat)) { say(WG.t('请先获取位置', 'Get a position first'), false); return; }
    $('dispute-submit').disabled = true;
    try {
      const d = await WG.api('POST', '/api/v1/disputes', body);
      say(WG.t('已登记纠纷', 'Dispute registered') + ' #' + d.id, true);
      $('dispute-form').reset(); $('dispute-parties-in').innerHTML = ''; addParty(); addParty();
      $('dispute-new').open = false;
      await list(); show(d);
    } catch (e) { say(e.message, false); }
    $('dispute-submit').disabled = false;
  });

  const stateName = d => WG.lang === 'en' ? d.state_en : d.state_zh;
  async function list() {
    let data;
    try { data = await WG.api('GET', '/api/v1/disputes?limit=30'); } catch (e) { return; }
    $('dispute-list').innerHTML = data.items.length ? '' : `<li class="muted">${WG.t('暂无纠纷', 'No disputes')}</li>`;
    for (const d of data.items) {
      const li = document.createElement('li');
      li.dataset.disputeId = d.id; li.dataset.state = d.state;
      li.innerHTML = `<a href="#">#${d.id} ${esc(WG.lang === 'en' ? d.kind_en : d.kind_zh)} · <b>${esc(stateName(d))}</b></a> <span class="muted">${esc(d.summary.slice(0, 30))}</span>`;
      li.querySelector('a').addEventListener('click', async e => { e.preventDefault(); show(await WG.api('GET', '/api/v1/disputes/' + d.id)); });
      $('dispute-list').appendChild(li);
    }
  }

  const today = () => new Intl.DateTimeFormat('en-CA', {timeZone: 'Asia/Shanghai'}).format(new Date());
  function form(id, title, inner) {
    return `<form id="${id}" class="dstep"><b>${title}</b>${inner}<p><button class="btn" type="submit">${WG.t('保存', 'Save')}</button></p></form>`;
  }
  function show(d) {
    const parties = d.parties.map(p => `<li>${esc(p.name)} ${esc(p.phone || '')} ${esc(p.id_number || '')}</li>`).join('');
    const sessions = d.sessions.map(s => `<li>${esc(s.held_on)} · ${esc(s.place)}：${esc(s.notes)}</li>`).join('') || `<li class="muted">${WG.t('尚未调解', 'No session yet')}</li>`;
    let html = `<h3>${WG.t('纠纷', 'Dispute')} #${d.id} · <span id="m-dispute-state" data-state="${d.state}">${esc(stateName(d))}</span></h3>` +
      `<p>${esc(d.summary)}</p><p class="muted">${WG.t('网格', 'Grid')} ${esc(d.grid_code)} · ${WG.t('调解员', 'Mediator')} ${esc(d.mediator)}</p>` +
      `<b>${WG.t('当事人', 'Parties')}</b><ul id="m-dispute-parties">${parties}</ul>` +
      `<b>${WG.t('调解过程', 'Sessions')}</b><ul id="m-dispute-sessions">${sessions}</ul>`;
    if (d.outcome) html += `<p id="m-dispute-outcome"><b>${WG.t('调解结果', 'Outcome')}</b> ${esc(stateName({state_zh: {settled: '调解成功', failed: '调解失败', transferred: '转交'}[d.outcome], state_en: d.outcome}))} ${esc(d.outcome_note || '')} ${esc(d.transferred_to || '')}</p>`;
    if (d.agreement) html += `<p><a id="m-dispute-agreement" href="${d.agreement.url}" target="_blank">${WG.t('调解协议书（上传件）', 'Agreement (uploaded)')}</a></p>`;
    html += `<p><a id="m-dispute-pdf" href="${d.agreement_pdf_url}" target="_blank">${WG.t('调解协议书 PDF（生成）', 'Agreement PDF (generated)')}</a></p>`;
    if (d.follow_up) html += `<p id="m-dispute-follow-up"><b>${WG.t('回访', 'Follow-up')}</b> ${esc(d.follow_up.visited_on)} · ${esc(d.follow_up.result)}</p>`;
    const date = n => `<input type="date" name="${n}" required value="${today()}">`;
    if (d.state === 'registered' || d.state === 'mediating') {
      html += form('m-form-session', WG.t('记录调解', 'Add a session'), date('held_on') +
        `<input name="place" required placeholder="${WG.t('调解地点', 'Place')}"><textarea name="notes" required placeholder="${WG.t('调解记录', 'Notes')}"></textarea>`);
    }
    if (d.state === 'mediating' || d.state === 'settled') {
      html += form('m-form-agreement', WG.t('上传调解协议书（照片或 PDF）', 'Upload the agreement (photo or PDF)'),
        '<input type="file" name="file" accept="image/*,application/pdf" required>');
    }
    if (d.state === 'mediating') {
      html += form('m-form-outcome', WG.t('调解结果', 'Outcome'),
        `<select name="outcome"><option value="settled">${WG.t('调解成功', 'Settled')}</option><option value="failed">${WG.t('调解失败', 'Failed')}</option><option value="transferred">${WG.t('转交', 'Transferred')}</option></select>` +
        `<input name="note" placeholder="${WG.t('结果说明（协议内容）', 'Note (terms agreed)')}"><input name="transferred_to" placeholder="${WG.t('接收单位（转交时）', 'Receiving body (transfer)')}">` +
        `<input name="no_agreement_reason" placeholder="${WG.t('没有协议书的原因', 'Why no agreement document')}">`);
    }
    if (['settled', 'failed', 'transferred'].includes(d.state)) {
      html += form('m-form-follow-up', WG.t('回访', 'Follow-up visit'), date('visited_on') +
        `<textarea name="result" required placeholder="${WG.t('回访结果', 'Result')}"></textarea>`);
    }
    $('dispute-detail').innerHTML = html;
    const base = '/api/v1/disputes/' + d.id;
    const fields = f => { const o = {}; new FormData(f).forEach((v, k) => { if (typeof v === 'string' && v.trim()) o[k] = v.trim(); }); return o; };
    const steps = {
      'm-form-session': f => WG.api('POST', base + '/sessions', fields(f)),
      'm-form-agreement': f => WG.api('POST', base + '/agreement', new FormData(f)),
      'm-form-outcome': f => WG.api('POST', base + '/outcome', fields(f)),
      'm-form-follow-up': f => WG.api('POST', base + '/follow-up', fields(f)),
    };
    Object.keys(steps).forEach(id => {
      const f = $(id);
      if (!f) return;
      f.addEventListener('submit', async ev => {
        ev.preventDefault();
        const b = f.querySelector('button'); b.disabled = true;
        try {
          await steps[id](f);
          say(WG.t('已保存', 'Saved'), true);
          show(await WG.api('GET', base)); await list();
        } catch (e) { say(e.message, false); b.disabled = false; }
      });
    });
  }
  WG.showDispute = id => WG.api('GET', '/api/v1/disputes/' + id).then(show);
  if (navigator.onLine) list();
  window.addEventListener('online', list);
})();
