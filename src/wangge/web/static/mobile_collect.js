/* 信息采集 on the grid worker's phone: the households of my grids with this quarter's visit,
   a household's residents (masked) and room, and three forms — record a visit (走访), add a
   resident, edit the room. Every write is queued in the outbox (outbox.js, kind 'write') with
   its key as Idempotency-Key, so a visit done offline is sent once when the phone is back
   online. Lists are kept in localStorage to be shown offline. Refusals (422 …) come back as
   events and are shown next to the field they name, in Chinese and English. */
(function () {
  const $ = id => document.getElementById(id);
  if (!$('collect') || !window.Outbox) return;
  const esc = s => WG.esc(s == null ? '' : String(s));
  const USES = [['owner_occupied', '自住', 'Owner-occupied'], ['rented', '出租', 'Rented'], ['vacant', '空置', 'Vacant'], ['business', '经营', 'Business']];
  const KINDS = [['registered', '户籍', 'Registered'], ['floating', '流动', 'Floating'], ['overseas', '境外', 'Overseas']];
  const RELATIONS = ['户主', '配偶', '子女', '父母', '祖父母', '孙子女', '兄弟姐妹', '其他'];
  const store = {
    get: k => { try { return JSON.parse(localStorage.getItem('wg.collect.' + k)); } catch (e) { return null; } },
    set: (k, v) => { try { localStorage.setItem('wg.collect.' + k, JSON.stringify(v)); } catch (e) { /* full: shown live only */ } },
  };
  let open = null;  // the household shown
  let unmask = false;  // the post may see full ID numbers and phones (audited)
  WG.me().then(me => { unmask = !!(me && (me.permissions || []).some(p => p === '*' || p === 'personal.unmask')); }).catch(() => {});

  async function counts() {
    const rows = await Outbox.writes();
    $('collect-queued').textContent = String(rows.filter(r => !r.refused).length);
    $('collect-refused').innerHTML = rows.filter(r => r.refused).map(r =>
      `<li class="msg err" data-key="${esc(r.key)}">${esc(r.label)}：${esc(r.refused.zh)}<br><span class="muted">${esc(r.refused.en)}</span>` +
      ` <button type="button" class="btn secondary" data-discard="${esc(r.key)}">${WG.t('放弃', 'Discard')}</button></li>`).join('');
    $('collect-refused').querySelectorAll('[data-discard]').forEach(b => b.addEventListener('click', async () => {
      await Outbox.remove(b.dataset.discard); counts();
    }));
  }

  async function list() {
    const filter = $('collect-filter').value;
    let page = null;
    try {
      page = await WG.api('GET', '/api/v1/registry/households?mine=true&limit=300' + (filter ? '&visited=' + filter : ''));
      store.set('list' + filter, page);
      const cov = await WG.api('GET', '/api/v1/registry/visits/coverage');
      $('collect-covered').textContent = `${cov.visited}/${cov.households}`;
      store.set('coverage', cov);
    } catch (e) {
      page = store.get('list' + filter);
      const cov = store.get('coverage');
      if (cov) $('collect-covered').textContent = `${cov.visited}/${cov.households}`;
    }
    if (!page) { $('collect-list').innerHTML = `<li class="muted">${WG.t('离线，暂无缓存的住户', 'Offline, no households cached')}</li>`; return; }
    $('collect-list').innerHTML = page.items.map(h =>
      `<li data-household="${h.id}" data-visited="${h.visited_this_quarter}"><b>${esc(h.number)}</b> ${esc(h.address || '')}` +
      ` <span class="badge ${h.visited_this_quarter ? 'on' : 'off'}">${h.visited_this_quarter ? WG.t('已走访', 'Visited') : WG.t('未走访', 'Not visited')}</span>` +
      `<br><span class="muted">${WG.t('住户', 'Residents')} ${h.members}${h.last_visit ? ' · ' + WG.t('上次走访', 'Last visit') + ' ' + esc(h.last_visit) : ''}</span></li>`).join('') ||
      `<li class="muted">${WG.t('无', 'None')}</li>`;
    $('collect-list').querySelectorAll('li[data-household]').forEach(li => li.addEventListener('click', () => show(Number(li.dataset.household))));
  }

  const options = (items, value) => items.map(([v, zh, en]) => `<option value="${v}"${v === value ? ' selected' : ''}>${WG.t(zh, en)}</option>`).join('');
  const field = (name, zh, en, input) => `<label for="f-${name}">${WG.t(zh, en)}</label>${input}<span class="field-err" data-for="${name}"></span>`;

  async function show(id) {
    let h = null;
    try { h = await WG.api('GET', `/api/v1/registry/households/${id}`); store.set('h' + id, h); } catch (e) { h = store.get('h' + id); }
    if (!h) { $('collect-detail').innerHTML = `<p class="msg err">${WG.t('离线，该户信息未缓存', 'Offline, this household is not cached')}</p>`; return; }
    open = h;
    const room = h.room || {};
    $('collect-detail').innerHTML = `<div class="card" data-testid="household" data-id="${h.id}"><h3>${esc(h.number)} · ${esc(h.address || '')}</h3>` +
      `<table id="collect-people">${h.people.map(p => `<tr data-person="${p.id}"><td>${esc(p.name)}</td><td>${esc(p.relation || '')}</td><td class="pid">${esc(p.id_number || '')}</td>` +
        (unmask ? `<td><button type="button" class="btn secondary" data-reveal="${p.id}">${WG.t('查看', 'Reveal')}</button></td>` : '') +
        `<td><button type="button" class="btn secondary" data-edit-person="${p.id}">${WG.t('修改', 'Edit')}</button></td></tr>`).join('')}</table>` +
      `<form id="person-edit" data-testid="person-edit" hidden></form>` +
      `<p class="muted">${WG.t('走访记录', 'Visits')}: ${h.visits.map(v => esc(v.visited_on) + ' ' + esc(v.worker_name)).join('；') || WG.t('无', 'none')}</p>` +
      `<form id="visit-form" data-testid="visit-form"><h3>${WG.t('记录走访', 'Record a visit')}</h3>` +
      field('notes', '走访情况', 'Notes', '<textarea id="f-notes" name="notes" maxlength="2000"></textarea>') +
      field('photos', '照片', 'Photo', '<input type="file" id="f-photos" name="photos" accept="image/*" capture="environment">') +
      `<p><button class="btn" type="submit">${WG.t('保存走访', 'Save the visit')}</button></p><div class="form-msg"></div></form>` +
      `<form id="resident-form" data-testid="resident-form"><h3>${WG.t('新增住户', 'Add a resident')}</h3>` +
      field('name', '姓名', 'Name', '<input id="f-name" name="name" required maxlength="50">') +
      field('id_number', '公民身份号码', 'ID number', '<input id="f-id_number" name="id_number" maxlength="18" autocomplete="off">') +
      field('phone', '联系电话', 'Phone', '<input id="f-phone" name="phone" inputmode="tel" autocomplete="off">') +
      field('relation', '与户主关系', 'Relation to the head', `<select id="f-relation" name="relation">${RELATIONS.map(r => `<option>${r}</option>`).join('')}</select>`) +
      field('residence_kind', '人口类型', 'Residence', `<select id="f-residence_kind" name="residence_kind">${options(KINDS, 'registered')}</select>`) +
      `<p><button class="btn" type="submit">${WG.t('保存住户', 'Save the resident')}</button></p><div class="form-msg"></div></form>` +
      (h.room ? `<form id="room-form" data-testid="room-form"><h3>${WG.t('修改房屋', 'Edit the room')}</h3>` +
      field('use', '房屋用途', 'Use', `<select id="f-use" name="use">${options(USES, room.use)}</select>`) +
      field('area_m2', '面积（平方米）', 'Area (m²)', `<input id="f-area_m2" name="area_m2" inputmode="decimal" value="${esc(room.area_m2 == null ? '' : room.area_m2)}">`) +
      field('landlord_name', '房东姓名', 'Landlord', `<input id="f-landlord_name" name="landlord_name" value="${esc(room.landlord_name || '')}">`) +
      field('landlord_phone', '房东电话', 'Landlord phone', `<input id="f-landlord_phone" name="landlord_phone" inputmode="tel" value="${esc(room.landlord_phone || '')}">`) +
      `<p><button class="btn" type="submit">${WG.t('保存房屋', 'Save the room')}</button></p><div class="form-msg"></div></form>` : '') + '</div>';
    // Masked unless the post may unmask; then shown on demand with a reason (audited).
    $('collect-detail').querySelectorAll('[data-reveal]').forEach(b => b.addEventListener('click', async () => {
      const reason = prompt(WG.t('查看理由（将记入审计日志）', 'Reason (written to the audit log)'));
      if (!reason) return;
      try {
        const full = await WG.api('GET', `/api/v1/registry/people/${b.dataset.reveal}/personal?reason=${encodeURIComponent(reason)}`);
        b.closest('tr').querySelector('.pid').textContent = `${full.id_number || ''} ${full.phone || ''}`;
      } catch (e) { b.closest('tr').querySelector('.pid').textContent = e.message; }
    }));
    $('collect-detail').querySelectorAll('[data-edit-person]').forEach(b => b.addEventListener('click', () => {
      if (!spec) return;
      const person = h.people.find(p => String(p.id) === b.dataset.editPerson);
      const form = $('person-edit');
      form.hidden = false;
      recordForm(form, 'people', person, body => Object.assign(person, body));
    }));
    $('visit-form').addEventListener('submit', ev => { ev.preventDefault(); visit(h); });
    $('resident-form').addEventListener('submit', ev => { ev.preventDefault(); resident(h); });
    if (h.room) $('room-form').addEventListener('submit', ev => { ev.preventDefault(); editRoom(h); });
  }

  function clearErrors(form) { form.querySelectorAll('.field-err').forEach(s => { s.innerHTML = ''; }); }
  async function queue(form, method, url, body, photos, label) {
    clearErrors(form);
    const household = form.id === 'record-new' ? null : (open && open.id);
    const msg = form.querySelector('.form-msg');
    try {
      await Outbox.addWrite(method, url, body, photos, {form: form.id, household, label});
    } catch (e) {  // not queued: the form keeps what was typed for another try
      msg.className = 'form-msg msg err'; msg.textContent = Outbox.notKept(e);
      return;
    }
    msg.className = 'form-msg msg ok';
    msg.textContent = navigator.onLine ? WG.t('已保存，正在同步', 'Saved, sending') : WG.t('已离线保存，联网后自动同步', 'Saved offline, sent when back online');
    if (form.id !== 'room-form' && form.id !== 'person-edit') form.reset();
    await counts();
    if (navigator.onLine) sync();
  }
  function visit(h) {
    const form = $('visit-form');
    const notes = $('f-notes').value.trim();
    const photo = $('f-photos').files[0];
    queue(form, 'POST', `/api/v1/registry/households/${h.id}/visits`, notes ? {notes} : {}, photo ? [photo] : [], WG.t('走访 ', 'Visit ') + h.number);
  }
  function resident(h) {
    const form = $('resident-form');
    const body = {name: $('f-name').value.trim(), household_id: h.id, relation: $('f-relation').value, residence_kind: $('f-residence_kind').value};
    for (const k of ['id_number', 'phone']) { const v = $('f-' + k).value.trim(); if (v) body[k] = v; }
    queue(form, 'POST', '/api/v1/registry/people', body, [], WG.t('新增住户 ', 'New resident ') + body.name);
  }
  function editRoom(h) {
    const form = $('room-form');
    const room = h.room, body = {};
    const use = $('f-use').value; if (use !== room.use) body.use = use;
    const area = $('f-area_m2').value.trim();
    if (area !== (room.area_m2 == null ? '' : String(room.area_m2))) body.area_m2 = area === '' ? null : (isNaN(Number(area)) ? area : Number(area));
    for (const k of ['landlord_name', 'landlord_phone']) {
      const v = $('f-' + k).value.trim(); if (v !== (room[k] || '')) body[k] = v || null;
    }
    if (!Object.keys(body).length) return;
    queue(form, 'PATCH', `/api/v1/registry/rooms/${room.id}`, body, [], WG.t('修改房屋 ', 'Room ') + (h.address || room.number));
    // Shown at once (offline too); the server's answer replaces it when it arrives.
    Object.assign(room, body);
    if (h.id) store.set('h' + h.id, h);
  }

  // 信息采集 of any kind (人、户、楼栋、房屋、组织、部件): the console's field list, kept for
  // offline use; a new record is a queued POST, a resident's edit a queued PATCH.
  const KIND_NAMES = {people: ['人口', 'People'], households: ['户', 'Households'], buildings: ['楼栋', 'Buildings'],
    rooms: ['房屋', 'Rooms'], organisations: ['组织', 'Organisations'], components: ['部件', 'Components']};
  let spec = store.get('spec');
  async function loadSpec() {
    try { spec = await WG.api('GET', '/web/api/registry/forms'); store.set('spec', spec); } catch (e) { /* the kept copy */ }
    if (!spec) return;
    $('collect-kind').innerHTML = Object.keys(spec).map(k => `<option value="${k}">${WG.t(...(KIND_NAMES[k] || [k, k]))}</option>`).join('');
    recordForm($('record-new'), $('collect-kind').value, null, null);
    findRecords();
  }
  function recordForm(form, kind, record, onDone) {
    const fields = (spec[kind] || []).filter(f => !(f.create && record));
    const val = f => (record && record[f.key] != null ? String(record[f.key]) : '');
    form.innerHTML = fields.map(f => {
      const name = `name="${f.key}" id="${form.id}-${f.key}"`;
      const input = f.type === 'select'
        ? `<select ${name}><option value=""></option>${f.choices.map(([v, l]) => `<option value="${esc(v)}"${val(f) === v ? ' selected' : ''}>${esc(l)}</option>`).join('')}</select>`
        : `<input ${name} value="${esc(val(f))}"${f.type === 'text' ? '' : ' inputmode="decimal"'}>`;
      return `<label for="${form.id}-${f.key}">${WG.t(f.zh, f.en)}${f.required ? ' *' : ''}</label>${input}<span class="field-err" data-for="${f.key}"></span>`;
    }).join('') + (fields.some(f => f.key === 'lon') ? `<button type="button" class="btn secondary" data-here>${WG.t('获取位置', 'Use my position')}</button>` : '') +
      `<p><button class="btn" type="submit">${WG.t('保存', 'Save')}</button></p><div class="form-msg"></div>`;
    const here = form.querySelector('[data-here]');
    if (here) here.addEventListener('click', () => navigator.geolocation && navigator.geolocation.getCurrentPosition(p => {
      form.querySelector('[name=lon]').value = p.coords.longitude.toFixed(6);
      form.querySelector('[name=lat]').value = p.coords.latitude.toFixed(6);
    }));
    form.onsubmit = ev => {
      ev.preventDefault();
      const body = {};
      for (const f of fields) {
        const raw = form.querySelector(`[name="${f.key}"]`).value.trim();
        const v = raw === '' ? null : ((f.type === 'int' || f.type === 'float') && !isNaN(Number(raw)) ? Number(raw) : raw);
        if (record ? String(v ?? '') !== val(f) : v !== null) body[f.key] = v;
      }
      if (!Object.keys(body).length) return;
      const url = `/api/v1/registry/${kind}` + (record ? `/${record.id}` : '');
      const label = `${WG.t(...(KIND_NAMES[kind] || [kind, kind]))} ${body.name || body.number || (record && (record.name || record.number)) || ''}`;
      queue(form, record ? 'PATCH' : 'POST', url, body, [], label);
      if (onDone) onDone(body);
    };
  }
  $('collect-kind').addEventListener('change', () => {
    recordForm($('record-new'), $('collect-kind').value, null, null);
    // the list of the previous kind goes at once: a tap on it would open a record of that kind
    $('collect-found').innerHTML = `<li class="muted">${WG.t('正在查找…', 'Searching…')}</li>`;
    $('record-edit').innerHTML = ''; findRecords();
  });

  // 修改已有记录: the records of the chosen kind in the worker's area (the list API is scoped to
  // it); the last unfiltered list is kept so that a record can be corrected offline too.
  let searches = 0;  // answers of an older search (another kind or text) are dropped
  async function findRecords() {
    const kind = $('collect-kind').value, q = $('collect-find').value.trim();
    if (!kind) return;
    const mine = ++searches;
    let items;
    try {
      const page = await WG.api('GET', `/api/v1/registry/${kind}?limit=50` + (q ? `&q=${encodeURIComponent(q)}` : ''));
      items = page.items || [];
      if (!q) store.set('found:' + kind, items);
    } catch (e) {
      items = (store.get('found:' + kind) || []).filter(r => !q || JSON.stringify(r).includes(q));
    }
    if (mine !== searches) return;
    const title = r => r.name || r.number || r.code || r.household_number || ('#' + r.id);
    $('collect-found').innerHTML = items.map(r => `<li><a href="#" data-id="${r.id}">${esc(title(r))}</a>` +
      ` <span class="muted">${esc(r.address || r.class_name || r.class_code || '')}</span></li>`).join('') ||
      `<li class="muted">${WG.t('没有记录', 'No records')}</li>`;
    $('collect-found').querySelectorAll('a[data-id]').forEach(a => a.addEventListener('click', ev => {
      ev.preventDefault();
      const record = items.find(r => String(r.id) === a.dataset.id);
      recordForm($('record-edit'), kind, record, body => {
        Object.assign(record, body); // shown at once, offline too
        const kept = store.get('found:' + kind);
        if (kept) store.set('found:' + kind, kept.map(r => (r.id === record.id ? record : r)));
      });
    }));
  }
  let finding = null;
  $('collect-find').addEventListener('input', () => { clearTimeout(finding); finding = setTimeout(findRecords, 300); });
  if (spec) loadSpec().catch(() => {}); else loadSpec();

  async function sync() {
    try { await Outbox.sync(null, null, 'write'); } catch (e) { /* offline: the rows wait */ }
    await counts();
  }
  window.addEventListener('wg:written', async ev => {
    const r = ev.detail.row;
    const form = $(r.form);
    if (form && (r.household == null || (open && r.household === open.id))) {
      const msg = form.querySelector('.form-msg');
      msg.className = 'form-msg msg ok'; msg.textContent = WG.t('已同步', 'Sent');
    }
    await counts();
  });
  window.addEventListener('wg:write-refused', async ev => {
    const r = ev.detail.row;
    const form = $(r.form);
    if (form && (r.household == null || (open && r.household === open.id))) {
      const slot = r.refused.field && form.querySelector(`.field-err[data-for="${r.refused.field}"]`);
      const text = `<span class="msg err" data-testid="field-error">${esc(r.refused.zh)}<br><span class="muted">${esc(r.refused.en)}</span></span>`;
      if (slot) slot.innerHTML = text; else form.querySelector('.form-msg').innerHTML = text;
    }
    await counts();
  });
  window.addEventListener('online', () => { sync().then(list); });
  $('collect-filter').addEventListener('change', list);
  list(); counts();
  if (navigator.onLine) sync();
})();
