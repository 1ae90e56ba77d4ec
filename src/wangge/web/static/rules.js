/* Response rules page: save a rule's name/hours/clock, disable it, add one. Every change is an
   /api/v1/case-response-rules call, so rights, checks and the audit log are enforced there. */
(function () {
  const esc = WG.esc, R = window.RULES;
  const FLASH = 'wangge-rules-flash';
  const flashBox = document.getElementById('flash');
  function msg(text, ok) { flashBox.innerHTML = `<p class="msg ${ok ? 'ok' : 'err'}">${esc(text)}</p>`; }
  const kept = sessionStorage.getItem(FLASH);
  if (kept) { msg(kept, true); sessionStorage.removeItem(FLASH); }
  async function run(button, call, text) {
    button.disabled = true;
    try { await call(); sessionStorage.setItem(FLASH, text); location.reload(); }
    catch (e) { msg(e.message, false); button.disabled = false; }
  }
  document.querySelectorAll('[data-save]').forEach(b => b.addEventListener('click', () => {
    const row = b.closest('tr'), field = f => row.querySelector(`[data-field="${f}"]`);
    const body = {name: field('name').value.trim(), hours: Number(field('hours').value),
      around_the_clock: field('around_the_clock').checked};
    run(b, () => WG.api('PATCH', `/api/v1/case-response-rules/${b.dataset.save}`, body), R.saved);
  }));
  document.querySelectorAll('[data-disable]').forEach(b => b.addEventListener('click', () => {
    run(b, () => WG.api('POST', `/api/v1/case-response-rules/${b.dataset.disable}/deactivate`), R.disabled);
  }));
  const form = document.getElementById('rule-form');
  if (form) form.addEventListener('submit', ev => {
    ev.preventDefault();
    const val = id => document.getElementById(id).value;
    const urgent = val('new-urgent');
    const body = {county_code: R.county, name: val('new-name').trim(), source: val('new-source'),
      stage: val('new-stage'), hours: Number(val('new-hours')),
      urgent: urgent === '' ? null : urgent === 'true',
      around_the_clock: document.getElementById('new-clock').checked};
    run(document.getElementById('rule-submit'), () => WG.api('POST', '/api/v1/case-response-rules', body), R.saved);
  });
})();
