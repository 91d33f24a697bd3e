// Parley — quick replies in the composer (T2), loaded with the first `/` or "Save as quick
// reply": the list filtered as the manager types (GET /api/v1/replies?q=, shortcut matches
// first), ↑/↓ to choose, Enter or Tab inserts the text with the open chat's variables filled and
// adds the reply's files to the message, Esc closes; saving keeps the text as a personal reply.

import { api } from '../api.js';
import { h, field, fill, errText, debounce } from '../dom.js';
import { modal, flash } from '../ui.js';
import { t, plural } from '../i18n.js';

// The composer's own helpers, handed over when it loads this module (it imports this one, so
// importing it back would make a circle).
let deps = { fillTemplate: (x) => x, addFiles: () => {} };
export function use(d) { deps = d; }

function styles() {
  if (!document.querySelector('link[href="/css/team.css"]')) document.head.append(h('link', { rel: 'stylesheet', href: '/css/team.css' }));
}
styles();

const text = document.getElementById('composer-text');
const st = { q: null, shown: null, items: [], at: 0, seq: 0, pick: false, inserting: false };
const list = h('ul', { id: 'qr-list', class: 'qr-list', role: 'listbox', 'aria-label': t('Quick replies') });
const note = h('p', { class: 'empty', role: 'status' });
const pop = h('div', { class: 'popover qr-pop', hidden: true, onmousedown: (e) => e.target.closest('a') || e.preventDefault() },
  h('div', { class: 'pop-head' }, h('h2', { text: t('Quick replies') }), h('a', { href: '#/settings/replies', text: t('Manage'), onclick: () => close() })),
  list, note, h('p', { class: 'hint', text: t('↑ ↓ to choose, Enter or Tab to insert, Esc to close') }));
text.closest('.composer').append(pop);
text.setAttribute('aria-autocomplete', 'list');
text.setAttribute('aria-controls', 'qr-list');
text.addEventListener('keydown', onKey);
text.addEventListener('blur', () => setTimeout(() => document.activeElement !== text && close(), 150));

/** What follows the `/` being typed, or null when there is none (the list closes). */
export function suggest(q) {
  if (st.inserting) return;
  if (q == null) return close();
  if (q === st.q && !pop.hidden) return;
  st.q = q;
  st.seq++;
  load();
}

const load = debounce(async () => {
  const { q } = st;
  const seq = st.seq;
  let items = [];
  let err = '';
  try {
    items = (await api('GET', `/api/v1/replies?${new URLSearchParams({ q })}`)).items || [];
  } catch (e) {
    err = errText(e);
  }
  if (seq !== st.seq || st.q == null) return;
  st.items = items.slice(0, 30);
  st.shown = q;
  render(err);
  if (st.pick) {
    st.pick = false;
    choose(0);
  }
}, 120);

function close() {
  st.q = null;
  st.pick = false;
  st.seq++;
  pop.hidden = true;
  text.setAttribute('aria-expanded', 'false');
  text.removeAttribute('aria-activedescendant');
}

function render(err) {
  pop.hidden = false;
  text.setAttribute('aria-expanded', 'true');
  fill(list, st.items.map((r, i) => h('li', { id: `qr-${i}`, role: 'option', class: 'qr-item', 'aria-selected': 'false', onclick: () => choose(i), onmousemove: () => i !== st.at && mark(i) },
    h('span', { class: 'qr-top' }, h('strong', { class: 'qr-short', text: `/${r.shortcut}` }), r.shared ? h('span', { class: 'pill', text: t('Shared') }) : null,
      r.attachments.length ? h('span', { class: 'pill', text: plural(r.attachments.length, { one: '{n} file', other: '{n} files' }) }) : null),
    h('span', { class: 'qr-text', text: deps.fillTemplate(r.text) }))));
  note.textContent = err || (st.items.length ? '' : st.shown ? t('No quick replies match “/{q}”.', { q: st.shown }) : t('No quick replies yet. Save a message as one (the bookmark button) or add them in Settings.'));
  note.hidden = !note.textContent;
  mark(0);
}

function mark(i) {
  st.at = i;
  list.querySelectorAll('[role=option]').forEach((o, j) => o.setAttribute('aria-selected', String(i === j)));
  const o = list.children[i];
  if (o) {
    text.setAttribute('aria-activedescendant', o.id);
    o.scrollIntoView({ block: 'nearest' });
  } else text.removeAttribute('aria-activedescendant');
}

function onKey(e) {
  if (pop.hidden || e.isComposing) return;
  const n = st.items.length;
  const plain = !e.shiftKey && !e.ctrlKey && !e.metaKey && !e.altKey;
  if (e.key === 'Escape') close();
  else if ((e.key === 'ArrowDown' || e.key === 'ArrowUp') && n) mark((st.at + (e.key === 'ArrowDown' ? 1 : n - 1)) % n);
  else if ((e.key === 'Enter' || e.key === 'Tab') && plain && st.shown !== st.q) st.pick = true; // the list is on its way
  else if ((e.key === 'Enter' || e.key === 'Tab') && plain && n) choose(st.at);
  else return;
  e.preventDefault();
  e.stopPropagation();
}

/** Put the reply in place of `/…` (variables filled) and its files on the message. */
function choose(i) {
  const r = st.items[i];
  if (!r) return;
  close();
  const end = text.selectionStart;
  const start = text.value.lastIndexOf('/', end - 1);
  if (start < 0) return;
  st.inserting = true;
  text.setRangeText(deps.fillTemplate(r.text), start, end, 'end');
  text.dispatchEvent(new Event('input'));
  setTimeout(() => { st.inserting = false; });
  deps.addFiles(r.attachments);
  text.focus();
}

/** "Save as quick reply": the composer's text (and files) as a personal reply. */
export function saveAs(value, files = []) {
  const shortcut = h('input', { type: 'text', id: 'qr-save-shortcut', required: true, maxlength: '33', autocomplete: 'off', spellcheck: 'false', placeholder: t('e.g. delivery') });
  const body = h('textarea', { id: 'qr-save-text', rows: '5', maxlength: '4000', value });
  const err = h('p', { class: 'form-error', role: 'alert' });
  const save = h('button', { type: 'submit', class: 'btn btn-primary', form: 'qr-save', text: t('Save') });
  const form = h('form', { id: 'qr-save', class: 'stack', onsubmit: submit },
    field(t('Shortcut'), shortcut, t('Type / and the shortcut in the message field to insert the reply. Letters, digits, - and _.')),
    field(t('Text'), body, t('Variables such as {client.name} are filled for the open chat when the reply is inserted.')),
    files.length ? h('p', { class: 'muted', text: plural(files.length, { one: 'With {n} file', other: 'With {n} files' }) }) : null, err);
  const m = modal({ title: t('Save as quick reply'), cls: 'modal-mid', body: [form], actions: [save] });
  shortcut.focus();
  async function submit(e) {
    e.preventDefault();
    save.disabled = true;
    try {
      const r = await api('POST', '/api/v1/replies', { shortcut: shortcut.value, text: body.value, attachments: files.map((a) => ({ id: a.id, name: a.name })) });
      m.close();
      flash(t('Saved as /{shortcut}', { shortcut: r.shortcut }), 'ok');
    } catch (e2) {
      // The server's reason: the shortcut is taken (409) or a field is wrong (422).
      err.textContent = errText(e2);
      save.disabled = false;
      (/^text:/.test(e2.message) ? body : shortcut).focus();
    }
  }
}
