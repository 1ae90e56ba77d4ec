/* Case page actions: one button per allowed action, with the inputs some actions need —
   "duplicate of" (the original's code, picked from nearby candidates or typed) for
   reject_duplicate, lead + assisting departments (joint case) for dispatch. Every write goes
   through /api/v1/cases/{id}/actions/{action}; a refusal is shown in the page language and
   the input it names (problem+json `field`) is marked. */
(function () {
  const c = window.CASE;
  const form = document.getElementById('act-form');
  if (!c || !form) return;
  const $ = id => document.getElementById(id);
  const msg = $('act-msg');
  // problem+json `field` → the input to mark.
  const FIELDS = {duplicate_of: 'duplicate-of', department: 'department', assisting: 'assisting',
    note: 'note', photos: 'photo', hours: 'hours'};

  function clearInvalid() { form.querySelectorAll('.invalid').forEach(el => el.classList.remove('invalid')); }
  function fail(text, field) {
    msg.className = 'msg err'; msg.textContent = text;
    const el = field && $(FIELDS[field] || field);
    if (el) { el.classList.add('invalid'); if (el.focus) el.focus(); }
  }

  // Joint dispatch: the lead department cannot also assist.
  const lead = $('department');
  function syncLead() {
    form.querySelectorAll('#assisting input[type=checkbox]').forEach(box => {
      const isLead = lead && box.value === lead.value;
      if (isLead) box.checked = false;
      box.disabled = isLead;
      box.parentElement.classList.toggle('lead', isLead);
    });
  }
  if (lead) { lead.addEventListener('change', syncLead); syncLead(); }

  // Duplicates: open earlier cases of the same class nearby (GET /cases/{id}/duplicates).
  const dupInput = $('duplicate-of');
  function metres(a, b) {
    const k = 111320, dx = (b.lon - a.lon) * k * Math.cos((a.lat + b.lat) / 2 * Math.PI / 180);
    return Math.round(Math.hypot(dx, (b.lat - a.lat) * k));
  }
  async function candidates() {
    const list = $('duplicate-candidates'), options = $('duplicate-list');
    const radius = Number($('duplicate-radius').value) || 50;
    list.textContent = '…';
    try {
      const rows = await WG.api('GET', `/api/v1/cases/${c.id}/duplicates?radius_m=${radius}`);
      options.innerHTML = rows.map(r => `<option value="${WG.esc(r.code)}">${WG.esc(r.description)}</option>`).join('');
      list.innerHTML = rows.length ? rows.slice(0, 10).map(r => `<li data-code="${WG.esc(r.code)}" data-testid="duplicate-candidate">` +
        `<i class="lamp ${r.light || ''}"></i><b>${WG.esc(r.code)}</b> ${WG.esc(WG.label('state', r.state))} · ${metres(c, r)} m · ${WG.fmt(r.reported_at)}` +
        `<br><span class="muted">${WG.esc(r.address || '')} ${WG.esc(r.description)}</span> ` +
        `<a href="/console/cases/${r.id}" target="_blank">${WG.t('查看', 'open')}</a></li>`).join('')
        : `<li class="muted">${WG.t('附近没有疑似重复的案卷；可直接输入原案卷编号', 'No likely duplicates nearby; type the code of the original case')}</li>`;
      list.querySelectorAll('li[data-code]').forEach(li => li.addEventListener('click', ev => {
        if (ev.target.tagName === 'A') return;
        dupInput.value = li.dataset.code; dupInput.classList.remove('invalid');
      }));
    } catch (e) { list.textContent = e.message; }
  }
  if (dupInput) { $('duplicate-radius').addEventListener('change', candidates); candidates(); }

  form.querySelectorAll('button[data-action]').forEach(b => b.addEventListener('click', async () => {
    clearInvalid();
    const action = b.dataset.action;
    const body = {expected_version: c.version, payload: {}, photos: []};
    const note = $('note').value.trim();
    if (note) body.note = note;
    if (action === 'dispatch' && lead) {
      body.payload.department = lead.value;
      body.payload.assisting = Array.from(form.querySelectorAll('#assisting input:checked')).map(x => x.value);
    }
    if (action === 'reject_duplicate') {
      const ref = dupInput ? dupInput.value.trim() : '';
      if (!ref) {
        fail(WG.t('请填写重复于的原案卷编号', 'Enter the code of the original case this one duplicates'), 'duplicate_of');
        return;
      }
      body.payload.duplicate_of = ref;
    }
    const hours = $('hours') ? $('hours').value : '';  // asked for only where an extension may be
    if (hours) body.payload.hours = Number(hours);
    if (action === 'rate') body.payload.rating = 'satisfied';
    try {
      const file = $('photo').files[0];
      if (file) {
        const fd = new FormData(); fd.append('file', file);
        const up = await WG.api('POST', '/api/v1/uploads', fd);
        body.photos.push('/api/v1/uploads/' + up.id);
      }
      await WG.api('POST', `/api/v1/cases/${c.id}/actions/${action}`, body);
      msg.className = 'msg ok'; msg.textContent = WG.t('操作成功', 'Done');
      location.reload();
    } catch (e) {
      fail(e.message, e.data && e.data.field);
    }
  }));
})();
