/* Departments page: create, edit, deactivate/reactivate and the Excel import with its row
   report. Every change is an /api/v1/departments call, so scope, rules and the audit log are
   enforced there, not here. */
(function () {
  const T = WG.t, esc = WG.esc, D = window.DEPTS.text;
  const FLASH = 'wangge-departments-flash';
  const $ = id => document.getElementById(id);
  function msg(el, text, ok) { el.innerHTML = `<p class="msg ${ok ? 'ok' : 'err'}">${esc(text)}</p>`; }
  function done(text) { sessionStorage.setItem(FLASH, text); location.reload(); }
  const flash = sessionStorage.getItem(FLASH);
  if (flash) { msg($('flash'), flash, true); sessionStorage.removeItem(FLASH); }
  if (!$('create-form')) return;  // read-only: no departments.manage
  const val = id => $(id).value.trim();
  const orNull = id => val(id) || null;
  const list = id => val(id).split(/[、,，;；\s]+/).filter(Boolean);
  async function run(button, out, call, text) {
    button.disabled = true;
    try { await call(); done(text); }
    catch (e) { msg(out, e.message, false); button.disabled = false; }
  }
  // A city-level department belongs to the city (110108 → 110100) and serves counties of it.
  const cityOf = county => county.slice(0, 4) + '00';

  $('create-form').addEventListener('submit', ev => {
    ev.preventDefault();
    const county = val('new-county'), level = val('new-level');
    const body = {county_code: level === 'city' ? cityOf(county) : county, name: val('new-name'),
      level, parent_code: orNull('new-parent'), business_line: orNull('new-line'),
      contact: orNull('new-contact'), duty_phone: orNull('new-phone'), credit_code: orNull('new-credit'),
      serves_counties: level === 'city' ? (list('new-serves').length ? list('new-serves') : [county]) : list('new-serves')};
    if (val('new-code')) body.code = val('new-code');
    run($('create-submit'), $('create-msg'), () => WG.api('POST', '/api/v1/departments', body),
      T(`已创建部门 ${body.name}`, `department ${body.name} created`));
  });

  let target = null;
  const dialog = $('edit-dialog');
  dialog.querySelectorAll('[data-close]').forEach(b => b.addEventListener('click', () => dialog.close()));
  const row = code => document.querySelector(`tr[data-code="${CSS.escape(code)}"]`);
  document.querySelectorAll('[data-edit]').forEach(b => b.addEventListener('click', () => {
    target = b.dataset.edit;
    const d = JSON.parse(row(target).dataset.dept);
    $('edit-title').textContent = T('修改部门', 'Edit department') + ' · ' + target;
    $('edit-name').value = d.name;
    $('edit-level').value = d.level;
    $('edit-parent').value = d.parent_code || '';
    $('edit-line').value = d.business_line || '';
    $('edit-contact').value = d.contact || '';
    $('edit-phone').value = d.duty_phone || '';
    $('edit-credit').value = d.credit_code || '';
    $('edit-serves').value = (d.serves_counties || []).join('、');
    $('edit-msg').innerHTML = '';
    dialog.showModal();
  }));
  $('edit-form').addEventListener('submit', ev => {
    ev.preventDefault();
    const body = {name: val('edit-name'), level: val('edit-level'), parent_code: orNull('edit-parent'),
      business_line: orNull('edit-line'), contact: orNull('edit-contact'), duty_phone: orNull('edit-phone'),
      credit_code: orNull('edit-credit'), serves_counties: list('edit-serves')};
    run($('edit-submit'), $('edit-msg'),
      () => WG.api('PATCH', `/api/v1/departments/${encodeURIComponent(target)}`, body),
      T(`已保存部门 ${target}`, `department ${target} saved`));
  });

  for (const [attr, zh, en] of [['deactivate', '已停用', 'deactivated'], ['reactivate', '已恢复', 'reactivated']]) {
    document.querySelectorAll(`[data-${attr}]`).forEach(b => b.addEventListener('click', () => {
      const code = b.dataset[attr];
      if (attr === 'deactivate' && !confirm(T(`停用部门 ${code}？它将不能再接收派遣，历史案卷保留。`,
        `Deactivate ${code}? It receives no new dispatches; its old cases stay.`))) return;
      run(b, $('flash'), () => WG.api('POST', `/api/v1/departments/${encodeURIComponent(code)}/actions/${attr}`),
        T(`${zh}部门 ${code}`, `department ${code} ${en}`));
    }));
  }

  function errorsTable(errors) {
    const rows = errors.map(e => `<tr><td>${esc(e.row)}</td><td>${esc(e.column)}</td><td>${esc(e.value)}</td>` +
      `<td>${esc(WG.lang === 'en' ? e.reason_en : e.reason_zh)}</td></tr>`).join('');
    return `<table data-testid="import-errors"><tr><th>${esc(D.row)}</th><th>${esc(D.column)}</th>` +
      `<th>${esc(D.value)}</th><th>${esc(D.reason)}</th></tr>${rows}</table>`;
  }
  $('import-form').addEventListener('submit', async ev => {
    ev.preventDefault();
    const box = $('import-result'), file = $('import-file').files[0], button = $('import-submit');
    if (!file) { msg(box, D.chooseFile, false); return; }
    const fd = new FormData();
    fd.append('file', file);
    fd.append('county', val('import-county'));
    button.disabled = true;
    box.innerHTML = `<p class="muted">${esc(D.importing)}</p>`;
    try {
      const r = await WG.api('POST', '/api/v1/departments/import', fd);
      done(T(`${r.file}：${D.rows} ${r.rows}，${D.created} ${r.created.length}，${D.updated} ${r.updated.length}`,
        `${r.file}: ${r.rows} rows, ${r.created.length} created, ${r.updated.length} updated`));
    } catch (e) {
      const errors = (e.data && e.data.details && e.data.details.errors) || [];
      box.innerHTML = `<p class="msg err" data-testid="import-failed">${esc(errors.length ? D.nothing : e.message)}</p>` +
        (errors.length ? errorsTable(errors) : '');
      button.disabled = false;
    }
  });
})();
