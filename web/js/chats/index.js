// Parley — the Chats screen: list, conversation + composer, client card; the route
// #/chats[/<contact>[/<chat>[/<message>]]], hotkeys, glue. At phone width one pane shows
// at a time (data-pane = list | chat | card).

import { api, prefetch } from '../api.js';
import { h, errText, inTextField } from '../dom.js';
import { state, on, setDraftMark, setClient, patchClient } from '../store.js';
import { flash, modalOpen, attempt } from '../ui.js';
import * as list from './list.js';
import { mountConversation, openChat, showPlaceholder, addMessage, updateDetail, hasKindFilter } from './conversation.js';
import { mountComposer, setComposerChat, setComposerContact, send, markRead, focusComposer } from './composer.js';
import { mountCard, toggleLargeCard, largeCardOpen } from './card.js';
import { t } from '../i18n.js';

let root = null;
let openSeq = 0;
const narrow = () => matchMedia('(max-width: 480px)').matches;
const docked = () => !matchMedia('(max-width: 1100px)').matches; // the card is a third column

export function mount(el) {
  const listPane = h('section', { class: 'pane pane-list', 'aria-label': t('Chat list') });
  const chatPane = h('section', { class: 'pane pane-chat', 'aria-label': t('Conversation') });
  const cardPane = h('aside', { class: 'pane pane-card', 'aria-label': t('Client card'), tabindex: '-1' });
  root = h('div', { class: 'chats', 'data-pane': 'list' }, listPane, chatPane, cardPane);
  el.append(root);
  list.mountList(listPane);
  const composerHost = mountConversation(chatPane, {
    onBack: () => { location.hash = '#/chats'; },
    onCardToggle: () => toggleCard(),
    onSwitchChat: (chatId) => { location.hash = `#/chats/${state.contactId}/${chatId}`; },
  });
  mountComposer(composerHost, {
    onSent: addMessage,
    onRead: mergeChat,
  });
  mountCard(cardPane, { onClose: () => { root.dataset.pane = 'chat'; } });
  // The open client's one copy (store.js) changed: the conversation, composer and list row follow.
  on('client', (d) => {
    if (!d) return;
    updateDetail(d);
    setComposerContact(d.contact);
    list.updateRow(d.contact.id, { name: d.contact.name, marked: d.contact.marked, open_task: d.tasks.some((t) => !t.done) });
  });
  on('ws:chat.flags', ({ chat }) => mergeChat(chat));

  const open = (fn) => () => state.chatId != null && fn();
  on('hotkey:markRead', open(markRead));
  on('hotkey:send', open(send));
  on('hotkey:largeCard', open(toggleLargeCard));
  on('hotkey:prev', () => step(-1));
  on('hotkey:next', () => step(1));
  on('hotkey:mark', toggleMark);
  on('hotkey:escape', ({ event: e }) => {
    // A docked card closes too, unless Esc was meant for a text field elsewhere.
    const shut = docked() && !root.classList.contains('card-shut') && !(inTextField(e.target) && !e.target.closest('.pane-card'));
    if (modalOpen() || largeCardOpen() || !(shut || root.classList.contains('card-open') || root.dataset.pane === 'card')) return;
    e.preventDefault();
    toggleCard(false);
  });
  // Drafts are per manager: frames about mine (another tab, or a send clearing it).
  on('ws:draft.updated', ({ chat_id: chatId, draft }) => chatId != null && setDraftMark(chatId, !!draft));
  on('ws:resync', reopen);
  on('ws:reconnected', reopen);
  // Keep the open client's chats (channel switch, unread) fresh.
  on('ws:chat.updated', ({ contact_id: cid, row }) => {
    const d = state.client;
    if (!row || d?.contact.id !== cid) return;
    const known = new Set(d.chats.map((c) => c.id));
    if ((row.chats || []).some((c) => !known.has(c.id))) return reopen();
    setClient({ ...d, chats: d.chats.map((c) => ({ ...c, unread: (row.chats.find((x) => x.id === c.id) || c).unread })) });
  });
}

/** A changed chat (mark-read, flags) into the open client's data. */
function mergeChat(chat) {
  const d = state.client;
  if (chat && d) setClient({ ...d, chats: d.chats.map((c) => (c.id === chat.id ? { ...c, ...chat } : c)) });
}

export function show(args) {
  const [contactId, chatId, msgId] = args.map(Number);
  if (msgId) history.replaceState(null, '', `#/chats/${contactId}/${chatId}`); // a search hit: keep the chat
  if (contactId) open(contactId, chatId || null, false, msgId || null);
  else close();
}

export function hide() {
  if (!docked()) toggleCard(false);
}

function toggleCard(force) {
  if (narrow()) {
    const toCard = force ?? root.dataset.pane !== 'card';
    root.dataset.pane = toCard ? 'card' : 'chat';
    if (toCard) root.querySelector('.pane-card .back-btn')?.focus();
    return;
  }
  const wide = docked();
  root.classList.toggle(wide ? 'card-shut' : 'card-open', wide && force != null ? !force : force);
  if (root.classList.contains('card-open') || (wide && !root.classList.contains('card-shut'))) root.querySelector('.pane-card').focus();
}

function close() {
  openSeq++;
  state.contactId = state.chatId = null;
  list.select(null);
  showPlaceholder();
  setComposerChat(null, null);
  setClient(null);
  root.dataset.pane = 'list';
}

function reopen() {
  if (state.contactId == null) return;
  const chat = state.chatId;
  state.chatId = null; // forces the history to reload
  open(state.contactId, chat, true);
}

async function open(contactId, chatId, quiet = false, focusId = null) {
  const seq = ++openSeq;
  const sameContact = state.contactId === contactId;
  // Everything the chat needs goes out at once, not one answer after another.
  const known = chatId ?? list.getRow(contactId)?.default_chat_id;
  const urls = [`/api/v1/contacts/${contactId}/log?limit=20`];
  if (known != null && (known !== state.chatId || focusId)) {
    urls.push(`/api/v1/chats/${known}/draft`, `/api/v1/chats/${known}/typing`);
    if (!focusId && !hasKindFilter()) urls.push(`/api/v1/chats/${known}/messages?limit=50`);
  }
  prefetch(...urls);
  let detail;
  try {
    detail = await api('GET', `/api/v1/contacts/${contactId}`);
  } catch (err) {
    if (seq !== openSeq) return;
    if (!quiet) flash(err.status === 404 ? t('That client does not exist.') : errText(err), 'error');
    if (err.status === 404) location.hash = '#/chats';
    return;
  }
  if (seq !== openSeq) return;
  const chats = detail.chats.slice().sort((a, b) => (b.last_activity_ms || 0) - (a.last_activity_ms || 0));
  for (const c of chats) state.chatContact.set(c.id, contactId);
  const row = list.getRow(contactId);
  const chat = chats.find((c) => c.id === chatId) || chats.find((c) => row && c.id === row.default_chat_id) || chats[0];
  const chatChanged = state.chatId !== (chat ? chat.id : null);
  state.contactId = contactId;
  state.chatId = chat ? chat.id : null;
  list.select(contactId);
  // Show the pane first: the history scrolls (to the end or a message) only when visible.
  if (!sameContact || root.dataset.pane === 'list') root.dataset.pane = 'chat';
  if (chat) await openChat(detail, chat.id, chat.id === chatId && focusId);
  else {
    showPlaceholder();
    flash(t('This client has no chats yet.'), 'info');
  }
  if (seq !== openSeq) return;
  if (chatChanged) setComposerChat(state.chatId, detail.contact);
  else setComposerContact(detail.contact);
  setClient(detail);
  // Keep the keyboard where it was (e.g. in the list); else start typing in the composer.
  const a = document.activeElement;
  if (!quiet && chatChanged && !narrow() && (!a || a === document.body || a.closest('.pane-chat'))) focusComposer();
}

function step(delta) {
  const row = list.neighbour(delta);
  if (row) location.hash = `#/chats/${row.contact_id}`;
}

async function toggleMark() {
  // The client on screen: right after switching, its card may still be loading and
  // state.client still the previous client's.
  const id = state.contactId;
  if (id == null) return;
  const d = state.client;
  const marked = d && d.contact.id === id ? d.contact.marked : !!list.getRow(id)?.marked;
  const contact = await attempt(() => api('PATCH', `/api/v1/contacts/${id}`, { marked: !marked }));
  if (!contact) return;
  patchClient(contact.id, (x) => ({ ...x, contact: { ...x.contact, ...contact } }));
  list.updateRow(contact.id, { marked: contact.marked });
  flash(contact.marked ? t('Client marked') : t('Mark removed'), 'ok');
}
