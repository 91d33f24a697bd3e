// Parley — bootstrap: session check, sign-in / sign-out, hash routing, the header.
// Routes: #/chats[/<contact>[/<chat>[/<message>]]], #/audience[/<id>], #/orders[/<id>],
// #/automation[/<id>|/new], #/reports, #/variables, #/settings. A view module exports mount(el) (run once) and show(args);
// optionally hide() (another route is shown) and canLeave() (resolves false to keep the manager there).

import { api, setCsrf, setUnauthorizedHandler } from './api.js';
import { state as shared, loadManagers, on } from './store.js';
import { fill, avatar } from './dom.js';
import { ready as langReady, t, plural, translatePage } from './i18n.js';
import * as ws from './ws.js';
import { icon } from './icons.js';
import * as notifications from './notifications.js';
import * as hotkeys from './hotkeys.js';
import * as chats from './chats/index.js';

const SESSION = '/api/v1/session';
const ENDED = 'parley.session-ended';
const ROUTES = {
  chats: ['Chats', async () => chats],
  audience: ['Audience', () => import('./views/audience.js')],
  orders: ['Orders and sales', () => import('./views/orders.js')],
  automation: ['Automation', () => import('./views/automation.js')],
  reports: ['Reports', () => import('./views/reports.js')],
  variables: ['Variables', () => import('./views/variables.js')],
  settings: ['Settings', () => import('./views/settings.js')],
};

const $ = (id) => document.getElementById(id);
const el = {
  form: $('signin-form'), login: $('signin-login'), password: $('signin-password'), error: $('signin-error'), submit: $('signin-submit'),
  app: $('app'), name: $('manager-name'), me: $('me-avatar'), signout: $('signout'), main: $('main'), title: $('view-title'), conn: $('conn'),
  links: Array.from(document.querySelectorAll('.app-nav a[data-route]')),
};
const st = { pending: false, lockedUntil: 0, mounted: new Map(), shown: null, seq: 0, asking: false };

// ---------- views ----------

function showSignin(message = '') {
  setCsrf(null);
  $('loading').hidden = true;
  el.app.hidden = true;
  $('signin').hidden = false;
  document.title = `${t('Sign in')} — Parley`;
  setError(message);
  (el.login.value ? el.password : el.login).focus();
}

function showApp(session) {
  const m = session.manager;
  setCsrf(session.csrf_token);
  showMe(m);
  $('loading').hidden = true;
  $('signin').hidden = true;
  el.app.hidden = false;
  el.password.value = '';
  shared.me = m;
  shared.managers.set(m.id, m);
  // Any 401 from now on means the session is gone: start again at the sign-in screen.
  setUnauthorizedHandler(() => leave(true));
  ws.start();
  loadManagers();
  notifications.init();
  hotkeys.init();
  // Desktop notifications, sound, the unread count in the title, idle reports (T4).
  import('./attention.js').then((a) => a.start(), (err) => console.warn('attention:', err));
  renderRoute();
}

/** Drop all state by reloading; `ended` shows "session has ended" on the sign-in screen. */
function leave(ended) {
  setUnauthorizedHandler(null);
  ws.stop();
  try {
    if (ended) sessionStorage.setItem(ENDED, '1');
  } catch { /* private mode */ }
  if (!ended) history.replaceState(null, '', '/');
  location.reload();
}

function setError(message, invalid = false) {
  el.error.textContent = message;
  for (const i of [el.login, el.password]) i.setAttribute('aria-invalid', String(invalid));
}

// ---------- routing ----------

async function renderRoute(focus = false) {
  const parts = location.hash.replace(/^#\/?/, '').split('?')[0].split('/').filter(Boolean);
  let name = parts[0];
  if (!ROUTES[name]) {
    name = 'chats';
    history.replaceState(null, '', '#/chats');
  }
  const seq = ++st.seq;
  const [title, load] = ROUTES[name];
  el.title.textContent = t(title);
  document.title = `${t(title)} — Parley`;
  for (const a of el.links) {
    if (a.dataset.route === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  let mod = st.mounted.get(name);
  if (!mod) {
    mod = await load();
    if (seq !== st.seq) return;
    mod.mount($(`view-${name}`));
    st.mounted.set(name, mod);
  }
  if (seq !== st.seq) return;
  for (const r of Object.keys(ROUTES)) $(`view-${r}`).hidden = r !== name;
  el.app.dataset.route = name;
  if (st.shown !== name) st.mounted.get(st.shown)?.hide?.();
  st.shown = name;
  mod.show(parts.slice(1));
  if (focus && name !== 'chats') el.main.focus({ preventScroll: true });
}

/** True when the shown view lets the manager go (a view with unsaved edits exports canLeave(),
 *  which asks in a page dialog). */
const mayLeave = async () => (await st.mounted.get(st.shown)?.canLeave?.()) !== false;

// A hash change has already happened when we hear of it: a view that keeps the manager puts
// the old address back (replaceState: no second hashchange).
window.addEventListener('hashchange', async (e) => {
  if (el.app.hidden) return;
  if (st.asking || !(await guarded(mayLeave))) return history.replaceState(null, '', e.oldURL);
  renderRoute(true);
});

async function guarded(fn) {
  st.asking = true;
  try {
    return await fn();
  } finally {
    st.asking = false;
  }
}

// ---------- header ----------

/** The signed-in manager in the header (again after a profile change: the `me` event). */
function showMe(m) {
  const name = m.name || m.login;
  el.name.textContent = name;
  el.me.title = el.name.title = `${name} (${t(m.role)})`;
  fill(el.me, avatar(name, m.id, 'avatar-sm', m.avatar_url));
}
on('me', showMe);

$('help-btn').append(icon('keyboard'));
$('help-btn').addEventListener('click', () => hotkeys.showHelp());
on('ws:status', (s) => {
  el.conn.dataset.status = s;
  el.conn.title = t(s === 'online' ? 'Live updates: connected' : s === 'connecting' ? 'Live updates: connecting…' : 'Live updates: offline, reconnecting');
  el.conn.setAttribute('aria-label', el.conn.title);
});

// ---------- sign in / out ----------

el.form.addEventListener('submit', async (e) => {
  e.preventDefault();
  if (st.pending || Date.now() < st.lockedUntil) return;
  const login = el.login.value.trim();
  const password = el.password.value;
  if (!login || !password) {
    setError(t('Enter your login and password.'), true);
    return (login ? el.password : el.login).focus();
  }
  st.pending = el.submit.disabled = true;
  setError('');
  let session = null;
  try {
    session = await api('POST', SESSION, { login, password });
  } catch (err) {
    if (err.status === 401) {
      setError(t('Wrong login or password'), true);
      el.password.value = '';
      el.password.focus();
    } else if (err.status === 429 && err.retryAfter > 0) {
      // Keep the button disabled until Retry-After has passed.
      const secs = err.retryAfter;
      setError(plural(secs, { one: 'Too many attempts, try again in {n} second', other: 'Too many attempts, try again in {n} seconds' }));
      st.lockedUntil = Date.now() + secs * 1000;
      setTimeout(() => { el.submit.disabled = false; }, secs * 1000);
    } else {
      setError(err.status === 429 ? t('Too many attempts, try again later') : err.message || t('Sign-in failed. Please try again.'));
    }
  }
  st.pending = false;
  if (Date.now() >= st.lockedUntil) el.submit.disabled = false;
  if (session) showApp(session);
});

el.signout.addEventListener('click', async () => {
  if (st.asking || !(await guarded(mayLeave))) return;
  el.signout.disabled = true;
  try {
    await api('DELETE', SESSION);
  } catch (err) {
    if (err.status !== 401) console.warn('Sign out failed:', err);
  }
  leave(false);
});

// ---------- boot ----------

// The PWA's service worker: it only shows an offline page when the network is down.
navigator.serviceWorker?.register('/sw.js').catch(() => { /* e.g. an untrusted certificate */ });

(async () => {
  await langReady; // the catalogue is in before anything renders
  translatePage();
  try {
    showApp(await api('GET', SESSION));
  } catch (err) {
    let ended = false;
    try {
      ended = sessionStorage.getItem(ENDED) === '1';
      sessionStorage.removeItem(ENDED);
    } catch { /* private mode */ }
    showSignin(err.status === 401 ? (ended ? t('Your session has ended. Please sign in again.') : '')
      : err.status === 0 ? err.message : t('Could not check your session. Please sign in.'));
  }
})();
