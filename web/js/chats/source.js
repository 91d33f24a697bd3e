// Parley — where the chat list's rows come from. Search: 'chats' (GET /api/v1/chats?q=, keeps
// the section), 'contacts' (GET /api/v1/contacts?q=, rows without a last message) or 'auto':
// chats, then contacts for the session if the server refuses `q` (422 "q").

import { api } from '../api.js';

const SEARCH_VIA = 'auto';
let via = SEARCH_VIA === 'auto' ? 'chats' : SEARCH_VIA;

export const searchUsesSections = () => via === 'chats';

/** One page: {items, next, counts, total, via}. */
export async function fetchRows({ section, sort, cursor = null, q = '', filter = null }) {
  if (q && via === 'contacts') return searchContacts(q, cursor);
  const p = new URLSearchParams({ section, sort, limit: '50' });
  if (cursor) p.set('cursor', cursor);
  if (q) p.set('q', q);
  if (filter) p.set('filter', JSON.stringify(filter));
  try {
    const res = await api('GET', `/api/v1/chats?${p}`);
    return { items: res.items || [], next: res.next_cursor, counts: res.counts, total: res.total ?? null, via: 'chats' };
  } catch (err) {
    if (!q || SEARCH_VIA !== 'auto' || err.status !== 422 || !/^q\b/.test(err.message)) throw err;
    via = 'contacts';
    return searchContacts(q, cursor);
  }
}

/** Contacts matching `q` as chat-list rows (phones/e-mails in place of the message). */
async function searchContacts(q, cursor) {
  const p = new URLSearchParams({ q, limit: '50' });
  if (cursor != null) p.set('cursor', cursor);
  const res = await api('GET', `/api/v1/contacts?${p}`);
  const items = (res.items || []).map((c) => ({
    contact_id: c.id, name: c.name, chats: [], last_message: null, last_activity_ms: c.last_activity_ms, unread: c.unread || 0,
    open_task: c.open_tasks > 0, marked: c.marked, archived: c.archived, blacklisted: c.blacklisted,
    summary: [...c.phones.map((x) => `+${x}`), ...c.emails].join(' · '),
  }));
  return { items, next: res.next_cursor == null ? null : String(res.next_cursor), counts: null, total: null, via: 'contacts' };
}
