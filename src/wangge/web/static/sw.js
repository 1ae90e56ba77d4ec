/* Service worker of the grid-worker page: keeps the page shell for offline start.
   API calls are never cached (reports and patrol track points wait in IndexedDB instead, see
   outbox.js). Bump SHELL when a shell file changes: static files are served cache-first. */
const SHELL = 'wangge-shell-v3';
const FILES = ['/m', '/static/app.css', '/static/common.js', '/static/outbox.js', '/static/mobile.js',
  '/static/vendor/leaflet/leaflet.js', '/static/vendor/leaflet/leaflet.css', '/static/icon-192.png'];
self.addEventListener('install', e => e.waitUntil(caches.open(SHELL).then(c => c.addAll(FILES)).then(() => self.skipWaiting())));
// Drop older shells, or their stale outbox.js/mobile.js would still match first.
self.addEventListener('activate', e => e.waitUntil(caches.keys()
  .then(keys => Promise.all(keys.filter(k => k.startsWith('wangge-shell-') && k !== SHELL).map(k => caches.delete(k))))
  .then(() => self.clients.claim())));
self.addEventListener('fetch', e => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== location.origin) return;
  if (url.pathname.startsWith('/static/')) {
    e.respondWith(caches.match(e.request).then(hit => hit || fetch(e.request)));
  } else if (url.pathname === '/m' || url.pathname === '/m/') {
    e.respondWith(fetch(e.request).then(r => { const copy = r.clone(); caches.open(SHELL).then(c => c.put('/m', copy)); return r; })
      .catch(() => caches.match('/m')));
  }
});
