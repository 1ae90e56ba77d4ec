/* 代办 console page: save a catalogue row, add a service (both through the API). */
(function () {
  const flash = (text, ok) => {
    const f = document.getElementById('flash');
    f.className = 'msg ' + (ok ? 'ok' : 'err'); f.textContent = text;
  };
  const lines = text => text.split('\n').map(s => s.trim()).filter(Boolean);
  document.querySelectorAll('[data-save]').forEach(b => b.addEventListener('click', async () => {
    const row = b.closest('tr'), body = {};
    row.querySelectorAll('[data-field]').forEach(el => {
      const f = el.dataset.field;
      body[f] = el.type === 'checkbox' ? el.checked : f === 'materials' ? lines(el.value) : el.type === 'number' ? Number(el.value) : el.value;
    });
    try { await WG.api('PATCH', `/api/v1/resident-services/catalogue/${b.dataset.save}`, body); flash(WG.t('已保存', 'Saved'), true); }
    catch (e) { flash(e.message, false); }
  }));
  const form = document.getElementById('svc-new');
  if (form) form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const d = new FormData(form);
    try {
      await WG.api('POST', '/api/v1/resident-services/catalogue', {
        county_code: form.dataset.county, code: d.get('code'), family: d.get('family'), name: d.get('name'),
        name_en: d.get('name_en') || null, materials: lines(d.get('materials') || ''),
        respond_hours: Number(d.get('respond_hours')), answer_hours: Number(d.get('answer_hours')),
        complex_hours: Number(d.get('complex_hours'))});
      location.reload();
    } catch (e) { flash(e.message, false); }
  });
})();
