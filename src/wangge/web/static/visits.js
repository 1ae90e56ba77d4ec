/* 入户走访 on the console: households of a grid with this quarter's visit, one household's
   members (masked), room and visits, and the forms (record a visit with photos, add a
   resident, edit or create a household). Refusals are shown next to their field. */
(function () {
  const $ = id => document.getElementById(id);
  const esc = s => WG.esc(s == null ? '' : String(s));
  const canWrite = window.VISITS && window.VISITS.canWrite;
  const ACTIONS = {create: ['新建', 'Created'], update: ['修改', 'Changed'], visit: ['走访', 'Visit']};
  const key = () => (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());

  function errors(form, e) {
    const d = e.data || {};
    form.querySelectorAll('.field-err').forEach(s => { s.innerHTML = ''; });
    const fieldName = d.field || (d.errors && d.errors[0] && d.errors[0].field);
    const html = `<span class="msg err" data-testid="field-error">${esc(d.detail || e.message)}<br><span class="muted">${esc(d.detail_en || '')}</span></span>`;
    const slot = fieldName && form.querySelector(`.field-err[data-for="${fieldName}"]`);
    if (slot) slot.innerHTML = html; else form.querySelector('.form-msg').innerHTML = html;
  }
  function data(form) {
    const out = {};
    new FormData(form).forEach((v, k) => {
      if (v instanceof File) return;
      const t = String(v).trim();
      if (t !== '') out[k] = /_id$/.test(k) ? Number(t) : t;
    });
    return out;
  }

  async function list() {
    const p = new URLSearchParams({limit: '200'});
    if ($('visit-grid').value) p.set('grid_id', $('visit-grid').value);
    if ($('visit-filter').value) p.set('visited', $('visit-filter').value);
    if ($('visit-q').value.trim()) p.set('q', $('visit-q').value.trim());
    const page = await WG.api('GET', '/api/v1/registry/households?' + p);
    $('households').innerHTML = `<tr><th>${WG.t('户号', 'Number')}</th><th>${WG.t('地址', 'Address')}</th><th>${WG.t('人数', 'Residents')}</th><th>${WG.t('本季度', 'This quarter')}</th></tr>` +
      page.items.map(h => `<tr data-household="${h.id}"><td><a href="#">${esc(h.number)}</a></td><td>${esc(h.address)}</td><td>${h.members}</td>` +
        `<td>${h.visited_this_quarter ? WG.t('已走访', 'Visited') : WG.t('未走访', 'Not visited')}</td></tr>`).join('');
    $('households').querySelectorAll('tr[data-household]').forEach(tr => tr.addEventListener('click', ev => { ev.preventDefault(); show(tr.dataset.household); }));
  }

  async function show(id) {
    const h = await WG.api('GET', `/api/v1/registry/households/${id}`);
    const history = await WG.api('GET', `/api/v1/registry/households/${id}/history`);
    const forms = !canWrite ? '' :
      `<form id="visit-new" class="card"><h3>${WG.t('记录走访', 'Record a visit')}</h3>` +
      `<label>${WG.t('走访日期', 'Date')} <input type="date" name="visited_on"></label><span class="field-err" data-for="visited_on"></span>` +
      `<label>${WG.t('走访情况', 'Notes')} <textarea name="notes"></textarea></label><span class="field-err" data-for="notes"></span>` +
      `<label>${WG.t('照片', 'Photos')} <input type="file" name="photo" accept="image/*" multiple></label><span class="field-err" data-for="photos"></span>` +
      `<button class="btn" type="submit">${WG.t('保存', 'Save')}</button><div class="form-msg"></div></form>` +
      `<form id="resident-new" class="card"><h3>${WG.t('新增住户', 'Add a resident')}</h3>` +
      `<label>${WG.t('姓名', 'Name')} <input name="name" required></label><span class="field-err" data-for="name"></span>` +
      `<label>${WG.t('公民身份号码', 'ID number')} <input name="id_number" autocomplete="off"></label><span class="field-err" data-for="id_number"></span>` +
      `<label>${WG.t('与户主关系', 'Relation')} <input name="relation" placeholder="户主/配偶/子女…"></label><span class="field-err" data-for="relation"></span>` +
      `<button class="btn" type="submit">${WG.t('保存', 'Save')}</button><div class="form-msg"></div></form>` +
      `<form id="household-edit" class="card"><h3>${WG.t('修改户', 'Edit the household')}</h3>` +
      `<label>${WG.t('户号', 'Number')} <input name="number" value="${esc(h.number)}"></label><span class="field-err" data-for="number"></span>` +
      `<label>${WG.t('房屋编号', 'Room id')} <input name="room_id" value="${esc(h.room_id)}"></label><span class="field-err" data-for="room_id"></span>` +
      `<button class="btn" type="submit">${WG.t('保存', 'Save')}</button><div class="form-msg"></div></form>`;
    $('household-detail').innerHTML = `<h2>${esc(h.number)} · ${esc(h.address || '')}</h2>` +
      (h.room ? `<p><a href="/console/registry/rooms/${h.room.id}">${WG.t('房屋', 'Room')} ${esc(h.room.number)}</a></p>` : '') +
      `<table>${h.people.map(p => `<tr><td><a href="/console/registry/people/${p.id}">${esc(p.name)}</a></td><td>${esc(p.relation)}</td><td>${esc(p.id_number)}</td></tr>`).join('')}</table>` +
      `<h3>${WG.t('走访记录', 'Visits')}</h3><ul class="timeline" data-testid="visits">${h.visits.map(v => `<li>${esc(v.visited_on)} · ${esc(v.worker_name)} — ${esc(v.notes)}` +
        v.photos.map(ref => ` <a href="${esc(ref)}/public" target="_blank">${WG.t('照片', 'photo')}</a>`).join('') + '</li>').join('') || `<li class="muted">${WG.t('无', 'None')}</li>`}</ul>` +
      `<h3>${WG.t('变更记录', 'History')}</h3><ul class="timeline" data-testid="household-history">${history.map(c => `<li>${esc(WG.fmt ? WG.fmt(c.at) : c.at)} · ${esc(c.actor)} · ${esc(ACTIONS[c.action] ? WG.t(...ACTIONS[c.action]) : c.action)} ` +
        esc(Object.entries(c.changes).map(([k, [a, b]]) => `${k}: ${a ?? '—'} → ${b ?? '—'}`).join('；')) + '</li>').join('')}</ul>` + forms;
    if (!canWrite) return;
    $('visit-new').addEventListener('submit', async ev => {
      ev.preventDefault();
      const form = ev.target, body = data(form);
      try {
        body.photos = [];
        for (const f of form.querySelector('[name=photo]').files) {
          const fd = new FormData(); fd.append('file', f);
          body.photos.push('/api/v1/uploads/' + (await WG.api('POST', '/api/v1/uploads', fd)).id);
        }
        await WG.api('POST', `/api/v1/registry/households/${h.id}/visits`, body, {'Idempotency-Key': key()});
        show(h.id); list();
      } catch (e) { errors(form, e); }
    });
    $('resident-new').addEventListener('submit', async ev => {
      ev.preventDefault();
      const form = ev.target;
      try {
        await WG.api('POST', '/api/v1/registry/people', Object.assign(data(form), {household_id: h.id}), {'Idempotency-Key': key()});
        show(h.id); list();
      } catch (e) { errors(form, e); }
    });
    $('household-edit').addEventListener('submit', async ev => {
      ev.preventDefault();
      const form = ev.target;
      try {
        await WG.api('PATCH', `/api/v1/registry/households/${h.id}`, data(form), {'Idempotency-Key': key()});
        show(h.id); list();
      } catch (e) { errors(form, e); }
    });
  }

  ['visit-grid', 'visit-filter'].forEach(id => $(id).addEventListener('change', list));
  $('visit-q').addEventListener('change', list);
  document.querySelectorAll('[data-pick-grid]').forEach(a => a.addEventListener('click', ev => {
    ev.preventDefault(); $('visit-grid').value = a.dataset.pickGrid; list();
  }));
  const created = $('household-new');
  if (created) created.addEventListener('submit', async ev => {
    ev.preventDefault();
    try {
      const h = await WG.api('POST', '/api/v1/registry/households', data(created), {'Idempotency-Key': key()});
      created.reset(); created.querySelector('.form-msg').textContent = '';
      list(); show(h.id);
    } catch (e) { errors(created, e); }
  });
  list();
})();
