// Parley — Settings (A4): profile (name, avatar) and password; for admins managers, channels'
// state, API tokens.

import { api, upload } from '../api.js';
import { h, btn, lbl, field, fill, table, avatar, fileSize, fullTime, errText } from '../dom.js';
import { state, emit, isAdmin, loadManagers, managerName } from '../store.js';
import { messengerIcon, messengerLabel } from '../icons.js';
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
  const name = h('input', { type: 'text', id: 'set-name', value: me.name || '', maxlength: '100', required: true });
  const out = note();
  const ro = (label, text) => h('div', { class: 'field' }, h('span', { class: 'label', text: label }), h('span', { text }));
  return panel('Profile', form('form-grid', [
    field('Name', name, 'Shown to clients and colleagues next to your messages.'),
    ro('Login', me.login), ro('Role', me.role), submit('Save profile')], out, async () => {
    await saveProfile({ name: name.value.trim() });
    setNote(out, 'Saved', 'ok');
  }), avatarField());
}

/** PATCH /api/v1/session; the header and the open history show the change at once. */
async function saveProfile(body) {
  Object.assign(state.me, (await api('PATCH', '/api/v1/session', body)).manager);
  state.managers.set(state.me.id, state.me);
  emit('me', state.me);
  emit('managers', state.managers);
}

const IMAGES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif'];

/** The avatar: preview, a file input that uploads and sets the picture at once, Remove. */
function avatarField() {
  const me = state.me;
  const preview = h('span');
  const file = h('input', { type: 'file', id: 'set-avatar', accept: IMAGES.join() });
  const remove = btn('Remove avatar', () => run(() => saveProfile({ avatar: null }), 'Avatar removed'));
  const out = note();
  const show = (url) => {
    fill(preview, avatar(me.name || me.login, me.id, 'avatar-lg', url));
    remove.hidden = !me.avatar_url;
  };
  const run = async (fn, done) => {
    file.disabled = remove.disabled = true;
    try {
      await fn();
      setNote(out, done, 'ok');
    } catch (err) {
      setNote(out, err.status === 413 ? 'That image is too large to upload.' : `Avatar not saved: ${errText(err)}`);
    }
    file.disabled = remove.disabled = false;
    file.value = '';
    show(me.avatar_url);
  };
  file.addEventListener('change', () => {
    const f = file.files[0];
    if (!f) return;
    if (!IMAGES.includes(f.type)) return setNote(out, 'Choose a JPEG, PNG, WebP or GIF image.');
    if (f.size > 2 << 20) return setNote(out, `The image is ${fileSize(f.size)}; an avatar can be at most 2 MB.`);
    const url = URL.createObjectURL(f);
    show(url);
    setNote(out, 'Uploading…', 'info');
    run(async () => saveProfile({ avatar: (await upload(f, f.name)).id }), 'Avatar saved').finally(() => URL.revokeObjectURL(url));
  });
  show(me.avatar_url);
  return h('div', { class: 'avatar-field' }, preview,
    h('div', { class: 'field' }, lbl('set-avatar', 'Avatar'), file, h('span', { class: 'hint', text: 'JPEG, PNG, WebP or GIF, up to 2 MB. Without one, your initials show.' })),
    remove, out);
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

/** "just now", "5 min ago", "3 h ago", "2 days ago". */
function ago(ms) {
  const m = Math.floor((Date.now() - ms) / 60000);
  return m < 1 ? 'just now' : m < 60 ? `${m} min ago` : m < 1440 ? `${Math.floor(m / 60)} h ago` : `${Math.floor(m / 1440)} day${m < 2880 ? '' : 's'} ago`;
}

/** A relative time with the full one on hover, or `none`. */
const when = (ms, none) => (ms ? h('time', { datetime: new Date(ms).toISOString(), title: fullTime(ms), text: ago(ms) }) : none);
const sub = (text) => text && h('div', { class: 'hint', text });

/** One channel: kind, name and id, its state in words, the last inbound message and error. */
function channelRow(c) {
  const s = c.status || {};
  const state = s.state || 'not started';
  const mark = messengerIcon(c.kind);
  mark.setAttribute('aria-hidden', 'true');
  return h('tr', null,
    h('td', null, h('span', { class: 'kind' }, mark, messengerLabel(c.kind))),
    h('td', null, c.name, sub(c.name === c.id ? '' : c.id)),
    h('td', null, h('strong', { class: /^(ready|connected|polling)$/.test(state) ? 'note-ok' : state === 'error' && 'note-error', text: state[0].toUpperCase() + state.slice(1) }),
      sub(s.detail), sub(s.paused_until_ms && `Sending paused until ${fullTime(s.paused_until_ms)}`)),
    h('td', null, when(s.last_inbound_ms, 'None yet')),
    h('td', null, s.last_error ? [h('div', { class: 'note-error', text: s.last_error }), h('div', { class: 'hint' }, when(s.last_error_ms))] : 'None'));
}

async function renderChannels() {
  let body;
  try {
    const items = (await api('GET', '/api/v1/channels')).items || [];
    body = items.length ? [table(['Kind', 'Channel', 'State', 'Last inbound', 'Last error'], items.map(channelRow)), items.filter((c) => c.widget).map(embed)]
      : h('p', { class: 'muted', text: 'No channels are configured.' });
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
