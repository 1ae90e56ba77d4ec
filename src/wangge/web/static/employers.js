/* 用人单位覆盖率 page: import a reference list (all rows or none) and show what it changed or
   every refused row (row, column, reason in Chinese and English). */
(function () {
  const form = document.getElementById('employer-import');
  if (!form) return;
  const msg = document.getElementById('employer-import-msg');
  const esc = s => WG.esc(s == null ? '' : String(s));
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const data = new FormData(form);
    data.append('county_code', form.dataset.county);
    msg.className = 'muted'; msg.textContent = WG.t('导入中…', 'Importing…');
    try {
      const body = await WG.api('POST', '/api/v1/registry/employer-list', data);
      msg.className = 'msg ok';
      msg.textContent = WG.t(`已导入：新列入 ${body.listed}，移出 ${body.delisted}，更新 ${body.updated}`,
        `Imported: ${body.listed} listed, ${body.delisted} delisted, ${body.updated} updated`);
      setTimeout(() => window.location.reload(), 800);
    } catch (e) {
      const body = e.data || {};
      const rows = ((body.details || {}).errors || []).map(r =>
        `<li>${WG.t('第 ', 'Row ')}${esc(r.row)}${WG.t(' 行', '')} · ${esc(r.field)}：${esc(r.message_zh)} <span class="muted">${esc(r.message_en)}</span></li>`).join('');
      msg.className = 'msg err';
      msg.innerHTML = `${esc(body.detail || e.message)}<br><span class="muted">${esc(body.detail_en || '')}</span>` +
        (rows ? `<ul data-testid="employer-import-errors">${rows}</ul>` : '');
    }
  });
})();
