// Parley — app bootstrap: session check, sign-in / sign-out, hash routing.
// All user-controlled strings go into the DOM via textContent / setAttribute.

import { api, setCsrf, ApiError } from './api.js';

const SESSION_PATH = '/api/v1/session';

const ROUTES = {
  chats: { title: 'Chats', text: 'Your inbox will appear here: conversations from Telegram, WhatsApp and other channels.' },
  audience: { title: 'Audience', text: 'Your clients and contacts will appear here.' },
  orders: { title: 'Orders and sales', text: 'Orders and sales will appear here.' },
  variables: { title: 'Variables', text: 'Variables for templates and quick replies will appear here.' },
  settings: { title: 'Settings', text: 'Channel, manager and account settings will appear here.' },
};
const DEFAULT_ROUTE = 'chats';

const $ = (id) => document.getElementById(id);

const el = {
  loading: $('loading'),
  signin: $('signin'),
  form: $('signin-form'),
  login: $('signin-login'),
  password: $('signin-password'),
  error: $('signin-error'),
  submit: $('signin-submit'),
  app: $('app'),
  managerName: $('manager-name'),
  signout: $('signout'),
  main: $('main'),
  viewTitle: $('view-title'),
  viewText: $('view-text'),
  navLinks: Array.from(document.querySelectorAll('.app-nav a[data-route]')),
};

const state = {
  manager: null,
  signinPending: false,
  signoutPending: false,
  retryTimer: null,
};

// ---------- Views ----------

function showSignin(message = '') {
  state.manager = null;
  setCsrf(null);
  el.loading.hidden = true;
  el.app.hidden = true;
  el.signin.hidden = false;
  el.managerName.textContent = '';
  el.managerName.removeAttribute('title');
  document.title = 'Sign in — Parley';
  setError(message);
  el.password.value = '';
  if (el.login.value) el.password.focus();
  else el.login.focus();
}

function showApp(session) {
  const manager = session && session.manager ? session.manager : {};
  state.manager = manager;
  setCsrf(session ? session.csrf_token : null);

  const name = str(manager.name) || str(manager.login) || 'Manager';
  el.managerName.textContent = name;
  const role = str(manager.role);
  el.managerName.setAttribute('title', role ? `${name} (${role})` : name);

  el.loading.hidden = true;
  el.signin.hidden = true;
  el.app.hidden = false;
  setError('');
  el.password.value = '';
  renderRoute();
}

function str(v) {
  return typeof v === 'string' ? v.trim() : '';
}

// `invalid` marks the inputs with aria-invalid (only for credential problems).
function setError(message, invalid = false) {
  el.error.textContent = message || '';
  el.login.setAttribute('aria-invalid', String(invalid));
  el.password.setAttribute('aria-invalid', String(invalid));
}

// ---------- Routing ----------

function currentRoute() {
  const name = location.hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return Object.prototype.hasOwnProperty.call(ROUTES, name) ? name : null;
}

function renderRoute({ focus = false } = {}) {
  let name = currentRoute();
  if (!name) {
    name = DEFAULT_ROUTE;
    history.replaceState(null, '', `#/${name}`);
  }
  const route = ROUTES[name];
  el.viewTitle.textContent = route.title;
  el.viewText.textContent = route.text;
  document.title = `${route.title} — Parley`;
  for (const a of el.navLinks) {
    if (a.dataset.route === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (focus) el.main.focus({ preventScroll: true });
}

window.addEventListener('hashchange', () => {
  if (!el.app.hidden) renderRoute({ focus: true });
});

// ---------- Sign in ----------

function setSigninBusy(busy) {
  el.submit.disabled = busy;
  el.form.setAttribute('aria-busy', String(busy));
}

el.form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (state.signinPending || state.retryTimer) return;

  const login = el.login.value.trim();
  const password = el.password.value;
  if (!login || !password) {
    setError('Enter your login and password.', true);
    (login ? el.password : el.login).focus();
    return;
  }

  state.signinPending = true;
  setSigninBusy(true);
  setError('');
  let session = null;
  try {
    session = await api('POST', SESSION_PATH, { login, password });
  } catch (err) {
    handleSigninError(err);
  } finally {
    state.signinPending = false;
    if (!state.retryTimer) setSigninBusy(false);
  }
  if (session) showApp(session);
});

function handleSigninError(err) {
  if (!(err instanceof ApiError)) {
    console.error(err);
    setError('Something went wrong. Please try again.');
    return;
  }
  if (err.status === 401) {
    setError('Wrong login or password', true);
    el.password.value = '';
    el.password.focus();
  } else if (err.status === 429) {
    const secs = err.retryAfter;
    if (secs != null && secs > 0) {
      setError(`Too many attempts, try again in ${secs} ${secs === 1 ? 'second' : 'seconds'}`);
      lockSignin(secs);
    } else {
      setError('Too many attempts, try again later');
    }
  } else {
    setError(err.message || 'Sign-in failed. Please try again.');
  }
}

// Keep the button disabled until Retry-After has elapsed.
function lockSignin(seconds) {
  clearTimeout(state.retryTimer);
  setSigninBusy(true);
  state.retryTimer = setTimeout(() => {
    state.retryTimer = null;
    setSigninBusy(false);
  }, seconds * 1000);
}

// ---------- Sign out ----------

el.signout.addEventListener('click', async () => {
  if (state.signoutPending) return;
  state.signoutPending = true;
  el.signout.disabled = true;
  try {
    await api('DELETE', SESSION_PATH);
  } catch (err) {
    // 401 means the session was already gone; anything else: still leave the app.
    if (!(err instanceof ApiError) || err.status !== 401) console.warn('Sign out failed:', err);
  } finally {
    state.signoutPending = false;
    el.signout.disabled = false;
  }
  showSignin();
});

// ---------- Boot ----------

async function boot() {
  try {
    const session = await api('GET', SESSION_PATH);
    showApp(session);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      showSignin();
    } else {
      console.error(err);
      showSignin(err instanceof ApiError && err.status === 0
        ? err.message
        : 'Could not check your session. Please sign in.');
    }
  }
}

boot();
