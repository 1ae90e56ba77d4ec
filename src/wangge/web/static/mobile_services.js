/* 代办 on the grid worker's phone: the open requests of my area with their lights, then take
   (接单), record progress (办理进展, optionally 复杂事项 with the longer limit) and close (办结). */
(function () {
  const $ = id => document.getElementById(id);
  if (!$('svc-list')) return;
  const T = WG.t;
  const name = r => WG.esc(r.service_name);
  const lamps = r => Object.entries(r.lights).map(([k, v]) =>
    `<i class="lamp ${v}" title="${k === 'respond' ? T('接单', 'answer') : T('办结', 'settle')}" data-light="${k}:${v}"></i>`).join('');
  async function load() {
    try {
      const d = await WG.api('GET', '/api/v1/resident-services/requests?state=open&limit=50');
      $('svc-list').innerHTML = d.items.length ? '<ul class="hits">' + d.items.map(r =>
        `<li data-svc-request="${r.id}" data-code="${WG.esc(r.code)}">${lamps(r)}<b>${WG.esc(r.code)}</b> ${name(r)} ` +
        `<span class="badge">${WG.esc(WG.lang === 'en' ? r.state_en : r.state_zh)}</span><br>` +
        `<span class="muted">${WG.esc(r.address || r.description || '')} · ${T('办结期限', 'due')} ${WG.fmt(r.answer_due)}</span></li>`).join('') + '</ul>'
        : `<p class="muted">${T('暂无代办申请', 'No requests')}</p>`;
      $('svc-list').querySelectorAll('[data-svc-request]').forEach(li => li.addEventListener('click', () => open(li.dataset.svcRequest)));
    } catch (e) { $('svc-list').innerHTML = `<p class="msg err">${WG.esc(e.message)}</p>`; }
  }
  async function open(id) {
    const box = $('svc-detail');
    const r = await WG.api('GET', `/api/v1/resident-services/requests/${id}`);
    let html = `<h3>${WG.esc(r.code)} ${name(r)} ${lamps(r)}</h3>` +
      `<p>${T('申请人', 'Applicant')}：${WG.esc(r.applicant_name)} <span id="svc-phone">${WG.esc(r.applicant_phone)}</span> ` +
      `<button class="btn secondary" type="button" id="svc-reveal">${T('查看电话', 'Show phone')}</button></p>` +
      `<p>${WG.esc(r.description || '')}</p><p class="muted">${WG.esc(r.address || '')}<br>` +
      `${T('接单期限', 'Answer due')} ${WG.fmt(r.respond_due)} · ${T('办结期限', 'Settle due')} ${WG.fmt(r.answer_due)}</p>` +
      '<ul class="timeline">' + r.timeline.map(e => `<li><b>${WG.esc(e.action_zh)}</b> <span class="when">${WG.fmt(e.at)}</span>${e.note ? '<br>' + WG.esc(e.note) : ''}</li>`).join('') + '</ul>';
    if (r.state === 'requested') html += `<p><button class="btn" data-svc-act="take">${T('接单', 'Take')}</button></p>`;
    if (r.state === 'in_progress') html +=
      `<textarea id="svc-note" placeholder="${T('办理情况或办结结果', 'Progress or result')}" maxlength="2000"></textarea>` +
      `<label><input type="checkbox" id="svc-complex"> ${T('复杂事项（延长至复杂事项时限，并说明原因）', 'Complex matter (longer limit; say why)')}</label>` +
      `<p><button class="btn secondary" data-svc-act="handle">${T('记录进展', 'Record progress')}</button> ` +
      `<button class="btn" data-svc-act="close">${T('办结', 'Close')}</button></p>`;
    html += '<p class="msg err" id="svc-err" hidden></p>';
    box.innerHTML = html;
    $('svc-reveal').addEventListener('click', async () => {
      const c = await WG.api('GET', `/api/v1/resident-services/requests/${id}/contact`);
      $('svc-phone').innerHTML = `<a href="tel:${WG.esc(c.applicant_phone)}">${WG.esc(c.applicant_phone)}</a>`;
    });
    box.querySelectorAll('[data-svc-act]').forEach(b => b.addEventListener('click', async () => {
      const body = {version: r.version};
      if ($('svc-note')) { body.note = $('svc-note').value.trim(); body.complex = $('svc-complex').checked; }
      try {
        await WG.api('POST', `/api/v1/resident-services/requests/${id}/actions/${b.dataset.svcAct}`, body);
        await load(); await open(id);
      } catch (e) { const err = $('svc-err'); err.hidden = false; err.textContent = e.message; }
    }));
  }
  load();
})();
