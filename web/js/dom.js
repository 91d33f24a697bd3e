// Parley — DOM helpers. Every string goes in through textContent or setAttribute; this is
// the only place elements are built, so it is the place to audit for XSS.

const PROPS = new Set(['hidden', 'disabled', 'checked', 'selected', 'value', 'required', 'readOnly']);

/**
 * Build an element. attrs: class (string or array), text, on<event> functions, boolean
 * props (hidden, disabled…), anything else via setAttribute. Children: nodes or strings.
 * Buttons default to type="button".
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (tag === 'button' && !(attrs && attrs.type)) el.type = 'button';
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || (v === false && !PROPS.has(k))) continue;
    if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'text') el.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  return append(el, children);
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c != null && c !== false) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function fill(el, ...children) {
  return append(clear(el), children);
}

/** A small button: btn('Save', fn, 'primary'). */
export function btn(text, onclick, kind = 'ghost', attrs = {}) {
  return h('button', { class: `btn btn-sm btn-${kind}`, text, onclick, ...attrs });
}

/** A label for a control id (visually hidden when `sr`). */
export function lbl(id, text, sr = false) {
  return h('label', { for: id, class: sr ? 'sr-only' : null, text });
}

/** <div.field><label/>control[hint]</div> (the control needs an id). */
export function field(label, control, hint) {
  return h('div', { class: 'field' }, lbl(control.id, label), control, hint ? h('span', { class: 'hint', text: hint }) : null);
}

/** A table with column heads; `body` is its <tbody> or the rows for one. */
export function table(heads, body) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
    h('thead', null, h('tr', null, heads.map((x) => h('th', { scope: 'col', text: x && t(x) })))), body.tagName === 'TBODY' ? body : h('tbody', null, body)));
}

// ---------- text ----------

export function initials(name) {
  const parts = String(name || '').trim().split(/\s+/).filter(Boolean);
  if (!parts.length) return '?';
  const first = Array.from(parts[0])[0];
  const last = parts.length > 1 ? Array.from(parts[parts.length - 1])[0] : '';
  return (first + last).toUpperCase();
}

function hash(s) {
  let x = 0;
  for (const ch of String(s)) x = (x * 31 + ch.codePointAt(0)) >>> 0;
  return x;
}

/** Initials avatar, coloured by `key` (id or name); a picture at `url` covers the initials
 * (which show again if it fails to load). */
export function avatar(name, key, extra = '', url = null) {
  return h('span', { class: `avatar tone-${hash(key ?? name) % 8} ${extra}`, 'aria-hidden': 'true', text: initials(name) },
    url && h('img', { src: url, alt: '', onerror: (e) => e.target.remove() }));
}

export { time as clock, shortTime, dateTime as fullTime, dayLabel, fileSize, num, date } from './i18n.js';
import { t } from './i18n.js';

const PRESENCE = { online: 'Online', away: 'Away', offline: 'Offline' };

/** Show a manager's presence (online / away / offline) on a dot; attention.js keeps dots live. */
export function setPresence(dot, s) {
  dot.dataset.presence = s = PRESENCE[s] ? s : 'offline';
  dot.title = t(PRESENCE[s]);
  dot.setAttribute('aria-label', dot.title);
  return dot;
}

export const presenceDot = (m) => setPresence(h('span', { class: 'pdot', role: 'img', 'data-manager': m?.id }), m?.presence);

/** Phones are stored as digits; show them in international form. */
export function phone(p) {
  return /^\d+$/.test(p) ? `+${p}` : String(p || '');
}

export function debounce(fn, ms) {
  let t = null;
  const d = (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
  d.cancel = () => clearTimeout(t);
  return d;
}

export const isMac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);
export const modName = isMac ? '⌘' : 'Ctrl';

/** Is the element a text entry control? */
export function inTextField(t = document.activeElement) {
  if (!t) return false;
  if (t.isContentEditable || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT') return true;
  return t.tagName === 'INPUT' && !['checkbox', 'radio', 'button', 'submit', 'range', 'file'].includes(t.type);
}

export function errText(err) {
  return (err && err.message) || String(err || t('Something went wrong.'));
}

/** Tell screen readers (the polite live region). */
export function announce(text) {
  const region = document.getElementById('live');
  if (!region) return;
  region.textContent = '';
  setTimeout(() => { region.textContent = text; }, 30);
}
