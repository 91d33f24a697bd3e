// Parley — the client card (right pane, C1–C2) and the large card (modal, Ctrl+Shift+S).

import { api } from '../api.js';
import { h, btn, field, fill, avatar, phone, fullTime, date, errText, presenceDot } from '../dom.js';
import { icon, messengerIcon } from '../icons.js';
import { state, on, managerName, patchClient, channelLabel } from '../store.js';
import { modal, confirmDialog, flash, iconButton, attempt } from '../ui.js';
import { t } from '../i18n.js';

const cs = { id: null, log: [], logMore: false, runs: [], orders: [], large: null, assignErr: '' };
let root = null;
let hooks = {};
const placeholder = () => h('div', { class: 'card-empty' }, h('p', { class: 'muted', text: t('The client card appears here.') }));
// The card renders the page's one copy of the open client (store.js); live events change that copy.
const detail = () => state.client;

export function mountCard(el, opts) {
  root = el;
  hooks = opts;
  root.append(placeholder());
  const merge = (id, key, item) => patchClient(id, (d) => ({ ...d, [key]: d[key].filter((x) => x.id !== item.id).concat([item]) }));
  on('client', show);
  on('managers', render);
  on('ws:task.updated', ({ task }) => {
    if (task) merge(task.contact_id, 'tasks', task);
    if (task?.contact_id === cs.id) loadLog();
  });
  on('ws:contact.updated', ({ contact }) => {
    if (contact) patchClient(contact.id, (d) => ({ ...d, contact: { ...d.contact, ...contact } }));
    if (contact?.id === cs.id) loadLog();
  });
  // Actions write a system message with each log entry.
  // Funnel steps too, so the runs are read again with the log.
  on('ws:message.created', (d) => d.message?.kind === 'system' && d.contact_id === cs.id && (loadLog(), loadRuns()));
  on('ws:dialog.updated', ({ dialog }) => {
    if (dialog) merge(dialog.contact_id, 'dialogs', dialog);
    if (dialog?.contact_id === cs.id) loadLog();
  });
}

function show(d) {
  if (!d) {
    cs.id = null;
    fill(root, placeholder());
    return cs.large?.close();
  }
  if (cs.id !== d.contact.id) {
    // The Orders section (A2, live) comes with its module when the first client opens.
    cs.ordersUi ||= import('../views/orders-card.js').then((m) => m.follow(cs, render), () => { cs.ordersUi = null; });
    cs.id = d.contact.id;
    cs.log = [];
    cs.logMore = false;
    cs.runs = [];
    cs.assignErr = '';
    cs.orders = [];
    loadLog();
    loadRuns();
  }
  render();
}

function render() {
  if (!detail()) return;
  refill(root, build(false));
  if (cs.large) refill(cs.large.body, build(true));
}

/** Live events rebuild the card: keep focus, and what is being typed, on the same control
 * (a data-live control shows the server's value instead). */
function refill(host, node) {
  const a = document.activeElement;
  const key = host.contains(a) && a.getAttribute('aria-label');
  const v = a.value;
  fill(host, node);
  const b = key && host.querySelector(`[aria-label="${CSS.escape(key)}"]`);
  if (b) {
    if (v != null && !('live' in b.dataset)) b.value = v;
    b.focus();
  }
}

export function largeCardOpen() {
  return !!cs.large;
}

export function toggleLargeCard() {
  if (cs.large) return cs.large.close();
  if (!detail()) return;
  cs.large = modal({ title: `${t('Client card')} — ${detail().contact.name || t('client')}`, cls: 'modal-wide large-card', body: [build(true)], onClose: () => { cs.large = null; } });
}

async function loadLog(before) {
  const id = cs.id;
  if (id == null) return;
  const p = new URLSearchParams({ limit: '20' });
  if (before) p.set('before', before);
  try {
    const items = (await api('GET', `/api/v1/contacts/${id}/log?${p}`)).items || [];
    if (cs.id !== id) return;
    cs.log = before ? cs.log.concat(items) : items;
    cs.logMore = items.length >= 20;
    render();
  } catch (err) {
    console.warn('log:', err.message);
  }
}

/** The client's funnel runs (B1), newest first, and orders (A2): a stage move or a funnel
 * step leaves a system message, which reads both again. */
async function loadRuns() {
  const id = cs.id;
  if (id == null) return;
  try {
    const [runs, orders] = await Promise.all([`/api/v1/contacts/${id}/runs`, `/api/v1/contacts/${id}/orders`].map((p) => api('GET', p).then((r) => r.items || [])));
    if (cs.id !== id) return;
    Object.assign(cs, { runs, orders });
    render();
  } catch (err) {
    console.warn('runs:', err.message);
  }
}


const section = (title, ...children) => h('section', { class: 'card-sec' }, h('h3', { text: title }), children);
const none = (text) => h('p', { class: 'muted', text });

function build(large) {
  const { contact: c, chats, tasks } = detail();
  const kv = (k, v) => [h('dt', { text: k }), h('dd', null, v)];
  return h('div', { class: ['card', large && 'card-large'] },
    h('div', { class: 'card-head' },
      large ? null : iconButton('back', t('Back to the conversation'), { cls: 'back-btn', onclick: () => hooks.onClose() }),
      avatar(c.name, c.id, 'avatar-lg'),
      h('div', { class: 'card-title' }, h(large ? 'p' : 'h2', { class: 'card-name', text: c.name || t('Unnamed client') }),
        h('p', { class: 'muted', text: t('Client since {date}', { date: date(c.created_ms) }) })),
      large ? null : iconButton('external', t('Open the large card (Ctrl+Shift+S)'), { onclick: toggleLargeCard })),
    section(t('Client data'), h('dl', { class: 'kv' },
      kv(t('Responsible'), assigneeSel(c)),
      kv(t('Phones'), c.phones.length ? c.phones.map((p) => h('a', { href: `tel:${phone(p)}`, text: phone(p) })) : '—'),
      kv(t('E-mails'), c.emails.length ? c.emails.map((e) => h('a', { href: `mailto:${e}`, text: e })) : '—'),
      kv(t('Sales plan'), c.sales_plan ? h('a', { href: `#/orders/${c.id}`, text: c.sales_plan }) : '—'),
      Object.entries(c.custom_fields || {}).map(([k, v]) => kv(k, typeof v === 'string' ? v : JSON.stringify(v))))),
    section(t('Channels'), h('ul', { class: 'card-chats' }, chats.map((ch) => {
      const open = ch.id === state.chatId;
      const name = channelLabel(ch, chats);
      return h('li', null, messengerIcon(ch.channel_kind, name), h('span', { class: 'grow', text: name }),
        ch.unread ? h('span', { class: 'badge', text: ch.unread }) : null,
        h('a', { class: 'btn btn-sm btn-ghost', href: `#/chats/${c.id}/${ch.id}`, 'aria-current': open ? 'true' : null, text: open ? t('Open') : t('Go to chat'), 'aria-label': t('Go to the chat on {name}', { name }) }));
    }))),
    tagsSection(c), tasksSection(tasks), cs.ordersSec?.(c), runsSection(), actionsSection(c, chats, large),
    section(t('Client log'), cs.log.length ? h('ol', { class: 'log' }, cs.log.map((e) => h('li', null,
      h('time', { text: fullTime(e.created_ms) }), h('span', { text: e.text || e.event })))) : none(t('Nothing happened with this client yet.')),
    cs.logMore ? btn(t('Show older'), () => loadLog(cs.log[cs.log.length - 1].id)) : null));
}

/** Call the API and put the changed contact (or run `then`) into the card. */
const change = (method, path, body, then = (c) => patchClient(c.id, (d) => ({ ...d, contact: c }))) => attempt(async () => {
  const res = await api(method, path, body);
  then(res);
  return res;
});

/** The responsible manager (T1): Nobody or an active manager; a refusal shows under it. */
function assigneeSel(c) {
  const cur = c.assignee ?? null;
  const ids = Array.from(state.managers.values()).filter((m) => !m.disabled || m.id === cur).map((m) => m.id);
  if (cur != null && !ids.includes(cur)) ids.push(cur);
  const sel = h('select', { class: 'card-assignee', 'aria-label': t('Responsible manager'), 'data-live': '', onchange: async () => {
    try {
      const res = await api('PATCH', `/api/v1/contacts/${c.id}`, { assignee: sel.value ? Number(sel.value) : null });
      cs.assignErr = '';
      patchClient(res.id, (d) => ({ ...d, contact: res }));
    } catch (err) {
      cs.assignErr = errText(err);
      render();
    }
  } }, h('option', { value: '', text: t('Nobody') }), ids.map((id) => h('option', { value: id, text: managerName(id), selected: id === cur })));
  return [h('div', { class: 'card-assignee-row' }, cur != null && presenceDot(state.managers.get(cur) || { id: cur }), sel), cs.assignErr ? h('p', { class: 'form-error', role: 'alert', text: cs.assignErr }) : null];
}

function tagsSection(c) {
  const input = h('input', { type: 'text', placeholder: t('New tag'), maxlength: '64', 'aria-label': t('New tag') });
  const form = h('form', { class: 'inline-form' }, input, h('button', { type: 'submit', class: 'btn btn-sm btn-ghost' }, icon('plus'), h('span', { text: t('Add') })));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const tag = input.value.trim();
    input.value = ''; // the rebuilt card keeps a focused field's text
    if (tag && await change('POST', `/api/v1/contacts/${c.id}/tags`, { tag })) flash(t('Tag “{tag}” added', { tag }), 'ok');
  });
  return section(t('Tags'), c.tags.length ? h('ul', { class: 'tags' }, c.tags.map((tag) => h('li', { class: 'tag' }, h('span', { text: tag }),
    h('button', { class: 'tag-x', 'aria-label': t('Remove tag {tag}', { tag }), title: t('Remove'), onclick: () => change('DELETE', `/api/v1/contacts/${c.id}/tags/${encodeURIComponent(tag)}`) }, icon('x')))))
    : none(t('No tags')), form);
}

function tasksSection(tasks) {
  const open = tasks.filter((t) => !t.done);
  return section(t('Tasks'), open.length ? h('ul', { class: 'tasks' }, open.map((tk) => {
    const box = h('input', { type: 'checkbox', id: `task-${tk.id}` });
    box.addEventListener('change', async () => {
      const task = await change('PATCH', `/api/v1/tasks/${tk.id}`, { done: true }, (x) => patchClient(detail().contact.id, (d) => ({ ...d, tasks: d.tasks.map((y) => (y.id === x.id ? x : y)) })));
      if (task) flash(t('Task done'), 'ok');
      else box.checked = false;
    });
    const info = `${tk.due_ms ? ` · ${t('due {date}', { date: fullTime(tk.due_ms) })}` : ''}${tk.assignee ? ` · ${managerName(tk.assignee)}` : ''}`;
    return h('li', { class: ['task', tk.due_ms && tk.due_ms < Date.now() && 'is-overdue'] }, box,
      h('label', { for: box.id }, h('span', { text: tk.title }), h('span', { class: 'muted', text: info })));
  })) : none(t('No open tasks')), h('button', { class: 'btn btn-sm btn-ghost', onclick: addTask }, icon('plus'), h('span', { text: t('Add task') })));
}

const RUN = { waiting: t('waiting'), done: t('done'), stopped: t('stopped'), cancelled: t('cancelled') };
/** "2", "2 › Yes › 1": a run's step path ("1", "1.yes.0") as the Automation editor numbers it. */
const stepNo = (p) => String(p).split('.').map((x, i) => (i % 2 ? t(x === 'yes' ? 'Yes' : 'No') : Number(x) + 1)).join(' › ');

/** Running funnels first, then the last few finished; "Stop" for a waiting one. */
function runsSection() {
  const runs = cs.runs.filter((r) => r.state === 'waiting').concat(cs.runs.filter((r) => r.state !== 'waiting').slice(0, 5));
  return section(t('Funnels'), runs.length ? h('ul', { class: 'card-chats runs' }, runs.map((r) => {
    const info = [t('step {n}', { n: stepNo(r.step) }), RUN[r.state] || r.state, r.due_ms ? t('due {date}', { date: fullTime(r.due_ms) }) : '', r.reason || ''];
    return h('li', { class: 'run', 'data-state': r.state }, h('span', { class: 'grow' }, h('strong', { text: r.funnel_name || `#${r.funnel_id}` }),
      h('span', { class: 'muted', text: ` · ${info.filter(Boolean).join(' · ')}` })),
    r.state === 'waiting' ? btn(t('Stop'), () => stopRun(r), 'ghost', { 'aria-label': t('Stop the funnel {name}', { name: r.funnel_name }) }) : null);
  })) : none(t('Not in any funnel')));
}

async function stopRun(r) {
  if (await change('POST', `/api/v1/runs/${r.id}/stop`, undefined, () => loadRuns())) flash(t('Funnel “{name}” stopped', { name: r.funnel_name }), 'ok');
}

function actionsSection(c, chats, large) {
  const pick = h('select', { 'aria-label': t('Channel to open') }, chats.map((ch) => h('option', { value: ch.id, text: channelLabel(ch, chats) })));
  const action = (tag, iconName, text, attrs) => h(tag, { class: 'btn btn-sm btn-ghost', ...attrs }, icon(iconName), h('span', { text }));
  return section(t('Actions'), h('div', { class: 'card-actions' },
    large ? null : action('button', 'card', t('Large card'), { onclick: toggleLargeCard }),
    action('a', 'external', t('Open in Audience'), { href: `#/audience/${c.id}` }),
    action('a', 'external', t('Open in Orders and sales'), { href: `#/orders/${c.id}` }),
    action('button', 'archive', c.archived ? t('Unarchive') : t('Archive'), { onclick: () => flag('archived', !c.archived) }),
    action('button', 'ban', c.blacklisted ? t('Remove from blacklist') : t('Blacklist'), { onclick: () => flag('blacklisted', !c.blacklisted), class: `btn btn-sm ${c.blacklisted ? 'btn-ghost' : 'btn-danger-ghost'}` }),
    chats.length ? h('div', { class: 'inline-form' }, pick, btn(t('Go to chat'), () => { location.hash = `#/chats/${c.id}/${pick.value}`; })) : null));
}


async function flag(key, value) {
  const c = detail().contact;
  const what = key === 'archived' ? (value ? t('Archive') : t('Unarchive')) : (value ? t('Blacklist') : t('Remove from the blacklist'));
  const warn = key === 'blacklisted' && value ? ` ${t('Their messages are still stored, but nothing is sent to them.')}` : '';
  if (!await confirmDialog(`${what}: ${c.name || t('this client')}?${warn}`, { ok: what, danger: value })) return;
  if (await change('PATCH', `/api/v1/contacts/${c.id}`, { [key]: value })) flash(t('{what}: done', { what }), 'ok');
}

function addTask() {
  const c = detail().contact;
  const title = h('input', { type: 'text', id: 'task-title', required: true, maxlength: '200' });
  const due = h('input', { type: 'datetime-local', id: 'task-due' });
  const who = h('select', { id: 'task-assignee' }, h('option', { value: '', text: t('Nobody') }),
    Array.from(state.managers.values()).filter((m) => !m.disabled).map((m) => h('option', { value: m.id, text: m.name || m.login, selected: m.id === state.me?.id })));
  const err = h('p', { class: 'form-error', role: 'alert' });
  const ok = h('button', { type: 'submit', class: 'btn btn-primary', text: t('Add task') });
  const form = h('form', { class: 'stack' }, field(t('Title'), title), field(t('Due'), due), field(t('Assignee'), who), err, h('div', { class: 'modal-actions' }, ok));
  const m = modal({ title: c.name ? t('New task for {name}', { name: c.name }) : t('New task for the client'), body: [form], cls: 'modal-small' });
  title.focus();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { title: title.value.trim() };
    if (!body.title) { err.textContent = t('Write a title.'); return; }
    if (due.value) body.due_ms = new Date(due.value).getTime();
    if (who.value) body.assignee = Number(who.value);
    ok.disabled = true;
    try {
      const task = await api('POST', `/api/v1/contacts/${c.id}/tasks`, body);
      patchClient(c.id, (d) => ({ ...d, tasks: d.tasks.filter((t) => t.id !== task.id).concat([task]) }));
      m.close();
      flash(t('Task added'), 'ok');
    } catch (e2) {
      err.textContent = errText(e2);
      ok.disabled = false;
    }
  });
}
