// Parley — the filter panel (L5): basic filters; More → condition cards, Rename, Save, Saved
// filters (/api/v1/filters, per manager). It builds the server's filter object (toSpec); the
// list's applyFilters() applies it.

import { api } from '../api.js';
import { h, btn, lbl, fill, errText } from '../dom.js';
import { icon } from '../icons.js';
import { state, loadChannels } from '../store.js';
import { modal, confirmDialog, flash, iconButton, attempt, toggle } from '../ui.js';
import { t, plural } from '../i18n.js';

const MESSENGERS = [['', t('Any messenger')], ['telegram', 'Telegram'], ['whatsapp', 'WhatsApp'], ['viber', 'Viber'], ['widget', t('Website chat')], ['api', 'API']];
const YESNO = [['', t('Any')], ['yes', t('Yes')], ['no', t('No')]];
const IS = [['is', t('is')], ['is_not', t('is not')]];
const TEXT = [['equals', t('is')], ['contains', t('contains')], ['empty', t('is empty')], ['not_empty', t('is set')]];
const DATE = [['after', t('after')], ['before', t('before')], ['between', t('between')]];
const FLAG = [['is', t('is')]];
const NO_VALUE = new Set(['empty', 'not_empty']);
const DAY = 86400000;

// Condition fields as the server's filter takes them: label, operators, value input.
const FIELDS = {
  tag: [t('Tag'), IS, 'text'], channel: [t('Channel'), IS, 'channel'], messenger: [t('Messenger'), IS, 'messenger'],
  sales_plan: [t('Sales plan'), TEXT, 'text'], custom_field: [t('Custom field'), TEXT, 'text'],
  created: [t('Created'), DATE, 'date'], last_activity: [t('Last activity'), DATE, 'date'],
  archived: [t('Archived'), FLAG, 'bool'], blacklisted: [t('Blacklisted'), FLAG, 'bool'], open_task: [t('Has open task'), FLAG, 'bool'],
  unread: [t('Has unread messages'), FLAG, 'bool'], has_phone: [t('Has phone'), FLAG, 'bool'], has_email: [t('Has e-mail'), FLAG, 'bool'],
  assigned_manager: [t('Assigned manager'), FLAG, 'manager'],
};

const blank = () => ({ id: undefined, name: t('Untitled filter'), match: 'all', messenger: '', has_phone: '', has_email: '', sales_plan: '', conditions: [] });
let cur = blank();
const el = {};
let applyFn = () => {};
let channels = [];

const options = (pairs, value) => pairs.map(([v, l]) => h('option', { value: v, text: l, selected: v === value }));
const sel = (id, key) => h('select', { id, onchange: (e) => { cur[key] = e.target.value; } });

export function mountFilters(host, { apply }) {
  applyFn = apply;
  el.messenger = sel('flt-messenger', 'messenger');
  el.phone = sel('flt-phone', 'has_phone');
  el.email = sel('flt-email', 'has_email');
  el.moreBtn = h('button', { class: 'btn btn-sm btn-ghost', 'aria-expanded': 'false', 'aria-controls': 'flt-more', onclick: () => toggle(el.moreBtn, el.more) }, t('More'), icon('down'));
  el.name = h('strong', { class: 'flt-name' });
  el.addSel = h('select', { id: 'flt-add', onchange: addCondition }, h('option', { value: '', text: t('Add a condition…') }),
    Object.entries(FIELDS).map(([k, f]) => h('option', { value: k, text: f[0] })));
  el.match = h('input', { type: 'checkbox', id: 'flt-match', onchange: () => { cur.match = el.match.checked ? 'all' : 'any'; } });
  el.expandBtn = btn('', toggleAll);
  el.cards = h('ul', { class: 'cond-cards' });
  el.saved = h('div', { id: 'flt-saved', class: 'flt-saved', hidden: true });
  el.savedBtn = btn(t('Saved filters'), () => toggle(el.savedBtn, el.saved) && renderSaved(), 'ghost', { 'aria-expanded': 'false', 'aria-controls': 'flt-saved' });
  el.more = h('div', { id: 'flt-more', class: 'flt-more', hidden: true },
    h('div', { class: 'flt-title' }, el.name, btn(t('Rename'), rename), btn(t('Save'), save), el.savedBtn),
    el.saved,
    h('div', { class: 'flt-tools' }, lbl('flt-add', t('Add a condition'), true), el.addSel,
      h('label', { class: 'check' }, el.match, ` ${t('Match all')}`), el.expandBtn),
    el.cards);
  host.append(h('div', { class: 'filters', role: 'region', 'aria-label': t('Filters') },
    h('div', { class: 'flt-basic' }, lbl('flt-messenger', t('Messenger')), el.messenger, lbl('flt-phone', t('Has phone')), el.phone, lbl('flt-email', t('Has e-mail')), el.email),
    h('div', { class: 'flt-actions' }, btn(t('Filter'), applyCurrent, 'primary'), btn(t('Reset'), () => { load(blank()); applyFn(null); }), el.moreBtn),
    el.more));
  load(cur);
  loadChannels().then((list) => { channels = list; }, () => {});
}

function load(f) {
  cur = { ...blank(), ...JSON.parse(JSON.stringify(f)) };
  fill(el.messenger, options(MESSENGERS, cur.messenger));
  fill(el.phone, options(YESNO, cur.has_phone));
  fill(el.email, options(YESNO, cur.has_email));
  el.match.checked = cur.match !== 'any';
  el.name.textContent = cur.name;
  renderCards();
}

function addCondition() {
  const field = el.addSel.value;
  if (!field) return;
  const f = FIELDS[field];
  cur.conditions.push({ field, op: f[1][0][0], value: f[2] === 'bool' ? 'yes' : '', value2: '', key: '', open: true });
  el.addSel.value = '';
  renderCards();
  el.cards.lastElementChild.querySelector('.cond-body select, .cond-body input')?.focus();
}

// ---------- the server's filter object ----------

const yn = (v) => (v === 'yes' ? true : v === 'no' ? false : undefined);
const ynBack = (v) => (v === true ? 'yes' : v === false ? 'no' : '');
const dayMs = (d) => (d ? new Date(`${d}T00:00:00`).getTime() : null);
const toDay = (ms) => (Number.isFinite(ms) ? new Date(ms - new Date(ms).getTimezoneOffset() * 60000).toISOString().slice(0, 10) : '');

function condSpec(c) {
  const kind = FIELDS[c.field][2];
  const out = { field: c.field, op: c.op };
  if (c.field === 'custom_field') out.key = c.key;
  if (NO_VALUE.has(c.op)) return out;
  if (kind === 'bool') out.value = c.value !== 'no';
  else if (kind === 'manager') out.value = c.value === 'none' ? null : Number(c.value) || 0; // null: nobody
  else if (kind === 'date') {
    out.value = c.op === 'between' ? { from: dayMs(c.value), to: c.value2 ? dayMs(c.value2) + DAY : null }
      : c.op === 'after' ? dayMs(c.value) + DAY : dayMs(c.value);
  } else out.value = c.value;
  return out;
}

function condFromSpec(s) {
  const f = FIELDS[s.field];
  if (!f) return null;
  const c = { field: s.field, op: s.op, key: s.key || '', value: '', value2: '', open: false };
  const v = s.value;
  if (f[2] === 'bool') c.value = v === false ? 'no' : 'yes';
  else if (f[2] === 'date') {
    if (s.op === 'between') { c.value = toDay(v?.from); c.value2 = toDay(v?.to != null ? v.to - DAY : null); } else c.value = toDay(s.op === 'after' ? v - DAY : v);
  } else c.value = v === null && f[2] === 'manager' ? 'none' : v == null ? '' : String(v);
  return c;
}

/** The panel state as the server's filter object (only what constrains something). */
function toSpec(f) {
  const out = { match: f.match === 'any' ? 'any' : 'all' };
  if (f.messenger) out.messengers = [f.messenger];
  if (yn(f.has_phone) !== undefined) out.has_phone = yn(f.has_phone);
  if (yn(f.has_email) !== undefined) out.has_email = yn(f.has_email);
  if (f.sales_plan) out.sales_plan = f.sales_plan;
  if (f.conditions.length) out.conditions = f.conditions.map(condSpec);
  return out;
}

function fromSpec(s = {}, name, id) {
  return {
    ...blank(), id, name, match: s.match === 'any' ? 'any' : 'all', messenger: (s.messengers || [])[0] || '',
    has_phone: ynBack(s.has_phone), has_email: ynBack(s.has_email), sales_plan: s.sales_plan || '',
    conditions: (s.conditions || []).map(condFromSpec).filter(Boolean),
  };
}

function applyCurrent() {
  const f = cur;
  const empty = !f.messenger && !f.has_phone && !f.has_email && !f.sales_plan && !f.conditions.length;
  applyFn(empty ? null : toSpec(f), f.name !== t('Untitled filter') ? f.name : '');
}

/** One line for the chip above the list. */
export function describeFilter(spec, name = '') {
  const parts = (spec.messengers || []).map((m) => (MESSENGERS.find(([v]) => v === m) || [0, m])[1]);
  if (spec.has_phone !== undefined) parts.push(spec.has_phone ? t('has phone') : t('no phone'));
  if (spec.has_email !== undefined) parts.push(spec.has_email ? t('has e-mail') : t('no e-mail'));
  if (spec.sales_plan) parts.push(t('plan: {plan}', { plan: spec.sales_plan }));
  const n = (spec.conditions || []).length;
  if (n) parts.push(`${plural(n, { one: '{n} condition', other: '{n} conditions' })} (${spec.match === 'any' ? t('any') : t('all')})`);
  return `${t('Filter')} — ${name ? `${name}: ` : ''}${parts.join(' · ') || t('none')}`;
}

// ---------- condition cards ----------

function renderCards() {
  fill(el.cards, cur.conditions.map(card));
  el.expandBtn.textContent = cur.conditions.some((c) => c.open) ? t('Collapse all') : t('Expand all');
  el.expandBtn.disabled = !cur.conditions.length;
}

function summary(c) {
  const [label, ops, kind] = FIELDS[c.field];
  let v = c.value;
  if (kind === 'bool') v = c.value === 'no' ? t('no') : t('yes');
  if (kind === 'manager') v = c.value === 'none' ? t('Nobody') : state.managers.get(Number(c.value))?.name;
  if (kind === 'messenger') v = (MESSENGERS.find(([k]) => k === c.value) || [])[1];
  if (c.op === 'between') v = t('{a} and {b}', { a: c.value || '…', b: c.value2 || '…' });
  const op = (ops.find(([o]) => o === c.op) || [0, c.op])[1];
  return `${label} ${c.field === 'custom_field' ? `“${c.key || '…'}” ` : ''}${op}${NO_VALUE.has(c.op) ? '' : ` ${v || '…'}`}`;
}

function valueInput(c, id) {
  const kind = FIELDS[c.field][2];
  const choose = (pairs) => h('select', { id }, options([['', t('Choose…')], ...pairs], c.value));
  if (kind === 'bool') return h('select', { id }, options([['yes', t('Yes')], ['no', t('No')]], c.value));
  if (kind === 'manager') return choose([['none', t('Nobody')], ...Array.from(state.managers.values(), (m) => [String(m.id), m.name || m.login])]);
  if (kind === 'messenger') return choose(MESSENGERS.slice(1));
  if (kind === 'channel' && channels.length) return choose(channels.map((ch) => [ch.id, `${ch.name || ch.id} (${ch.kind} ${ch.id})`]));
  return h('input', { type: kind === 'date' ? 'date' : 'text', id, value: c.value });
}

function card(c, i) {
  const id = `cond-${i}`;
  const label = h('span', { text: summary(c) });
  const refresh = () => { label.textContent = summary(c); };
  const input = (ctl, key, text) => {
    ctl.addEventListener('input', () => { c[key] = ctl.value.trim(); refresh(); });
    ctl.addEventListener('change', () => { c[key] = ctl.value.trim(); refresh(); });
    return [lbl(ctl.id, text, true), ctl];
  };
  const op = h('select', { id: `${id}-op`, onchange: () => { c.op = op.value; renderCards(); } }, options(FIELDS[c.field][1], c.op));
  return h('li', { class: 'cond-card' },
    h('div', { class: 'cond-head' },
      h('button', {
        class: 'cond-toggle', 'aria-expanded': String(!!c.open), 'aria-controls': `${id}-b`,
        onclick: () => { c.open = !c.open; renderCards(); el.cards.children[i].querySelector('.cond-toggle').focus(); },
      }, icon(c.open ? 'down' : 'up'), label),
      iconButton('x', t('Remove condition: {c}', { c: summary(c) }), { cls: 'icon-btn-sm', onclick: () => { cur.conditions.splice(i, 1); renderCards(); el.addSel.focus(); } })),
    h('div', { id: `${id}-b`, class: 'cond-body', hidden: !c.open },
      c.field === 'custom_field' ? input(h('input', { type: 'text', id: `${id}-k`, placeholder: t('Field name'), value: c.key }), 'key', t('Custom field name')) : null,
      lbl(op.id, t('Condition'), true), op,
      NO_VALUE.has(c.op) ? null : input(valueInput(c, `${id}-v`), 'value', c.op === 'between' ? t('From') : t('Value')),
      c.op === 'between' ? input(h('input', { type: 'date', id: `${id}-v2`, value: c.value2 }), 'value2', t('To')) : null));
}

function toggleAll() {
  const open = !cur.conditions.some((c) => c.open);
  for (const c of cur.conditions) c.open = open;
  renderCards();
}

// ---------- rename / save / saved list ----------

function rename() {
  const input = h('input', { type: 'text', id: 'flt-rename', value: cur.name, maxlength: '80', required: true });
  const form = h('form', { class: 'stack' }, h('div', { class: 'field' }, lbl('flt-rename', t('Filter name')), input),
    h('div', { class: 'modal-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', text: t('Rename') })));
  const m = modal({ title: t('Rename filter'), body: [form], cls: 'modal-small' });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    cur.name = input.value.trim() || cur.name;
    el.name.textContent = cur.name;
    m.close();
  });
  input.select();
}

const FILTERS = '/api/v1/filters';

/** Update the saved filter, or save anew when there is none (or it is gone). */
async function saveFilter(body) {
  if (cur.id != null) {
    try {
      return await api('PATCH', `${FILTERS}/${cur.id}`, body);
    } catch (err) {
      if (err.status !== 404 && err.status !== 403) throw err; // gone or not mine
    }
  }
  return api('POST', FILTERS, body);
}

async function save() {
  const stored = await attempt(() => saveFilter({ name: cur.name, filter: toSpec(cur) }));
  if (!stored) return;
  cur.id = stored.id;
  flash(`Filter “${stored.name}” saved`, 'ok');
  if (!el.saved.hidden) renderSaved();
}

async function renderSaved() {
  let list;
  try {
    list = ((await api('GET', FILTERS)).items || []).sort((a, b) => b.created_ms - a.created_ms);
  } catch (err) {
    fill(el.saved, h('p', { class: 'form-error', text: errText(err) }));
    return;
  }
  fill(el.saved, list.length ? h('ul', { class: 'saved-list' }, list.map((f) => h('li', null,
    h('span', { class: 'saved-name', text: f.name, title: describeFilter(f.filter || {}) }),
    btn(t('Apply'), () => { load(fromSpec(f.filter, f.name, f.id)); applyCurrent(); }, 'primary', { 'aria-label': t('Apply {name}', { name: f.name }) }),
    btn(t('Duplicate'), async () => { await attempt(() => api('POST', `${FILTERS}/${f.id}/duplicate`)); renderSaved(); }, 'ghost', { 'aria-label': t('Duplicate {name}', { name: f.name }) }),
    btn(t('Delete'), async () => {
      if (!await confirmDialog(t('Delete the filter “{name}”?', { name: f.name }), { ok: t('Delete'), danger: true })) return;
      await attempt(() => api('DELETE', `${FILTERS}/${f.id}`));
      if (cur.id === f.id) cur.id = undefined;
      renderSaved();
    }, 'ghost', { 'aria-label': `Delete ${f.name}` }))))
    : h('p', { class: 'empty', text: t('No saved filters yet. Set up conditions, then Save.') }));
}

