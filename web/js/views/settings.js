// Parley — Settings (A4): profile (name, avatar), notifications on this device, quick replies
// and password; for admins managers (with their presence), channels' state, AI assistants
// (usage, last error), API tokens.

import { api, upload } from '../api.js';
import { h, btn, lbl, field, fill, table, avatar, fileSize, fullTime, errText, presenceDot } from '../dom.js';
import { state, emit, isAdmin, loadManagers, managerName } from '../store.js';
import { messengerIcon, messengerLabel } from '../icons.js';
import { modal, confirmDialog, flash, setNote, attempt } from '../ui.js';
import { t, plural, LANGS, current as currentLang, setLang } from '../i18n.js';
import { attentionPanel, repliesPanel } from './team.js';

let root = null;
const sec = {};

export function mount(el) {
  root = el;
}

/** #/settings[/attention|/replies]: the page, scrolled to that part. */
export function show([part] = []) {
  fill(root, h('div', { class: 'page-head' }, h('h2', { class: 'page-title', text: t('Settings') })), profile(), attentionPanel(), repliesPanel(), password());
  if (part) document.getElementById(`set-${part}`)?.scrollIntoView();
  if (!isAdmin()) return;
  for (const k of ['managers', 'channels', 'assistants', 'tokens']) root.append(sec[k] = h('section', { class: 'panel' }));
  renderManagers();
  renderChannels();
  renderAssistants();
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
  return panel(t('Profile'), form('form-grid', [
    field(t('Name'), name, t('Shown to clients and colleagues next to your messages.')),
    ro(t('Login'), me.login), ro(t('Role'), t(me.role)), submit(t('Save profile'))], out, async () => {
    await saveProfile({ name: name.value.trim() });
    setNote(out, t('Saved'), 'ok');
  }), avatarField(), languageField());
}

/** The UI language: saved in this browser; the page reloads in it. */
function languageField() {
  const sel = h('select', { id: 'set-lang', onchange: () => { setLang(sel.value); location.reload(); } },
    Object.entries(LANGS).map(([code, name]) => h('option', { value: code, text: name, selected: code === currentLang(), lang: code })));
  return h('div', { class: 'field lang-field' }, lbl('set-lang', t('Language')), sel);
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
  const remove = btn(t('Remove avatar'), () => run(() => saveProfile({ avatar: null }), t('Avatar removed')));
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
      setNote(out, err.status === 413 ? t('That image is too large to upload.') : t('Avatar not saved: {error}', { error: errText(err) }));
    }
    file.disabled = remove.disabled = false;
    file.value = '';
    show(me.avatar_url);
  };
  file.addEventListener('change', () => {
    const f = file.files[0];
    if (!f) return;
    if (!IMAGES.includes(f.type)) return setNote(out, t('Choose a JPEG, PNG, WebP or GIF image.'));
    if (f.size > 2 << 20) return setNote(out, t('The image is {size}; an avatar can be at most {max}.', { size: fileSize(f.size), max: fileSize(2 << 20) }));
    const url = URL.createObjectURL(f);
    show(url);
    setNote(out, t('Uploading…'), 'info');
    run(async () => saveProfile({ avatar: (await upload(f, f.name)).id }), t('Avatar saved')).finally(() => URL.revokeObjectURL(url));
  });
  show(me.avatar_url);
  return h('div', { class: 'avatar-field' }, preview,
    h('div', { class: 'field' }, lbl('set-avatar', t('Avatar')), file, h('span', { class: 'hint', text: t('JPEG, PNG, WebP or GIF, up to 2 MB. Without one, your initials show.') })),
    remove, out);
}

function password() {
  const pw = (id, auto) => h('input', { type: 'password', id, autocomplete: auto, required: true });
  const [cur, next, again] = [pw('set-pw-cur', 'current-password'), pw('set-pw-new', 'new-password'), pw('set-pw-again', 'new-password')];
  const out = note();
  return panel(t('Password'), form('form-grid', [field(t('Current password'), cur), field(t('New password'), next), field(t('New password again'), again), submit(t('Change password'))], out, async () => {
    if (next.value !== again.value) return setNote(out, t('The new passwords do not match.'));
    await api('POST', '/api/v1/session/password', { current_password: cur.value, new_password: next.value });
    setNote(out, t('Password changed. Every session has ended; sign in again with the new password.'), 'ok');
    setTimeout(() => location.reload(), 1500);
  }));
}

// ---------- admin ----------

async function renderManagers() {
  await loadManagers();
  const rows = Array.from(state.managers.values(), (m) => h('tr', null,
    h('td', { text: m.login }), h('td', null, h('span', { class: 'who' }, presenceDot(m), h('span', { text: m.name }))), h('td', { text: m.role }), h('td', { text: m.disabled ? t('Disabled') : t('Active') }),
    h('td', { class: 'actions' }, m.id === state.me.id ? h('span', { class: 'muted', text: t('You') })
      : [btn(m.disabled ? t('Enable') : t('Disable'), () => setDisabled(m, !m.disabled)), btn(t('Reset password'), () => resetPassword(m))])));
  const input = (id, type = 'text') => h('input', { type, id, required: true, autocomplete: type === 'password' ? 'new-password' : 'off' });
  const [login, name, pw] = [input('nm-login'), input('nm-name'), input('nm-pw', 'password')];
  const role = h('select', { id: 'nm-role' }, h('option', { value: 'manager', text: t('Manager') }), h('option', { value: 'admin', text: t('Admin') }));
  fill(sec.managers, h('h3', { class: 'panel-title', text: t('Managers') }), table(['Login', 'Name', 'Role', 'Status', ''], rows),
    h('h4', { class: 'sub-title', text: t('Add a manager') }),
    form('form-grid', [field(t('Login'), login), field(t('Name'), name), field(t('Role'), role), field(t('Password'), pw), submit(t('Add manager'))], note(), async () => {
      await api('POST', '/api/v1/managers', { login: login.value.trim(), name: name.value.trim(), role: role.value, password: pw.value });
      flash(t('Manager added'), 'ok');
      renderManagers();
    }));
}

async function setDisabled(m, disabled) {
  if (disabled && !await confirmDialog(t('Disable {name}? They are signed out and cannot sign in.', { name: m.name }), { ok: t('Disable'), danger: true })) return;
  attempt(async () => { await api('PATCH', `/api/v1/managers/${m.id}`, { disabled }); renderManagers(); });
}

function resetPassword(m) {
  const pw = h('input', { type: 'password', id: 'rp-pw', required: true, autocomplete: 'new-password' });
  const dlg = modal({ title: t('Reset password'), cls: 'modal-small', body: [form('stack', [field(t('New password for {name}', { name: m.name }), pw), submit(t('Set password'))], note(), async () => {
    await api('PATCH', `/api/v1/managers/${m.id}`, { password: pw.value });
    dlg.close();
    flash(t('Password set'), 'ok');
  })] });
  pw.focus();
}

/** "just now", "5 min ago", "3 h ago", "2 days ago". */
function ago(ms) {
  const m = Math.floor((Date.now() - ms) / 60000);
  return m < 1 ? t('just now') : m < 60 ? t('{n} min ago', { n: m }) : m < 1440 ? t('{n} h ago', { n: Math.floor(m / 60) })
    : plural(Math.floor(m / 1440), { one: '{n} day ago', other: '{n} days ago' });
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
      sub(s.detail), sub(s.paused_until_ms && t('Sending paused until {date}', { date: fullTime(s.paused_until_ms) }))),
    h('td', null, when(s.last_inbound_ms, t('None yet'))),
    h('td', null, s.last_error ? [h('div', { class: 'note-error', text: s.last_error }), h('div', { class: 'hint' }, when(s.last_error_ms))] : t('None')));
}

async function renderChannels() {
  let body;
  try {
    const items = (await api('GET', '/api/v1/channels')).items || [];
    body = items.length ? [table(['Kind', 'Channel', 'State', 'Last inbound', 'Last error'], items.map(channelRow)), items.filter((c) => c.widget).map(embed)]
      : h('p', { class: 'muted', text: t('No channels are configured.') });
  } catch (err) {
    body = h('p', { class: 'muted', text: errText(err) });
  }
  fill(sec.channels, h('h3', { class: 'panel-title', text: t('Channels') }), body);
}

const num = (n) => Number(n || 0).toLocaleString();
const tokens = (u) => (u.prompt_tokens || u.completion_tokens ? t('{p} in / {c} out', { p: num(u.prompt_tokens), c: num(u.completion_tokens) }) : t('Not reported'));

/** Each assistant's model and endpoint host, usage and last error; the chats using them most. */
async function renderAssistants() {
  let body;
  try {
    const u = await api('GET', '/api/v1/assistants/usage');
    const rows = (u.assistants || []).map((a) => h('tr', null,
      h('td', null, a.name, sub(a.name === a.id ? '' : a.id)),
      h('td', null, a.model, sub(a.host || ''), sub(a.knowledge_files ? plural(a.knowledge_files, { one: '{n} knowledge file', other: '{n} knowledge files' }) : '')),
      h('td', null, num(a.usage.requests), sub(a.usage.failures ? plural(a.usage.failures, { one: '{n} failed', other: '{n} failed' }) : '')),
      h('td', { text: tokens(a.usage) }),
      h('td', null, a.last_error ? [h('div', { class: 'note-error', text: a.last_error }), h('div', { class: 'hint' }, when(a.last_error_ms))] : t('None'))));
    const chats = (u.chats || []).map((c) => h('tr', null,
      h('td', null, h('a', { href: `#/chats/${c.contact_id}/${c.chat_id}`, text: c.contact_name || t('Unnamed client') })),
      h('td', { text: c.channel_id }),
      h('td', { text: `${c.assistant || '—'} · ${c.assistant_on ? t('On') : t('Off')}` }),
      h('td', { text: num(c.usage.requests) }),
      h('td', { text: tokens(c.usage) })));
    body = rows.length ? [table(['Assistant', 'Model', 'Requests', 'Tokens', 'Last error'], rows),
      h('h4', { class: 'sub-title', text: t('Usage per chat') }),
      chats.length ? table(['Client', 'Channel', 'Assistant', 'Requests', 'Tokens'], chats) : h('p', { class: 'muted', text: t('No chat has used an assistant yet.') })]
      : h('p', { class: 'muted', text: t('No AI assistant is configured ([[assistants]] in the config)') });
  } catch (err) {
    body = h('p', { class: 'muted', text: errText(err) });
  }
  fill(sec.assistants, h('h3', { class: 'panel-title', text: t('AI assistants') }), body);
}

/** The tag that puts a widget channel on a site. */
function embed(c) {
  const tag = `<script src="${c.widget.script_src || `${location.origin}/widget.js`}" data-channel="${c.id}" async></script>`;
  return h('div', { class: 'field' }, lbl(`embed-${c.id}`, t('Website chat “{name}” (sites: {sites})', { name: c.name, sites: c.widget.allowed_origins.join(', ') || t('none') })), copyable(`embed-${c.id}`, tag));
}

/** A read-only value with a Copy button. */
function copyable(id, text) {
  const value = h('input', { type: 'text', id, readOnly: true, value: text, class: 'mono' });
  return h('div', { class: 'inline-form' }, value, btn(t('Copy'), () => navigator.clipboard.writeText(text).then(() => flash(t('Copied'), 'ok'), () => value.select())));
}

async function renderTokens() {
  let list;
  try {
    const items = (await api('GET', '/api/v1/tokens')).items || [];
    list = items.length ? table(['Name', 'Created', 'By', ''], items.map((tk) => h('tr', null,
      h('td', { text: tk.name }), h('td', { text: fullTime(tk.created_ms) }), h('td', { text: tk.created_by ? managerName(tk.created_by) : '' }),
      h('td', { class: 'actions' }, btn(t('Delete'), async () => {
        if (!await confirmDialog(t('Delete the token “{name}”? Integrations using it stop working.', { name: tk.name }), { ok: t('Delete'), danger: true })) return;
        attempt(async () => { await api('DELETE', `/api/v1/tokens/${tk.id}`); renderTokens(); });
      }, 'danger-ghost', { 'aria-label': t('Delete token {name}', { name: tk.name }) })))))
      : h('p', { class: 'muted', text: t('No tokens yet.') });
  } catch (err) {
    list = h('p', { class: 'form-error', text: errText(err) });
  }
  const name = h('input', { type: 'text', id: 'tk-name', required: true, placeholder: t('e.g. CRM integration') });
  fill(sec.tokens, h('h3', { class: 'panel-title', text: t('API tokens') }),
    h('p', { class: 'muted', text: t('Integrations call the API with Authorization: Bearer <token>. A token is shown once, when created.') }), list,
    h('h4', { class: 'sub-title', text: t('Create a token') }),
    form('inline-form', [h('label', { for: 'tk-name', text: t('Name') }), name, h('button', { type: 'submit', class: 'btn btn-primary btn-sm', text: t('Create token') })], note(), async () => {
      const tk = await api('POST', '/api/v1/tokens', { name: name.value.trim() });
      await renderTokens();
      const row = copyable('tk-value', tk.token);
      modal({ title: t('Token “{name}”', { name: tk.name }), cls: 'modal-mid', body: [h('p', { text: t('Copy it now: it will not be shown again.') }), row] });
      row.firstChild.setAttribute('aria-label', t('Token'));
      row.firstChild.select();
    }));
}
