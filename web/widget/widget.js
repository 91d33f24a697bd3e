// Parley website chat widget. A site embeds it with one tag:
//   <script src="https://parley.example/widget.js" data-channel="site" async></script>
// It is a classic script (no modules, no build) that draws a chat bubble inside a Shadow DOM,
// so the page's CSS cannot reach in and ours cannot leak out. Every string from the server or
// the visitor goes into the DOM with textContent. The visitor's token lives in localStorage
// (per Parley origin and channel), so a reload continues the same chat.
(function () {
  'use strict';
  const script = document.currentScript || document.querySelector('script[data-channel][src*="widget.js"]');
  if (!script || !script.dataset.channel || window.__parleyWidgets?.[script.src + script.dataset.channel]) return;
  (window.__parleyWidgets = window.__parleyWidgets || {})[script.src + script.dataset.channel] = true;

  const BASE = new URL(script.src, location.href).origin;
  const CHANNEL = script.dataset.channel;
  const API = `${BASE}/widget/v1/${encodeURIComponent(CHANNEL)}`;
  const KEY = `parley-widget:${BASE}:${CHANNEL}`;
  const TYPING_EVERY = 2000;
  const TYPING_SHOWN = 5000;

  const S = {
    token: load('token'),
    cfg: null,
    open: false,
    msgs: new Map(), // server id → message
    pending: new Map(), // client message id → local message not yet stored
    nextBefore: null,
    olderRead: false,
    seenUpTo: Number(load('seen')) || 0,
    typing: null, // { name, until }
    lastTyping: 0,
    ws: null,
    wsTries: 0,
    files: new Map(), // attachment id → object URL
  };

  // ---------- storage and HTTP ----------

  function load(k) {
    try { return localStorage.getItem(`${KEY}:${k}`); } catch { return null; }
  }
  function save(k, v) {
    try {
      if (v == null) localStorage.removeItem(`${KEY}:${k}`);
      else localStorage.setItem(`${KEY}:${k}`, String(v));
    } catch { /* private mode: the chat lasts for this page */ }
  }

  async function call(method, path, body, raw) {
    const headers = {};
    if (S.token) headers.Authorization = `Bearer ${S.token}`;
    if (body !== undefined && !raw) headers['Content-Type'] = 'application/json';
    if (raw) headers['Content-Type'] = raw;
    const res = await fetch(API + path, { method, headers, body: raw ? body : body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (!res.ok) {
      const err = new Error(res.status === 429 ? `Too many requests; try again in ${res.headers.get('Retry-After') || 'a few'} s.`
        : (data && data.message) || `Error ${res.status}`);
      err.status = res.status;
      if (res.status === 401 && S.token) forget();
      throw err;
    }
    return data;
  }

  /** The server no longer knows our token (its data was reset): start as a new visitor. */
  function forget() {
    S.token = null;
    save('token', null);
    save('seen', null);
    S.seenUpTo = 0;
    S.msgs.clear();
    if (S.ws) {
      S.ws.onclose = null;
      S.ws.close();
      S.ws = null;
    }
  }

  async function session() {
    if (S.token) return;
    const r = await call('POST', '/sessions');
    S.token = r.token;
    save('token', r.token);
    connect();
  }

  /** Run `fn` with a session; once more with a new one if the old token was forgotten. */
  async function withSession(fn) {
    await session();
    try {
      return await fn();
    } catch (err) {
      if (err.status !== 401) throw err;
      await session();
      return fn();
    }
  }

  // ---------- live feed ----------

  function connect() {
    if (!S.token || S.ws) return;
    const ws = new WebSocket(`${API.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(S.token)}`);
    S.ws = ws;
    ws.onopen = () => { S.wsTries = 0; history(); };
    ws.onmessage = (e) => {
      let f;
      try { f = JSON.parse(e.data); } catch { return; }
      if (f.type === 'message') {
        if (f.data.kind !== 'client') S.typing = null;
        upsert(f.data);
        render();
      } else if (f.type === 'typing') {
        S.typing = { name: f.data.name || 'Manager', until: Date.now() + TYPING_SHOWN };
        renderTyping();
        setTimeout(renderTyping, TYPING_SHOWN + 50);
      } else if (f.type === 'resync') {
        history();
      }
    };
    ws.onclose = () => {
      S.ws = null;
      if (!S.token) return;
      // Back off up to 30 s; a history call on the way finds out if the token was dropped.
      const wait = Math.min(30000, 1000 * 2 ** S.wsTries++);
      setTimeout(() => { if (S.wsTries > 2) history().finally(connect); else connect(); }, wait);
    };
  }

  async function history(before) {
    if (!S.token) return;
    try {
      const q = before ? `?before=${before}` : '';
      const r = await call('GET', `/messages${q}`);
      for (const m of r.items) upsert(m);
      // The newest page says where older history starts only until an older page was read.
      if (before || !S.olderRead) S.nextBefore = r.next_before;
      if (before) S.olderRead = true;
      render();
    } catch { /* shown as an empty chat; the next reconnect tries again */ }
  }

  function upsert(m) {
    S.msgs.set(m.id, m);
    if (m.client_message_id) S.pending.delete(m.client_message_id);
  }

  // ---------- actions ----------

  const newId = () => `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;

  async function deliver(local) {
    local.state = 'sending';
    render();
    try {
      if (local.file && !local.files) {
        const f = local.file;
        const up = await withSession(() => call('POST', `/uploads?name=${encodeURIComponent(f.name)}`, f, f.type || 'application/octet-stream'));
        local.files = [{ id: up.id, name: up.name }];
      }
      const r = await withSession(() => call('POST', '/messages', { id: local.cid, text: local.text, attachments: local.files || [] }));
      S.pending.delete(local.cid);
      if (r.message) upsert(r.message);
    } catch (err) {
      local.state = 'failed';
      local.error = err.message;
    }
    render();
  }

  function sendText() {
    const text = el.text.value.trim();
    if (!text) return;
    el.text.value = '';
    S.lastTyping = 0; // the next keystroke starts a new message, so it is signalled at once
    const local = { cid: newId(), text, created_ms: Date.now() };
    S.pending.set(local.cid, local);
    deliver(local);
    el.text.focus();
  }

  function sendFile(file) {
    const max = S.cfg?.max_upload_bytes;
    if (max && file.size > max) return note(`The file is larger than ${size(max)}.`);
    const local = { cid: newId(), text: '', file, created_ms: Date.now() };
    S.pending.set(local.cid, local);
    deliver(local);
  }

  function typed() {
    const now = Date.now();
    if (!S.token || now - S.lastTyping < TYPING_EVERY) return;
    S.lastTyping = now;
    call('POST', '/typing').catch(() => {});
  }

  async function saveDetails(e) {
    e.preventDefault();
    const body = { name: el.name.value.trim(), email: el.email.value.trim(), phone: el.phone.value.trim() };
    try {
      await withSession(() => call('POST', '/profile', body));
      save('details', JSON.stringify(body));
      el.detailsNote.textContent = 'Saved. Thank you!';
      setTimeout(() => { el.details.hidden = true; el.detailsBtn.setAttribute('aria-expanded', 'false'); }, 900);
    } catch (err) {
      el.detailsNote.textContent = err.message;
    }
  }

  /** Replies shown in an open panel count as read by the visitor. */
  function markSeen() {
    if (!S.open || document.visibilityState !== 'visible' || !S.token) return;
    let max = S.seenUpTo;
    for (const m of S.msgs.values()) if (m.kind !== 'client' && m.id > max) max = m.id;
    if (max <= S.seenUpTo) return;
    S.seenUpTo = max;
    save('seen', max);
    call('POST', '/seen', { up_to: max }).catch(() => {});
  }

  async function fileUrl(a) {
    if (!S.files.has(a.id)) {
      S.files.set(a.id, fetch(BASE + a.url, { headers: { Authorization: `Bearer ${S.token}` } })
        .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(String(r.status)))))
        .then((b) => URL.createObjectURL(b))
        .catch((err) => { S.files.delete(a.id); throw err; }));
    }
    return S.files.get(a.id);
  }

  // ---------- DOM ----------

  function h(tag, attrs, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'text') n.textContent = v;
      else if (k === 'class') n.className = v;
      else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) if (c != null) n.append(c);
    return n;
  }

  const size = (n) => (n < 1024 ? `${n} B` : n < 1048576 ? `${Math.round(n / 1024)} KB` : `${(n / 1048576).toFixed(1)} MB`);
  const time = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const icon = (d) => {
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    const p = document.createElementNS('http://www.w3.org/2000/svg', 'path');
    p.setAttribute('d', d);
    svg.append(p);
    return svg;
  };
  const ICON = {
    chat: 'M4 5h16v11H8l-4 4z',
    close: 'M6 6l12 12M18 6L6 18',
    clip: 'M16 7l-7.5 7.5a2 2 0 0 0 2.8 2.8L19 9.6a4 4 0 0 0-5.7-5.7L5.6 11.6a6 6 0 0 0 8.5 8.5L20 14',
    send: 'M4 12l16-8-6 16-3-7z',
    person: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm-7 8a7 7 0 0 1 14 0',
  };

  const el = {};

  function build() {
    const host = h('div', { id: 'parley-widget' });
    const root = host.attachShadow({ mode: 'open' });
    if (root.adoptedStyleSheets && typeof CSSStyleSheet === 'function' && 'replaceSync' in CSSStyleSheet.prototype) {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } else {
      root.append(h('style', { text: CSS }));
    }
    const title = S.cfg?.title || script.dataset.title || 'Chat';
    el.badge = h('span', { class: 'badge', hidden: true });
    el.bubble = h('button', { class: 'bubble', id: 'pw-bubble', type: 'button', 'aria-label': 'Open the chat', 'aria-expanded': 'false', 'aria-controls': 'pw-panel', onclick: () => toggle() },
      icon(ICON.chat), el.badge);
    el.title = h('h2', { class: 'title', id: 'pw-title', text: title });
    el.detailsBtn = h('button', { class: 'icon', type: 'button', title: 'Your contact details', 'aria-label': 'Your contact details', 'aria-expanded': 'false', 'aria-controls': 'pw-details', onclick: toggleDetails }, icon(ICON.person));
    const close = h('button', { class: 'icon', type: 'button', 'aria-label': 'Close the chat', onclick: () => toggle(false) }, icon(ICON.close));
    const input = (id, label, type, auto) => h('label', { class: 'field' }, h('span', { text: label }), el[id] = h('input', { id: `pw-${id}`, type, autocomplete: auto, maxlength: '200' }));
    el.detailsNote = h('p', { class: 'note', role: 'status' });
    el.details = h('form', { class: 'details', id: 'pw-details', hidden: true, onsubmit: saveDetails },
      h('p', { class: 'hint', text: 'Leave your details so we can reach you later (optional).' }),
      input('name', 'Name', 'text', 'name'), input('email', 'E-mail', 'email', 'email'), input('phone', 'Phone', 'tel', 'tel'),
      h('button', { class: 'primary', type: 'submit', text: 'Save' }), el.detailsNote);
    try { Object.entries(JSON.parse(load('details') || '{}')).forEach(([k, v]) => { if (el[k]) el[k].value = v || ''; }); } catch { /* ignore */ }
    el.more = h('button', { class: 'more', type: 'button', hidden: true, text: 'Earlier messages', onclick: () => history(S.nextBefore) });
    el.log = h('div', { class: 'log', id: 'pw-log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages' });
    el.typing = h('div', { class: 'typing', id: 'pw-typing', 'aria-live': 'polite' });
    el.note = h('div', { class: 'error', role: 'alert' });
    el.file = h('input', { type: 'file', id: 'pw-file', hidden: true, onchange: () => { for (const f of el.file.files) sendFile(f); el.file.value = ''; } });
    el.text = h('textarea', { id: 'pw-text', rows: '1', maxlength: '4000', placeholder: 'Write a message…', 'aria-label': 'Message', oninput: typed,
      onkeydown: (e) => { if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); sendText(); } } });
    const attach = h('button', { class: 'icon', type: 'button', 'aria-label': 'Attach a file', title: 'Attach a file', onclick: () => el.file.click() }, icon(ICON.clip));
    const send = h('button', { class: 'icon send', id: 'pw-send', type: 'button', 'aria-label': 'Send', onclick: sendText }, icon(ICON.send));
    el.panel = h('section', { class: 'panel', id: 'pw-panel', role: 'dialog', 'aria-labelledby': 'pw-title', hidden: true,
      onkeydown: (e) => { if (e.key === 'Escape') toggle(false); } },
    h('header', null, el.title, el.detailsBtn, close), el.details, el.more, el.log, el.typing, el.note,
    h('div', { class: 'composer' }, attach, el.file, el.text, send));
    root.append(el.panel, el.bubble);
    document.body.append(host);
    document.addEventListener('visibilitychange', markSeen);
  }

  function toggle(open = !S.open) {
    S.open = open;
    el.panel.hidden = !open;
    el.bubble.setAttribute('aria-expanded', String(open));
    el.bubble.setAttribute('aria-label', open ? 'Close the chat' : 'Open the chat');
    if (open) {
      if (!S.cfg) config();
      history();
      el.text.focus();
    } else {
      el.bubble.focus();
    }
    render();
  }

  function toggleDetails() {
    el.details.hidden = !el.details.hidden;
    el.detailsBtn.setAttribute('aria-expanded', String(!el.details.hidden));
    el.detailsNote.textContent = '';
    if (!el.details.hidden) el.name.focus();
  }

  async function config() {
    try {
      S.cfg = await call('GET', '/config');
      el.title.textContent = S.cfg.title;
      render();
    } catch { /* the defaults stay */ }
  }

  function note(text) {
    el.note.textContent = text;
    setTimeout(() => { if (el.note.textContent === text) el.note.textContent = ''; }, 6000);
  }

  function attachment(a) {
    const label = `${a.name} (${size(a.size)})`;
    if (a.mime.startsWith('image/')) {
      const img = h('img', { alt: a.name, class: 'image' });
      fileUrl(a).then((u) => { img.src = u; }, () => { img.alt = `${a.name} (not available)`; });
      return img;
    }
    return h('button', { class: 'file', type: 'button', text: label, onclick: () => fileUrl(a).then((u) => {
      const link = h('a', { href: u, download: a.name });
      el.log.append(link);
      link.click();
      link.remove();
    }, () => note('The file could not be downloaded.')) });
  }

  function bubbleFor(m, local) {
    const mine = m.kind === 'client' || local;
    const body = h('div', { class: 'body' });
    if (m.text) body.append(h('p', { class: 'text', text: m.text }));
    for (const a of m.attachments || []) body.append(attachment(a));
    if (local && m.file) body.append(h('p', { class: 'text', text: `${m.file.name} (${size(m.file.size)})` }));
    const meta = h('div', { class: 'meta' });
    if (!mine && m.author) meta.append(h('span', { class: 'author', text: m.author }), ' · ');
    if (local && m.state === 'failed') {
      meta.append(h('span', { class: 'failed', text: `Not sent: ${m.error}. ` }),
        h('button', { class: 'retry', type: 'button', text: 'Retry', onclick: () => deliver(m) }));
    } else {
      meta.append(local ? 'Sending…' : time(m.created_ms));
    }
    return h('div', { class: `msg ${mine ? 'msg-client' : 'msg-manager'}`, 'data-id': local ? null : m.id }, body, meta);
  }

  function render() {
    if (!el.log) return;
    const unread = [...S.msgs.values()].filter((m) => m.kind !== 'client' && m.id > S.seenUpTo).length;
    el.badge.hidden = S.open || !unread;
    el.badge.textContent = unread > 9 ? '9+' : String(unread);
    if (!S.open) return;
    const atBottom = el.log.scrollHeight - el.log.scrollTop - el.log.clientHeight < 40;
    const items = [...S.msgs.values()].sort((a, b) => a.id - b.id).map((m) => bubbleFor(m, false));
    if (S.cfg?.greeting) items.unshift(h('div', { class: 'msg msg-manager greeting' }, h('div', { class: 'body' }, h('p', { class: 'text', text: S.cfg.greeting }))));
    for (const p of S.pending.values()) items.push(bubbleFor(p, true));
    el.log.replaceChildren(...items);
    el.more.hidden = S.nextBefore == null;
    if (atBottom || S.pending.size) el.log.scrollTop = el.log.scrollHeight;
    renderTyping();
    markSeen();
  }

  function renderTyping() {
    const t = S.typing && S.typing.until > Date.now() ? `${S.typing.name} is typing…` : '';
    if (el.typing && el.typing.textContent !== t) el.typing.textContent = t;
  }

  const CSS = `
:host { all: initial !important; }
* { box-sizing: border-box; font: inherit; }
[hidden] { display: none !important; }
.bubble, .panel { position: fixed; right: 20px; z-index: 2147483000; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; }
.bubble { bottom: 20px; width: 56px; height: 56px; border-radius: 50%; border: 0; background: #2563eb; color: #fff; cursor: pointer; box-shadow: 0 4px 14px rgba(0,0,0,.25); display: grid; place-items: center; }
.bubble svg { width: 28px; height: 28px; fill: none; stroke: currentColor; stroke-width: 2; stroke-linejoin: round; }
.bubble:focus-visible, button:focus-visible, input:focus-visible, textarea:focus-visible { outline: 3px solid #93c5fd; outline-offset: 2px; }
.badge { position: absolute; top: -2px; right: -2px; min-width: 20px; height: 20px; padding: 0 5px; border-radius: 10px; background: #dc2626; color: #fff; font-size: 12px; line-height: 20px; text-align: center; }
.panel { bottom: 88px; width: 360px; max-width: calc(100vw - 24px); height: 520px; max-height: calc(100vh - 110px); background: #fff; border-radius: 14px; box-shadow: 0 10px 40px rgba(0,0,0,.3); display: flex; flex-direction: column; overflow: hidden; }
header { display: flex; align-items: center; gap: 4px; padding: 10px 10px 10px 16px; background: #2563eb; color: #fff; }
.title { flex: 1; margin: 0; font-size: 16px; font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
button { cursor: pointer; }
.icon { width: 36px; height: 36px; border: 0; border-radius: 8px; background: transparent; color: inherit; display: grid; place-items: center; padding: 0; }
.icon svg { width: 20px; height: 20px; fill: none; stroke: currentColor; stroke-width: 2; stroke-linecap: round; stroke-linejoin: round; }
header .icon:hover { background: rgba(255,255,255,.15); }
.details { padding: 12px 16px; border-bottom: 1px solid #e5e7eb; display: grid; gap: 8px; background: #f8fafc; }
.hint, .note { margin: 0; color: #57606a; font-size: 13px; }
.field { display: grid; gap: 2px; font-size: 13px; }
input, textarea { border: 1px solid #d0d7de; border-radius: 8px; padding: 7px 9px; background: #fff; color: #1f2328; }
.primary { justify-self: start; border: 0; border-radius: 8px; padding: 7px 16px; background: #2563eb; color: #fff; font-weight: 600; }
.more { margin: 8px auto 0; border: 0; background: none; color: #2563eb; }
.log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 8px; background: #f6f8fa; }
.msg { max-width: 80%; display: grid; gap: 2px; }
.msg-client { align-self: flex-end; justify-items: end; }
.msg-manager { align-self: flex-start; }
.body { padding: 8px 11px; border-radius: 12px; background: #fff; border: 1px solid #e5e7eb; overflow-wrap: anywhere; }
.msg-client .body { background: #2563eb; color: #fff; border-color: #2563eb; }
.text { margin: 0; white-space: pre-wrap; }
.image { display: block; max-width: 100%; max-height: 220px; margin-top: 4px; border-radius: 8px; }
.file { margin-top: 4px; border: 1px solid currentColor; border-radius: 8px; background: transparent; color: inherit; padding: 4px 8px; text-align: left; }
.meta { font-size: 11px; color: #6e7781; }
.failed { color: #dc2626; }
.retry { border: 0; background: none; color: #2563eb; padding: 0; text-decoration: underline; font-size: 11px; }
.typing { min-height: 18px; padding: 0 14px; font-size: 12px; color: #6e7781; background: #f6f8fa; }
.error { padding: 0 14px; color: #dc2626; font-size: 13px; }
.composer { display: flex; align-items: flex-end; gap: 4px; padding: 8px; border-top: 1px solid #e5e7eb; }
.composer textarea { flex: 1; resize: none; max-height: 120px; min-height: 36px; }
.composer .icon { color: #57606a; }
.composer .send { color: #2563eb; }
@media (max-width: 480px) { .panel { right: 12px; bottom: 84px; } .bubble { right: 12px; } }
`;

  function start() {
    build();
    if (S.token) connect();
  }
  if (document.body) start();
  else document.addEventListener('DOMContentLoaded', start);
})();
