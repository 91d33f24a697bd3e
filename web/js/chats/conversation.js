// Parley — the conversation (centre pane): the header and its switches (H1–H4) and the
// history (H5) with backwards paging and live updates.

import { api } from '../api.js';
import { h, btn, lbl, append, clear, fill, avatar, dayLabel, errText, fullTime } from '../dom.js';
import { icon, messengerIcon } from '../icons.js';
import { state, on, loadAssistants, managerName, channelLabel } from '../store.js';
import { togglePopover, confirmDialog, flash, iconButton, attempt } from '../ui.js';
import { renderMessage } from './message.js';
import { t } from '../i18n.js';

const KINDS = [['client', t('Client messages')], ['manager', t('Manager messages')], ['bot', t('Bot messages')], ['system', t('System messages')], ['note', t('Notes')]];

const cv = { detail: null, chat: null, messages: [], nodes: new Map(), hasMore: false, loadingOlder: false, kinds: null, gen: 0, atBottom: true, assistants: [] };
const el = {};
let hooks = {};

export function mountConversation(root, opts) {
  hooks = opts;
  el.empty = h('div', { class: 'chat-empty' }, icon('chat', 'icon-xl'), h('p', { text: t('Select a client on the left to open the conversation.') }),
    h('p', { class: 'muted' }, t('Press {key} for keyboard shortcuts.').split('{key}').flatMap((s, i) => [i ? h('kbd', { text: '?' }) : null, s])));
  el.avatar = h('span', { class: 'head-avatar' });
  el.name = h('h2', { class: 'chat-name', id: 'chat-name' });
  el.sub = h('div', { class: 'chat-sub' });
  el.channel = h('select', { class: 'channel-select', id: 'channel-select', onchange: () => hooks.onSwitchChat(Number(el.channel.value)) });
  el.dialogs = h('button', { class: 'btn btn-sm btn-ghost', 'aria-haspopup': 'dialog', onclick: openDialogs }, icon('chat'), h('span', { text: t('Dialogs') }));
  el.kindsBtn = iconButton('filter', t('Filter message types'), { onclick: openKinds });
  el.disabled = switchInput('sw-disabled', t('Disable chat'), t('Stops bot and funnel messages in this chat'), 'disabled', confirmDisable);
  el.botOff = switchInput('sw-bot', t('Disable bot messages'), t('Switches off automated messages for this chat'), 'bot_disabled');
  el.ai = switchInput('sw-ai', t('AI assistant'), t('The AI assistant answers in this chat'), 'assistant_on');
  el.aiMenu = iconButton('down', t('Choose the AI assistant or reset it'), { cls: 'icon-btn-sm', onclick: openAi });
  el.msgs = h('div', { class: 'msgs' });
  el.top = h('div', { class: 'history-top', role: 'status' });
  el.history = h('div', { class: 'history', tabindex: '0', role: 'region', 'aria-label': t('Message history') }, el.top, el.msgs);
  el.pill = h('button', { class: 'new-pill', hidden: true, onclick: () => (cv.gap ? reloadHistory() : scrollBottom()) }, icon('down'), h('span', { text: t('New messages') }));
  el.history.addEventListener('scroll', onScroll, { passive: true });
  // Late-loading images and players change the height; stay pinned to the bottom.
  for (const ev of ['load', 'loadedmetadata']) el.history.addEventListener(ev, () => cv.atBottom && scrollBottom(), true);
  el.composerHost = h('div', { class: 'composer-host' });
  el.view = h('div', { class: 'chat-view', hidden: true },
    h('header', { class: 'chat-head' },
      h('div', { class: 'chat-head-row' },
        iconButton('back', t('Back to the chat list'), { cls: 'back-btn', onclick: () => hooks.onBack() }), el.avatar,
        h('div', { class: 'chat-title' }, el.name, el.sub),
        h('div', { class: 'chat-head-tools' }, lbl('channel-select', t('Channel'), true), el.channel,
          h('div', { class: 'pop-wrap' }, el.dialogs), h('div', { class: 'pop-wrap' }, el.kindsBtn),
          iconButton('card', t('Client card'), { cls: 'card-btn', onclick: () => hooks.onCardToggle() }))),
      h('div', { class: 'chat-controls' }, el.disabled.wrap, el.botOff.wrap, h('div', { class: 'ai-group pop-wrap' }, el.ai.wrap, el.aiMenu))),
    h('div', { class: 'history-wrap' }, el.history, el.pill), el.composerHost);
  root.append(el.empty, el.view);

  const mine = (d) => cv.chat && d.message && d.chat_id === cv.chat.id;
  on('ws:message.created', (d) => mine(d) && addMessage(d.message));
  on('ws:message.updated', (d) => {
    if (!mine(d)) return;
    liveUpdates.set(d.message.id, (liveUpdates.get(d.message.id) || 0) + 1);
    replaceMessage(d.message);
  });
  on('ws:chat.flags', ({ chat }) => {
    if (!chat || !cv.detail) return;
    cv.detail.chats = cv.detail.chats.map((c) => (c.id === chat.id ? { ...c, ...chat } : c));
    if (cv.chat && chat.id === cv.chat.id) cv.chat = { ...cv.chat, ...chat };
    renderHeader();
  });
  on('ws:dialog.updated', ({ dialog }) => mergeDialog(dialog));
  on('ws:resync', () => cv.chat && reloadHistory());
  on('managers', () => cv.chat && renderAll());
  return el.composerHost;
}

function switchInput(id, label, title, field, ask) {
  const input = h('input', { type: 'checkbox', role: 'switch', id, class: 'switch-input', onchange: async () => {
    if (!ask || await ask(input.checked)) patch({ [field]: input.checked });
    else renderHeader();
  } });
  const text = h('span', { text: label });
  return { input, label: text, title, wrap: h('label', { class: 'switch', for: id, title }, input, h('span', { class: 'switch-track', 'aria-hidden': 'true' }), text) };
}

// Disabling ends running funnels for good, so it is confirmed.
const confirmDisable = (on) => !on || confirmDialog(t('Disable this chat? Bot and funnel messages stop; running funnels never resume.'), { ok: t('Disable chat'), danger: true });
const NO_AI = t('No AI assistant is configured ([[assistants]] in the config)');

// ---------- open / header ----------

export function showPlaceholder() {
  cv.gen++;
  cv.detail = null;
  cv.chat = null;
  el.view.hidden = true;
  el.empty.hidden = false;
}

/** Show a client's chat: `detail` is GET /contacts/{id}; `focusId` a message to show. */
export async function openChat(detail, chatId, focusId) {
  const same = cv.chat && cv.chat.id === chatId && !focusId;
  if (focusId) cv.kinds = null;
  cv.detail = detail;
  cv.chat = detail.chats.find((c) => c.id === chatId) || null;
  el.empty.hidden = true;
  el.view.hidden = false;
  renderHeader();
  loadAssistants().then((a) => { cv.assistants = a; renderHeader(); }, () => {});
  if (!same) await reloadHistory(focusId);
}

/** New contact data for the open chat (card edits, tasks, dialogs). */
export function updateDetail(detail) {
  if (!cv.detail || detail.contact.id !== cv.detail.contact.id) return;
  cv.detail = detail;
  if (cv.chat) cv.chat = detail.chats.find((c) => c.id === cv.chat.id) || cv.chat;
  renderHeader();
}

function renderHeader() {
  const d = cv.detail;
  if (!d) return;
  const c = d.contact;
  const ch = cv.chat || {};
  fill(el.avatar, avatar(c.name, c.id));
  el.name.textContent = c.name || t('Unnamed client');
  const flags = [ch.channel_name || ch.channel_id, c.blacklisted && t('Blacklisted'), c.archived && t('Archived'), ch.unreachable && t('Unreachable')];
  fill(el.sub, cv.chat ? messengerIcon(ch.channel_kind, ch.channel_name) : null, h('span', { text: flags.filter(Boolean).join(' · ') }));
  fill(el.channel, d.chats.map((x) => h('option', {
    value: x.id, selected: x.id === ch.id, text: `${channelLabel(x, d.chats)}${x.unread ? ` · ${t('{n} unread', { n: x.unread })}` : ''}`,
  })));
  el.channel.disabled = d.chats.length < 2;
  el.channel.title = d.chats.length < 2 ? t('The client has one chat') : t('Switch to another chat of this client');
  const active = activeDialogs().length > 0;
  el.dialogs.classList.toggle('is-active', active);
  el.dialogs.lastChild.textContent = active ? t('Dialog open') : t('Dialogs');
  el.kindsBtn.classList.toggle('is-active', !!cv.kinds);
  el.disabled.input.checked = !!ch.disabled;
  el.botOff.input.checked = !!ch.bot_disabled;
  el.ai.input.checked = !!ch.assistant_on;
  const chosen = ch.assistant && (cv.assistants.find((a) => a.id === ch.assistant) || { name: ch.assistant }).name;
  el.ai.label.textContent = chosen ? `${t('AI assistant')}: ${chosen}` : t('AI assistant');
  for (const x of [el.disabled, el.botOff, el.ai]) x.input.disabled = !cv.chat;
  // One left on can still be turned off.
  const noAi = !cv.assistants.length && !ch.assistant_on;
  el.ai.input.disabled ||= noAi;
  el.ai.wrap.title = noAi ? NO_AI : el.ai.title;
}

function activeDialogs() {
  return (cv.detail ? cv.detail.dialogs : []).filter((d) => d.closed_ms == null);
}

function mergeDialog(dialog) {
  if (!dialog || !cv.detail || dialog.contact_id !== cv.detail.contact.id) return;
  cv.detail.dialogs = cv.detail.dialogs.filter((d) => d.id !== dialog.id).concat([dialog]);
  renderHeader();
}

const run = (method, path, body, done = () => {}) => attempt(async () => done(await api(method, path, body)));

function patch(body, reset) {
  if (!cv.chat) return;
  const id = cv.chat.id;
  run(reset ? 'POST' : 'PATCH', `/api/v1/chats/${id}${reset ? '/assistant/reset' : ''}`, body, (chat) => { if (cv.chat && cv.chat.id === id) cv.chat = { ...cv.chat, ...chat }; })
    .then(renderHeader);
}

function openAi() {
  togglePopover(el.aiMenu, (panel, close) => {
    panel.classList.add('ai-panel');
    const list = cv.assistants;
    const sel = h('select', { id: 'ai-select', disabled: !list.length, onchange: () => patch({ assistant: sel.value || null }) },
      h('option', { value: '', text: t('No assistant chosen') }),
      list.map((a) => h('option', { value: a.id, text: a.name || a.id, selected: cv.chat && cv.chat.assistant === a.id })));
    append(panel, [
      h('div', { class: 'field' }, lbl('ai-select', t('Assistant for this chat')), sel),
      list.length ? null : h('p', { class: 'muted', text: NO_AI }),
      btn(t('Reset'), async () => {
        close();
        if (await confirmDialog(t('Reset the AI assistant for this chat? Its settings and history are dropped.'), { ok: t('Reset') })) patch(undefined, 1);
      }, 'ghost')]);
  }, { label: t('AI assistant') });
}

function openDialogs() {
  togglePopover(el.dialogs, (panel) => {
    const render = () => {
      const active = activeDialogs();
      fill(panel, h('div', { class: 'pop-head' }, h('h2', { text: t('Dialogs') })),
        active.length ? null : h('p', { class: 'empty', text: t('No active dialog with this client.') }),
        active.map((d) => h('div', { class: 'dialog-item' },
          h('span', { text: t('Open by {name} since {date}', { name: managerName(d.manager_id), date: fullTime(d.opened_ms) }) }),
          btn(t('Close dialog'), () => run('POST', `/api/v1/dialogs/${d.id}/close`, undefined, (x) => { mergeDialog(x); render(); })))),
        btn(active.length ? t('Show active dialog') : t('Open a new dialog'), () => run('POST', `/api/v1/contacts/${cv.detail.contact.id}/dialogs`, undefined, (x) => {
          mergeDialog(x);
          flash(active.length ? t('This is the active dialog') : t('Dialog opened'), 'ok');
          render();
        }), 'primary'));
    };
    render();
  }, { align: 'right', label: t('Dialogs') });
}

function openKinds() {
  togglePopover(el.kindsBtn, (panel, close) => {
    const form = h('form', { class: 'kinds-form' },
      h('fieldset', null, h('legend', { text: t('Show') }), KINDS.map(([k, label]) => h('label', { class: 'check' },
        h('input', { type: 'checkbox', value: k, checked: !cv.kinds || cv.kinds.has(k) }), ` ${label}`))),
      h('div', { class: 'pop-actions' },
        btn(t('All'), () => form.querySelectorAll('input').forEach((b) => { b.checked = true; })),
        h('button', { type: 'submit', class: 'btn btn-sm btn-primary', text: t('Apply') })));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const on = Array.from(form.querySelectorAll('input:checked'), (i) => i.value);
      cv.kinds = on.length === KINDS.length || !on.length ? null : new Set(on);
      close();
      renderHeader();
      reloadHistory();
    });
    panel.append(form);
  }, { align: 'right', label: t('Message types') });
}

// ---------- history ----------

function query(before, limit = 50) {
  const p = new URLSearchParams({ limit });
  if (before) p.set('before', before);
  if (cv.kinds) p.set('kinds', Array.from(cv.kinds).join(','));
  return `/api/v1/chats/${cv.chat.id}/messages?${p}`;
}

// The newest page, or the one ending at message `focus`. `cv.gap`: newer ones are not loaded
// (live ones are not appended; the pill loads the latest).
async function reloadHistory(focus) {
  const gen = ++cv.gen;
  cv.messages = [];
  cv.hasMore = cv.gap = false;
  renderAll();
  el.pill.hidden = true;
  if (!cv.chat) return;
  el.top.textContent = t('Loading…');
  try {
    const [res, last] = await Promise.all([api('GET', query(focus && focus + 1)), focus && api('GET', query(0, 1))]);
    if (gen !== cv.gen) return;
    cv.messages = res.items || [];
    cv.hasMore = !!res.has_more;
    cv.gap = !!focus && last.items[0]?.id > focus;
    el.pill.lastChild.textContent = cv.gap ? t('Latest messages') : t('New messages');
    renderAll();
    scrollBottom();
    const node = cv.nodes.get(focus);
    if (node) {
      node.classList.add('is-focus');
      node.scrollIntoView({ block: 'center' });
    }
  } catch (err) {
    if (gen === cv.gen) el.top.textContent = errText(err);
  }
}

async function loadOlder() {
  if (cv.loadingOlder || !cv.hasMore || !cv.messages.length) return;
  const gen = cv.gen;
  cv.loadingOlder = true;
  el.top.textContent = t('Loading earlier messages…');
  try {
    const res = await api('GET', query(cv.messages[0].id));
    if (gen !== cv.gen) return;
    const known = new Set(cv.messages.map((m) => m.id));
    cv.hasMore = !!res.has_more;
    const { scrollHeight, scrollTop } = el.history;
    cv.messages = (res.items || []).filter((m) => !known.has(m.id)).concat(cv.messages);
    renderAll();
    el.history.scrollTop = scrollTop + (el.history.scrollHeight - scrollHeight);
  } catch (err) {
    if (gen === cv.gen) el.top.textContent = errText(err);
  } finally {
    cv.loadingOlder = false;
  }
}

function ctx() {
  const c = cv.detail ? cv.detail.contact : {};
  return { contactName: c.name, contactId: c.id, onRetry: retry, onCancel: cancelDelivery };
}

const day = (m) => new Date(m.created_ms).toDateString();
const daySep = (m) => h('div', { class: 'day-sep', role: 'separator' }, h('span', { text: dayLabel(m.created_ms) }));

function place(m, prev, c) {
  if (!prev || day(prev) !== day(m)) el.msgs.append(daySep(m));
  const node = renderMessage(m, c);
  cv.nodes.set(m.id, node);
  el.msgs.append(node);
}

function renderAll() {
  clear(el.msgs);
  cv.nodes.clear();
  const c = ctx();
  cv.messages.forEach((m, i) => place(m, cv.messages[i - 1], c));
  el.top.textContent = cv.hasMore ? '' : cv.messages.length ? t('Beginning of the conversation') : t('No messages yet');
}

/** Add a message (live frame or own send); ignores duplicates. */
export function addMessage(m) {
  if (!cv.chat || m.chat_id !== cv.chat.id || (cv.kinds && !cv.kinds.has(m.kind))) return;
  const mine = m.author?.id === state.me.id;
  if (cv.gap) return void (mine && reloadHistory());
  // Known already: this copy (the send's answer, a replayed frame) is as old as creation,
  // and updates since (a failed attempt, a receipt) must not be undone by it.
  if (cv.nodes.has(m.id)) return;
  const wasBottom = cv.atBottom;
  const last = cv.messages[cv.messages.length - 1];
  cv.messages.push(m);
  if (last && m.id < last.id) {
    // Out of order (a replay): sort and redraw.
    cv.messages.sort((a, b) => a.id - b.id);
    renderAll();
  } else {
    place(m, last, ctx());
    if (!last) el.top.textContent = t('Beginning of the conversation');
  }
  if (wasBottom || mine) scrollBottom();
  else el.pill.hidden = false;
}

function replaceMessage(m) {
  const i = cv.messages.findIndex((x) => x.id === m.id);
  if (i < 0) return;
  const was = cv.messages[i].status;
  cv.messages[i] = { ...cv.messages[i], ...m };
  const node = renderMessage(cv.messages[i], ctx());
  cv.nodes.get(m.id)?.replaceWith(node);
  cv.nodes.set(m.id, node);
  // A reply that has finally failed must not fail out of sight.
  if (m.status === 'failed' && was !== 'failed') node.scrollIntoView({ block: 'nearest' });
}

// Live updates per message: an action's answer is applied only if no live update came in the
// meantime, since the live one is newer (e.g. the attempt that "Retry now" started failing).
const liveUpdates = new Map();

function act(m, path) {
  const seen = liveUpdates.get(m.id) || 0;
  run('POST', `/api/v1/messages/${m.id}/${path}`, undefined, (x) => (liveUpdates.get(m.id) || 0) === seen && replaceMessage(x));
}

const retry = (m) => act(m, 'retry');
const cancelDelivery = (m) => act(m, 'cancel');

function onScroll() {
  const x = el.history;
  cv.atBottom = x.scrollHeight - x.scrollTop - x.clientHeight < 60;
  if (cv.atBottom && !cv.gap) el.pill.hidden = true;
  if (x.scrollTop < 150) loadOlder();
}

function scrollBottom() {
  el.history.scrollTop = el.history.scrollHeight;
  cv.atBottom = true;
  el.pill.hidden = !cv.gap;
}

/** A message-type filter changes the history query, so there is nothing to fetch early. */
export const hasKindFilter = () => !!cv.kinds;
