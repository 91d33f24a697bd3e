// Parley — Variables (A3): the chat templates managers insert with the composer's Variables
// button (funnels and broadcasts send them too). Any manager creates, renames, rewrites and
// deletes the templates made here; those of the config file ([[templates]]) are listed
// read-only, with a badge. After each change the shared list is reloaded (loadTemplates(true))
// so the composer offers the new one at once.

import { api } from '../api.js';
import { h, btn, lbl, fill, table, errText } from '../dom.js';
import { icon } from '../icons.js';
import { loadTemplates } from '../store.js';
import { confirmDialog, flash, togglePopover, setNote } from '../ui.js';
import { t } from '../i18n.js';

const TEMPLATES = '/api/v1/templates';
const VARS = [['{client.name}', t('Client name')], ['{client.phone}', t('Client phone')], ['{client.email}', t('Client e-mail')], ['{manager.name}', t('Manager name')]];
const PLACEHOLDERS = ['{client.name}', '{client.phone}', '{client.email}', '{manager.name}', '{client.field.<name>}'];

const st = { seq: 0, list: [], editing: null };
const el = {};
const path = (name) => `${TEMPLATES}/${encodeURIComponent(name)}`;

export function mount(root) {
  // The page's rules load with it, not with the Chats screen.
  document.head.append(h('link', { rel: 'stylesheet', href: '/css/variables.css' }));
  el.body = h('tbody');
  el.note = h('p', { class: 'muted', role: 'status' });
  el.newBtn = h('button', { class: 'btn btn-primary', id: 'tpl-new', onclick: openNew }, icon('plus'), h('span', { text: t('New template') }));
  el.create = h('section', { class: 'panel tpl-create', hidden: true, 'aria-labelledby': 'tpl-new-title' });
  root.append(
    h('div', { class: 'page-head' }, h('h2', { class: 'page-title', text: t('Variables') }), el.newBtn),
    h('section', { class: 'panel tpl-help' }, h('p', { class: 'muted' }, explain())),
    el.create,
    table(['Template', 'Text', 'Actions'], el.body),
    el.note);
}

/** The help text with [[templates]] and the placeholders as code. */
function explain() {
  const s = t('Chat templates are ready-made replies: a manager inserts one with the Variables button in a chat, and funnels and broadcasts can send them. Create, edit and delete them here; those the admin lists in the config file as [[templates]] are marked and change only there. Placeholders: {list}.');
  return s.split(/(\[\[templates\]\]|\{list\})/).map((x) => (x === '[[templates]]' ? h('code', { text: x })
    : x === '{list}' ? PLACEHOLDERS.flatMap((c, i) => [i ? ', ' : null, h('code', { text: c })]) : x));
}

export async function show() {
  const seq = ++st.seq;
  if (!st.list.length) el.note.textContent = t('Loading…');
  try {
    const list = await loadTemplates(true);
    if (seq === st.seq) render(list);
  } catch (err) {
    if (seq === st.seq) el.note.textContent = errText(err);
  }
}

function render(list) {
  st.list = list;
  st.editing = null;
  fill(el.body, list.map(row));
  el.note.textContent = list.length ? '' : t('No chat templates yet. Create one with New template.');
}

/** Reload the shared list (the composer's too) and show it; focus the row named `focus`. */
async function refresh(focus) {
  try {
    render(await loadTemplates(true));
  } catch (err) {
    el.note.textContent = errText(err);
    return;
  }
  if (focus != null) rowOf(focus)?.querySelector('.tpl-edit')?.focus();
}

const rowOf = (name) => [...el.body.children].find((r) => r.dataset.name === name);

function row(tp) {
  const config = tp.source === 'config';
  const tr = h('tr', { 'data-name': tp.name, class: config ? 'tpl-config' : null },
    h('td', null, h('span', { class: 'tpl-name', text: tp.name }), config ? h('span', { class: 'pill tpl-badge', text: t('from the config file') }) : null),
    h('td', { class: 'pre tpl-text', text: tp.text }),
    h('td', { class: 'actions' }, config ? h('span', { class: 'hint', text: t('Change it in the config file') }) : [
      btn(t('Edit'), () => edit(tp), 'ghost', { class: 'btn btn-sm btn-ghost tpl-edit', 'aria-label': t('Edit the template “{name}”', { name: tp.name }) }),
      btn(t('Delete'), () => remove(tp), 'danger-ghost', { class: 'btn btn-sm btn-danger-ghost tpl-delete', 'aria-label': t('Delete the template “{name}”', { name: tp.name }) }),
    ]));
  return tr;
}

// ---------- the form (new and inline edit) ----------

/** Name, text with a Variables menu, an error line under each, Save and Cancel. */
function templateForm(init, prefix, { label, submit, onSubmit, onCancel }) {
  const name = h('input', { type: 'text', id: `${prefix}-name`, value: init.name, maxlength: '100', required: true, autocomplete: 'off', 'aria-describedby': `${prefix}-name-error` });
  const text = h('textarea', { id: `${prefix}-text`, rows: '4', maxlength: '4096', value: init.text, required: true, placeholder: t('Hello, {client.name}!'), 'aria-describedby': `${prefix}-text-error` });
  const inputs = { name, text };
  const errs = {
    name: h('p', { class: 'form-error tpl-error', id: `${prefix}-name-error`, hidden: true }),
    text: h('p', { class: 'form-error tpl-error', id: `${prefix}-text-error`, hidden: true }),
  };
  const note = h('p', { class: 'form-error', id: `${prefix}-error`, role: 'alert', hidden: true });
  const save = h('button', { type: 'submit', class: 'btn btn-primary', id: `${prefix}-save`, text: submit });
  const form = h('form', { class: 'tpl-form', novalidate: true, 'aria-label': label },
    h('div', { class: 'field tpl-field-name' }, lbl(name.id, t('Template name')), name, errs.name),
    h('div', { class: 'field tpl-field-text' }, lbl(text.id, t('Text')), text,
      h('div', { class: 'tpl-text-tools' }, variablesMenu(text, `${prefix}-vars`), h('span', { class: 'hint', text: t('Placeholders are filled in for the client of the chat.') })),
      errs.text),
    note,
    h('div', { class: 'form-actions' }, save, btn(t('Cancel'), onCancel, 'ghost', { class: 'btn btn-ghost', id: `${prefix}-cancel` })));
  const f = {
    form, name, text,
    values: () => ({ name: name.value.trim(), text: text.value }),
    /** An error under field `k` (empty clears it); the field is marked invalid. */
    error(k, msg) {
      errs[k].textContent = msg || '';
      errs[k].hidden = !msg;
      if (msg) inputs[k].setAttribute('aria-invalid', 'true');
      else inputs[k].removeAttribute('aria-invalid');
    },
    clear() {
      f.error('name', '');
      f.error('text', '');
      setNote(note, '');
    },
    busy(on) { save.disabled = on; },
    /** Show a failed save: a 422 or 409 beside its field, anything else under the form. */
    fail(err) {
      const m = err.status === 422 && /^(name|text): ([\s\S]*)$/.exec(err.message || '');
      let k = null;
      if (m) {
        k = m[1];
        f.error(k, m[2]);
      } else if (err.status === 409) {
        k = 'name';
        f.error(k, t('A template with this name already exists (names are compared ignoring case).'));
      } else setNote(note, err.status === 404 ? t('This template no longer exists; someone deleted or renamed it.') : errText(err));
      if (k) inputs[k].focus();
    },
    /** Client-side checks for what the server would refuse anyway; false when one failed. */
    check() {
      const v = f.values();
      if (!v.name) f.error('name', t('Enter a name.'));
      if (!v.text.trim()) f.error('text', t('Enter the text.'));
      const bad = !v.name ? name : !v.text.trim() ? text : null;
      bad?.focus();
      return !bad;
    },
  };
  for (const k of ['name', 'text']) inputs[k].addEventListener('input', () => { if (!errs[k].hidden) f.error(k, ''); });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    f.clear();
    if (f.check()) onSubmit(f);
  });
  // Escape cancels (an open Variables menu takes Escape first).
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !e.defaultPrevented) {
      e.preventDefault();
      onCancel();
    }
  });
  return f;
}

function variablesMenu(ta, id) {
  const b = h('button', { class: 'btn btn-sm btn-ghost tpl-vars', id, 'aria-haspopup': 'true', 'aria-expanded': 'false' }, icon('braces'), h('span', { text: t('Variables') }));
  const insert = (v, back = 0) => {
    ta.focus();
    ta.setRangeText(v, ta.selectionStart, ta.selectionEnd, 'end');
    if (back) ta.selectionStart = ta.selectionEnd = ta.selectionEnd - back;
    ta.dispatchEvent(new Event('input'));
  };
  b.addEventListener('click', () => togglePopover(b, (panel, close) => {
    panel.classList.add('tpl-menu');
    const item = (v, label, back) => h('li', null, h('button', { class: 'var-item', 'data-var': v, title: label, onclick: () => { close(); insert(v, back); } },
      h('code', { text: v === '{client.field.}' ? '{client.field.…}' : v }), ' ', h('span', { class: 'muted', text: label })));
    panel.append(h('ul', { class: 'var-list' }, VARS.map(([v, label]) => item(v, label)), item('{client.field.}', t('Custom field (type its name)'), 1)));
  }, { label: t('Variables') }));
  return h('div', { class: 'pop-wrap' }, b);
}

// ---------- new ----------

function openNew() {
  if (!el.create.hidden) {
    el.createForm.name.focus();
    return;
  }
  el.createForm = templateForm({ name: '', text: '' }, 'tpl-new', { label: t('New template'), submit: t('Create'), onSubmit: create, onCancel: () => closeNew() });
  fill(el.create, h('h3', { class: 'panel-title', id: 'tpl-new-title', text: t('New template') }), el.createForm.form);
  el.create.hidden = false;
  el.newBtn.setAttribute('aria-expanded', 'true');
  el.createForm.name.focus();
}

function closeNew(focus = true) {
  el.create.hidden = true;
  fill(el.create);
  el.createForm = null;
  el.newBtn.setAttribute('aria-expanded', 'false');
  if (focus) el.newBtn.focus();
}

async function create(f) {
  const v = f.values();
  f.busy(true);
  try {
    const tp = await api('POST', TEMPLATES, v);
    closeNew(false);
    await refresh(tp.name);
    flash(t('Template “{name}” created', { name: tp.name }), 'ok');
  } catch (err) {
    f.busy(false);
    f.fail(err);
  }
}

// ---------- edit inline ----------

function edit(tp) {
  if (st.editing) stopEditing(false);
  const tr = rowOf(tp.name);
  if (!tr) return;
  const f = templateForm(tp, 'tpl-edit', {
    label: t('Edit the template “{name}”', { name: tp.name }), submit: t('Save'), onSubmit: (x) => save(tp, x), onCancel: () => stopEditing(true),
  });
  st.editing = { tp, tr };
  tr.classList.add('tpl-editing');
  fill(tr, h('td', { colspan: '3' }, f.form));
  f.name.focus();
}

/** Put the row being edited back as it was; focus its Edit button when `focus`. */
function stopEditing(focus) {
  const e = st.editing;
  if (!e) return;
  st.editing = null;
  const fresh = row(e.tp);
  e.tr.replaceWith(fresh);
  if (focus) fresh.querySelector('.tpl-edit')?.focus();
}

async function save(tp, f) {
  const v = f.values();
  const body = {};
  if (v.name !== tp.name) body.name = v.name;
  if (v.text !== tp.text) body.text = v.text;
  if (!Object.keys(body).length) {
    stopEditing(true);
    return;
  }
  f.busy(true);
  try {
    const saved = await api('PATCH', path(tp.name), body);
    await refresh(saved.name);
    flash(t('Template “{name}” saved', { name: saved.name }), 'ok');
  } catch (err) {
    f.busy(false);
    f.fail(err);
  }
}

// ---------- delete ----------

async function remove(tp) {
  if (!await confirmDialog(t('Delete the template “{name}”? Managers will no longer find it under Variables in a chat.', { name: tp.name }), { ok: t('Delete'), danger: true })) return;
  try {
    await api('DELETE', path(tp.name));
  } catch (err) {
    // Gone already (someone else deleted it): the list below shows that.
    if (err.status !== 404) {
      flash(errText(err), 'error');
      return;
    }
  }
  await refresh();
  flash(t('Template “{name}” deleted', { name: tp.name }), 'ok');
  el.newBtn.focus();
}
