/* Service worker of the phone pages (/m for grid workers, /m/department for department
   handlers): keeps the page shell for offline start. API calls are never cached (reports,
   patrol track points and case actions wait in IndexedDB instead, see outbox.js). Bump SHELL
   when a shell file changes: static files are served cache-first. */
const SHELL = 'wangge-shell-v11';
const FILES = ['/static/app.css', '/static/common.js', '/static/outbox.js', '/static/mobile.js',
  '/static/department_mobile.js', '/static/places.js', '/static/mobile_places.js',
  '/static/mobile_collect.js', '/static/mobile_micro_grid.js', '/static/mobile_services.js',
  '/static/mobile_disputes.js', '/static/basemap.js', '/static/vendor/leaflet/leaflet.js',
  '/static/vendor/leaflet/leaflet.css', '/static/icon-192.png'];
// Each user's own phone page is kept; the other one redirects him (or refuses him), and a
// redirected answer must not be cached for a navigation (the browser rejects it).
const PAGES = ['/m', '/m/department'];
const usable = r => r && r.ok && !r.redirected && r.type === 'basic';
const keep = (cache, path) => fetch(path, {credentials: 'same-origin'})
  .then(r => (usable(r) ? cache.put(path, r) : null)).catch(() => null);
self.addEventListener('install', e => e.waitUntil(caches.open(SHELL)
  .then(c => c.addAll(FILES).then(() => Promise.all(PAGES.map(p => keep(c, p)))))
  .then(() => self.skipWaiting())));
// Drop older shells, or their stale outbox.js/mobile.js would still match first.
self.addEventListener('activate', e => e.waitUntil(caches.keys()
  .then(keys => Promise.all(keys.filter(k => k.startsWith('wangge-shell-') && k !== SHELL).map(k => caches.delete(k))))
  .then(() => self.clients.claim())));
self.addEventListener('fetch', e => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== location.origin) return;
  const page = url.pathname.replace(/\/$/, '') || '/';
  if (url.pathname.startsWith('/static/')) {
    e.respondWith(caches.match(e.request).then(hit => hit || fetch(e.request)));
  } else if (PAGES.includes(page)) {
    // Network first; offline, this page's shell, else the phone page this user has (a
    // handler's /m redirects to /m/department, which is the one kept).
    e.respondWith(fetch(e.request).then(r => {
      if (usable(r)) { const copy = r.clone(); caches.open(SHELL).then(c => c.put(page, copy)); }
      return r;
    }).catch(() => caches.match(page).then(hit => hit || caches.match(PAGES.find(p => p !== page)))));
  }
});
