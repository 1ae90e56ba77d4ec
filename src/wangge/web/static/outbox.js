/* Offline outbox for reports: IndexedDB rows {key, body, photo(Blob), photoRef}; each is sent
   with its key as Idempotency-Key, so a retry after a lost response never makes a second case. */
(function () {
  const DB = 'wangge-outbox', STORE = 'reports';
  function open() {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(DB, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE, {keyPath: 'key'});
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  async function tx(mode, fn) {
    const db = await open();
    return new Promise((resolve, reject) => {
      const t = db.transaction(STORE, mode);
      const out = fn(t.objectStore(STORE));
      t.oncomplete = () => resolve(out && out.result !== undefined ? out.result : out);
      t.onerror = () => reject(t.error);
    });
  }
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    return 'k' + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  const Outbox = {
    add: (body, photo) => tx('readwrite', s => s.put({key: uuid(), body, photo: photo || null, photoRef: null, created: Date.now()})),
    all: () => tx('readonly', s => s.getAll()),
    put: row => tx('readwrite', s => s.put(row)),
    remove: key => tx('readwrite', s => s.delete(key)),
    syncing: false,
    async sync(onSent) {
      if (Outbox.syncing) return;
      Outbox.syncing = true;
      try {
        for (const row of await Outbox.all()) {
          if (row.photo && !row.photoRef) {
            const fd = new FormData(); fd.append('file', row.photo, 'photo.jpg');
            const up = await WG.api('POST', '/api/v1/uploads', fd);
            row.photoRef = '/api/v1/uploads/' + up.id;
            await Outbox.put(row);
          }
          const body = Object.assign({}, row.body, {photos: row.photoRef ? [row.photoRef] : []});
          const created = await WG.api('POST', '/api/v1/cases', body, {'Idempotency-Key': row.key});
          await Outbox.remove(row.key);
          if (onSent) onSent(created);
        }
      } finally {
        Outbox.syncing = false;
      }
    },
  };
  window.Outbox = Outbox;
})();
