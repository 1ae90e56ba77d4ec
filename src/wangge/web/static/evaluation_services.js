/* The 代办 figures of the evaluation page's period (GET /api/v1/resident-services/figures). */
(function () {
  const box = document.getElementById('eval-services');
  if (!box || !box.dataset.period) return;
  const KEYS = ['requested', 'answered_on_time', 'on_time_answer_rate', 'closed', 'on_time_close_rate',
    'open_overdue', 'rated', 'satisfaction_rate'];
  const show = (k, v) => v === null || v === undefined ? '—' : (k.endsWith('_rate') ? (v * 100).toFixed(1) + '%' : String(v));
  WG.api('GET', `/api/v1/resident-services/figures?period=${encodeURIComponent(box.dataset.period)}`).then(d => {
    const name = k => WG.lang === 'en' ? d.labels[k].en : d.labels[k].zh;
    document.getElementById('eval-services-body').innerHTML =
      `<table><tr>${KEYS.map(k => `<th>${WG.esc(name(k))}</th>`).join('')}</tr>` +
      `<tr data-testid="eval-services-total">${KEYS.map(k => `<td data-col="${k}">${show(k, d.total[k])}</td>`).join('')}</tr></table>`;
  }).catch(e => { document.getElementById('eval-services-body').textContent = e.message; });
})();
