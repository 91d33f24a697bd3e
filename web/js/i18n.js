// Parley — UI language: t() over one catalogue per language (keys are the English strings), plurals and Intl formats.
// English needs no catalogue; others load on demand (locales/<lang>.js) before the first render.

export const LANGS = { en: 'English', ru: 'Русский' };
const KEY = 'parley.lang';
let lang = 'en';
let cat = {};
const cache = new Map();

function pick() {
  try {
    const saved = localStorage.getItem(KEY);
    if (LANGS[saved]) return saved;
  } catch { /* private mode */ }
  const list = navigator.languages?.length ? navigator.languages : [navigator.language || 'en'];
  const first = list.find((l) => /^(ru|en)\b/i.test(l)) || 'en';
  return /^ru/i.test(first) ? 'ru' : 'en';
}

/** Choose the language and load its catalogue (await before the first render). */
export async function init() {
  lang = pick();
  if (lang !== 'en') {
    try {
      cat = (await import(`./locales/${lang}.js`)).default;
    } catch (err) {
      console.warn('Language catalogue failed to load:', err);
      lang = 'en';
    }
  }
  document.documentElement.lang = lang;
  return lang;
}

export const current = () => lang;

// Top-level await: every module importing this one evaluates after the catalogue is in (no English flash).
export const ready = init();
await ready;

/** Save a language choice (the caller reloads the page). */
export function setLang(l) {
  try { localStorage.setItem(KEY, l); } catch { /* private mode */ }
}

/** The string for the current language with {name} placeholders filled (put it into the page as text). */
export function t(key, vars) {
  const c = cat[key];
  const s = typeof c === 'string' ? c : key;
  return vars ? s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? (typeof vars[k] === 'number' ? num(vars[k]) : String(vars[k])) : m)) : s;
}

/** plural(n, {one, few, many, other}): English forms; a catalogue gives the language's forms as an object
 *  under the English `other` key. {n} becomes the formatted count. */
export function plural(n, forms) {
  const tr = cat[forms.other];
  const f = typeof tr === 'object' ? tr : forms;
  const s = f[fmt('pr', () => new Intl.PluralRules(lang)).select(n)] ?? f.other;
  return s.replace(/\{n\}/g, num(n));
}

/** Translate the static page: data-i18n (text) and data-i18n-<attr>="key" attributes. */
export function translatePage(root = document) {
  if (lang === 'en') return;
  for (const e of root.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n || e.textContent.trim());
  for (const a of ['title', 'aria-label', 'placeholder']) {
    for (const e of root.querySelectorAll(`[data-i18n-${a}]`)) e.setAttribute(a, t(e.getAttribute(a)));
  }
}

// ---------- formats ----------

const fmts = new Map();
function fmt(key, make) {
  const k = `${lang}:${key}`;
  if (!fmts.has(k)) fmts.set(k, make());
  return fmts.get(k);
}
const dtf = (key, opts) => fmt(key, () => new Intl.DateTimeFormat(lang, opts));
const sameDay = (a, b) => a.toDateString() === b.toDateString();

/** 20,000 / 20 000 — always the full number. */
export function num(n, opts) {
  return opts ? new Intl.NumberFormat(lang, opts).format(n) : fmt('n', () => new Intl.NumberFormat(lang)).format(n);
}
/** The one date format: 7 Dec 2026 / 7 дек. 2026 г. */
export const date = (ms) => (ms ? dtf('d', { dateStyle: 'medium' }).format(ms) : '');
/** The one time format: 14:05 / 2:05 PM. */
export const time = (ms) => (ms ? dtf('t', { timeStyle: 'short' }).format(ms) : '');
/** Date and time. */
export const dateTime = (ms) => (ms ? dtf('dt', { dateStyle: 'medium', timeStyle: 'short' }).format(ms) : '');

/** List time: the time today, the weekday this week, else the date. */
export function shortTime(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  const now = new Date();
  if (sameDay(d, now)) return time(ms);
  const days = (now - d) / 86400000;
  if (days >= 0 && days < 6) return dtf('wd', { weekday: 'short' }).format(d);
  return date(ms);
}

/** Day separators: Today, Yesterday, else the full date. */
export function dayLabel(ms) {
  const d = new Date(ms);
  const now = new Date();
  if (sameDay(d, now)) return t('Today');
  now.setDate(now.getDate() - 1);
  if (sameDay(d, now)) return t('Yesterday');
  return dtf('full', { dateStyle: 'full' }).format(d);
}

export function fileSize(n) {
  if (!Number.isFinite(n)) return '';
  if (n < 1024) return t('{n} B', { n });
  const [v, u] = n < 1048576 ? [Math.round(n / 1024), 'kilobyte'] : [n / 1048576, 'megabyte'];
  return num(v, { style: 'unit', unit: u, unitDisplay: 'short', maximumFractionDigits: u === 'megabyte' ? 1 : 0 });
}
