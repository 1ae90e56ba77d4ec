/* 信息采集 on the console: the create/edit form of a registry record. The fields and code lists
   come from /web/api/registry/forms; the form POSTs (new) or PATCHes (only the changed fields)
   the /api/v1/registry route of its kind, and shows a refusal next to the field it names, in
   Chinese and English (the checks are the service's, the same as the Excel import's). */
(function () {
  const card = document.getElementById('record-form-card');
  if (!card || !document.getElementById('form-open')) return;
  const esc = s => WG.esc(s == null ? '' : String(s));
  const kind = card.dataset.kind, id = card.dataset.id;
  const form = document.getElementById('record-form');
  let fields = [], current = {};

  function value(f) {
    const el = form.querySelector(`[name="${f.key}"]`);
    const v = el.value.trim();
    if (v === '') return null;
    if (f.type === 'int' || f.type === 'float') return isNaN(Number(v)) ? v : Number(v);
    return v;
  }
  function shownValue(f) {
    const v = current[f.key];
    return v == null ? '' : String(v);
  }
  function input(f) {
    const attrs = `name="${f.key}" id="rf-${f.key}" data-testid="rf-${f.key}"`;
    if (f.type === 'select') {
      return `<select ${attrs}><option value=""></option>` + f.choices.map(([v, label]) =>
        `<option value="${esc(v)}"${String(current[f.key] ?? '') === v ? ' selected' : ''}>${esc(label)}</option>`).join('') + '</select>';
    }
    const mode = f.type === 'text' ? '' : ' inputmode="decimal"';
    return `<input ${attrs}${mode} value="${esc(shownValue(f))}"${f.required && !id ? ' required' : ''}>`;
  }
  function render() {
    const shown = fields.filter(f => !(f.create && id));
    form.innerHTML = shown.map(f => `<p><label for="rf-${f.key}">${WG.t(f.zh, f.en)}${f.required ? ' *' : ''}</label><br>${input(f)}` +
      `<span class="field-err" data-for="${f.key}"></span></p>`).join('') +
      `<p><button type="submit" class="btn" id="form-submit" data-testid="form-submit">${WG.t('保存', 'Save')}</button>` +
      ` <button type="button" class="btn secondary" id="form-cancel">${WG.t('取消', 'Cancel')}</button></p><div id="form-msg" data-testid="form-msg"></div>`;
    form.hidden = false;
    document.getElementById('form-cancel').addEventListener('click', () => { form.hidden = true; });
  }
  function showErrors(e) {
    const d = e.data || {};
    const list = d.errors && d.errors.length ? d.errors.map(x => ({field: x.field, zh: d.detail, en: d.detail_en}))
      : [{field: d.field, zh: d.detail || e.message, en: d.detail_en || ''}];
    let placed = false;
    for (const x of list) {
      const slot = x.field && form.querySelector(`.field-err[data-for="${x.field}"]`);
      const html = `<span class="msg err" data-testid="field-error">${esc(x.zh)}<br><span class="muted">${esc(x.en)}</span></span>`;
      if (slot) { slot.innerHTML = html; placed = true; }
    }
    if (!placed) {
      const m = document.getElementById('form-msg');
      m.className = 'msg err'; m.innerHTML = `${esc(list[0].zh)}<br><span class="muted">${esc(list[0].en)}</span>`;
    }
  }
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    form.querySelectorAll('.field-err').forEach(s => { s.innerHTML = ''; });
    document.getElementById('form-msg').textContent = '';
    const body = {};
    for (const f of fields.filter(f => !(f.create && id))) {
      const v = value(f);
      const before = current[f.key] == null ? null : current[f.key];
      if (id ? String(v ?? '') !== String(before ?? '') : v !== null) body[f.key] = v;
    }
    if (id && !Object.keys(body).length) { form.hidden = true; return; }
    try {
      const out = await WG.api(id ? 'PATCH' : 'POST', `/api/v1/registry/${kind}` + (id ? `/${id}` : ''), body, {'Idempotency-Key': crypto.randomUUID ? crypto.randomUUID() : String(Date.now())});
      location.href = `/console/registry/${kind}/${out.id}`;
    } catch (e) { showErrors(e); }
  });
  document.getElementById('form-open').addEventListener('click', async () => {
    try {
      const spec = await WG.api('GET', '/web/api/registry/forms');
      fields = spec[kind] || [];
      current = id ? await WG.api('GET', `/api/v1/registry/${kind}/${id}`) : {};
      render();
    } catch (e) { form.hidden = false; form.innerHTML = `<p class="msg err">${esc(e.message)}</p>`; }
  });
})();
