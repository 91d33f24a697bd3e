// Parley — Audience (A1), minimal: clients with search, and editing one (#/audience/<id>).
// Merge and CSV import/export have no server API yet.

import { api } from '../api.js';
import { h, lbl, field, clear, fill, table, phone, shortTime, debounce, errText } from '../dom.js';
import { flash, setNote } from '../ui.js';
import { t, plural } from '../i18n.js';

const st = { q: '', items: [], next: null, gen: 0, editing: null };
const el = {};

export function mount(root) {
  el.search = h('input', { type: 'search', id: 'aud-search', placeholder: t('Search by name, phone, e-mail'), autocomplete: 'off' });
  el.search.addEventListener('input', debounce(() => { st.q = el.search.value.trim(); load(); }, 250));
  el.note = h('p', { class: 'muted', role: 'status' });
  el.body = h('tbody');
  el.more = h('button', { class: 'btn btn-ghost', text: t('Load more'), hidden: true, onclick: () => load(true) });
  el.editor = h('section', { class: 'panel editor', hidden: true });
  root.append(
    h('div', { class: 'page-head' }, h('h2', { class: 'page-title', text: t('Audience') }),
      h('div', { class: 'page-tools' }, lbl('aud-search', t('Search clients'), true), el.search)),
    el.editor,
    table(['Name', 'Phones', 'E-mails', 'Tags', 'Sales plan', 'Last activity', ''], el.body),
    el.note, el.more);
  load();
}

export function show(args) {
  const id = Number(args[0]);
  if (id) edit(id);
  else {
    st.editing = null;
    clear(el.editor).hidden = true;
  }
}

async function load(more = false) {
  const gen = ++st.gen;
  const p = new URLSearchParams({ limit: '100' });
  if (st.q) p.set('q', st.q);
  if (more && st.next != null) p.set('cursor', st.next);
  try {
    const res = await api('GET', `/api/v1/contacts?${p}`);
    if (gen !== st.gen) return;
    st.items = (more ? st.items : []).concat(res.items || []);
    st.next = res.next_cursor ?? null;
    render();
  } catch (err) {
    if (gen === st.gen) el.note.textContent = errText(err);
  }
}

function render() {
  fill(el.body, st.items.map((c) => h('tr', null,
    h('td', null, h('a', { href: `#/audience/${c.id}`, text: c.name || t('Unnamed client') }),
      c.archived || c.blacklisted ? h('span', { class: 'pill', text: [c.archived && 'archived', c.blacklisted && 'blacklisted'].filter(Boolean).join(', ') }) : null),
    h('td', { text: c.phones.map(phone).join(', ') }), h('td', { text: c.emails.join(', ') }), h('td', { text: c.tags.join(', ') }),
    h('td', { text: c.sales_plan || '' }), h('td', { text: shortTime(c.last_activity_ms) }),
    h('td', { class: 'actions' }, h('a', { class: 'btn btn-sm btn-ghost', href: `#/chats/${c.id}`, text: t('Chat') })))));
  el.more.hidden = st.next == null;
  const n = st.items.length;
  el.note.textContent = n ? plural(n, { one: '{n} client shown', other: '{n} clients shown' }) : st.q ? t('No clients match.') : t('No clients yet.');
}

const lines = (v) => v.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);

async function edit(id) {
  st.editing = id;
  el.editor.hidden = false;
  fill(el.editor, h('p', { class: 'muted', text: t('Loading…') }));
  let c;
  try {
    c = (await api('GET', `/api/v1/contacts/${id}`)).contact;
  } catch (err) {
    fill(el.editor, h('p', { class: 'form-error', text: errText(err) }));
    return;
  }
  if (st.editing !== id) return;
  const f = {
    name: h('input', { type: 'text', id: 'ed-name', value: c.name || '', required: true }),
    plan: h('input', { type: 'text', id: 'ed-plan', value: c.sales_plan || '' }),
    phones: h('textarea', { id: 'ed-phones', rows: '2', value: c.phones.map(phone).join('\n') }),
    emails: h('textarea', { id: 'ed-emails', rows: '2', value: c.emails.join('\n') }),
    fields: h('textarea', { id: 'ed-fields', rows: '3', value: Object.entries(c.custom_fields || {}).map(([k, v]) => `${k}: ${v}`).join('\n') }),
    archived: h('input', { type: 'checkbox', checked: c.archived }),
    blacklisted: h('input', { type: 'checkbox', checked: c.blacklisted }),
  };
  const out = h('p', { class: 'form-note', role: 'alert', hidden: true });
  const form = h('form', { class: 'form-grid' },
    field(t('Name'), f.name), field(t('Sales plan'), f.plan), field(t('Phones (one per line)'), f.phones), field(t('E-mails (one per line)'), f.emails),
    field(t('Custom fields (key: value per line)'), f.fields),
    h('div', { class: 'field checks' }, h('label', { class: 'check' }, f.archived, ' Archived'), h('label', { class: 'check' }, f.blacklisted, ' Blacklisted')),
    out,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', text: t('Save') }),
      h('a', { class: 'btn btn-ghost', href: `#/chats/${c.id}`, text: t('Open chat') }),
      h('a', { class: 'btn btn-ghost', href: `#/orders/${c.id}`, text: t('Orders and sales') }),
      h('a', { class: 'btn btn-ghost', href: '#/audience', text: t('Close') })));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const custom = {};
    for (const line of f.fields.value.split('\n')) {
      const i = line.indexOf(':');
      if (i > 0) custom[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
    const body = { name: f.name.value.trim(), phones: lines(f.phones.value), emails: lines(f.emails.value), sales_plan: f.plan.value.trim() || null, custom_fields: custom };
    for (const k of ['archived', 'blacklisted']) if (f[k].checked !== c[k]) body[k] = f[k].checked;
    try {
      c = await api('PATCH', `/api/v1/contacts/${c.id}`, body);
      st.items = st.items.map((x) => (x.id === c.id ? c : x));
      render();
      setNote(out, t('Saved'), 'ok');
      flash(t('Client saved'), 'ok');
    } catch (err) {
      setNote(out, errText(err));
    }
  });
  fill(el.editor, h('h3', { class: 'panel-title', text: `Edit ${c.name || 'client'}` }), form);
  f.name.focus();
}
