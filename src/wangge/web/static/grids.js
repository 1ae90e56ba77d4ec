/* Grid management page: versions, validation, map preview, reports, import, generation,
   automatic division, activation with confirmation and rollback. Every write goes through
   the /api/v1 routes (session cookie + CSRF header), so it is checked and audited there. */
(function () {
  const T = WG.t, esc = WG.esc;
  const report = document.getElementById('report');
  const title = document.getElementById('report-title');
  const mapEl = document.getElementById('vmap');

  // ---- helpers ---------------------------------------------------------------------------
  function msg(el, text, ok) { el.innerHTML = `<p class="msg ${ok ? 'ok' : 'err'}">${esc(text)}</p>`; }
  function rowsTable(head, rows) {
    return '<table><tr>' + head.map(h => `<th>${esc(h)}</th>`).join('') + '</tr>' +
      rows.map(r => '<tr>' + r.map(c => `<td>${c}</td>`).join('') + '</tr>').join('') + '</table>';
  }
  function pct(x) { return x == null ? '' : (x * 100).toFixed(1) + '%'; }
  function num(x, d) { return x == null ? '' : Number(x).toLocaleString(undefined, {maximumFractionDigits: d || 0}); }
  function codes(list) {
    const flat = list.map(x => typeof x === 'string' ? x : Array.isArray(x) ? x.join('↔') :
      `${[].concat(x.old).join('+')}→${[].concat(x.new).join('+')}`);
    return esc(flat.slice(0, 30).join(', ')) + (flat.length > 30 ? ' …' : '');
  }
  function errorList(e) {
    const list = e.data && e.data.details && e.data.details.errors;
    let html = `<p class="msg err">${esc(e.message)}</p>`;
    if (list && list.length) {
      html += rowsTable([T('要素', 'Feature'), T('字段', 'Field'), T('原因', 'Reason')],
        list.map(x => [esc(x.feature == null ? '—' : x.feature), esc(x.field || '—'),
          esc(WG.lang === 'en' ? x.message_en : x.message_zh)]));
      html = html.replace('<table>', '<table data-testid="import-errors">');
    }
    return html;
  }
  async function readGeoJSON(input, label) {
    const file = input.files[0];
    if (!file) return null;
    try { return JSON.parse(await file.text()); }
    catch (err) {
      throw new Error(T(`${label}：文件 ${file.name} 不是有效的 GeoJSON`, `${label}: ${file.name} is not valid GeoJSON`));
    }
  }
  function busy(button, on) { button.disabled = on; button.dataset.busy = on ? '1' : ''; }

  // ---- map preview (works with no base map: grids on a plain background) ------------------
  const map = L.map('vmap', {preferCanvas: true, zoomSnap: 0.25});
  if (WG.addBasemap) {
    WG.addBasemap(map);
  }
  map.setView([39.96, 116.3], 11);
  let shown = null, marks = null;
  async function preview(id) {
    document.getElementById('map-title').textContent = T('地图预览', 'Map preview') + ' #' + id;
    const crs = encodeURIComponent(mapEl.dataset.crs || 'EPSG:4490');
    const data = await WG.api('GET', `/api/v1/grid-versions/${id}/geojson?crs=${crs}`);
    if (shown) map.removeLayer(shown);
    shown = L.geoJSON(data, {
      style: () => ({color: '#1d5fbf', weight: 1, fillColor: '#9cc3ff', fillOpacity: 0.25}),
      onEachFeature: (f, lyr) => lyr.bindTooltip(`${esc(f.properties.code)} ${esc(f.properties.name)}`),
    }).addTo(map);
    if (data.features.length) map.fitBounds(shown.getBounds(), {padding: [10, 10]});
    mapEl.dataset.version = id;
    mapEl.dataset.features = data.features.length;
  }
  function markProblems(problems) {
    if (marks) map.removeLayer(marks);
    marks = L.layerGroup(problems.filter(p => p.location).map(p =>
      L.circleMarker([p.location[1], p.location[0]], {radius: 6, color: '#d93025', weight: 2})
        .bindTooltip(esc(WG.lang === 'en' ? p.message_en : p.message_zh)))).addTo(map);
    mapEl.dataset.problems = marks.getLayers().length;
  }

  // ---- validation, version report, comparison ---------------------------------------------
  const KIND = {gap: ['缝隙', 'gap'], overlap: ['重叠', 'overlap'], sliver: ['碎片', 'sliver'],
    invalid: ['几何无效', 'invalid geometry'], crossing: ['跨社区', 'crosses community'], bad_code: ['编码错误', 'bad code']};
  async function validate(id) {
    report.innerHTML = '…';
    title.textContent = T('校验报告', 'Validation report') + ' #' + id;
    try {
      const problems = await WG.api('GET', `/api/v1/grid-versions/${id}/validation`);
      if (!problems.length) { report.innerHTML = `<p class="msg ok">${T('没有问题', 'No problems')}</p>`; }
      else {
        report.innerHTML = `<p class="msg err" data-testid="problem-count">${T(`发现 ${problems.length} 个问题`, `${problems.length} problems`)}</p>` +
          rowsTable([T('类型', 'Kind'), T('网格', 'Grids'), T('位置', 'Location'), T('面积（平方米）', 'Area (m²)'), T('说明', 'Detail')],
            problems.slice(0, 500).map(p => [esc((KIND[p.kind] || [p.kind, p.kind])[WG.lang === 'en' ? 1 : 0]),
              esc(p.keys.join(', ')), p.location ? esc(p.location.map(v => v.toFixed(6)).join(', ')) : '',
              esc(num(p.area_m2, 1)), esc(WG.lang === 'en' ? p.message_en : p.message_zh)]));
      }
      await preview(id);
      markProblems(problems);
    } catch (e) { report.innerHTML = `<p class="msg err">${esc(e.message)}</p>`; }
  }

  const DIFF = [['new', '新增', 'new'], ['retired', '撤销', 'retired'], ['split', '拆分', 'split'],
    ['merged', '合并', 'merged'], ['reshaped', '调整', 'reshaped'], ['redrawn', '重划', 'redrawn'], ['unchanged', '未变', 'unchanged']];
  const TABLES = {cases: ['案卷', 'cases'], located_points: ['点图层', 'point layers'], buildings: ['房屋', 'buildings'],
    components: ['部件', 'components'], people: ['人口', 'people'], organisations: ['组织', 'organisations']};
  function diffTable(diff) {
    return rowsTable([T('变化', 'Change'), T('数量', 'Count'), T('网格编码', 'Grid codes')],
      DIFF.map(([k, zh, en]) => [esc(T(zh, en)), `<b data-diff="${k}">${(diff[k] || []).length}</b>`, k === 'unchanged' ? '' : codes(diff[k] || [])]));
  }
  function activationHtml(a) {
    let html = `<h3>${T('启用报告', 'Activation report')}</h3><p data-testid="activation-summary">` +
      T(`第 ${a.previous ?? '—'} 版 → 第 ${a.version} 版`, `version ${a.previous ?? '—'} → version ${a.version}`) + '</p>' + diffTable(a.diff);
    if (a.override) html += `<p class="msg err" data-testid="activation-override">` +
      T(`带着 ${a.override.problems} 个校验问题启用，理由：`, `Activated with ${a.override.problems} validation problems; reason: `) + `${esc(a.override.reason)}</p>`;
    const moved = Object.entries(a.moved || {});
    if (moved.length) {
      html += `<h3>${T('落点记录迁移', 'Located records moved')}</h3>` + rowsTable(
        [T('记录', 'Records'), T('总数', 'Total'), T('改变网格', 'Moved'), T('不在任何网格', 'Unlocated'), T('主要去向', 'Main moves')],
        moved.map(([k, m]) => [esc((TABLES[k] || [k, k])[WG.lang === 'en' ? 1 : 0]), num(m.total), `<b data-moved="${esc(k)}">${num(m.moved)}</b>`, num(m.unlocated),
          esc((m.transitions || []).slice(0, 8).map(t => `${t.from || '—'}→${t.to || '—'} ×${t.count}`).join('; '))]));
    }
    return html;
  }
  const MEASURE = {households: '户', residents: '人', weight: '工作量'};
  function divisionHtml(r) {
    const t = r.totals;
    let html = `<h3>${T('划分质量报告', 'Division quality report')}</h3>` + rowsTable(
      [T('网格数', 'Grids'), T('专属网格', 'Exclusive'), T('户数', 'Households'), T('人口', 'Residents'), T('容差内', 'Within tolerance'),
        T('道路条件允许的网格中容差内', 'Within, where the lines allow'),
        T('偏差范围', 'Deviation'), T('平均紧凑度', 'Mean compactness'), T('跨道路网格', 'Grids crossing streets'),
        T('跨不可跨越线网格', 'Grids crossing barriers')],
      [[`<b data-testid="division-grids">${num(t.grids)}</b>`, num(t.exclusive), num(t.households), num(t.residents),
        `<b data-testid="share-within">${pct(t.share_within)}</b>`, pct(t.share_within_allowed ?? t.share_within),
        `${pct(t.dev_min)} … ${pct(t.dev_max)}`, num(t.pp_mean, 2), num(t.crossing_grids),
        `<span data-testid="barrier-grids">${num(t.barrier_grids ?? 0)}</span>`]]) +
      `<p class="muted">${T(`目标 ${r.target} ${MEASURE[r.measure] || r.measure}，容差 ±${pct(r.tolerance)}`, `target ${r.target} ${r.measure}, tolerance ±${pct(r.tolerance)}`)}</p>`;
    if (r.unmet && r.unmet.length) {
      html += `<h3>${T('未达标网格', 'Grids outside the tolerance')}</h3>` + rowsTable([T('网格', 'Grid'), T('值', 'Value'), T('原因', 'Reason')],
        r.unmet.map(u => [esc(u.code || ''), num(u.value, 1), esc(WG.lang === 'en' ? u.reason_en : u.reason_zh)]));
    }
    html += `<h3>${T('各网格', 'Per grid')}</h3>` + rowsTable(
      [T('网格', 'Grid'), T('户数', 'Households'), T('人口', 'Residents'), T('偏差', 'Deviation'), T('容差内', 'Within'), T('紧凑度', 'Compactness')],
      (r.grids || []).map(g => [esc(g.code || ''), num(g.households), num(g.residents), pct(g.deviation),
        g.within_tolerance ? '✓' : '<span class="badge off">✗</span>', num(g.polsby_popper, 2)]));
    if (r.moves && r.moves.length) html += `<p>${T('移动楼栋', 'Buildings moved')}: ${r.moves.length}</p>`;
    if (r.warnings && r.warnings.length) html += `<p class="muted">${esc(r.warnings.join('; '))}</p>`;
    return html;
  }
  async function showReport(id) {
    report.innerHTML = '…';
    title.textContent = T('版本报告', 'Version report') + ' #' + id;
    try {
      const v = await WG.api('GET', `/api/v1/grid-versions/${id}`);
      const st = {draft: ['草稿', 'draft'], active: ['现行', 'active'], retired: ['已停用', 'retired']}[v.status] || [v.status, v.status];
      let html = `<p><b>${esc(v.name)}</b> · ${T('第', 'version ')}${v.number}${T(' 版', '')} · <span class="badge" data-testid="report-status">${esc(T(st[0], st[1]))}</span></p>`;
      const r = v.report || {};
      if (r.source === 'import') html += `<p data-testid="made-by">${T(`导入自文件 ${esc(r.file)}，${r.grids} 个网格`, `imported from ${esc(r.file)}: ${r.grids} grids`)}</p>`;
      if (r.source === 'generate') html += `<p data-testid="made-by">${T(`生成：单元面积 ${num(r.cell_area_m2)} 平方米，${r.communities.length} 个社区，${r.grids} 个单元网格`,
        `generated: cells of ${num(r.cell_area_m2)} m², ${r.communities.length} communities, ${r.grids} unit grids`)}</p>`;
      if (r.totals) html += divisionHtml(r);
      if (v.activation_report) html += activationHtml(v.activation_report);
      if (!v.report && !v.activation_report) html += `<p class="muted">${T('此版本没有报告', 'This version has no report')}</p>`;
      report.innerHTML = html;
      await preview(id);
    } catch (e) { report.innerHTML = `<p class="msg err">${esc(e.message)}</p>`; }
  }

  document.querySelectorAll('[data-validate]').forEach(b => b.addEventListener('click', () => validate(b.dataset.validate)));
  document.querySelectorAll('[data-report]').forEach(b => b.addEventListener('click', () => showReport(b.dataset.report)));
  document.querySelectorAll('[data-preview]').forEach(b => b.addEventListener('click', () =>
    preview(b.dataset.preview).catch(e => msg(report, e.message, false))));
  document.getElementById('compare').addEventListener('click', async () => {
    const a = document.getElementById('old').value, b = document.getElementById('new').value;
    title.textContent = T('版本差异', 'Differences') + ` ${a} → ${b}`;
    report.innerHTML = '…';
    try {
      const d = await WG.api('GET', `/api/v1/grid-versions/${a}/diff/${b}`);
      report.innerHTML = `<p>${T(`第 ${d.old} 版 → 第 ${d.new} 版`, `version ${d.old} → version ${d.new}`)}</p>` + diffTable(d.diff);
    } catch (e) { report.innerHTML = `<p class="msg err">${esc(e.message)}</p>`; }
  });

  // ---- activation with confirmation (also rollback to a retired version) -------------------
  const confirmBox = document.getElementById('confirm');
  let pending = null;
  document.querySelectorAll('[data-activate]').forEach(b => b.addEventListener('click', async () => {
    const row = b.closest('tr');
    const id = b.dataset.activate;
    const active = document.querySelector(`#versions tr[data-county="${row.dataset.county}"][data-layer="${row.dataset.layer}"][data-status="active"]`);
    const body = document.getElementById('confirm-body');
    document.getElementById('confirm-title').textContent = row.dataset.status === 'retired'
      ? T(`确认回滚到第 ${row.dataset.number} 版`, `Roll back to version ${row.dataset.number}?`)
      : T(`确认启用第 ${row.dataset.number} 版`, `Activate version ${row.dataset.number}?`);
    body.innerHTML = '…';
    confirmBox.hidden = false;
    confirmBox.scrollIntoView({block: 'center'});
    pending = id;
    checkOverride(id);
    if (!active) { body.innerHTML = `<p>${T('当前没有现行版本。', 'No version is in force yet.')}</p>`; return; }
    try {
      const d = await WG.api('GET', `/api/v1/grid-versions/${active.dataset.version}/diff/${id}`);
      body.innerHTML = `<p>${T(`与现行第 ${d.old} 版相比：`, `Compared with version ${d.old} in force:`)}</p>` + diffTable(d.diff) +
        ((d.diff.retired || []).length ? `<p class="msg err">${T(`将撤销 ${d.diff.retired.length} 个网格；其中的记录会移到新网格或成为未归属。`,
          `${d.diff.retired.length} grids will be retired; their records move to the new grids or become unlocated.`)}</p>` : '');
    } catch (e) { body.innerHTML = `<p class="msg err">${esc(e.message)}</p>`; }
  }));
  // A version with validation problems goes into force only with a reason (audited by the server).
  const override = document.getElementById('override'), reasonBox = document.getElementById('override-reason');
  let problemCount = 0;
  async function checkOverride(id) {
    override.hidden = true; reasonBox.value = ''; reasonBox.classList.remove('invalid'); problemCount = 0;
    try {
      const problems = await WG.api('GET', `/api/v1/grid-versions/${id}/validation`);
      if (pending !== id || !problems.length) return;
      problemCount = problems.length;
      const kinds = {};
      problems.forEach(p => { const k = (KIND[p.kind] || [p.kind, p.kind])[WG.lang === 'en' ? 1 : 0]; kinds[k] = (kinds[k] || 0) + 1; });
      document.getElementById('override-problems').textContent =
        T(`校验发现 ${problems.length} 个问题`, `Validation found ${problems.length} problems`) + ': ' +
        Object.entries(kinds).map(([k, n]) => `${k} ${n}`).join(', ');
      override.hidden = false;
    } catch (e) { /* the activation itself will say what is wrong */ }
  }
  document.getElementById('confirm-no').addEventListener('click', () => { confirmBox.hidden = true; pending = null; });
  document.getElementById('confirm-yes').addEventListener('click', async () => {
    if (!pending) return;
    const yes = document.getElementById('confirm-yes');
    const reason = reasonBox.value.trim();
    if (problemCount && !reason) {
      reasonBox.classList.add('invalid'); reasonBox.focus();
      msg(document.getElementById('confirm-body'), T('该版本有校验问题：请填写仍要启用的理由', 'This version has validation problems: give the reason to activate it anyway'), false);
      return;
    }
    busy(yes, true);
    try {
      await WG.api('POST', `/api/v1/grid-versions/${pending}/actions/activate`, reason ? {override_reason: reason} : undefined);
      location.href = `/console/grids?report=${pending}`;  // the stored activation report
    } catch (e) {
      msg(document.getElementById('confirm-body'), e.message, false); busy(yes, false);
      if (e.data && e.data.code === 'validation_problems') { problemCount = e.data.details.count; override.hidden = false; }
    }
  });

  // ---- write tools (rendered for grid managers only) ---------------------------------------
  document.querySelectorAll('.tabs .tab').forEach(tab => tab.addEventListener('click', () => {
    document.querySelectorAll('.tabs .tab').forEach(x => x.classList.toggle('on', x === tab));
    document.querySelectorAll('form.tool').forEach(f => { f.hidden = f.dataset.tab !== tab.dataset.tab; });
  }));
  function opened(version, tab) { location.href = `/console/grids?report=${version.id}&tab=${tab}`; }

  // An upload form: `${prefix}-file` and the non-empty `${prefix}-${field}` inputs, posted to
  // `url`; `done` gets the reply, or the error list is shown under the form.
  function uploadForm(prefix, fields, url, done) {
    const form = document.getElementById(prefix + '-form');
    if (!form) return;
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      const out = document.getElementById(prefix + '-msg'), button = document.getElementById(prefix + '-submit');
      const fd = new FormData();
      fd.append('file', document.getElementById(prefix + '-file').files[0]);
      for (const k of fields) {
        const v = document.getElementById(prefix + '-' + k).value;
        if (v) fd.append(k, v);
      }
      busy(button, true); out.innerHTML = `<p class="muted">${T('正在导入…', 'Importing…')}</p>`;
      try { done(await WG.api('POST', url, fd), out); }
      catch (e) { out.innerHTML = errorList(e); }
      busy(button, false);
    });
  }
  uploadForm('import', ['county', 'kind', 'name', 'crs', 'encoding'], '/api/v1/grid-versions/import',
    made => opened(made.version, 'import'));
  // Divisions (streets, communities) come before the grids that lie in them.
  uploadForm('division', ['crs', 'encoding'], '/api/v1/divisions/import', (made, out) => {
    const list = made.codes.slice(0, 30).join(', ') + (made.codes.length > 30 ? ' …' : '');
    out.innerHTML = `<p class="msg ok" data-testid="division-imported" data-count="${made.imported}">` +
      esc(T(`已导入 ${made.imported} 个区划：${list}。刷新页面后可在“生成单元网格”“自动划分”中选用。`,
        `${made.imported} divisions imported: ${list}. Reload the page to choose them in "Generate unit grids" and "Automatic division".`)) + '</p>';
  });

  const generateForm = document.getElementById('generate-form');
  if (generateForm) generateForm.addEventListener('submit', async ev => {
    ev.preventDefault();
    const out = document.getElementById('generate-msg'), button = document.getElementById('generate-submit');
    const [kind, code] = document.getElementById('generate-area').value.split(':');
    busy(button, true); out.innerHTML = `<p class="muted">${T('正在生成…', 'Generating…')}</p>`;
    try {
      const body = {county: document.getElementById('generate-county').value,
        cell_area_m2: Number(document.getElementById('generate-cell').value)};
      if (kind === 'street') body.street = code; else body.communities = [code];
      const name = document.getElementById('generate-name').value.trim();
      if (name) body.name = name;
      const lines = await readGeoJSON(document.getElementById('generate-lines'), T('切割线', 'Lines'));
      if (lines) body.lines = lines;
      opened((await WG.api('POST', '/api/v1/grid-versions/generate', body)).version, 'generate');
    } catch (e) { out.innerHTML = errorList(e); busy(button, false); }
  });

  const divideForm = document.getElementById('divide-form');
  if (divideForm) divideForm.addEventListener('submit', async ev => {
    ev.preventDefault();
    const out = document.getElementById('divide-msg'), button = document.getElementById('divide-submit');
    busy(button, true); out.innerHTML = `<p class="muted">${T('正在划分…', 'Dividing…')}</p>`;
    try {
      const communities = [...document.getElementById('divide-communities').selectedOptions].map(o => o.value);
      const body = {county: document.getElementById('divide-county').value, communities,
        buildings: await readGeoJSON(document.getElementById('divide-buildings'), T('楼栋', 'Buildings')),
        measure: document.getElementById('divide-measure').value,
        target: Number(document.getElementById('divide-target').value),
        tolerance: Number(document.getElementById('divide-tolerance').value) / 100};
      if (!body.buildings) throw new Error(T('请选择楼栋文件', 'choose a buildings file'));
      const lines = await readGeoJSON(document.getElementById('divide-lines'), T('道路', 'Lines'));
      if (lines) body.lines = lines;
      const roles = document.getElementById('divide-line-roles').value.trim();
      if (roles) body.line_roles = roles;
      opened((await WG.api('POST', '/api/v1/grid-versions/divide', body)).version, 'divide');
    } catch (e) { out.innerHTML = errorList(e); busy(button, false); }
  });

  // ?report=ID opens that version's report (after an import, a generation, a division or an activation).
  const params = new URLSearchParams(location.search);
  const tab = document.querySelector(`.tabs .tab[data-tab="${CSS.escape(params.get('tab') || '')}"]`);
  if (tab) tab.click();
  const wanted = params.get('report');
  if (wanted && document.querySelector(`#versions tr[data-version="${CSS.escape(wanted)}"]`)) showReport(wanted);
})();
