// Parley — Automation (B1): the funnels with an on/off switch, their trigger in words and how
// many clients wait in each; the editor (#/automation/<id>, #/automation/new) shows a funnel as a
// vertical list of steps (a condition's yes / no branches nested, with the same controls),
// previews send steps for a chosen client and starts the funnel for one ("Test on a client").
// Admins edit; other managers see the same page read-only (the server answers them 403).
// The waiting counts (list and editor) are polled every few seconds while shown and the tab is
// visible; leaving an editor with unsaved changes asks first (canLeave, and beforeunload).

import { api } from '../api.js';
import { h, btn, lbl, field, fill, table, phone, num, debounce, errText } from '../dom.js';
import { icon } from '../icons.js';
import { state, isAdmin, loadChannels, loadTemplates, loadManagers, managerName } from '../store.js';
import { modal, confirmDialog, flash, togglePopover, setNote, iconButton } from '../ui.js';
import { t, plural } from '../i18n.js';
import { filterEditor } from './funnel-filter.js';

const FUNNELS = '/api/v1/funnels';
const TRIGGERS = [['keyword', t('A keyword in a message')], ['first_message', t('The first message')], ['subscribed', t('Subscribed to a channel')],
  ['tag_added', t('A tag added')], ['manual', t('Started by hand')]];
// The step kinds the editor offers: every kind the server runs except delay_until and
// delay_business_hours (a funnel holding one shows it as is, read-only). webhook: POST the
// client's details to a URL (SSRF rules on the server); assign: a manager, or null for the
// channel's automatic assignment (T1).
const KINDS = { send: t('Send a message'), delay: t('Wait'), condition: t('Condition'), tag: t('Tags'), set_field: t('Set a custom field'),
  task: t('Add a task'), assign: t('Assign a manager'), open_dialog: t('Open a dialog'), webhook: t('Call a webhook'), stop: t('Stop the funnel') };
const UNITS = [[86400, t('days')], [3600, t('hours')], [60, t('minutes')], [1, t('seconds')]];
const VARS = [['{client.name}', t('Client name')], ['{client.phone}', t('Client phone')], ['{client.email}', t('Client e-mail')], ['{manager.name}', t('Manager name')]];

const POLL_MS = 5000;
// clean: the draft as saved (JSON of body()), to tell unsaved changes.
const st = { seq: 0, channels: null, draft: null, clean: '', waiting: {}, moved: false, errors: {}, preview: null, ro: true };
const el = {};

export function mount(root) {
  el.root = root;
  // The page's rules load with it, not with the Chats screen.
  document.head.append(h('link', { rel: 'stylesheet', href: '/css/automation.css' }));
  window.addEventListener('beforeunload', (e) => {
    if (!dirty()) return;
    e.preventDefault();
    e.returnValue = '';
  });
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) clearTimeout(poll.timer);
    else if (poll.fn && !poll.busy) tick();
  });
}

export function show(args) {
  const seq = ++st.seq;
  stopPoll();
  st.draft = null;
  st.ro = !isAdmin();
  if (!args[0]) return showList(seq);
  return openEditor(args[0] === 'new' ? null : Number(args[0]), seq);
}

/** Another page is shown: nothing of this one keeps running. */
export function hide() {
  st.seq++;
  stopPoll();
  st.draft = null;
}

/** The router asks before leaving: unsaved changes in the editor need a yes. */
export async function canLeave() {
  if (!dirty()) return true;
  const ok = await confirmDialog(t('The funnel has changes that are not saved. Leave without saving them?'), { ok: t('Leave without saving'), danger: true });
  if (ok) st.draft = null;
  return ok;
}

const dirty = () => !st.ro && st.draft != null && JSON.stringify(body()) !== st.clean;

// ---------- polling: one chain of timeouts, run only while the tab is visible ----------

const poll = { fn: null, timer: 0, busy: false };

function startPoll(fn) {
  stopPoll();
  poll.fn = fn;
  schedule();
}

function stopPoll() {
  clearTimeout(poll.timer);
  poll.fn = null;
}

function schedule() {
  clearTimeout(poll.timer);
  if (poll.fn && !document.hidden) poll.timer = setTimeout(tick, POLL_MS);
}

async function tick() {
  const fn = poll.fn;
  if (!fn) return;
  clearTimeout(poll.timer);
  poll.busy = true;
  try {
    await fn();
  } catch { /* the next round tries again */ }
  poll.busy = false;
  if (poll.fn === fn) schedule();
}

const clone = (x) => JSON.parse(JSON.stringify(x));
const options = (pairs, value) => pairs.map(([v, l]) => h('option', { value: v, text: l, selected: String(v) === String(value) }));
const split = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
const domId = (path) => String(path).replace(/\./g, '-');

async function channelsOnce() {
  if (!st.channels) st.channels = await loadChannels().catch(() => []);
  return st.channels;
}

const listFunnels = () => api('GET', FUNNELS).then((r) => r.items || []);

// ---------- the list ----------

async function showList(seq) {
  const note = h('p', { class: 'muted', role: 'status', text: t('Loading…') });
  const body = h('tbody');
  fill(el.root, h('div', { class: 'page-head' }, h('h2', { class: 'page-title', text: t('Automation') }),
    st.ro ? null : h('a', { class: 'btn btn-primary', href: '#/automation/new', id: 'fn-new' }, icon('plus'), h('span', { text: t('New funnel') }))),
  h('p', { class: 'muted', text: t('A funnel takes a client through its steps (messages, waits, conditions, actions) from its trigger on.') }),
  table(['On', 'Funnel', 'Trigger', 'Channels', 'Clients waiting'], body), note);
  const rows = new Map(); // id → paint(funnel), to update a row in place
  const render = (list) => {
    const ids = list.map((f) => String(f.id));
    if (ids.length === rows.size && ids.every((id, i) => body.rows[i]?.dataset.id === id)) for (const f of list) rows.get(String(f.id))(f);
    else {
      rows.clear();
      fill(body, list.map((f) => row(f, rows)));
    }
    note.textContent = list.length ? '' : st.ro ? t('No funnels yet.') : t('No funnels yet. Create one with New funnel.');
  };
  try {
    const [list] = await Promise.all([listFunnels(), channelsOnce()]);
    if (seq !== st.seq) return;
    render(list);
    // The counts change as clients move on: fetch the list again while it is shown.
    startPoll(async () => {
      const next = await listFunnels();
      if (seq === st.seq) render(next);
    });
  } catch (err) {
    if (seq === st.seq) note.textContent = errText(err);
  }
}

/** A row of the list; `rows` gets its paint(funnel) for the updates. */
function row(f, rows) {
  let busy = false;
  const sw = h('input', { type: 'checkbox', role: 'switch', class: 'switch-input', disabled: st.ro });
  sw.addEventListener('change', async () => {
    busy = sw.disabled = true;
    try {
      f.enabled = (await api('PATCH', `${FUNNELS}/${f.id}`, { enabled: sw.checked })).enabled;
      flash(f.enabled ? t('“{name}” is on', { name: f.name }) : t('“{name}” is off', { name: f.name }), 'ok');
    } catch (err) {
      flash(errText(err), 'error');
    }
    sw.checked = f.enabled;
    busy = sw.disabled = false;
  });
  const link = h('a', { href: `#/automation/${f.id}`, class: 'fn-link' });
  const trigger = h('td');
  const channels = h('td');
  const count = h('td', { class: 'fn-count' });
  const paint = (next) => {
    if (!busy) {
      f = next;
      sw.checked = f.enabled;
    }
    sw.setAttribute('aria-label', t('Funnel “{name}” on', { name: next.name }));
    link.textContent = next.name;
    trigger.textContent = triggerText(next.trigger);
    channels.textContent = channelsText(next.channels);
    count.textContent = num(next.waiting?.total || 0);
  };
  paint(f);
  rows.set(String(f.id), paint);
  return h('tr', { 'data-id': f.id },
    h('td', null, h('label', { class: 'switch' }, sw, h('span', { class: 'switch-track', 'aria-hidden': 'true' }))),
    h('td', null, link), trigger, channels, count);
}

function triggerText(tr = {}) {
  if (tr.kind === 'keyword') return t('Keyword: {list}', { list: (tr.keywords || []).map((k) => `“${k}”`).join(', ') });
  if (tr.kind === 'tag_added') return t('Tag added: “{tag}”', { tag: tr.tag || '' });
  return (TRIGGERS.find(([k]) => k === tr.kind) || [0, tr.kind || ''])[1];
}

function channelsText(ids = []) {
  if (!ids.length) return t('All channels');
  return ids.map((id) => st.channels?.find((c) => c.id === id)?.name || id).join(', ');
}

// ---------- the editor ----------

const blank = () => ({ name: '', enabled: true, channels: [], trigger: { kind: 'keyword', keywords: [] }, steps: [{ kind: 'send', text: '' }] });

async function openEditor(id, seq) {
  fill(el.root, h('p', { class: 'muted', role: 'status', text: t('Loading…') }));
  try {
    const [list, f] = await Promise.all([listFunnels(), id == null ? blank() : api('GET', `${FUNNELS}/${id}`), channelsOnce(), loadTemplates().catch(() => []),
      state.managers.size > 1 ? null : loadManagers()]);
    if (seq !== st.seq) return;
    st.waiting = list.find((x) => x.id === id)?.waiting?.by_step || {};
    edit(f);
    if (id != null) startPoll(() => refreshWaiting(seq, id));
  } catch (err) {
    if (seq === st.seq) fill(el.root, backLink(), h('p', { class: 'form-error', role: 'alert', text: errText(err) }));
  }
}

function edit(f) {
  st.draft = clone(f);
  delete st.draft.waiting;
  st.moved = false;
  st.errors = {};
  renderEditor();
  // After the first render: it fills in what a step lacks (a condition's branches).
  st.clean = JSON.stringify(body());
}

/** The per-step counts again, painted into the steps in place (focus and typing untouched). */
async function refreshWaiting(seq, id) {
  const list = await listFunnels();
  if (seq !== st.seq || st.draft?.id !== id) return;
  st.waiting = list.find((x) => x.id === id)?.waiting?.by_step || {};
  for (const li of el.steps.querySelectorAll('.fn-step')) {
    const head = li.querySelector(':scope > .fn-step-head');
    const old = head.querySelector(':scope > .fn-waiting');
    const now = waitingBadge(li.dataset.path);
    if (old && now) old.textContent = now.textContent;
    else if (old) old.remove();
    else if (now) head.insertBefore(now, head.querySelector(':scope > .fn-tools'));
  }
}

/** "3 clients waiting for this step", or null; none once steps moved (the paths no longer fit). */
function waitingBadge(path) {
  const n = st.moved ? 0 : st.waiting[path] || 0;
  return n ? h('span', { class: 'badge fn-waiting', text: plural(n, { one: '{n} client waiting for this step', other: '{n} clients waiting for this step' }) }) : null;
}

const backLink = () => h('a', { class: 'btn btn-ghost', href: '#/automation' }, icon('back'), h('span', { text: t('All funnels') }));

function renderEditor() {
  const d = st.draft;
  const name = h('input', { type: 'text', id: 'fn-name', value: d.name, maxlength: '100', required: true, oninput: () => { d.name = name.value; } });
  const on = h('input', { type: 'checkbox', id: 'fn-enabled', checked: d.enabled, onchange: () => { d.enabled = on.checked; } });
  el.err = h('p', { class: 'form-note', id: 'fn-error', role: 'alert', hidden: true });
  el.steps = h('div', { class: 'fn-steps' });
  el.previewBar = h('div', { class: 'fn-preview-bar' });
  const form = h('form', { class: 'panel fn-editor', novalidate: true },
    h('div', { class: 'form-grid' }, field(t('Name'), name), h('div', { class: 'field fn-on' }, h('label', { class: 'check' }, on, h('span', { text: t('On: starts for new clients') })))),
    channelsField(d), triggerField(d),
    h('h3', { class: 'panel-title fn-steps-title', text: t('Steps') }), el.previewBar, el.steps, el.err,
    h('div', { class: 'form-actions' },
      st.ro ? null : h('button', { type: 'submit', class: 'btn btn-primary', id: 'fn-save', text: t('Save') }),
      !st.ro && d.id ? btn(t('Delete'), remove, 'danger-ghost', { id: 'fn-delete' }) : null,
      d.id ? btn(t('Test on a client'), testOnClient, 'ghost', { id: 'fn-test' }) : null));
  form.addEventListener('submit', (e) => { e.preventDefault(); save(); });
  fill(el.root, h('div', { class: 'page-head' }, h('h2', { class: 'page-title', text: d.id ? d.name : t('New funnel') }), backLink()),
    st.ro ? h('p', { class: 'muted fn-ro', text: t('Only an admin can change funnels; you can test one on a client.') }) : null, form);
  renderPreviewBar();
  renderSteps();
  if (st.ro) for (const c of form.querySelectorAll('.form-grid input, fieldset input, fieldset select')) c.disabled = true;
}

function channelsField(d) {
  const known = (st.channels || []).map((c) => [c.id, `${c.name || c.id} (${c.kind} ${c.id})`]);
  const gone = d.channels.filter((id) => !known.some(([k]) => k === id)).map((id) => [id, id]);
  return h('fieldset', { class: 'fn-channels' }, h('legend', { text: t('Channels') }),
    known.concat(gone).map(([id, label]) => {
      const box = h('input', { type: 'checkbox', value: id, checked: d.channels.includes(id), onchange: () => {
        d.channels = box.checked ? d.channels.concat([id]) : d.channels.filter((x) => x !== id);
      } });
      return h('label', { class: 'check' }, box, h('span', { text: label }));
    }), h('span', { class: 'hint', text: t('None checked: every channel.') }));
}

function triggerField(d) {
  const extra = h('div', { class: 'fn-trigger-extra' });
  const kind = h('select', { id: 'fn-trigger' }, options(TRIGGERS, d.trigger.kind));
  const words = (d.trigger.keywords || []).join(', ');
  const renderExtra = () => {
    const k = d.trigger.kind;
    if (k === 'keyword') {
      const input = h('input', { type: 'text', id: 'fn-keywords', value: (d.trigger.keywords || []).join(', ') || words, placeholder: t('price, delivery') });
      input.addEventListener('input', () => { d.trigger.keywords = split(input.value); });
      fill(extra, field(t('Keywords, separated by commas'), input, t('Whole words, any case: “price” matches “Price?” but not “priceless”.')));
    } else if (k === 'tag_added') {
      const input = h('input', { type: 'text', id: 'fn-tag', value: d.trigger.tag || '', maxlength: '64' });
      input.addEventListener('input', () => { d.trigger.tag = input.value; });
      fill(extra, field(t('Tag'), input));
    } else fill(extra, k === 'manual' ? h('p', { class: 'hint', text: t('A manager starts it from here (Test on a client) or an integration through the API.') }) : null);
    if (st.ro) for (const c of extra.querySelectorAll('input')) c.disabled = true;
  };
  kind.addEventListener('change', () => {
    const k = kind.value;
    d.trigger = k === 'keyword' ? { kind: k, keywords: split(words) } : k === 'tag_added' ? { kind: k, tag: '' } : { kind: k };
    renderExtra();
  });
  renderExtra();
  return h('fieldset', { class: 'fn-trigger' }, h('legend', { text: t('Trigger') }), field(t('Starts when'), kind), extra);
}

// ---------- steps ----------

function renderSteps() {
  fill(el.steps, stepList(st.draft.steps, ''));
  if (st.ro) for (const c of el.steps.querySelectorAll('input, select, textarea')) c.disabled = true;
}

/** "2", "2 › Yes › 1" for the step at path "1" or "1.yes.0". */
export function stepLabel(path) {
  return String(path).split('.').map((x, i) => (i % 2 ? (x === 'yes' ? t('Yes') : t('No')) : Number(x) + 1)).join(' › ');
}

/** Steps as an ordered list; `prefix` is "" at the top, "1.yes." in a branch. */
function stepList(list, prefix) {
  return h('div', { class: 'fn-branch' },
    list.length ? h('ol', { class: 'fn-list' }, list.map((s, i) => stepItem(list, i, `${prefix}${i}`))) : h('p', { class: 'muted fn-none', text: t('No steps here.') }),
    st.ro ? null : addMenu(list, prefix));
}

function stepItem(list, i, path) {
  const s = list[i];
  const err = st.errors[path];
  const label = stepLabel(path);
  let tools = null;
  if (!st.ro) {
    const up = iconButton('up', t('Move step {n} up', { n: label }), { cls: 'icon-btn-sm', onclick: () => move(list, i, -1, path) });
    const down = iconButton('down', t('Move step {n} down', { n: label }), { cls: 'icon-btn-sm', onclick: () => move(list, i, 1, path) });
    up.disabled = i === 0;
    down.disabled = i === list.length - 1;
    tools = h('div', { class: 'fn-tools' }, up, down,
      iconButton('x', t('Delete step {n}', { n: label }), { cls: 'icon-btn-sm', onclick: () => { list.splice(i, 1); changed(true); } }));
  }
  return h('li', { class: ['fn-step', `fn-kind-${s.kind}`, err && 'has-error'], 'data-path': path, 'data-kind': s.kind },
    h('div', { class: 'fn-step-head' }, h('span', { class: 'fn-num', text: label }), h('strong', { class: 'fn-kind', text: stepTitle(s) }),
      waitingBadge(path), tools),
    h('div', { class: 'fn-step-body' }, stepBody(s, path)),
    err ? h('p', { class: 'form-error fn-step-error', role: 'alert', text: err }) : null);
}

/** A structural change: paths shift, so the saved counts and errors no longer fit. */
function changed(shifted) {
  if (shifted) st.moved = true;
  st.errors = {};
  renderSteps();
}

function move(list, i, by, path) {
  const j = i + by;
  [list[i], list[j]] = [list[j], list[i]];
  changed(true);
  const to = path.replace(/\d+$/, String(j));
  const li = el.steps.querySelector(`.fn-step[data-path="${to}"] .fn-tools`);
  const b = li?.children[by < 0 ? 0 : 1];
  (b && !b.disabled ? b : li?.children[by < 0 ? 1 : 0])?.focus();
}

const NEW = {
  send: () => ({ kind: 'send', text: '' }), delay: () => ({ kind: 'delay', seconds: 3600 }),
  condition: () => ({ kind: 'condition', filter: { match: 'all', conditions: [{ field: 'tag', op: 'is', value: '' }] }, yes: [], no: [] }),
  tag: () => ({ kind: 'tag', add: [], remove: [] }), set_field: () => ({ kind: 'set_field', name: '', value: '' }),
  task: () => ({ kind: 'task', title: '' }), assign: () => ({ kind: 'assign', manager_id: null }), open_dialog: () => ({ kind: 'open_dialog' }),
  webhook: () => ({ kind: 'webhook', url: '' }), stop: () => ({ kind: 'stop' }),
};

/** A step's heading: its kind, or what it does where that fits in a line ("Assign to Anna"). */
function stepTitle(s) {
  if (s.kind === 'assign') return s.manager_id == null ? t('Assign automatically') : t('Assign to {name}', { name: managerName(s.manager_id) });
  if (s.kind === 'webhook') {
    let host = '';
    try {
      const u = new URL(s.url);
      if (/^https?:$/.test(u.protocol)) host = u.host;
    } catch { /* not a URL yet */ }
    return host ? t('Call webhook {host}', { host }) : KINDS.webhook;
  }
  return KINDS[s.kind] || s.kind;
}

/** After an edit that changes what the heading of `control`'s step says. */
function retitle(control, s) {
  const head = control.closest('.fn-step')?.querySelector(':scope > .fn-step-head > .fn-kind');
  if (head) head.textContent = stepTitle(s);
}

function addMenu(list, prefix) {
  const where = prefix ? t('Add a step to “{branch}”', { branch: stepLabel(prefix.slice(0, -1)) }) : t('Add a step');
  const b = h('button', { class: 'btn btn-sm btn-ghost fn-add', 'aria-haspopup': 'true', 'aria-expanded': 'false', 'aria-label': where },
    icon('plus'), h('span', { text: t('Add a step') }));
  b.addEventListener('click', () => togglePopover(b, (panel, close) => {
    panel.classList.add('fn-menu');
    panel.append(h('ul', { class: 'var-list' }, Object.entries(KINDS).map(([k, label]) => h('li', null, h('button', {
      class: 'var-item', 'data-kind': k, text: label, onclick: () => {
        close();
        list.push(NEW[k]());
        changed(false);
        el.steps.querySelector(`.fn-step[data-path="${prefix}${list.length - 1}"] .fn-step-body :is(textarea, input, select)`)?.focus();
      },
    })))));
  }, { label: where }));
  return h('div', { class: 'pop-wrap' }, b);
}

function stepBody(s, path) {
  const id = `fn-${domId(path)}`;
  const text = (key, label, attrs = {}) => {
    const input = h('input', { type: 'text', id: `${id}-${key}`, value: Array.isArray(s[key]) ? s[key].join(', ') : s[key] ?? '', ...attrs });
    input.addEventListener('input', () => { s[key] = Array.isArray(s[key]) ? split(input.value) : input.value; });
    return field(label, input);
  };
  switch (s.kind) {
    case 'send': return sendBody(s, id);
    case 'delay': return h('div', { class: 'inline-form fn-delay' }, duration(s, 'seconds', id, t('Wait for')));
    case 'condition': return conditionBody(s, path);
    case 'tag': return h('div', { class: 'form-grid' }, text('add', t('Add tags, separated by commas')), text('remove', t('Remove tags, separated by commas')));
    case 'set_field': return h('div', { class: 'form-grid' }, text('name', t('Custom field'), { maxlength: '64' }), text('value', t('Value')));
    case 'task': return h('div', { class: 'form-grid' }, text('title', t('Task title'), { maxlength: '200' }),
      h('div', { class: 'inline-form fn-delay' }, duration(s, 'due_seconds', `${id}-due`, t('Due in (optional)'))));
    case 'assign': return assignBody(s, id);
    case 'webhook': return webhookBody(s, id);
    case 'open_dialog': return h('p', { class: 'hint', text: t('Opens a dialog with the client, as a manager would.') });
    case 'stop': return h('p', { class: 'hint', text: t('The funnel ends here for the client.') });
    default: return h('p', { class: 'hint' }, t('This kind of step is kept as it is; it cannot be edited here.'), ' ', h('code', { text: JSON.stringify(s) }));
  }
}

function assignBody(s, id) {
  const known = Array.from(state.managers.values()).filter((m) => !m.disabled || m.id === s.manager_id).map((m) => [m.id, m.name || m.login]);
  if (s.manager_id != null && !known.some(([k]) => k === s.manager_id)) known.push([s.manager_id, managerName(s.manager_id)]);
  const sel = h('select', { id: `${id}-manager` }, options([['', t('Automatic (per the channel’s assignment rule)')], ...known], s.manager_id ?? ''));
  sel.addEventListener('change', () => {
    s.manager_id = sel.value === '' ? null : Number(sel.value);
    retitle(sel, s);
  });
  const f = field(t('Responsible manager'), sel, t('Automatic hands the client to the channel’s assignment rule; with none, the client stays unassigned.'));
  f.classList.add('fn-assign');
  return f;
}

function webhookBody(s, id) {
  const input = h('input', { type: 'url', id: `${id}-url`, value: s.url || '', maxlength: '2048', placeholder: 'https://crm.example.com/hook', autocomplete: 'off', spellcheck: 'false' });
  input.addEventListener('input', () => {
    s.url = input.value.trim();
    retitle(input, s);
  });
  return [field(t('Webhook URL'), input, t('Parley sends the client’s details to this address as JSON in a POST request.')),
    h('p', { class: 'hint', text: t('Private and loopback addresses (such as 127.0.0.1, 10.x or 192.168.x) are refused unless the admin allows them in the config file ([automation] webhook_allow).') })];
}

/** A number and a unit for `s[key]` in seconds; an empty optional one removes the key. */
function duration(s, key, id, label) {
  const secs = s[key];
  const [unit] = UNITS.find(([u]) => secs && secs % u === 0) || [key === 'seconds' ? 60 : 86400];
  const n = h('input', { type: 'number', id, min: '1', step: '1', value: secs ? String(secs / unit) : '', class: 'fn-amount' });
  const u = h('select', { 'aria-label': t('Unit'), id: `${id}-unit` }, options(UNITS, unit));
  const set = () => {
    const v = Math.round(Number(n.value) * Number(u.value));
    if (n.value === '' && key !== 'seconds') delete s[key];
    else s[key] = Number.isFinite(v) ? v : 0;
  };
  n.addEventListener('input', set);
  u.addEventListener('change', set);
  return [lbl(id, label), n, u];
}

// ---------- send steps: variables and the preview ----------

function sendBody(s, id) {
  const ta = h('textarea', { id: `${id}-text`, rows: '3', maxlength: '4096', value: s.text || '', placeholder: t('Hello, {client.name}!') });
  const preview = h('p', { class: 'fn-preview', hidden: true });
  const update = () => {
    preview.hidden = !st.preview;
    if (st.preview) fill(preview, h('span', { class: 'fn-preview-label', text: t('Preview:') }), ' ', fillVars(s.text, st.preview));
  };
  ta.addEventListener('input', () => { s.text = ta.value; update(); });
  update();
  const insert = (v, back = 0) => {
    ta.setRangeText(v, ta.selectionStart, ta.selectionEnd, 'end');
    if (back) ta.selectionStart = ta.selectionEnd = ta.selectionEnd - back;
    s.text = ta.value;
    update();
    ta.focus();
  };
  const vars = st.ro ? null : variablesMenu(insert, `${id}-vars`);
  return [lbl(ta.id, t('Message'), true), ta, vars, s.template ? h('p', { class: 'hint', text: t('Template: {name}', { name: s.template }) }) : null, preview];
}

function variablesMenu(insert, id) {
  const b = h('button', { class: 'btn btn-sm btn-ghost fn-vars', id, 'aria-haspopup': 'true', 'aria-expanded': 'false' }, icon('braces'), h('span', { text: t('Variables') }));
  b.addEventListener('click', () => togglePopover(b, async (panel, close) => {
    panel.classList.add('fn-menu');
    const item = (label, title, fn) => h('li', null, h('button', { class: 'var-item', title, onclick: () => { close(); fn(); } }, label));
    const fields = Object.keys(st.preview?.custom_fields || {});
    const list = h('ul', { class: 'var-list' },
      VARS.map(([v, label]) => item([h('code', { text: v }), ' ', h('span', { class: 'muted', text: label })], label, () => insert(v))),
      fields.map((f) => item(h('code', { text: `{client.field.${f}}` }), t('Custom field'), () => insert(`{client.field.${f}}`))),
      item([h('code', { text: '{client.field.…}' }), ' ', h('span', { class: 'muted', text: t('Custom field') })], t('Custom field'), () => insert('{client.field.}', 1)));
    panel.append(list);
    const templates = await loadTemplates().catch(() => []);
    if (templates.length && panel.isConnected) {
      panel.append(h('h3', { class: 'fn-menu-title', text: t('Chat templates') }),
        h('ul', { class: 'var-list' }, templates.map((tp) => item(tp.name, tp.text, () => insert(tp.text)))));
    }
  }, { label: t('Variables') }));
  return h('div', { class: 'pop-wrap' }, b);
}

/** The text as the server renders it for client `c` (template.rs): known variables and
 *  {client.field.<name>} filled, a missing value empty; unknown placeholders stay as typed.
 *  {manager.name} is empty: the engine sends with no manager. */
export function fillVars(text, c) {
  const fields = c.custom_fields || {};
  const str = (v) => (v == null ? '' : typeof v === 'string' ? v : JSON.stringify(v));
  const first = (a) => (a && a.length ? String(a[0]) : '');
  const known = { 'client.name': c.name || '', 'client.phone': first(c.phones) && phone(first(c.phones).replace(/^\+/, '')), 'client.email': first(c.emails), 'manager.name': '' };
  return String(text || '').replace(/\{([^{}]*)\}/g, (m, inner) => {
    if (inner.startsWith('client.field.')) {
      const k = inner.slice(13).trim();
      if (!k) return m;
      const hit = k in fields ? k : Object.keys(fields).find((x) => x.toLowerCase() === k.toLowerCase());
      return hit == null ? '' : str(fields[hit]);
    }
    return inner in known ? known[inner] : m;
  });
}

function renderPreviewBar() {
  const c = st.preview;
  fill(el.previewBar, h('span', { class: 'muted', text: c ? t('Send steps show a preview for {name}.', { name: c.name || t('Unnamed client') }) : t('See the messages as a client would get them:') }),
    btn(c ? t('Another client') : t('Preview for a client'), () => pickClient(t('Preview for a client'), async (x) => {
      st.preview = (await api('GET', `/api/v1/contacts/${x.id}`)).contact;
      renderPreviewBar();
      renderSteps();
    }), 'ghost', { id: 'fn-preview-pick' }),
    c ? btn(t('No preview'), () => { st.preview = null; renderPreviewBar(); renderSteps(); }) : null);
}

// ---------- condition steps ----------

function conditionBody(s, path) {
  s.filter ||= { match: 'all', conditions: [] };
  s.filter.conditions ||= [];
  s.yes ||= [];
  s.no ||= [];
  const host = h('div', { class: 'fn-filter' });
  const render = () => fill(host, filterEditor(s.filter, `fn-${domId(path)}`, render, { ro: st.ro, channels: st.channels || [] }));
  render();
  return [host, h('div', { class: 'fn-branches' },
    h('div', { class: 'fn-yes' }, h('h4', { text: t('If yes') }), stepList(s.yes, `${path}.yes.`)),
    h('div', { class: 'fn-no' }, h('h4', { text: t('If no') }), stepList(s.no, `${path}.no.`)))];
}

// ---------- save, delete, test ----------

function body() {
  const d = st.draft;
  const tr = d.trigger;
  const trigger = tr.kind === 'keyword' ? { kind: tr.kind, keywords: tr.keywords || [] } : tr.kind === 'tag_added' ? { kind: tr.kind, tag: (tr.tag || '').trim() } : { kind: tr.kind };
  return { name: d.name.trim(), enabled: d.enabled, channels: d.channels, trigger, steps: d.steps };
}

async function save() {
  if (st.ro) return;
  const b = document.getElementById('fn-save');
  const d = st.draft;
  setNote(el.err, '');
  document.getElementById('fn-name').removeAttribute('aria-invalid');
  if (Object.keys(st.errors).length) {
    st.errors = {};
    renderSteps();
  }
  b.disabled = true;
  const seq = st.seq;
  try {
    const f = d.id ? await api('PATCH', `${FUNNELS}/${d.id}`, body()) : await api('POST', FUNNELS, body());
    flash(t('Funnel “{name}” saved', { name: f.name }), 'ok');
    if (seq !== st.seq) return; // the manager has gone elsewhere meanwhile
    if (!d.id) history.replaceState(null, '', `#/automation/${f.id}`);
    // Saved: the editor starts again from the server's copy, its counts follow.
    st.waiting = {};
    edit(f);
    startPoll(() => refreshWaiting(seq, f.id));
    refreshWaiting(seq, f.id).catch(() => {});
  } catch (err) {
    if (seq !== st.seq) return flash(errText(err), 'error');
    b.disabled = false;
    if (err.status === 422) invalid(err.message);
    else setNote(el.err, err.status === 403 ? t('Only an admin can change funnels.') : errText(err));
  }
}

/** A 422 reads "<field>: <message>"; a field under steps[…] is shown at that step. */
function invalid(message) {
  const [, fieldName, text] = /^([\w.[\]]+): ([\s\S]*)$/.exec(message) || [0, '', message];
  const m = /^steps\[(\d+)\]((?:\.(?:yes|no)\[\d+\])*)(?:\.(.+))?$/.exec(fieldName);
  if (!m) {
    if (fieldName === 'name') document.getElementById('fn-name').setAttribute('aria-invalid', 'true');
    const where = { name: t('Name'), trigger: t('Trigger'), channels: t('Channels'), steps: t('Steps') }[fieldName.split(/[.[]/)[0]];
    return setNote(el.err, where ? `${where}: ${text}` : message);
  }
  const path = m[1] + m[2].replace(/\.(yes|no)\[(\d+)\]/g, '.$1.$2');
  st.errors = { [path]: m[3] ? `${m[3]}: ${text}` : text };
  renderSteps();
  setNote(el.err, t('Step {n} needs a fix: {error}', { n: stepLabel(path), error: st.errors[path] }));
  const li = el.steps.querySelector(`.fn-step[data-path="${path}"]`);
  li?.scrollIntoView({ block: 'center' });
  li?.querySelector('.fn-step-body :is(textarea, input, select)')?.focus();
}

async function remove() {
  const d = st.draft;
  if (!await confirmDialog(t('Delete the funnel “{name}”? Clients in it stop where they are.', { name: d.name }), { ok: t('Delete'), danger: true })) return;
  try {
    await api('DELETE', `${FUNNELS}/${d.id}`);
    flash(t('Funnel “{name}” deleted', { name: d.name }), 'ok');
    st.draft = null;
    location.hash = '#/automation';
  } catch (err) {
    flash(errText(err), 'error');
  }
}

function testOnClient() {
  const d = st.draft;
  pickClient(t('Test “{name}” on a client', { name: d.name }), async (c) => {
    await api('POST', `${FUNNELS}/${d.id}/start`, { contact_id: c.id });
    flash(t('“{funnel}” started for {name}', { funnel: d.name, name: c.name || t('Unnamed client') }), 'ok');
  }, t('The saved version of the funnel runs, whatever its trigger; its messages go to the client.'));
}

/** A modal to find a client (GET /contacts?q=); `onPick(contact)` runs, and its error shows there. */
function pickClient(title, onPick, hint) {
  const q = h('input', { type: 'search', id: 'fn-client-q', placeholder: t('Search by name, phone, e-mail'), autocomplete: 'off' });
  const list = h('ul', { class: 'var-list fn-clients', id: 'fn-clients' });
  const note = h('p', { class: 'form-note', role: 'status' });
  let gen = 0;
  const load = async () => {
    const mine = ++gen;
    const p = new URLSearchParams({ limit: '20' });
    if (q.value.trim()) p.set('q', q.value.trim());
    try {
      const items = (await api('GET', `/api/v1/contacts?${p}`)).items || [];
      if (mine !== gen) return;
      fill(list, items.map((c) => h('li', null, h('button', { class: 'var-item', 'data-id': c.id, onclick: () => pick(c) },
        h('span', { text: c.name || t('Unnamed client') }), ' ', h('span', { class: 'muted', text: [c.phones?.[0] && phone(c.phones[0]), c.emails?.[0]].filter(Boolean).join(' · ') })))));
      setNote(note, items.length ? '' : t('No clients found.'), 'info');
    } catch (err) {
      if (mine === gen) setNote(note, errText(err));
    }
  };
  const pick = async (c) => {
    try {
      await onPick(c);
      m.close();
    } catch (err) {
      setNote(note, errText(err));
    }
  };
  q.addEventListener('input', debounce(load, 250));
  const m = modal({ title, cls: 'modal-mid', body: [hint ? h('p', { class: 'hint', text: hint }) : null, lbl(q.id, t('Search clients'), true), q, list, note] });
  q.focus();
  load();
}
