// Parley — the service worker (PWA). It never caches the API or the app: it keeps only the
// offline page (and what that page needs), shown for a page load when the network is down.
// A notification it shows (where a page may not) opens its chat in a Parley tab when clicked.

const CACHE = 'parley-offline-v1';
const OFFLINE = '/offline.html';
const KEEP = [OFFLINE, '/css/offline.css', '/js/offline.js', '/js/i18n.js', '/js/locales/ru.js', '/favicon.svg', '/icons/icon.svg'];

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(KEEP.map((u) => new Request(u, { cache: 'reload' })))).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil((async () => {
    for (const k of await caches.keys()) if (k !== CACHE) await caches.delete(k);
    await self.registration.navigationPreload?.enable();
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (e) => {
  const req = e.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
  if (req.mode === 'navigate') {
    // The network answers every page load; only when it cannot does the offline page show.
    e.respondWith((async () => {
      try {
        return (await e.preloadResponse) || await fetch(req);
      } catch {
        return (await caches.match(OFFLINE)) || Response.error();
      }
    })());
  } else if (KEEP.includes(url.pathname)) {
    // What the offline page loads: from the network while there is one.
    e.respondWith(fetch(req).catch(async () => (await caches.match(url.pathname)) || Response.error()));
  }
});

self.addEventListener('notificationclick', (e) => {
  e.notification.close();
  const href = e.notification.data?.href || '#/chats';
  e.waitUntil((async () => {
    const tabs = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const tab = tabs.find((c) => new URL(c.url).origin === location.origin);
    if (!tab) return self.clients.openWindow(`/${href}`);
    await tab.focus();
    tab.postMessage({ type: 'open', href });
  })());
});
