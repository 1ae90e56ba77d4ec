/* The 受理登记 card of the case page: show the caller in full (personal.unmask, with a reason,
   audited), record a 回访, send a reply to 12345. Each write reloads the page to show it. */
(function () {
  const card = document.getElementById('intake-card');
  if (!card) return;
  const id = card.dataset.case;
  const $ = x => document.getElementById(x);
  const msg = $('intake-msg');
  function fail(err, field) {
    msg.className = 'msg err'; msg.textContent = err.message || String(err);
    const el = field && $(field);
    if (el) el.classList.add('invalid');
  }
  const reveal = $('reveal-caller');
  if (reveal) reveal.addEventListener('click', async () => {
    const reason = window.prompt(WG.t('请说明查看完整来电人信息的理由（将记入审计日志）', 'Why do you need the caller\'s full details? (written to the audit log)'));
    if (!reason) return;
    try {
      const d = await WG.api('GET', `/api/v1/cases/${id}/intake/personal?reason=${encodeURIComponent(reason)}`);
      card.querySelector('[data-testid=caller-name]').textContent = d.caller_name || '';
      card.querySelector('[data-testid=caller-phone]').firstChild.textContent = (d.caller_phone || '') + ' ';
      reveal.remove();
    } catch (err) { fail(err); }
  });
  const cb = $('callback-form');
  if (cb) {
    const sat = $('satisfaction');
    const sync = () => { sat.disabled = cb.querySelector('input[name=reached]:checked').value !== 'true'; };
    cb.querySelectorAll('input[name=reached]').forEach(r => r.addEventListener('change', sync)); sync();
    cb.addEventListener('submit', async e => {
      e.preventDefault();
      const reached = cb.querySelector('input[name=reached]:checked').value === 'true';
      const body = {reached, note: $('callback-note').value.trim() || null};
      if (reached) body.satisfaction = sat.value;
      $('callback-submit').disabled = true;
      try { await WG.api('POST', `/api/v1/cases/${id}/callbacks`, body); window.location.reload(); }
      catch (err) { $('callback-submit').disabled = false; fail(err, err.data && err.data.field === 'note' ? 'callback-note' : err.data && err.data.field); }
    });
  }
  const rf = $('reply-form');
  if (rf) {
    const kind = $('reply-kind'), result = $('reply-result');
    const sync = () => { result.disabled = kind.value !== 'final'; };
    kind.addEventListener('change', sync); sync();
    rf.addEventListener('submit', async e => {
      e.preventDefault();
      const body = {kind: kind.value, text: $('reply-text').value.trim()};
      if (!body.text) return fail(new Error(WG.t('请填写答复内容', 'Write the reply')), 'reply-text');
      if (kind.value === 'final') body.result = result.value;
      $('reply-submit').disabled = true;
      try { await WG.api('POST', `/api/v1/cases/${id}/hotline-replies`, body); window.location.reload(); }
      catch (err) { $('reply-submit').disabled = false; fail(err, err.data && err.data.field === 'text' ? 'reply-text' : null); }
    });
  }
})();
