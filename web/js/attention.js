// Parley — never missing a client (T4), loaded once signed in: desktop notifications and a short
// sound for new client messages and for notifications addressed to me (which ones: a setting
// kept per browser), the unread count in the tab title, idle reports for presence (after five
// minutes without input) and the live presence dots (dom.js presenceDot).

import { api } from './api.js';
import { state, on, loadManagers } from './store.js';
import { send } from './ws.js';
import { setPresence } from './dom.js';
import { t } from './i18n.js';

const KEY = 'parley.attention';
export const IDLE_MS = 5 * 60 * 1000;
/** notify: all | mine (assigned to me and unassigned) | mentions | off; text: show message text. */
export const DEFAULTS = { notify: 'mine', text: false, sound: true };
// Events replayed after a long disconnection are not news any more.
const STALE_MS = 10 * 60 * 1000;

let started = false;
let unread = 0;
let idle = false;
let last = Date.now();
let audio = null;
let lastBeep = 0;
const people = new Map(); // contact id → { name, assignee } (assignee undefined: not known yet)

/** This browser's attention settings. */
export function prefs() {
  try {
    return { ...DEFAULTS, ...JSON.parse(localStorage.getItem(KEY) || '{}') };
  } catch {
    return { ...DEFAULTS };
  }
}

export function savePrefs(p) {
  try { localStorage.setItem(KEY, JSON.stringify({ ...prefs(), ...p })); } catch { /* private mode */ }
}

export const canNotify = () => 'Notification' in window;

/** Ask for the desktop notification permission (only ever from a click). */
export async function askPermission() {
  if (!canNotify()) return 'unsupported';
  try {
    return await Notification.requestPermission();
  } catch {
    return Notification.permission;
  }
}

export function start() {
  if (started) return;
  started = true;
  on('ws:message.created', (d) => onMessage(d).catch((err) => console.warn('attention:', err)));
  on('ws:notification.created', onNotification);
  on('ws:contact.updated', ({ contact: c }) => c && people.set(c.id, { name: c.name, assignee: c.assignee ?? null }));
  on('ws:chat.updated', ({ contact_id: id, row }) => row && people.set(id, { ...people.get(id), name: row.name }));
  on('client', (d) => d && people.set(d.contact.id, { name: d.contact.name, assignee: d.contact.assignee ?? null }));

  // The unread count in the tab title, whatever the views set it to.
  on('ws:counts', (c) => setUnread(c.unread));
  const counts = () => api('GET', '/api/v1/chats/counts').then((c) => setUnread(c.unread), () => {});
  on('ws:reconnected', counts);
  counts();
  new MutationObserver(title).observe(document.querySelector('title'), { childList: true, characterData: true, subtree: true });

  // Presence: live dots; a new socket starts as not idle, so say so again after a reconnect.
  on('ws:presence', ({ manager_id: id, state: s }) => {
    const m = state.managers.get(id);
    if (m) m.presence = s;
    for (const dot of document.querySelectorAll(`.pdot[data-manager="${id}"]`)) setPresence(dot, s);
  });
  on('managers', () => {
    for (const dot of document.querySelectorAll('.pdot[data-manager]')) setPresence(dot, state.managers.get(Number(dot.dataset.manager))?.presence);
  });
  on('ws:reconnected', loadManagers);
  on('ws:resync', loadManagers);
  on('ws:status', (s) => s === 'online' && idle && send({ type: 'idle', idle: true }));
  for (const e of ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart', 'focus']) addEventListener(e, wake, { capture: true, passive: true });
  setInterval(() => idleCheck(), 15000);

  // A notification shown by the service worker (where the page may not make one) was clicked.
  navigator.serviceWorker?.addEventListener('message', (e) => {
    if (e.data?.type === 'open' && /^#\/chats\//.test(e.data.href)) location.hash = e.data.href;
  });
}

// ---------- idle ----------

function wake(e) {
  last = Date.now();
  // The sound may only start after a gesture: make its context on the first one.
  if (!audio && (e.type === 'pointerdown' || e.type === 'keydown') && prefs().sound) audio = makeAudio();
  if (idle) {
    idle = false;
    send({ type: 'idle', idle: false });
  }
}

/** Report idle once nothing was typed or pointed at for IDLE_MS (`now` for tests). */
export function idleCheck(now = Date.now()) {
  if (!idle && now - last >= IDLE_MS) {
    idle = true;
    send({ type: 'idle', idle: true });
  }
  return idle;
}

// ---------- the tab title ----------

function setUnread(n) {
  unread = Math.max(0, n | 0);
  title();
}

function title() {
  const base = document.title.replace(/^\(\d+\+?\) /, '');
  const want = unread ? `(${unread > 99 ? '99+' : unread}) ${base}` : base;
  if (document.title !== want) document.title = want;
}

// ---------- which events ----------

/** The client's name and responsible manager: from live events, else asked once. */
async function whoIs(id) {
  const p = people.get(id);
  if (p && p.assignee !== undefined) return p;
  const c = (await api('GET', `/api/v1/contacts/${id}`)).contact;
  const who = { name: c.name, assignee: c.assignee ?? null };
  people.set(id, who);
  return who;
}

async function onMessage({ contact_id: cid, chat_id: chat, message: m }) {
  const p = prefs();
  if (m?.kind !== 'client' || (p.notify !== 'all' && p.notify !== 'mine') || Date.now() - m.created_ms > STALE_MS) return;
  const who = await whoIs(cid).catch(() => people.get(cid) || null);
  // Assigned to me and unassigned: another manager's client is theirs to answer.
  if (p.notify === 'mine' && who?.assignee != null && who.assignee !== state.me?.id) return;
  alert(p, {
    title: t('New message from {name}', { name: who?.name || t('a client') }),
    text: preview(m), tag: `chat-${chat}`, href: `#/chats/${cid}/${chat}`, chat,
  });
}

/** A mention or an assignment for me (the bell's notifications). */
function onNotification(n) {
  const p = prefs();
  if (p.notify === 'off' || Date.now() - n.created_ms > STALE_MS) return;
  alert(p, {
    title: t('{name} — about {client}', { name: n.from?.name || 'Parley', client: n.contact?.name || t('a client') }),
    text: n.text, tag: `note-${n.id}`, href: `#/chats/${n.contact_id}/${n.chat_id}`, chat: null,
  });
}

function preview(m) {
  const a = m.attachments?.[0];
  if (m.text || !a) return m.text || '';
  const k = (a.mime || '').split('/')[0];
  return k === 'image' ? t('Photo') : k === 'audio' ? t('Voice message') : k === 'video' ? t('Video') : t('File: {name}', { name: a.name });
}

// ---------- telling the manager ----------

function alert(p, { title: head, text, tag, href, chat }) {
  const looking = document.visibilityState === 'visible' && document.hasFocus();
  // The open chat in a page the manager is looking at needs no telling.
  if (looking && chat != null && chat === state.chatId) return;
  if (p.sound) beep();
  if (looking || !canNotify() || Notification.permission !== 'granted') return;
  // The text stays off the notification (and so off a locked screen) unless allowed.
  const opts = { body: p.text ? text : '', tag, icon: '/icons/icon-192.png', badge: '/icons/icon-192.png', silent: !!p.sound, data: { href } };
  try {
    const n = new Notification(head, opts);
    n.onclick = () => {
      window.focus();
      n.close();
      location.hash = href;
    };
  } catch {
    // Some browsers (Android) only show notifications through the service worker.
    navigator.serviceWorker?.ready.then((r) => r.showNotification(head, opts)).catch(() => {});
  }
}

function makeAudio() {
  const AC = window.AudioContext || window.webkitAudioContext;
  try {
    return AC ? new AC() : null;
  } catch {
    return null;
  }
}

/** Two short soft tones, made with Web Audio (no sound file). */
export function beep() {
  const now = Date.now();
  if (now - lastBeep < 1500) return;
  lastBeep = now;
  audio ||= makeAudio();
  if (!audio) return;
  try {
    if (audio.state === 'suspended') audio.resume().catch(() => {});
    const at = audio.currentTime + 0.01;
    const gain = audio.createGain();
    gain.connect(audio.destination);
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.12, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.34);
    const tone = audio.createOscillator();
    tone.type = 'sine';
    tone.frequency.setValueAtTime(880, at);
    tone.frequency.setValueAtTime(1318.5, at + 0.12);
    tone.connect(gain);
    tone.start(at);
    tone.stop(at + 0.36);
  } catch { /* no sound, no harm */ }
}
