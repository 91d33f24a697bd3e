// Parley — Settings (A4): profile and password; for admins managers, channels, API tokens.

import { api } from '../api.js';
import { h, btn, lbl, field, fill, fullTime, errText } from '../dom.js';
import { state, isAdmin, loadManagers, managerName } from '../store.js';
import { modal, confirmDialog, flash, setNote, attempt } from '../ui.js';

let root = null;
const sec = {};

export function mount(el) {
  root = el;
}

export function show() {
  fill(root, h('div', { class: 'page-head' }, h('h2', { class: 'page-title', text: 'Settings' })), profile(), password());
  if (!isAdmin()) return;
  for (const k of ['managers', 'channels', 'tokens']) root.append(sec[k] = h('section', { class: 'panel' }));
  renderManagers();
  renderChannels();
  renderTokens();
}

const panel = (title, ...children) => h('section', { class: 'panel' }, h('h3', { class: 'panel-title', text: title }), children);
const submit = (text) => h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', text }));
const table = (heads, rows) => h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
  h('thead', null, h('tr', null, heads.map((t) => h('th', { scope: 'col', text: t })))), h('tbody', null, rows)));
const note = () => h('p', { class: 'form-note', role: 'alert', hidden: true });

/** A form whose submit runs `fn` and shows its error in `out`. */
function form(cls, children, out, fn) {
  const f = h('form', { class: cls }, children, out);
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await fn();
    } catch (err) {
      setNote(out, errText(err));
    }
  });
  return f;
}

function profile() {
  const me = state.me;
  const name = h('input', { type: 'text', id: 'set-name', value: me.name || '', disabled: !isAdmin(), maxlength: '100' });
  const out = note();
  const ro = (label, text, cls) => h('div', { class: 'field' }, h('span', { class: 'label', text: label }), h('span', { class: cls, text }));
  return panel('Profile', form('form-grid', [
    field('Name', name, isAdmin() ? 'Shown to clients next to your messages.' : 'Only an admin can change names.'),
    ro('Login', me.login), ro('Role', me.role), ro('Avatar', 'Initials are used (avatar upload is not available yet).', 'muted'),
    isAdmin() ? submit('Save profile') : null], out, async () => {
    const m = await api('PATCH', `/api/v1/managers/${me.id}`, { name: name.value.trim() });
    Object.assign(state.me, m);
    document.getElementById('manager-name').textContent = m.name;
    setNote(out, 'Saved', 'ok');
  }));
}

function password() {
  const pw = (id, auto) => h('input', { type: 'password', id, autocomplete: auto, required: true });
  const [cur, next, again] = [pw('set-pw-cur', 'current-password'), pw('set-pw-new', 'new-password'), pw('set-pw-again', 'new-password')];
  const out = note();
  return panel('Password', form('form-grid', [field('Current password', cur), field('New password', next), field('New password again', again), submit('Change password')], out, async () => {
    if (next.value !== again.value) return setNote(out, 'The new passwords do not match.');
    await api('POST', '/api/v1/session/password', { current_password: cur.value, new_password: next.value });
    setNote(out, 'Password changed. Every session has ended; sign in again with the new password.', 'ok');
    setTimeout(() => location.reload(), 1500);
  }));
}

// ---------- admin ----------

async function renderManagers() {
  await loadManagers();
  const rows = Array.from(state.managers.values(), (m) => h('tr', null,
    h('td', { text: m.login }), h('td', { text: m.name }), h('td', { text: m.role }), h('td', { text: m.disabled ? 'Disabled' : 'Active' }),
    h('td', { class: 'actions' }, m.id === state.me.id ? h('span', { class: 'muted', text: 'You' })
      : [btn(m.disabled ? 'Enable' : 'Disable', () => setDisabled(m, !m.disabled)), btn('Reset password', () => resetPassword(m))])));
  const input = (id, type = 'text') => h('input', { type, id, required: true, autocomplete: type === 'password' ? 'new-password' : 'off' });
  const [login, name, pw] = [input('nm-login'), input('nm-name'), input('nm-pw', 'password')];
  const role = h('select', { id: 'nm-role' }, h('option', { value: 'manager', text: 'Manager' }), h('option', { value: 'admin', text: 'Admin' }));
  fill(sec.managers, h('h3', { class: 'panel-title', text: 'Managers' }), table(['Login', 'Name', 'Role', 'Status', ''], rows),
    h('h4', { class: 'sub-title', text: 'Add a manager' }),
    form('form-grid', [field('Login', login), field('Name', name), field('Role', role), field('Password', pw), submit('Add manager')], note(), async () => {
      await api('POST', '/api/v1/managers', { login: login.value.trim(), name: name.value.trim(), role: role.value, password: pw.value });
      flash('Manager added', 'ok');
      renderManagers();
    }));
}

async function setDisabled(m, disabled) {
  if (disabled && !await confirmDialog(`Disable ${m.name}? They are signed out and cannot sign in.`, { ok: 'Disable', danger: true })) return;
  attempt(async () => { await api('PATCH', `/api/v1/managers/${m.id}`, { disabled }); renderManagers(); });
}

function resetPassword(m) {
  const pw = h('input', { type: 'password', id: 'rp-pw', required: true, autocomplete: 'new-password' });
  const dlg = modal({ title: 'Reset password', cls: 'modal-small', body: [form('stack', [field(`New password for ${m.name}`, pw), submit('Set password')], note(), async () => {
    await api('PATCH', `/api/v1/managers/${m.id}`, { password: pw.value });
    dlg.close();
    flash('Password set', 'ok');
  })] });
  pw.focus();
}

async function renderChannels() {
  let body;
  try {
    const items = (await api('GET', '/api/v1/channels')).items || [];
    body = items.length ? [table(['Id', 'Kind', 'Name', 'Status'], items.map((c) => h('tr', null,
      h('td', { text: c.id }), h('td', { text: c.kind }), h('td', { text: c.name }), h('td', { text: c.status?.last_error || c.status?.state || 'Configured' })))),
    items.filter((c) => c.widget).map(embed)] : h('p', { class: 'muted', text: 'No channels are configured.' });
  } catch (err) {
    body = h('p', { class: 'muted', text: errText(err) });
  }
  fill(sec.channels, h('h3', { class: 'panel-title', text: 'Channels' }), body);
}

/** The tag that puts a widget channel on a site. */
function embed(c) {
  const tag = `<script src="${c.widget.script_src || `${location.origin}/widget.js`}" data-channel="${c.id}" async></script>`;
  return h('div', { class: 'field' }, lbl(`embed-${c.id}`, `Website chat “${c.name}” (sites: ${c.widget.allowed_origins.join(', ') || 'none'})`), copyable(`embed-${c.id}`, tag));
}

/** A read-only value with a Copy button. */
function copyable(id, text) {
  const value = h('input', { type: 'text', id, readOnly: true, value: text, class: 'mono' });
  return h('div', { class: 'inline-form' }, value, btn('Copy', () => navigator.clipboard.writeText(text).then(() => flash('Copied', 'ok'), () => value.select())));
}

async function renderTokens() {
  let list;
  try {
    const items = (await api('GET', '/api/v1/tokens')).items || [];
    list = items.length ? table(['Name', 'Created', 'By', ''], items.map((t) => h('tr', null,
      h('td', { text: t.name }), h('td', { text: fullTime(t.created_ms) }), h('td', { text: t.created_by ? managerName(t.created_by) : '' }),
      h('td', { class: 'actions' }, btn('Delete', async () => {
        if (!await confirmDialog(`Delete the token “${t.name}”? Integrations using it stop working.`, { ok: 'Delete', danger: true })) return;
        attempt(async () => { await api('DELETE', `/api/v1/tokens/${t.id}`); renderTokens(); });
      }, 'danger-ghost', { 'aria-label': `Delete token ${t.name}` })))))
      : h('p', { class: 'muted', text: 'No tokens yet.' });
  } catch (err) {
    list = h('p', { class: 'form-error', text: errText(err) });
  }
  const name = h('input', { type: 'text', id: 'tk-name', required: true, placeholder: 'e.g. CRM integration' });
  fill(sec.tokens, h('h3', { class: 'panel-title', text: 'API tokens' }),
    h('p', { class: 'muted', text: 'Integrations call the API with Authorization: Bearer <token>. A token is shown once, when created.' }), list,
    h('h4', { class: 'sub-title', text: 'Create a token' }),
    form('inline-form', [h('label', { for: 'tk-name', text: 'Name' }), name, h('button', { type: 'submit', class: 'btn btn-primary btn-sm', text: 'Create token' })], note(), async () => {
      const t = await api('POST', '/api/v1/tokens', { name: name.value.trim() });
      await renderTokens();
      const row = copyable('tk-value', t.token);
      modal({ title: `Token “${t.name}”`, cls: 'modal-mid', body: [h('p', { text: 'Copy it now: it will not be shown again.' }), row] });
      row.firstChild.setAttribute('aria-label', 'Token');
      row.firstChild.select();
    }));
}
