/* Offline outbox in IndexedDB: reports {kind: 'report', key, body, photo(Blob), photoRef},
   batches of patrol track points {kind: 'points', key, patrol, points}, patrol ends
   {kind: 'patrol_end', key, patrol} and case actions of the department page {kind: 'action',
   key, caseId, action, body, photos(Blobs), photoRefs, refused}. Rows are sent in the order
   they were queued, each with its key as Idempotency-Key, so a retry after a lost response
   never stores a report, a batch of points or an action twice. Rows from before 'kind'
   existed are reports. Registry writes of the 信息采集 forms {kind: 'write', method, url, body,
   photos, photoRefs, refused} go the same way (see sendWrite). */
(function () {
  const DB = 'wangge-outbox', STORE = 'reports';
  // One connection for the page, so transactions start in the order they were asked for.
  let db = null;
  function open() {
    db = db || new Promise((resolve, reject) => {
      const req = indexedDB.open(DB, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE, {keyPath: 'key'});
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => { db = null; reject(req.error); };
    });
    return db;
  }
  async function tx(mode, fn) {
    const conn = await open();
    return new Promise((resolve, reject) => {
      const t = conn.transaction(STORE, mode);
      const out = fn(t.objectStore(STORE));
      t.oncomplete = () => resolve(out && out.result !== undefined ? out.result : out);
      t.onerror = () => reject(t.error);
      // A transaction the browser gives up on (storage full, evicted) ends in abort without
      // an error event: without this the caller would wait for ever and the row be lost.
      t.onabort = () => reject(t.error || new DOMException('IndexedDB transaction aborted', 'AbortError'));
    });
  }
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    return 'k' + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  // Queue order survives reloads: points must reach a patrol before its end does.
  function nextSeq() {
    const n = Number(localStorage.getItem('wg.outbox.seq') || 0) + 1;
    localStorage.setItem('wg.outbox.seq', String(n));
    return n;
  }
  function row(fields) { return Object.assign({key: uuid(), created: Date.now(), seq: nextSeq()}, fields); }
  const queue = r => tx('readwrite', s => s.put(r));
  const kind = r => r.kind || 'report';
  // A refusal that a resend cannot fix (the patrol ended or is not his): drop the row.
  const permanent = e => [400, 403, 404, 422].includes(e.status);
  // An action the server refused for good (the case moved on, a field missing): kept with the
  // answer for the user to read and discard, never resent. 401 (log in again) and a resend
  // still in progress are worth retrying.
  const refusal = e => e.status !== undefined && e.status < 500 && e.status !== 401 && e.status !== 429 &&
    !(e.data && e.data.code === 'idempotency_in_progress');

  async function upload(blob) {
    const fd = new FormData(); fd.append('file', blob, 'photo.jpg');
    const up = await WG.api('POST', '/api/v1/uploads', fd);
    return '/api/v1/uploads/' + up.id;
  }

  async function sendAction(r, onSent, onRefused) {
    if (r.refused) return;  // waits for the user
    let done;
    try {
      // Each photo is uploaded once: its reference is kept on the row before the next step.
      while (r.photoRefs.length < r.photos.length) {
        r.photoRefs.push(await upload(r.photos[r.photoRefs.length]));
        await Outbox.put(r);
      }
      const body = Object.assign({}, r.body, {photos: (r.body.photos || []).concat(r.photoRefs)});
      done = await WG.api('POST', `/api/v1/cases/${r.caseId}/actions/${r.action}`, body, {'Idempotency-Key': r.key});
    } catch (e) {
      if (!refusal(e)) throw e;
      const d = e.data || {};
      r.refused = {status: e.status, code: d.code || null, zh: d.detail || d.title || e.message, en: d.detail_en || d.title || e.message};
      await Outbox.put(r);
      if (onRefused) onRefused(r);
      return;
    }
    await Outbox.remove(r.key);
    if (onSent) onSent(done, r);
  }

  // A registry write of the 信息采集 forms {kind: 'write', key, method, url, body, photos,
  // photoRefs, refused}: sent with its key, answered by events (the page's onSent is for cases).
  async function sendWrite(r) {
    if (r.refused) return;
    let done;
    try {
      while (r.photoRefs.length < r.photos.length) {
        r.photoRefs.push(await upload(r.photos[r.photoRefs.length]));
        await Outbox.put(r);
      }
      const body = r.photos.length ? Object.assign({}, r.body, {photos: (r.body.photos || []).concat(r.photoRefs)}) : r.body;
      done = await WG.api(r.method, r.url, body, {'Idempotency-Key': r.key});
    } catch (e) {
      if (!refusal(e)) throw e;
      const d = e.data || {};
      r.refused = {status: e.status, code: d.code || null, field: d.field || null, zh: d.detail || d.title || e.message, en: d.detail_en || d.title || e.message};
      await Outbox.put(r);
      window.dispatchEvent(new CustomEvent('wg:write-refused', {detail: {row: r}}));
      return;
    }
    await Outbox.remove(r.key);
    window.dispatchEvent(new CustomEvent('wg:written', {detail: {row: r, answer: done}}));
  }

  async function send(r, onSent, onRefused) {
    if (kind(r) === 'write') return sendWrite(r);
    if (kind(r) === 'action') return sendAction(r, onSent, onRefused);
    if (kind(r) === 'report') {
      if (r.photo && !r.photoRef) {
        const fd = new FormData(); fd.append('file', r.photo, 'photo.jpg');
        const up = await WG.api('POST', '/api/v1/uploads', fd);
        r.photoRef = '/api/v1/uploads/' + up.id;
        await Outbox.put(r);
      }
      const body = Object.assign({}, r.body, {photos: r.photoRef ? [r.photoRef] : []});
      const created = await WG.api('POST', '/api/v1/cases', body, {'Idempotency-Key': r.key});
      await Outbox.remove(r.key);
      if (onSent) onSent(created);
      return;
    }
    try {
      if (kind(r) === 'points') {
        await WG.api('POST', `/api/v1/patrols/${r.patrol}/points`, r.points, {'Idempotency-Key': r.key});
      } else {
        await WG.api('POST', `/api/v1/patrols/${r.patrol}/end`);
      }
    } catch (e) {
      if (!permanent(e)) throw e;
      console.warn('outbox: dropped', kind(r), r.patrol, e.message);
    }
    await Outbox.remove(r.key);
  }

  async function pass(onSent, onRefused, only) {
    const rows = (await Outbox.all()).filter(r => !only || kind(r) === only).sort((a, b) => (a.seq || 0) - (b.seq || 0) || a.created - b.created);
    for (const r of rows) {
      try {
        await send(r, onSent, onRefused);
      } catch (e) {
        // Offline or the server away: stop, keep the order. A refused report stays queued
        // (as before) but does not hold back the rows behind it.
        if (e.status === undefined || kind(r) !== 'report') throw e;
      }
    }
  }

  let chain = Promise.resolve();
  const Outbox = {
    // What the page says when a row could not be kept on the phone: nothing was queued.
    notKept: e => WG.t('未能保存到本机待发送队列，请重试：', 'Could not keep it on this phone, try again: ') +
      ((e && (e.message || e.name)) || String(e)),
    // Rows are built (and numbered) when asked for, not when the transaction starts.
    add: (body, photo) => queue(row({kind: 'report', body, photo: photo || null, photoRef: null})),
    addPoints: (patrol, points) => queue(row({kind: 'points', patrol, points})),
    addPatrolEnd: patrol => queue(row({kind: 'patrol_end', patrol})),
    // Resolves to the row's key.
    // `extra`: what the page shows of the row (e.g. the case code); never sent.
    addAction: (caseId, action, body, photos, extra) => queue(row(Object.assign({}, extra || {},
      {kind: 'action', caseId, action, body, photos: photos || [], photoRefs: [], refused: null}))),
    // A registry write (信息采集); `extra` (e.g. the form it came from) is kept, never sent.
    addWrite: (method, url, body, photos, extra) => queue(row(Object.assign({}, extra || {},
      {kind: 'write', method, url, body, photos: photos || [], photoRefs: [], refused: null}))),
    writes: async () => (await Outbox.all()).filter(r => kind(r) === 'write')
      .sort((a, b) => (a.seq || 0) - (b.seq || 0)),
    get: async key => (await Outbox.all()).find(r => r.key === key) || null,
    actions: async () => (await Outbox.all()).filter(r => kind(r) === 'action')
      .sort((a, b) => (a.seq || 0) - (b.seq || 0)),
    all: () => tx('readonly', s => s.getAll()),
    reports: async () => (await Outbox.all()).filter(r => kind(r) === 'report'),
    pointsQueued: async () => (await Outbox.all()).filter(r => kind(r) === 'points').reduce((n, r) => n + r.points.length, 0),
    put: r => tx('readwrite', s => s.put(r)),
    remove: key => tx('readwrite', s => s.delete(key)),
    // One pass at a time: a call waits for the running pass, then sends what is left.
    // onSent(answer, row) after each sent row; onRefused(row) when an action is refused.
    // `only`: send the rows of one kind (the 信息采集 script sends its 'write' rows only).
    sync(onSent, onRefused, only) {
      const run = chain.then(() => pass(onSent, onRefused, only));
      chain = run.catch(() => {});
      return run;
    },
  };
  window.Outbox = Outbox;
})();
