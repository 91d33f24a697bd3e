// Parley — "who is typing" (H6): own keystrokes go over the WebSocket at most every 2 s;
// others' signals expire 5 s after the last one.

import { api } from '../api.js';
import { on } from '../store.js';
import { send } from '../ws.js';
import { t, t as tr } from '../i18n.js';

const SEND_EVERY = 2000;
const EXPIRE = 5000;
const SELF_SHOWN = 3000;

let lineEl = null;
let chatId = null;
let lastSent = 0;
let selfUntil = 0;
const others = new Map(); // manager id → { name, until }
let timer = null;

export function mountTyping(el) {
  lineEl = el;
  on('ws:typing', (d) => {
    if (!d || d.chat_id !== chatId) return;
    others.set(d.manager_id, { name: d.name || 'A manager', until: Date.now() + EXPIRE });
    render();
  });
}

export async function setTypingChat(id) {
  chatId = id;
  others.clear();
  selfUntil = 0;
  lastSent = 0;
  render();
  if (id == null) return;
  try {
    const res = await api('GET', `/api/v1/chats/${id}/typing`);
    if (chatId !== id) return;
    for (const t of res.items || []) others.set(t.manager_id, { name: t.name || tr('A manager'), until: Date.now() + EXPIRE });
    render();
  } catch { /* the line stays empty */ }
}

/** Call on every keystroke in the composer. */
export function selfTyped() {
  if (chatId == null) return;
  const now = Date.now();
  selfUntil = now + SELF_SHOWN;
  if (now - lastSent >= SEND_EVERY) {
    if (send({ type: 'typing', chat_id: chatId })) lastSent = now;
  }
  render();
}

/** Stop showing own typing (after sending). */
export function selfStopped() {
  selfUntil = 0;
  render();
}

export function typingText(self, names) {
  if (self && names.length) return t('You, {names} are typing…', { names: names.join(', ') });
  if (self) return t('You are typing…');
  if (names.length === 1) return t('{name} is typing…', { name: names[0] });
  if (names.length > 1) return t('{names} are typing…', { names: names.join(', ') });
  return '';
}

function render() {
  if (!lineEl) return;
  const now = Date.now();
  for (const [id, t] of others) if (t.until <= now) others.delete(id);
  const self = selfUntil > now;
  const text = typingText(self, Array.from(others.values()).map((t) => t.name));
  lineEl.textContent = text;
  lineEl.classList.toggle('is-active', !!text);
  clearTimeout(timer);
  const next = Math.min(...[selfUntil, ...Array.from(others.values()).map((t) => t.until)].filter((t) => t > now));
  if (Number.isFinite(next)) timer = setTimeout(render, next - now + 20);
}
