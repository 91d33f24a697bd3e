// Parley — the order form (A2) shared by "Add an order" and the edit dialog: title, plan and
// stage, amount and currency, and the order's own fields as name/value rows (the server keeps
// at most 50, names 1–64 bytes, values up to 4 KiB; a save replaces the whole set).

import { h, btn, field, fill } from '../dom.js';
import { t } from '../i18n.js';

export const MAX_FIELDS = 50;
const bytes = (s) => new TextEncoder().encode(s).length;
export const samePlan = (a, b) => String(a ?? '').toLowerCase() === String(b ?? '').toLowerCase();

/** An order's fields to read: <dl> of name → value (null when there are none). */
export function fieldsView(fields, cls = 'ord-fields') {
  const list = Object.entries(fields || {});
  return list.length ? h('dl', { class: cls }, list.map(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })])) : null;
}

/** Name/value rows with Add and Remove; read() gives the map, or throws (the bad row marked). */
export function fieldsEditor(fields = {}) {
  const rows = h('div', { class: 'ord-field-rows' });
  const add = btn(t('Add a field'), () => row('', '').focus());
  const sync = () => { add.disabled = rows.children.length >= MAX_FIELDS; };
  const row = (k, v) => {
    const key = h('input', { type: 'text', class: 'ord-field-key', value: k, maxlength: '64', placeholder: t('Field name'), 'aria-label': t('Field name') });
    // A textarea keeps line breaks that an API client put into a value.
    const val = h('textarea', { class: 'ord-field-value', rows: '1', value: v, placeholder: t('Value'), 'aria-label': t('Field value') });
    const x = btn(t('Remove'), () => {
      const next = r.nextElementSibling?.querySelector('input');
      r.remove();
      sync();
      (next || add).focus();
    }, 'ghost');
    const label = () => x.setAttribute('aria-label', key.value.trim() ? t('Remove the field “{name}”', { name: key.value.trim() }) : t('Remove this field'));
    key.addEventListener('input', label);
    label();
    const r = h('div', { class: 'ord-field-row' }, key, val, x);
    rows.append(r);
    sync();
    return key;
  };
  for (const [k, v] of Object.entries(fields || {})) row(k, v);
  sync();
  const el = h('fieldset', { class: 'ord-fields-edit' }, h('legend', { text: t('Custom fields') }), rows,
    h('div', { class: 'ord-fields-foot' }, add, h('span', { class: 'hint', text: t('Up to 50 fields; a name is at most 64 bytes, a value at most 4 KiB.') })));
  const read = () => {
    const out = {};
    for (const i of rows.querySelectorAll('input, textarea')) i.removeAttribute('aria-invalid');
    const bad = (input, msg) => {
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      throw new Error(msg);
    };
    for (const r of rows.children) {
      const [key, val] = r.querySelectorAll('input, textarea');
      const k = key.value.trim();
      if (!k && !val.value) continue; // an empty row is nothing
      if (!k) bad(key, t('A field needs a name.'));
      if (bytes(k) > 64) bad(key, t('The field name “{name}” is longer than 64 bytes.', { name: k }));
      if (k in out) bad(key, t('Two fields are named “{name}”.', { name: k }));
      if (bytes(val.value) > 4096) bad(val, t('The value of “{name}” is longer than 4 KiB.', { name: k }));
      out[k] = val.value;
    }
    return out;
  };
  const reset = () => { fill(rows); sync(); };
  return { el, read, reset, rows };
}

/** The controls of an order (`o` to edit, or null for a new one on `planName`), for a form. */
export function orderControls(plans, o, idp, planName) {
  const names = plans.map((p) => p.name);
  if (o && !names.some((n) => samePlan(n, o.plan))) names.push(o.plan);
  const want = o ? o.plan : planName;
  const plan = h('select', { id: `${idp}-plan` }, names.map((n) => h('option', { value: n, text: n, selected: samePlan(n, want) })));
  const stage = h('select', { id: `${idp}-stage` });
  const stages = (keep) => fill(stage, (plans.find((p) => p.name === plan.value)?.stage_list || []).map((s) => h('option', { value: s.id, text: s.name, selected: s.id === keep })));
  plan.addEventListener('change', () => stages());
  stages(o?.stage_id);
  const title = h('input', { type: 'text', id: `${idp}-title`, required: true, maxlength: '200', value: o?.title ?? '' });
  const amount = h('input', { type: 'number', id: `${idp}-amount`, step: '0.01', value: String(o?.amount ?? 0) });
  const currency = h('input', { type: 'text', id: `${idp}-currency`, maxlength: '3', size: '4', placeholder: 'EUR', value: o?.currency ?? '' });
  const fields = fieldsEditor(o?.custom_fields);
  return {
    el: [field(t('Title'), title), field(t('Plan'), plan), field(t('Stage'), stage), field(t('Amount'), amount), field(t('Currency'), currency), fields.el],
    title,
    /** The request body; throws (with the field focused) when a custom field is wrong. */
    body: () => {
      const custom = fields.read();
      if (!title.value.trim()) {
        title.focus();
        throw new Error(t('Write a title.'));
      }
      return { plan: plan.value, stage: Number(stage.value), title: title.value.trim(), amount: Number(amount.value) || 0, currency: currency.value.trim(), custom_fields: custom };
    },
    reset: () => {
      title.value = '';
      amount.value = '0';
      fields.reset();
    },
  };
}
