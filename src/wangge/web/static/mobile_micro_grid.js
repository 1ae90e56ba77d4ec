/* 微网格长 on the phone (templates/mobile_micro_grid.html): the micro grids he leads, each with
   its households (members, ID and phone masked) and its cases, from /api/v1/micro-grids/mine.
   The server decides what he may see (the same scope as every list); the card stays hidden for
   users who lead no micro grid. */
(function () {
  const $ = id => document.getElementById(id);
  if (!$('micro-card')) return;
  const esc = s => String(s == null ? '' : s).replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
  const T = (zh, en) => WG.t(zh, en);

  function household(h) {
    const names = h.members.map(m => `${esc(m.name)}${m.relation ? '（' + esc(m.relation) + '）' : ''}`).join('、');
    return `<li data-testid="micro-household" data-household="${esc(h.id)}"><b>${esc(h.number || T('未入户', 'no household'))}</b> ` +
      `<span class="muted">${esc(h.address || '')}</span><br>${names}</li>`;
  }
  function kase(c) {
    return `<li data-testid="micro-case" data-case="${esc(c.id)}"><b>${esc(c.code || c.id)}</b> ` +
      `<span class="badge">${esc(T(c.state_label, c.state_label_en))}</span> ${esc(c.address || '')}<br>` +
      `<span class="muted">${esc(c.description)}</span></li>`;
  }
  function grid(g) {
    return `<div class="micro-grid" data-testid="micro-grid" data-code="${esc(g.grid.code)}">` +
      `<p><b data-testid="micro-grid-name">${esc(g.grid.name)}</b><br><span class="muted">${esc(g.grid.code)}</span></p>` +
      `<h3>${T('住户', 'Households')} <span data-testid="micro-household-count">${g.households.length}</span>` +
      ` · ${T('人口', 'people')} ${g.people}</h3>` +
      `<ul class="hits">${g.households.map(household).join('') || `<li class="muted">${T('暂无', 'None')}</li>`}</ul>` +
      `<h3>${T('案卷', 'Cases')} <span data-testid="micro-case-count">${g.cases.length}</span></h3>` +
      `<ul class="hits">${g.cases.map(kase).join('') || `<li class="muted">${T('暂无', 'None')}</li>`}</ul></div>`;
  }
  async function load() {
    let d;
    try { d = await WG.api('GET', '/api/v1/micro-grids/mine'); } catch (e) { return; }
    if (!d.micro_grids.length) return;
    $('micro-grids').innerHTML = d.micro_grids.map(grid).join('');
    $('micro-card').hidden = false;
  }
  load();
  window.addEventListener('online', load);
})();
