/* Case categories page: edit a category (name, limits, 准入清单, 小事, line, state), add a
   local category, and edit its routing rules per county (area class / street / community /
   line → lead + assisting departments). Every change is an /api/v1 call, so permissions,
   checks and the audit log are enforced there, not here. */
(function () {
  const T = WG.t, esc = WG.esc, C = window.CATS;
  const FLASH = 'wangge-categories-flash';
  const $ = id => document.getElementById(id);
  function msg(el, text, ok) { el.innerHTML = `<p class="msg ${ok ? 'ok' : 'err'}">${esc(text)}</p>`; }
  function done(text) { sessionStorage.setItem(FLASH, text); location.reload(); }
  const flash = sessionStorage.getItem(FLASH);
  if (flash) { msg($('flash'), flash, true); sessionStorage.removeItem(FLASH); }
  const val = id => $(id).value.trim();
  document.querySelectorAll('dialog [data-close]').forEach(b => b.addEventListener('click', () => b.closest('dialog').close()));
  async function run(button, out, call, text) {
    button.disabled = true;
    try { await call(); done(text); }
    catch (e) { msg(out, e.message, false); button.disabled = false; }
  }

  // Limits: {stage: {A: hours, B: hours, C: hours}}; an empty stage uses the city default.
  function readLimits(box) {
    const out = {};
    box.querySelectorAll('input[data-stage]').forEach(i => {
      if (i.value === '') return;
      (out[i.dataset.stage] = out[i.dataset.stage] || {})[i.dataset.area] = Number(i.value);
    });
    return out;
  }
  function fillLimits(box, limits) {
    box.querySelectorAll('input[data-stage]').forEach(i => {
      const v = ((limits || {})[i.dataset.stage] || {})[i.dataset.area];
      i.value = v === undefined ? '' : v;
    });
  }
  function selectValue(select, value) {
    if (value && !Array.from(select.options).some(o => o.value === value)) {
      select.add(new Option(value, value));  // a line not worked in these counties: keep it
    }
    select.value = value || '';
  }

  if ($('create-form')) {
    $('create-form').addEventListener('submit', ev => {
      ev.preventDefault();
      const body = {code: val('new-code'), kind: val('new-kind'), name: val('new-name'),
        major_name: val('new-major'), admitted_to_grid: $('new-admitted').checked,
        minor: $('new-minor').checked, urgent: $('new-urgent').checked, limits: readLimits($('new-limits'))};
      if (val('new-line')) body.business_line = val('new-line');
      if (val('new-department')) body.default_department = val('new-department');
      run($('create-submit'), $('create-msg'), () => WG.api('POST', '/api/v1/case-categories', body),
        T(`已新增类别 ${body.code}`, `category ${body.code} added`));
    });

    let editing = null;
    const dialog = $('edit-dialog');
    document.querySelectorAll('[data-edit]').forEach(b => b.addEventListener('click', () => {
      editing = C.categories[b.dataset.edit];
      $('edit-title').textContent = T('修改类别', 'Edit category') + ' · ' + editing.code;
      $('edit-name').value = editing.name;
      selectValue($('edit-line'), editing.business_line);
      $('edit-department').value = editing.default_department || '';
      $('edit-admitted').checked = editing.admitted_to_grid;
      $('edit-minor').checked = editing.minor;
      $('edit-urgent').checked = editing.urgent;
      $('edit-active').checked = editing.is_active;
      fillLimits($('edit-limits'), editing.limits);
      $('edit-msg').innerHTML = '';
      dialog.showModal();
    }));
    $('edit-form').addEventListener('submit', ev => {
      ev.preventDefault();
      // Everything is sent; the server marks only what really changed as the district's own.
      const body = {name: val('edit-name'), business_line: val('edit-line') || null,
        default_department: val('edit-department') || null, admitted_to_grid: $('edit-admitted').checked,
        minor: $('edit-minor').checked, urgent: $('edit-urgent').checked, is_active: $('edit-active').checked,
        limits: readLimits($('edit-limits'))};
      run($('edit-submit'), $('edit-msg'), () => WG.api('PATCH', `/api/v1/case-categories/${encodeURIComponent(editing.code)}`, body),
        T(`已保存类别 ${editing.code}`, `category ${editing.code} saved`));
    });
  }

  // Routing rules of one category in one county.
  let routing = null;
  const routes = $('routes-dialog');
  const county = () => val('route-county');
  const deptName = code => ((C.departments[county()] || []).find(d => d[0] === code) || [code, code])[1];
  function scopeText(r) {
    if (r.area_prefix) {
      const area = C.areas.find(a => a[0] === r.area_prefix);
      return (r.area_prefix.length === 12 ? T('社区', 'Community') : T('街道', 'Street')) + ' ' + (area ? area[1] + ' ' : '') + r.area_prefix;
    }
    if (r.area_class) return T('区域类别', 'Area class') + ' ' + r.area_class;
    return T('全区县', 'Whole county');
  }
  function fillDepartments() {
    const rows = C.departments[county()] || [];
    $('rule-lead').innerHTML = rows.map(d => `<option value="${esc(d[0])}">${esc(d[1])} (${esc(d[0])})</option>`).join('');
    $('rule-assisting').querySelectorAll('label').forEach(l => l.remove());
    $('rule-assisting').insertAdjacentHTML('beforeend', rows.map(d =>
      `<label class="check"><input type="checkbox" value="${esc(d[0])}"> ${esc(d[1])}</label>`).join(''));
    syncLead();
  }
  // The lead department cannot also assist.
  function syncLead() {
    $('rule-assisting').querySelectorAll('input').forEach(i => {
      const isLead = i.value === val('rule-lead');
      if (isLead) i.checked = false;
      i.disabled = isLead;
    });
  }
  function fillAreas() {
    const scope = val('rule-scope');
    $('rule-class').hidden = scope !== 'class';
    $('rule-area').hidden = !(scope === 'street' || scope === 'community');
    $('rule-area').innerHTML = C.areas.filter(a => a[2] === scope && a[0].startsWith(county()))
      .map(a => `<option value="${esc(a[0])}">${esc(a[1])} ${esc(a[0])}</option>`).join('');
  }
  async function loadRules() {
    const table = $('rules');
    table.querySelectorAll('tr[data-rule]').forEach(r => r.remove());
    const rows = await WG.api('GET', `/api/v1/case-routing-rules?county_code=${county()}&category_code=${encodeURIComponent(routing)}`);
    table.insertAdjacentHTML('beforeend', rows.map(r => `<tr data-rule="${r.id}"><td>${esc(scopeText(r))}</td>` +
      `<td>${esc(r.business_line || T('任意', 'any'))}</td><td>${esc(deptName(r.department_code))}</td>` +
      `<td>${esc(r.assisting.map(deptName).join('、'))}</td>` +
      `<td><button class="btn danger" type="button" data-delete-rule="${r.id}">${T('删除', 'Delete')}</button></td></tr>`).join('') ||
      `<tr data-rule="none"><td colspan="5" class="muted">${T('暂无规则：按类别默认部门派遣', 'No rules: dispatched to the category\'s default department')}</td></tr>`);
    table.querySelectorAll('[data-delete-rule]').forEach(b => b.addEventListener('click', async () => {
      if (!confirm(T('删除这条路由规则？', 'Delete this routing rule?'))) return;
      try { await WG.api('DELETE', `/api/v1/case-routing-rules/${b.dataset.deleteRule}`); await loadRules(); msg($('rule-msg'), T('已删除规则', 'rule deleted'), true); }
      catch (e) { msg($('rule-msg'), e.message, false); }
    }));
  }
  function openRoutes(code) {
    routing = code;
    const c = C.categories[code];
    $('routes-title').textContent = T('派遣路由', 'Routing') + ' · ' + code + ' ' + (c ? c.name : '');
    $('rule-msg').innerHTML = '';
    fillDepartments(); fillAreas();
    routes.showModal();
    loadRules().catch(e => msg($('rule-msg'), e.message, false));
  }
  document.querySelectorAll('[data-routes]').forEach(b => b.addEventListener('click', () => openRoutes(b.dataset.routes)));
  $('rule-scope').addEventListener('change', fillAreas);
  $('route-county').addEventListener('change', () => { fillDepartments(); fillAreas(); loadRules().catch(e => msg($('rule-msg'), e.message, false)); });
  $('rule-lead').addEventListener('change', syncLead);
  $('rule-form').addEventListener('submit', async ev => {
    ev.preventDefault();
    const scope = val('rule-scope');
    const body = {county_code: county(), category_code: routing, department_code: val('rule-lead'),
      assisting: Array.from($('rule-assisting').querySelectorAll('input:checked')).map(i => i.value)};
    if (scope === 'class') body.area_class = val('rule-class');
    if (scope === 'street' || scope === 'community') body.area_prefix = val('rule-area');
    if (val('rule-line')) body.business_line = val('rule-line');
    const button = $('rule-submit');
    button.disabled = true;
    try {
      await WG.api('PUT', '/api/v1/case-routing-rules', body);
      await loadRules();
      msg($('rule-msg'), T('已保存规则', 'rule saved'), true);
    } catch (e) { msg($('rule-msg'), e.message, false); }
    button.disabled = false;
  });
})();
