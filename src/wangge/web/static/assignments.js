/* Grid assignments page (网格员配置): add an assignment, end one. Every change is an
   /api/v1/grid-assignments call, so the area, the grid's existence and the audit are
   enforced there, not here. */
(function () {
  const T = WG.t, esc = WG.esc;
  const FLASH = 'wangge-assignments-flash';
  const $ = id => document.getElementById(id);
  function msg(el, text, ok) { el.innerHTML = `<p class="msg ${ok ? 'ok' : 'err'}">${esc(text)}</p>`; }
  function done(text) { sessionStorage.setItem(FLASH, text); location.reload(); }
  const flash = sessionStorage.getItem(FLASH);
  if (flash) { msg($('flash'), flash, true); sessionStorage.removeItem(FLASH); }
  async function run(button, out, call, text) {
    button.disabled = true;
    try { await call(); done(text); }
    catch (e) { msg(out, e.message, false); button.disabled = false; }
  }

  $('assign-form').addEventListener('submit', ev => {
    ev.preventDefault();
    const body = {username: $('assign-user').value.trim(), grid_code: $('assign-grid').value.trim(),
      layer: $('assign-layer').value, kind: $('assign-kind').value, starts_on: $('assign-start').value};
    if ($('assign-end').value) body.ends_on = $('assign-end').value;
    run($('assign-submit'), $('assign-msg'), () => WG.api('POST', '/api/v1/grid-assignments', body),
      T(`已配置 ${body.username} → ${body.grid_code}`, `${body.username} assigned to ${body.grid_code}`));
  });

  // A 微网格长 is shown on the citizens' "我的网格员" only when published (micro grids).
  document.querySelectorAll('[data-publish]').forEach(b => b.addEventListener('click', () => {
    const on = b.dataset.published !== 'true';
    run(b, $('flash'), () => WG.api('POST', `/api/v1/grid-assignments/${b.dataset.publish}/publish`, {published: on}),
      on ? T('已公示', 'Published') : T('已取消公示', 'No longer published'));
  }));

  let target = null;
  const dialog = $('end-dialog');
  dialog.querySelectorAll('[data-close]').forEach(b => b.addEventListener('click', () => dialog.close()));
  document.querySelectorAll('[data-end]').forEach(b => b.addEventListener('click', () => {
    target = b.dataset.end;
    $('end-msg').innerHTML = '';
    dialog.showModal();
  }));
  $('end-form').addEventListener('submit', ev => {
    ev.preventDefault();
    run($('end-submit'), $('end-msg'),
      () => WG.api('POST', `/api/v1/grid-assignments/${target}/actions/end`, {ends_on: $('end-date').value}),
      T('配置已结束', 'Assignment ended'));
  });
})();
