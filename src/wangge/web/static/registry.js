/* Registry pages (基础数据): Excel import with its row report, audited unmasking, verification.
   Every write goes to /api/v1/registry (session cookie + CSRF header via WG.api). */
(function () {
  const R = window.REGISTRY || {};
  const T = R.text || {};
  const $ = id => document.getElementById(id);

  // Filters: choosing a community reloads the list with that community's grids.
  const community = $('registry-community');
  if (community) community.addEventListener('change', () => {
    const grid = $('registry-grid');
    if (grid) grid.value = '';
    community.form.submit();
  });

  function report(box, data) {
    const esc = WG.esc;
    let html = `<p class="msg ${data.errors.length ? 'err' : 'ok'}" data-testid="import-summary" data-written="${data.written}"` +
      ` data-created="${data.created}" data-updated="${data.updated}" data-errors="${data.errors.length}">` +
      `${esc(T.rows)} ${data.rows} · ${esc(T.created)} ${data.created} · ${esc(T.updated)} ${data.updated}` +
      ` · ${esc(T.errors)} ${data.errors.length}</p>`;
    if (data.errors.length) {
      html += `<p data-testid="import-outcome">${esc(data.written ? T.partial : T.rolledBack)}</p>`;
      html += `<table id="import-errors"><tr><th>${esc(T.row)}</th><th>${esc(T.column)}</th><th>${esc(T.value)}</th><th>${esc(T.reason)}</th></tr>`;
      for (const e of data.errors) {
        html += `<tr data-row="${e.row}"><td>${e.row}</td><td data-col="column">${esc(e.column)}</td>` +
          `<td>${esc(e.value)}</td><td data-col="reason">${esc(e.reason)}</td></tr>`;
      }
      html += '</table>';
    } else {
      html += `<p data-testid="import-outcome">${esc(T.done)}</p>`;
    }
    if (data.written && (data.created || data.updated)) {
      html += `<p><a class="btn secondary" href="${location.pathname}${location.search}" id="import-reload">${esc(T.reload)}</a></p>`;
    }
    box.innerHTML = html;
  }

  const form = $('import-form');
  if (form) form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const box = $('import-result');
    const file = $('import-file').files[0];
    if (!file) { box.innerHTML = `<p class="msg err">${WG.esc(T.chooseFile)}</p>`; return; }
    const validOnly = $('mode-valid').checked;
    const fd = new FormData();
    fd.append('file', file);
    box.innerHTML = `<p class="muted">${WG.esc(T.importing)}</p>`;
    try {
      const data = await WG.api('POST', `/api/v1/registry/${R.kind}/import?valid_only=${validOnly}`, fd);
      report(box, data);
    } catch (e) {
      box.innerHTML = `<p class="msg err" data-testid="import-failed">${WG.esc(e.message)}</p>`;
    }
  });

  // Detail page: the full ID number and phone, only with a reason (the API audits the read).
  const msg = $('record-msg');
  const say = (cls, text) => { if (msg) { msg.className = 'msg ' + cls; msg.textContent = text; } };
  const open = $('unmask-open');
  if (open) {
    open.addEventListener('click', () => { $('unmask-form').hidden = false; $('unmask-reason').focus(); });
    $('unmask-cancel').addEventListener('click', () => { $('unmask-form').hidden = true; });
    $('unmask-submit').addEventListener('click', async () => {
      const reason = $('unmask-reason').value.trim();
      if (!reason) { say('err', T.reasonNeeded); return; }
      try {
        const full = await WG.api('GET', `/api/v1/registry/people/${R.id}/personal?reason=${encodeURIComponent(reason)}`);
        for (const key of ['id_number', 'phone']) {
          const cell = document.querySelector(`[data-field="${key}"]`);
          if (cell) { cell.textContent = full[key] || ''; cell.classList.add('revealed'); }
        }
        $('unmask-form').hidden = true;
        open.hidden = true;
        say('ok', T.revealed);
      } catch (e) {
        say('err', e.message);
      }
    });
  }
  const verify = $('verify-record');
  if (verify) verify.addEventListener('click', async () => {
    try {
      await WG.api('POST', `/api/v1/registry/${R.kind}/${R.id}/actions/verify`);
      say('ok', T.verified);
      location.reload();
    } catch (e) {
      say('err', e.message);
    }
  });
})();
