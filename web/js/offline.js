// Parley — the offline page (shown by the service worker while the network is down): in the
// manager's language, and back to the app by itself once the server answers again.

import { t, translatePage } from './i18n.js';

translatePage();
document.title = `${t('You are offline')} — Parley`;
// "Try again" loads the page the manager asked for.
if (location.pathname !== '/offline.html') document.querySelector('.offline-btn').href = location.href;

async function back() {
  try {
    if (!(await fetch('/healthz', { cache: 'no-store' })).ok) return;
  } catch {
    return;
  }
  // Shown in place of the page the manager asked for: load it again.
  if (location.pathname === '/offline.html') location.replace('/');
  else location.reload();
}
addEventListener('online', back);
setInterval(back, 5000);
