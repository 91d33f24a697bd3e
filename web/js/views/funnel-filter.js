// Parley — the filter of a funnel's condition step: the L5 filter object the server takes
// (match, and conditions of field, op, value, key), edited in place. Used by the Automation
// editor (views/automation.js); the chat list's filter panel (chats/filters.js) builds the same
// object for the list.

import { h, btn, lbl } from '../dom.js';
import { state } from '../store.js';
import { iconButton } from '../ui.js';
import { t } from '../i18n.js';

// Filter conditions (L5) as the server takes them: label, operators, value kind.
const IS = [['is', t('is')], ['is_not', t('is not')]];
const TEXT = [['equals', t('is')], ['contains', t('contains')], ['empty', t('is empty')], ['not_empty', t('is set')]];
const FLAG = [['is', t('is')]];
const DATE = [['after', t('after')], ['before', t('before')], ['between', t('between')]];
const COND = {
  tag: [t('Tag'), IS, 'text'], channel: [t('Channel'), IS, 'channel'], messenger: [t('Messenger'), IS, 'messenger'],
  custom_field: [t('Custom field'), TEXT, 'text'], sales_plan: [t('Sales plan'), TEXT, 'text'],
  has_phone: [t('Has phone'), FLAG, 'bool'], has_email: [t('Has e-mail'), FLAG, 'bool'], open_task: [t('Has open task'), FLAG, 'bool'],
  unread: [t('Has unread messages'), FLAG, 'bool'], archived: [t('Archived'), FLAG, 'bool'], blacklisted: [t('Blacklisted'), FLAG, 'bool'],
  assigned_manager: [t('Assigned manager'), FLAG, 'manager'], created: [t('Created'), DATE, 'date'], last_activity: [t('Last activity'), DATE, 'date'],
};
const MESSENGERS = [['telegram', 'Telegram'], ['whatsapp', 'WhatsApp'], ['viber', 'Viber'], ['widget', t('Website chat')], ['api', 'API']];

const DAY = 86400000;
const options = (pairs, value) => pairs.map(([v, l]) => h('option', { value: v, text: l, selected: String(v) === String(value) }));
let ctx = { ro: true, channels: [] };

/** The editor of filter `f` (changed in place); `render` draws it again after a structural change. */
export function filterEditor(f, id, render, opts) {
  ctx = opts;
  const match = h('select', { id: `${id}-match`, disabled: ctx.ro, onchange: () => { f.match = match.value; } },
    options([['all', t('every condition holds')], ['any', t('any condition holds')]], f.match === 'any' ? 'any' : 'all'));
  const other = ['messengers', 'has_phone', 'has_email', 'sales_plan'].filter((k) => f[k] != null && !(Array.isArray(f[k]) && !f[k].length));
  return [h('div', { class: 'inline-form' }, lbl(match.id, t('Yes when')), match),
    h('ul', { class: 'fn-conds' }, f.conditions.map((c, i) => condRow(f, c, `${id}-c${i}`, i, render))),
    other.length ? h('p', { class: 'hint', text: t('Also: {list}', { list: other.map((k) => `${k} = ${JSON.stringify(f[k])}`).join(', ') }) }) : null,
    ctx.ro ? null : btn(t('Add a condition'), () => { f.conditions.push({ field: 'tag', op: 'is', value: '' }); render(); }, 'ghost', { class: 'btn btn-sm btn-ghost fn-add-cond' })];
}

const dayMs = (d) => (d ? new Date(`${d}T00:00:00`).getTime() : null);
const toDay = (ms) => (Number.isFinite(ms) ? new Date(ms - new Date(ms).getTimezoneOffset() * 60000).toISOString().slice(0, 10) : '');

function fresh(fieldName) {
  const [, ops, kind] = COND[fieldName];
  const c = { field: fieldName, op: ops[0][0] };
  if (fieldName === 'custom_field') c.key = '';
  c.value = kind === 'bool' ? true : kind === 'date' ? null : kind === 'manager' ? 0 : '';
  return c;
}

function condRow(f, c, id, i, render) {
  const def = COND[c.field];
  const set = (next) => { f.conditions[i] = next; render(); };
  const fieldSel = h('select', { id: `${id}-f`, 'aria-label': t('Condition'), onchange: () => set(fresh(fieldSel.value)) },
    def ? null : h('option', { value: c.field, text: c.field, selected: true }), options(Object.entries(COND).map(([k, x]) => [k, x[0]]), c.field));
  const ops = def ? def[1] : [[c.op, c.op]];
  const op = h('select', { id: `${id}-op`, 'aria-label': t('Operator'), onchange: () => {
    const was = c.op;
    c.op = op.value;
    if (c.op === 'empty' || c.op === 'not_empty') delete c.value;
    else if (def?.[2] === 'date' && (was === 'between') !== (c.op === 'between')) c.value = null;
    else if (c.value === undefined) c.value = '';
    render();
  } }, options(ops, c.op));
  const parts = [fieldSel, op];
  if (c.field === 'custom_field') {
    const key = h('input', { type: 'text', id: `${id}-k`, value: c.key || '', placeholder: t('Field name'), 'aria-label': t('Field name') });
    key.addEventListener('input', () => { c.key = key.value; });
    parts.push(key);
  }
  if (c.op !== 'empty' && c.op !== 'not_empty') parts.push(valueInput(c, def ? def[2] : 'raw', `${id}-v`));
  if (ctx.ro) for (const p of parts) if (p.tagName) p.disabled = true;
  return h('li', { class: 'inline-form fn-cond' }, parts,
    ctx.ro ? null : iconButton('x', t('Remove condition {n}', { n: i + 1 }), { cls: 'icon-btn-sm', onclick: () => { f.conditions.splice(i, 1); render(); } }));
}

function valueInput(c, kind, id) {
  const sel = (pairs, conv = String) => {
    const s = h('select', { id, 'aria-label': t('Value') }, options([['', t('Choose…')], ...pairs], c.value === null ? 'none' : c.value ?? ''));
    s.addEventListener('change', () => { c.value = s.value === '' ? '' : s.value === 'none' ? null : conv(s.value); });
    return s;
  };
  if (kind === 'bool') {
    const s = h('select', { id, 'aria-label': t('Value') }, options([['yes', t('Yes')], ['no', t('No')]], c.value === false ? 'no' : 'yes'));
    s.addEventListener('change', () => { c.value = s.value === 'yes'; });
    return s;
  }
  if (kind === 'channel') return sel(ctx.channels.map((ch) => [ch.id, `${ch.name || ch.id} (${ch.kind} ${ch.id})`]));
  if (kind === 'messenger') return sel(MESSENGERS);
  if (kind === 'manager') return sel([['none', t('Nobody')], ...Array.from(state.managers.values(), (m) => [m.id, m.name || m.login])], Number); // none: null, nobody
  if (kind === 'date') {
    const date = (v, onset, label, sfx = '') => {
      const d = h('input', { type: 'date', id: `${id}${sfx}`, value: toDay(v), 'aria-label': label });
      d.addEventListener('change', () => onset(dayMs(d.value)));
      return d;
    };
    if (c.op === 'between') {
      const v = c.value && typeof c.value === 'object' ? c.value : (c.value = { from: null, to: null });
      return h('span', { class: 'inline-form' }, date(v.from, (ms) => { v.from = ms; }, t('From')),
        date(v.to != null ? v.to - DAY : null, (ms) => { v.to = ms == null ? null : ms + DAY; }, t('To'), '-2'));
    }
    const after = c.op === 'after';
    return date(typeof c.value === 'number' ? c.value - (after ? DAY : 0) : null, (ms) => { c.value = ms == null ? null : ms + (after ? DAY : 0); }, t('Value'));
  }
  if (kind === 'raw') return h('code', { text: JSON.stringify(c.value) });
  const input = h('input', { type: 'text', id, value: c.value ?? '', 'aria-label': t('Value') });
  input.addEventListener('input', () => { c.value = input.value; });
  return input;
}
