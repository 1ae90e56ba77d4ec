/* Shared helpers: JSON calls with the session cookie and the CSRF header, dates in Asia/Shanghai. */
(function () {
  const WG = window.WG || (window.WG = {});
  WG.me = async function () {
    if (WG._me) return WG._me;
    const r = await fetch('/api/v1/auth/me', {credentials: 'same-origin'});
    if (!r.ok) return null;
    WG._me = await r.json();
    WG.csrf = WG._me.csrf_token;
    return WG._me;
  };
  WG.api = async function (method, url, body, extraHeaders) {
    const headers = Object.assign({}, extraHeaders || {});
    if (method !== 'GET') {
      if (!WG.csrf) await WG.me();
      if (WG.csrf) headers['X-CSRF-Token'] = WG.csrf;
    }
    let payload = body;
    if (body !== undefined && !(body instanceof FormData)) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const r = await fetch(url, {method, headers, body: payload, credentials: 'same-origin'});
    let data = null;
    const text = await r.text();
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
    if (!r.ok) {
      const msg = data && (WG.lang === 'en' ? (data.detail_en || data.title) : (data.detail || data.title));
      const err = new Error(msg || ('HTTP ' + r.status));
      err.status = r.status; err.data = data;
      throw err;
    }
    return data;
  };
  // The one time format, in both languages (local_time in wangge/common/localtime.py writes
  // the same): 2026-12-04 09:30 in Asia/Shanghai. A time without a zone is UTC, as stored.
  const STAMP = new Intl.DateTimeFormat('en-CA', {timeZone: 'Asia/Shanghai', hourCycle: 'h23',
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit'});
  WG.fmt = function (iso) {
    if (!iso) return '';
    if (/^\d{4}-\d{2}-\d{2}$/.test(iso)) return iso;  // a calendar date has no zone
    const d = new Date(/T[\d:.]+$/.test(iso) ? iso + 'Z' : iso);
    if (isNaN(d)) return String(iso);
    const p = {};
    STAMP.formatToParts(d).forEach(x => { p[x.type] = x.value; });
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
  };
  // Display label of a code (state, action, role, source, stage, queue, level, satisfaction,
  // light, component_state) in the page language: WG.labels is wangge.cases.labels' table.
  WG.label = function (kind, code) {
    if (code == null) return '';
    const table = (WG.labels || {})[kind] || {};
    return table[code] || String(code);
  };
  WG.esc = function (s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
  };
  WG.t = function (zh, en) { return WG.lang === 'en' ? en : zh; };
  // Coordinate system of navigator.geolocation positions, sent with them as `crs`: browsers
  // give WGS84. A native app wrapper that feeds positions from a GCJ-02 map SDK (高德/腾讯)
  // sets window.WG_GEOLOCATION_CRS = 'GCJ-02' (Baidu: 'BD-09') before the page's scripts run.
  WG.geolocationCrs = window.WG_GEOLOCATION_CRS || 'EPSG:4326';
  // Long work still running (the demo month filling in beside the server): a progress note
  // under the header, refreshed until it is done.
  WG.watchJobs = async function (note) {
    let jobs = [];
    try {
      const r = await fetch('/web/api/jobs', {credentials: 'same-origin'});
      jobs = r.ok ? await r.json() : [];
    } catch (e) { jobs = []; }
    if (!jobs.length) {
      if (!note.hidden) note.textContent = WG.t('后台任务已完成，刷新页面可看到全部数据。', 'Background work finished; reload to see all data.');
      return;
    }
    note.hidden = false;
    note.textContent = jobs.map(function (j) {
      const pct = j.total ? Math.floor(100 * j.done / j.total) : 0;
      const title = WG.t(j.title_zh, j.title_en);
      if (j.state === 'failed') return WG.t('后台任务失败：', 'Background work failed: ') + title + WG.t('（重新运行 wangge demo 继续）', ' (run wangge demo again to resume)');
      return WG.t('后台进行中：', 'In progress: ') + title + ' ' + pct + '%' +
        WG.t('，统计、地图和队列随之更新。', '; figures, map and queues fill in as it goes.');
    }).join(' ');
    setTimeout(function () { WG.watchJobs(note); }, 5000);
  };
  document.addEventListener('DOMContentLoaded', function () {
    // The language switch comes back to this very page: the address as it is now (a script
    // may have changed it, e.g. the registry filters), without a ?lang= of its own.
    const lang = document.getElementById('lang-switch');
    if (lang) lang.addEventListener('click', function () {
      const here = new URL(location.href);
      here.searchParams.delete('lang');
      const target = new URL(lang.href, location.href);
      target.searchParams.set('next', here.pathname + here.search + here.hash);
      lang.href = target.pathname + target.search;
    });
    const note = document.getElementById('jobs-note');
    if (note) WG.watchJobs(note);
    const out = document.getElementById('logout');
    if (out) out.addEventListener('click', async function () {
      try { await WG.api('POST', '/api/v1/auth/logout'); } catch (e) { /* already out */ }
      location.href = '/login';
    });
  });
})();
