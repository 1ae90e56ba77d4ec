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
  WG.fmt = function (iso) {
    if (!iso) return '';
    const d = new Date(iso);
    return d.toLocaleString(WG.lang === 'en' ? 'en-GB' : 'zh-CN', {timeZone: 'Asia/Shanghai', hour12: false,
      year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit'});
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
    const note = document.getElementById('jobs-note');
    if (note) WG.watchJobs(note);
    const out = document.getElementById('logout');
    if (out) out.addEventListener('click', async function () {
      try { await WG.api('POST', '/api/v1/auth/logout'); } catch (e) { /* already out */ }
      location.href = '/login';
    });
  });
})();
