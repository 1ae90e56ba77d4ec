/* Department handler's phone page: his work queue (待签收 with 返工, 处置中, waiting on a request)
   and the actions of his part (签收, 处置反馈 with photos, 申请延期, 申请回退, 申请挂账). Every action
   goes through the outbox (outbox.js): sent at once when online, kept in IndexedDB when not,
   and sent once with its Idempotency-Key when the network returns. The last queue and the
   cases he opened are kept in localStorage, so a page reloaded offline still shows them. */
(function () {
  const $ = id => document.getElementById(id);
  // The actions of a department's part (workflow.TRANSITIONS); which of them a case offers
  // now is the server's answer (allowed_actions), never decided here.
  const ACTIONS = ['department_accept', 'feed_back', 'request_extension', 'return_dispatch', 'request_suspension', 'resume'];
  const WORK = 'wg.dept.worklist', ME = 'wg.dept.me', CASE = id => 'wg.dept.case.' + id;
  const SECTIONS = [
    ['to_sign', WG.label('queue', 'to_sign')],
    ['in_progress', WG.label('queue', 'in_progress')],
    ['pending', WG.t('等待审批或挂账', 'Waiting for approval or suspended')],
  ];
  let sent = 0, current = null, stale = false;
  const names = {};  // category code → name, from the work queue
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/m/sw.js', {scope: '/m'}).catch(() => {});

  const kept = k => { try { return JSON.parse(localStorage.getItem(k)); } catch (e) { return null; } };
  const keep = (k, v) => { try { localStorage.setItem(k, JSON.stringify(v)); } catch (e) { /* full: not kept */ } };
  const QUEUED = () => WG.t('离线，已存入待发送队列，联网后自动发送', 'Offline: queued, will be sent when the network returns');
  const refusedText = r => WG.t('未能发送：', 'Not sent: ') + WG.t(r.refused.zh, r.refused.en);

  function netBadge() {
    const on = navigator.onLine;
    $('net').textContent = on ? WG.t('在线', 'online') : WG.t('离线', 'offline');
    $('net').className = 'badge ' + (on ? 'on' : 'off');
  }
  function say(kind, text) { $('act-msg').className = 'msg ' + kind; $('act-msg').textContent = text; }

  // --- the outbox: waiting rows with a count, refused ones with the server's answer --------
  async function outboxUi() {
    const rows = await Outbox.actions();
    $('queued').textContent = String(rows.filter(r => !r.refused).length);
    $('outbox-list').innerHTML = rows.map(r => `<li data-key="${WG.esc(r.key)}" data-state="${r.refused ? 'refused' : 'queued'}">` +
      `<b>${WG.esc(r.code || '#' + r.caseId)}</b> ${WG.esc(WG.label('action', r.action))}` +
      (r.photos.length ? ` · ${WG.t('照片', 'photos')} ${r.photos.length}` : '') +
      (r.refused
        ? `<div class="msg err">${WG.esc(refusedText(r))}</div><button type="button" class="btn secondary" data-drop="${WG.esc(r.key)}">${WG.t('知道了，删除', 'Dismiss')}</button>`
        : ` <span class="badge">${WG.t('待发送', 'queued')}</span>`) + '</li>').join('');
    $('outbox-list').querySelectorAll('[data-drop]').forEach(b => b.addEventListener('click', async () => {
      await Outbox.remove(b.dataset.drop);
      await outboxUi();
      if (current) renderCase(current);
    }));
  }
  async function sync() {
    let any = false;
    try {
      await Outbox.sync((answer, r) => {
        if (!r || r.kind !== 'action') return;
        any = true; sent += 1; $('sent').textContent = String(sent);
      }, r => say('err', `${r.code || ''} ${refusedText(r)}`));
    } catch (e) { /* still offline or the server away: the rows wait */ }
    await outboxUi();
    if (any) {  // the cases moved on: show them as they are now
      await worklist();
      if (current) await openCase(current.id);
    }
  }
  window.addEventListener('online', () => { netBadge(); sync(); worklist(); });
  window.addEventListener('offline', netBadge);

  // --- the work queue ---------------------------------------------------------------------
  function item(c, section) {
    names[c.category_code] = c.category_name;
    const part = c.part_state && (section !== 'in_progress' || c.part_state !== 'in_progress')
      ? ` <span class="badge" data-part-state="${WG.esc(c.part_state)}">${WG.esc(WG.label('state', c.part_state))}</span>` : '';
    const due = c.deadline ? `${WG.t('期限', 'Due')} ${WG.fmt(c.deadline)}` : WG.t('无期限', 'no deadline');
    return `<li data-case="${c.id}" data-section="${section}"><i class="lamp ${WG.esc(c.light || '')}" title="${WG.esc(WG.label('light', c.light))}"></i>` +
      `<b>${WG.esc(c.code)}</b> ${WG.esc(c.category_name)}${part}<br>` +
      `<span class="muted">${WG.esc(c.address || c.description)}</span><br><span class="muted">${due}` +
      (c.light ? ` · ${WG.esc(WG.label('light', c.light))}` : '') + '</span></li>';
  }
  async function worklist() {
    let data;
    try {
      data = await WG.api('GET', '/web/api/m/department/worklist');
      keep(WORK, {at: new Date().toISOString(), data});
      $('work-note').textContent = '';
    } catch (e) {
      if (e.status !== undefined) { $('work').textContent = e.message; return; }
      const last = kept(WORK);
      if (!last) { $('work').textContent = WG.t('离线，尚无保存的待办', 'Offline: no work queue kept yet'); return; }
      data = last.data;
      $('work-note').textContent = WG.t('离线：显示 ', 'Offline: as of ') + WG.fmt(last.at);
    }
    $('counts').innerHTML = SECTIONS.map(([k, name]) =>
      `<span class="badge" data-count="${k}">${WG.esc(name)} <b>${data[k].count}</b></span>`).join(' ');
    $('work').innerHTML = SECTIONS.filter(([k]) => data[k].items.length).map(([k, name]) =>
      `<h3>${WG.esc(name)}</h3><ul class="hits">${data[k].items.map(c => item(c, k)).join('')}</ul>`).join('') ||
      `<p class="muted">${WG.t('暂无待办', 'Nothing to do')}</p>`;
    $('work').querySelectorAll('li[data-case]').forEach(li => li.addEventListener('click', () => openCase(Number(li.dataset.case))));
  }

  // --- one case and the actions his part allows now ----------------------------------------
  async function openCase(id) {
    let c;
    try {
      c = await WG.api('GET', `/api/v1/cases/${id}`);
      keep(CASE(id), c);
      stale = false;
    } catch (e) {
      if (e.status !== undefined) { $('case-card').hidden = false; say('err', e.message); return; }
      c = kept(CASE(id));
      stale = true;
      if (!c) { $('case-card').hidden = false; say('err', WG.t('离线，此案卷尚未在本机打开过', 'Offline: this case was never opened on this phone')); return; }
    }
    if (!current || current.id !== c.id) { $('act-msg').textContent = ''; $('act-msg').className = ''; }
    current = c;
    await renderCase(c);
    $('case-card').hidden = false;
    $('case-card').scrollIntoView({block: 'start'});
  }
  async function renderCase(c) {
    const mine = new Set((kept(ME) || {}).departments || []);
    const part = (c.parts || []).find(p => mine.has(p.department_code)) || (c.parts || [])[0];
    const due = (part && part.deadline) || c.due_at;
    $('case-code').textContent = c.code;
    $('case-view').innerHTML =
      `<p><i class="lamp ${WG.esc(c.light || '')}"></i><b data-testid="case-state">${WG.esc(WG.label('state', c.state))}</b>` +
      (part ? ` · ${WG.t('本部门', 'my part')}: <span data-testid="part-state">${WG.esc(WG.label('state', part.state))}</span>` : '') + '</p>' +
      `<p>${WG.esc(names[c.category_code] || c.category_code)}</p>` +
      `<p class="muted">${WG.esc(c.address || '')}</p><p>${WG.esc(c.description)}</p>` +
      (stale ? '' : `<div class="photos">${(c.photos || []).filter(u => u.startsWith('/api/v1/uploads/'))
        .map(u => `<a href="${WG.esc(u)}" target="_blank"><img src="${WG.esc(u)}" alt="${WG.t('上报照片', 'report photo')}"></a>`).join('')}</div>`) +
      `<p class="muted">${due ? WG.t('期限', 'Due') + ' ' + WG.fmt(due) : WG.t('无期限', 'no deadline')}</p>` +
      (stale ? `<p class="muted">${WG.t('离线：显示上次打开时的内容', 'Offline: as last opened')}</p>` : '');
    const waiting = (await Outbox.actions()).some(r => r.caseId === c.id && !r.refused);
    const acts = waiting ? [] : c.allowed_actions.filter(a => ACTIONS.includes(a));
    if (waiting) $('case-view').insertAdjacentHTML('beforeend', `<p class="msg ok" data-testid="case-waiting">${WG.t('本案卷有待发送的操作，发送后才能继续办理', 'An action on this case is waiting to be sent; continue once it is sent')}</p>`);
    $('act-form').hidden = !acts.length;
    $('hours-box').hidden = !acts.includes('request_extension');
    $('photo-box').hidden = !acts.includes('feed_back');
    $('act-buttons').innerHTML = acts.map(a =>
      `<button type="button" class="btn${a === 'return_dispatch' || a === 'request_suspension' ? ' secondary' : ''}" data-act="${a}">${WG.esc(WG.label('action', a))}</button>`).join('');
    $('act-buttons').querySelectorAll('[data-act]').forEach(b => b.addEventListener('click', () => act(b.dataset.act)));
  }

  async function act(action) {
    const c = current;
    const buttons = $('act-buttons').querySelectorAll('button');
    buttons.forEach(b => { b.disabled = true; });
    // The version this screen showed: the server refuses the action if the case moved on.
    const body = {expected_version: c.version};
    const note = $('act-note').value.trim();
    if (note) body.note = note;
    if (action === 'request_extension' && $('act-hours').value !== '') body.payload = {hours: Number($('act-hours').value)};
    const photos = action === 'feed_back' ? Array.from($('act-photo').files) : [];
    let key;
    try {
      key = await Outbox.addAction(c.id, action, body, photos, {code: c.code});
    } catch (e) {  // not queued: the note and photos stay for another try
      say('err', Outbox.notKept(e));
      buttons.forEach(b => { b.disabled = false; });
      return;
    }
    await outboxUi();
    if (!navigator.onLine) {
      $('act-form').reset();
      say('ok', QUEUED());
      await renderCase(c);
      return;
    }
    await sync();
    const row = await Outbox.get(key);
    if (!row) {
      $('act-form').reset();
      say('ok', WG.t('已发送：', 'Sent: ') + WG.label('action', action));
    } else if (row.refused) {
      // Refused at once: the answer is shown here and the form kept to correct and resend.
      await Outbox.remove(key);
      await outboxUi();
      say('err', WG.t(row.refused.zh, row.refused.en));
      if (row.refused.code === 'version_conflict') await openCase(c.id); else await renderCase(c);
    } else {
      $('act-form').reset();
      say('ok', QUEUED());
      await renderCase(c);
    }
  }

  (async function init() {
    netBadge();
    await outboxUi();  // from IndexedDB itself, network or not
    let me;
    try { me = await WG.me(); } catch (e) { me = undefined; }  // no network: undefined
    if (me === null) { location.href = '/login?next=/m/department'; return; }
    if (me) keep(ME, {departments: me.department_codes || []});
    await worklist();
    if (me) await sync();
    setInterval(() => { if (navigator.onLine) sync(); }, 20000);
  })();
})();
