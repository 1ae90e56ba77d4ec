/* Exports as background jobs: a button or link with data-export-job="<POST url>" queues the
   export of what the page lists (the same query), then shows its progress (percent, rows)
   and, when the file is written, a download link. Nothing hangs while a big list is written. */
(function () {
  const WG = window.WG || (window.WG = {});
  const POLL_MS = 700;

  function panelFor(trigger) {
    let panel = document.getElementById('export-progress');
    if (!panel) {
      panel = document.createElement('div');
      panel.id = 'export-progress';
      panel.className = 'export-progress card';
      panel.setAttribute('role', 'status');
      const host = trigger.closest('form, .card, main') || document.body;
      host.insertAdjacentElement('afterend', panel);
    }
    return panel;
  }

  function show(panel, job) {
    const pct = job.percent || 0;
    panel.dataset.state = job.state;
    panel.dataset.jobId = job.id;
    const rows = job.total ? `${job.done} / ${job.total}` : `${job.done}`;
    if (job.state === 'done') {
      panel.innerHTML = `<span>${WG.esc(WG.t('导出完成：', 'Export finished: '))}` +
        `${job.rows} ${WG.esc(WG.t('行', 'rows'))}</span> ` +
        `<a class="btn" id="export-download" href="${WG.esc(job.file_url)}" download>` +
        `${WG.esc(WG.t('下载 Excel', 'Download Excel'))}</a> <span class="muted">` +
        `${WG.esc(WG.t('文件保留至 ', 'kept until '))}${WG.esc(WG.fmt(job.expires_at))}</span>`;
      return;
    }
    if (job.state === 'failed' || job.state === 'expired') {
      const why = job.state === 'expired' ? WG.t('文件已过期，请重新导出', 'the file has expired; export again')
        : WG.t(job.error_zh || '导出失败', job.error_en || 'the export failed');
      panel.innerHTML = `<span class="msg err" id="export-error">${WG.esc(why)}</span>`;
      return;
    }
    const what = job.state === 'queued' ? WG.t('排队等待导出…', 'Waiting to export…')
      : WG.t('正在导出…', 'Exporting…');
    panel.innerHTML = `<span>${WG.esc(what)}</span> <progress max="100" value="${pct}"></progress> ` +
      `<span id="export-percent">${pct}%</span> <span class="muted" id="export-rows">` +
      `${WG.esc(rows)} ${WG.esc(WG.t('行', 'rows'))}</span>`;
  }

  async function follow(panel, url) {
    let job;
    try {
      job = await WG.api('GET', url);
    } catch (e) {
      panel.innerHTML = `<span class="msg err" id="export-error">${WG.esc(e.message)}</span>`;
      return;
    }
    show(panel, job);
    if (job.state === 'queued' || job.state === 'running') {
      setTimeout(function () { follow(panel, url); }, POLL_MS);
    }
  }

  WG.startExport = async function (trigger) {
    const panel = panelFor(trigger);
    const url = new URL(trigger.dataset.exportJob, location.href);
    url.searchParams.set('lang', WG.lang === 'en' ? 'en' : 'zh');
    panel.innerHTML = `<span>${WG.esc(WG.t('正在提交导出…', 'Starting the export…'))}</span>`;
    trigger.setAttribute('aria-busy', 'true');
    try {
      const job = await WG.api('POST', url.pathname + url.search);
      show(panel, job);
      follow(panel, job.status_url);
    } catch (e) {
      panel.innerHTML = `<span class="msg err" id="export-error">${WG.esc(e.message)}</span>`;
    } finally {
      trigger.removeAttribute('aria-busy');
    }
  };

  // A reload (or another page with an export button) picks up an export still running.
  document.addEventListener('DOMContentLoaded', async function () {
    const trigger = document.querySelector('[data-export-job]');
    if (!trigger) return;
    let mine = [];
    try { mine = await WG.api('GET', '/api/v1/export-jobs'); } catch (e) { return; }
    const busy = (mine || []).find(function (j) { return j.state === 'queued' || j.state === 'running'; });
    if (busy) { const panel = panelFor(trigger); show(panel, busy); follow(panel, busy.status_url); }
  });

  document.addEventListener('click', function (ev) {
    const trigger = ev.target.closest && ev.target.closest('[data-export-job]');
    if (!trigger) return;
    ev.preventDefault();
    if (trigger.getAttribute('aria-busy') === 'true') return;  // a double click starts one job
    WG.startExport(trigger);
  });
})();
