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
    community.form.requestSubmit();  // through the submit handler below (a search text is POSTed)
  });

  // A search text goes in a POST body, never in the URL: an ID or phone number in ?q= would
  // stay in the browser history, proxies and server logs. The answer is the same page; its
  // [data-swap] parts replace ours and the address bar shows its data-url (the filters without
  // an identifier). Drop-downs alone still navigate with GET, so those lists can be linked.
  const filter = $('registry-filter');
  async function search(offset) {
    const body = Object.fromEntries(new FormData(filter));
    body.offset = String(offset || 0);
    if (!WG.csrf) await WG.me();
    let doc;
    try {
      const r = await fetch(`/console/registry/${R.kind}/search`, {
        method: 'POST', credentials: 'same-origin', body: JSON.stringify(body),
        headers: {'Content-Type': 'application/json', 'X-CSRF-Token': WG.csrf || ''},
      });
      doc = new DOMParser().parseFromString(await r.text(), 'text/html');
    } catch (e) {
      $('registry-total').textContent = T.searchFailed;
      return;
    }
    const results = doc.getElementById('registry-results');
    if (!results) {  // a message instead of a list (no permission), or the login page
      const message = doc.querySelector('main');
      if (message) document.querySelector('main').innerHTML = message.innerHTML;
      else location.assign('/login?next=' + encodeURIComponent(location.pathname));
      return;
    }
    for (const fresh of doc.querySelectorAll('[data-swap]')) {
      const old = fresh.id && document.getElementById(fresh.id);
      if (old) old.replaceWith(document.adoptNode(fresh));
    }
    history.replaceState(null, '', results.dataset.url);
  }
  if (filter) {
    filter.addEventListener('submit', ev => {
      if (!$('registry-q').value.trim()) return;
      ev.preventDefault();
      search(0);
    });
    document.addEventListener('click', ev => {
      const page = ev.target.closest('a[data-offset]');
      if (!page) return;
      ev.preventDefault();
      search(Number(page.dataset.offset));
    });
  }

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
