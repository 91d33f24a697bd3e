// Parley — shared state and a tiny event bus through which panes talk (`ws:<type>`,
// `hotkey:<action>`, `draft:mark`, `managers`).

import { api } from './api.js';

const listeners = new Map();

/** Subscribe; returns an unsubscribe function. */
export function on(type, fn) {
  if (!listeners.has(type)) listeners.set(type, new Set());
  listeners.get(type).add(fn);
  return () => listeners.get(type).delete(fn);
}

export function emit(type, data) {
  for (const fn of Array.from(listeners.get(type) || [])) {
    try {
      fn(data);
    } catch (err) {
      console.error(`listener for ${type} failed`, err);
    }
  }
}

export const state = {
  me: null, // the signed-in manager {id, login, name, role}
  managers: new Map(), // id → manager (names in notes, assignees, mentions)
  counts: {},
  draftChats: new Set(), // chat ids where I have a saved draft
  chatContact: new Map(), // chat id → contact id
  contactId: null, // the open client and chat
  chatId: null,
  client: null, // the open client (GET /contacts/{id}): the one copy the panes render from
  templates: null,
  assistants: null,
};

export const isAdmin = () => state.me?.role === 'admin';

export function managerName(id) {
  const m = state.managers.get(id);
  return m ? m.name || m.login : `Manager #${id}`;
}

export async function loadManagers() {
  try {
    const res = await api('GET', '/api/v1/managers');
    state.managers = new Map((res.items || []).map((m) => [m.id, m]));
  } catch (err) {
    console.warn('managers:', err.message);
  }
  emit('managers', state.managers);
}

const items = (path) => api('GET', path).then((r) => r.items || []);

export async function loadTemplates(force = false) {
  if (!state.templates || force) state.templates = await items('/api/v1/templates');
  return state.templates;
}

export async function loadAssistants() {
  if (!state.assistants) state.assistants = await items('/api/v1/assistants');
  return state.assistants;
}

/** A chat's channel name, with kind and id when another of `chats` has that name. */
export function channelLabel(ch, chats) {
  const n = (c) => c.channel_name || c.channel_id;
  return chats.some((x) => x !== ch && n(x) === n(ch)) ? `${n(ch)} (${ch.channel_kind} ${ch.channel_id})` : n(ch);
}

export const loadChannels = () => items('/api/v1/channels');

export const hasDraft = (chatIds) => chatIds.some((id) => state.draftChats.has(id));

export function setDraftMark(chatId, present) {
  if (present) state.draftChats.add(chatId);
  else state.draftChats.delete(chatId);
  emit('draft:mark', { chatId, contactId: state.chatContact.get(chatId), present });
}

/** Replace the open client's data; every pane follows the `client` event. */
export const setClient = (d) => emit('client', (state.client = d));

/** Change the open client if it is `id`: fn(data) gives the new data. */
export const patchClient = (id, fn) => state.client?.contact.id === id && setClient(fn(state.client));
