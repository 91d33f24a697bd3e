// Parley — the chat list (left pane, L0–L7): sections with live counts, search, sales-plan
// filter, sort, the filter panel, and the virtualised, infinitely paged rows.

import { h, btn, lbl, avatar, shortTime, fullTime, debounce, errText, announce, fill, append } from '../dom.js';
import { icon, messengerIcon } from '../icons.js';
import { state, on, hasDraft, channelLabel } from '../store.js';
import { api } from '../api.js';
import { setNote, iconButton, toggle } from '../ui.js';
import { VList } from './vlist.js';
import { mountFilters, describeFilter } from './filters.js';
import { t, plural, num } from '../i18n.js';

const SECTIONS = [['important', t('Important')], ['all', t('All')], ['unread', t('Unread')], ['dialogs', t('Dialogs')]];
const EMPTY = { important: t('No clients with open tasks.'), unread: t('No unread chats. Well done!'), dialogs: t('No open dialogs.'), all: t('No chats yet.') };

const st = {
  section: 'all', sort: 'newest', q: '', filter: null, filterLabel: '', assigned: '', // '' | me | none | a manager id
  items: [], next: null, loading: false, gen: 0, selected: null,
  restDrafts: new Set(), // contacts whose REST row said draft:true (the chat is not named)
  pendingAnnounce: new Set(),
};
const el = { counts: {} };
let vlist = null;
const ms = { on: false, q: '', items: [], next: null, gen: 0 }; // message search (the Messages toggle)

export function mountList(root) {
  el.sections = h('div', { class: 'sections', role: 'group', 'aria-label': t('Sections') }, SECTIONS.map(([id, label]) => {
    el.counts[id] = h('span', { class: 'count', text: '0' });
    return h('button', { class: 'section-btn', 'data-section': id, 'aria-pressed': String(id === st.section), onclick: () => setSection(id) },
      h('span', { text: label }), el.counts[id]);
  }));

  el.search = h('input', {
    type: 'search', class: 'search-input', id: 'chat-search', autocomplete: 'off', spellcheck: 'false',
  });
  const search = () => (ms.on ? findMessages : setQuery)(el.search.value.trim());
  const run = el.run = debounce(search, 250);
  el.search.addEventListener('input', run);
  el.search.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') { run.cancel(); search(); }
    if (e.key === 'Escape' && (el.search.value || ms.on)) {
      e.preventDefault();
      e.stopPropagation();
      if (ms.on) setMode(false);
      else { el.search.value = ''; run.cancel(); setQuery(''); }
    }
    if (e.key === 'ArrowDown') { e.preventDefault(); ms.on ? el.hitList.querySelector('a')?.focus() : focusRow(0); }
  });
  el.mode = h('button', { class: 'icon-btn mode-chip', 'aria-label': t('Search messages'), title: t('Search the message history'), onclick: () => setMode(!ms.on) },
    icon('chat'), h('span', { text: t('Messages') }));

  el.planBtn = iconButton('flag', t('Sales plan filter'), { onclick: () => togglePlan() });
  el.sortBtn = iconButton('sort', '', { cls: 'sort-btn', onclick: toggleSort });
  el.filterBtn = iconButton('filter', t('Filters'), { onclick: () => toggle(el.filterBtn, el.filtersHost) && el.filtersHost.querySelector('select').focus() });
  // Where tooltips do not show (touch, narrow list) the tools say what they are.
  for (const [b, id, text] of [[el.planBtn, 'plan-row', t('Plan')], [el.filterBtn, 'filters-host', t('Filters')]]) {
    b.setAttribute('aria-expanded', 'false');
    b.setAttribute('aria-controls', id);
    b.append(h('span', { text }));
  }
  updateSortBtn();
  // Whose clients (T1): the server's assigned=, kept across sections.
  el.assigned = h('select', { id: 'list-assigned', class: 'assign-sel', 'aria-label': t('Responsible manager'), title: t('Responsible manager'), onchange: () => setAssigned(el.assigned.value) });
  const whose = () => fill(el.assigned, [['', t('All')], ['me', t('Mine')], ['none', t('Unassigned')]]
    .concat(Array.from(state.managers.values(), (m) => [String(m.id), m.name || m.login]).filter(([id]) => Number(id) !== state.me?.id))
    .map(([v, text]) => h('option', { value: v, text, selected: v === st.assigned })));
  whose();
  on('managers', whose);

  el.plan = h('input', { type: 'text', id: 'plan-input', list: 'plan-options', placeholder: t('Sales plan name'), autocomplete: 'off' });
  el.planOptions = h('datalist', { id: 'plan-options' });
  el.planRow = h('form', { id: 'plan-row', class: 'plan-row', hidden: true, onsubmit: (e) => { e.preventDefault(); applyPlan(el.plan.value.trim()); } },
    lbl('plan-input', t('Sales plan'), true), el.plan, el.planOptions,
    h('button', { type: 'submit', class: 'btn btn-sm btn-primary', text: t('Apply') }),
    btn(t('Clear'), () => { el.plan.value = ''; applyPlan(''); }));

  // Segmentation needs room: the panel lies over the conversation and the list stays in view.
  const shut = () => { toggle(el.filterBtn, el.filtersHost); el.filterBtn.focus(); };
  el.filtersHost = h('div', { id: 'filters-host', class: 'filters-host', hidden: true, onkeydown: (e) => { if (e.key === 'Escape') { e.stopPropagation(); shut(); } } },
    h('div', { class: 'pop-head' }, h('h2', { text: t('Filters') }), iconButton('x', t('Close the filters'), { onclick: shut })));
  mountFilters(el.filtersHost, { apply: applyFilters });
  el.note = h('p', { class: 'list-note', role: 'status', hidden: true });
  el.chip = h('div', { class: 'list-chip', hidden: true });
  el.scroller = h('div', { class: 'vlist', tabindex: '-1' });
  el.empty = h('p', { class: 'empty list-empty', hidden: true });
  root.append(
    h('div', { class: 'list-head' }, el.sections,
      h('div', { class: 'search-row' }, h('div', { class: 'search-box' }, icon('search'), el.search), el.assigned, el.planBtn, el.sortBtn, el.filterBtn, el.mode),
      el.planRow, el.filtersHost, el.chip, el.note),
    el.scroller, el.empty, mountHits());
  el.root = root;
  setMode(false);

  vlist = new VList(el.scroller, { rowHeight: 72, key: (r) => r.contact_id, render: renderRow, onNearEnd: loadMore, label: t('Clients') });
  el.scroller.addEventListener('keydown', onListKey);

  on('ws:counts', setCounts);
  on('ws:chat.updated', onRowEvent);
  on('ws:contact.updated', ({ contact: c }) => {
    if (!c) return;
    patchRow(c.id, { name: c.name, marked: c.marked, archived: c.archived, blacklisted: c.blacklisted });
    // Assigned to or away from the clients shown: the server says who belongs now.
    if (st.assigned && 'assignee' in c && mine(c.assignee) !== !!getRow(c.id)) reloadLater();
  });
  on('ws:message.created', onMessage);
  on('ws:dialog.updated', () => { if (st.section === 'dialogs' && !st.q && !st.filter) reloadSoon(); });
  on('draft:mark', ({ contactId, present }) => {
    if (!present) st.restDrafts.delete(contactId);
    patchRow(contactId, {});
  });
  on('ws:resync', () => reload());
  on('ws:reconnected', async () => { try { setCounts(await api('GET', '/api/v1/chats/counts')); } catch { /* next frame */ } });
  reload();
}


const reloadSoon = debounce(() => reload(true), 400);
// After a change the search index has yet to take in (it follows within a moment).
const reloadLater = debounce(() => reload(true), 1200);

/** One page of the list as it is set up now (search text and filter included). */
function fetchRows(cursor) {
  const p = new URLSearchParams({ section: st.section, sort: st.sort, limit: '50' });
  if (cursor) p.set('cursor', cursor);
  if (st.q) p.set('q', st.q);
  if (st.filter) p.set('filter', JSON.stringify(st.filter));
  if (st.assigned) p.set('assigned', st.assigned);
  return api('GET', `/api/v1/chats?${p}`);
}

// Search answers from a partly rebuilt index after a restore: say a client may be missing.
const building = (b) => ` ${t('Search is still being built ({pct}%): some clients may be missing.').replace('{pct}', Math.floor((100 * b.done) / (b.total || 1)))}`;

export async function reload(keepScroll = false) {
  const gen = ++st.gen;
  st.loading = true;
  setNote(el.note, '');
  try {
    const page = await fetchRows();
    if (gen !== st.gen) return;
    st.items = [];
    st.next = page.next_cursor;
    addRows(page.items);
    setCounts(page.counts);
    if (!keepScroll) el.scroller.scrollTop = 0;
    const n = page.total ?? st.items.length;
    if (st.q) setNote(el.note, plural(n, { one: '{n} client matching “{q}”', other: '{n} clients matching “{q}”' }).replace('{q}', () => st.q), 'info');
    else if (st.filter && page.total != null) setNote(el.note, plural(n, { one: '{n} client matches the filter', other: '{n} clients match the filter' }), 'info');
    else if (st.assigned && page.total != null) setNote(el.note, plural(n, { one: '{n} client: {who}', other: '{n} clients: {who}' }).replace('{who}', () => el.assigned.selectedOptions[0]?.text || ''), 'info');
    if (page.index_building) setNote(el.note, el.note.textContent + building(page.index_building), 'info');
  } catch (err) {
    if (gen !== st.gen) return;
    st.items = [];
    st.next = null;
    setNote(el.note, errText(err));
  }
  st.loading = false;
  vlist.setItems(st.items, { force: true });
  showEmpty();
}

async function loadMore() {
  if (st.loading || !st.next) return;
  const gen = st.gen;
  st.loading = true;
  try {
    const page = await fetchRows(st.next);
    if (gen !== st.gen) return;
    st.next = page.next_cursor;
    addRows(page.items);
    setCounts(page.counts);
    vlist.setItems(st.items);
  } catch (err) {
    if (gen === st.gen) setNote(el.note, errText(err));
  } finally {
    if (gen === st.gen) st.loading = false;
  }
}

function addRows(rows = []) {
  const seen = new Set(st.items.map((r) => r.contact_id));
  for (const r of rows) {
    if (seen.has(r.contact_id)) continue;
    seen.add(r.contact_id);
    learn(r);
    st.items.push(r);
  }
}

function learn(r) {
  for (const c of r.chats || []) state.chatContact.set(c.id, r.contact_id);
  if (r.draft) st.restDrafts.add(r.contact_id);
}

function showEmpty() {
  el.empty.hidden = st.items.length > 0 || !!el.note.textContent;
  el.empty.textContent = st.q ? t('No clients match your search.') : st.filter || st.assigned ? t('No clients match this filter.') : EMPTY[st.section];
}

function setCounts(c) {
  if (!c) return;
  Object.assign(state.counts, c);
  for (const [id, label] of SECTIONS) {
    const n = state.counts[id] ?? 0;
    el.counts[id].textContent = num(n);
    el.counts[id].parentElement.setAttribute('aria-label', `${label}, ${num(n)}`);
  }
}


function setSection(id) {
  st.section = id;
  for (const b of el.sections.children) b.setAttribute('aria-pressed', String(b.dataset.section === id));
  reload();
}

function setAssigned(v) {
  st.assigned = v;
  el.assigned.classList.toggle('is-active', !!v);
  reload();
}

/** Does a client with this responsible manager belong in the narrowed list? */
const mine = (a) => (st.assigned === 'none' ? a == null : a === (st.assigned === 'me' ? state.me?.id : Number(st.assigned)));

function setQuery(q) {
  if (q !== st.q) { st.q = q; reload(); }
}

function toggleSort() {
  st.sort = st.sort === 'newest' ? 'oldest' : 'newest';
  updateSortBtn();
  reload();
}

function updateSortBtn() {
  const newest = st.sort === 'newest';
  el.sortBtn.setAttribute('aria-label', t(newest ? 'Sorted newest first (switch to oldest first)' : 'Sorted oldest first (switch to newest first)'));
  el.sortBtn.title = newest ? t('Newest first') : t('Oldest first');
  fill(el.sortBtn, icon('sort'), h('span', { text: newest ? t('Newest') : t('Oldest') }));
  el.sortBtn.classList.toggle('is-flipped', !newest);
}

async function togglePlan() {
  if (!toggle(el.planBtn, el.planRow) || el.planOptions.childElementCount) return;
  try {
    const { knownPlans } = await import('../views/plans.js');
    fill(el.planOptions, (await knownPlans()).map((p) => h('option', { value: p.name })));
  } catch { /* free text still works */ }
}

function applyPlan(plan) {
  const f = { ...st.filter, sales_plan: plan || undefined };
  const empty = !Object.entries(f).some(([k, v]) => k !== 'match' && (Array.isArray(v) ? v.length : v != null && v !== ''));
  applyFilters(empty ? null : f, st.filterLabel);
}

/** The one entry point for filtering the list (L3, L5): `filter` is the server's filter object
 * (sent as JSON in `filter=`), `label` names it in the chip (e.g. a saved filter's name). */
export function applyFilters(filter, label = '') {
  st.filter = filter;
  st.filterLabel = label;
  el.planBtn.classList.toggle('is-active', !!(filter && filter.sales_plan));
  el.filterBtn.classList.toggle('is-active', !!filter);
  if (filter) fill(el.chip, h('span', { text: describeFilter(filter, label) }), btn(t('Clear filter'), () => { el.plan.value = ''; applyFilters(null); }));
  el.chip.hidden = !filter;
  reload();
}


const KIND = { manager: t('Manager'), bot: t('Bot'), note: t('Note'), system: t('System') };

function mountHits() {
  el.hitNote = h('p', { class: 'hit-note', role: 'status', hidden: true });
  el.hitList = h('ul', { class: 'hit-list', 'aria-label': t('Messages found') });
  el.hitEmpty = h('p', { class: 'empty list-empty' });
  const pane = h('div', { class: 'hits' }, el.hitNote, el.hitList, el.hitEmpty);
  pane.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { e.stopPropagation(); setMode(false); return el.search.focus(); }
    const d = { ArrowDown: 1, ArrowUp: -1 }[e.key];
    const links = Array.from(el.hitList.querySelectorAll('a'));
    const i = links.indexOf(e.target);
    if (d && i >= 0) { e.preventDefault(); (links[i + d] || (d < 0 ? el.search : e.target)).focus(); }
  });
  return pane;
}

const MODES = [[t('Search clients'), t('Search clients by name, phone or e-mail')], [t('Search messages'), t('Search the message history')]];

// Clients ⇄ Messages: what the search box searches.
function setMode(on) {
  ms.on = on;
  el.root.dataset.search = on ? 'messages' : '';
  el.mode.setAttribute('aria-pressed', on);
  el.search.placeholder = MODES[+on][0];
  el.search.title = MODES[+on][1];
  el.search.setAttribute('aria-label', MODES[+on][1]);
  el.run.cancel();
  ms.q = null;
  ms.gen++;
  ms.items = [];
  fill(el.hitList);
  if (!on) el.search.value = st.q;
  else {
    findMessages(el.search.value.trim());
    el.search.focus();
  }
}

async function findMessages(q, more) {
  if (!more && q === ms.q) return;
  const gen = ++ms.gen;
  const from = more ? ms.items.length : 0;
  if (!more) Object.assign(ms, { q, items: [], next: null });
  let note = '';
  let kind = 'info';
  if (q) {
    try {
      const res = await api('GET', `/api/v1/search/messages?${new URLSearchParams({ q, limit: 20, ...(more && { cursor: ms.next }) })}`);
      if (gen !== ms.gen) return;
      ms.items.push(...res.items);
      ms.next = res.next_cursor;
      note = plural(res.total, { one: '{n} message matching “{q}”', other: '{n} messages matching “{q}”' }).replace('{q}', () => q);
      if (res.index_building) note += building(res.index_building);
    } catch (err) {
      if (gen !== ms.gen) return;
      note = errText(err);
      kind = 'error';
    }
  }
  setNote(el.hitNote, note, kind);
  if (!from) fill(el.hitList);
  el.hitList.querySelector('.hit-more')?.remove();
  append(el.hitList, [ms.items.slice(from).map(hitRow), ms.next && h('li', { class: 'hit-more' }, btn(t('More results'), () => {
    const n = ms.items.length;
    findMessages(q, true).then(() => el.hitList.children[n]?.firstChild.focus());
  }))]);
  el.hitEmpty.hidden = ms.items.length > 0 || kind === 'error';
  el.hitEmpty.textContent = q ? t('No messages match your search.') : t('Type to search the message history.');
}

/** The snippet with its [start, end) ranges (in code points) wrapped in <mark>. */
function marked(text, ranges) {
  const ch = Array.from(text);
  const out = [];
  let at = 0;
  for (const [a, b] of ranges.slice().sort((x, y) => x[0] - y[0])) {
    if (b <= at) continue;
    out.push(ch.slice(at, Math.max(a, at)).join(''), h('mark', { text: ch.slice(Math.max(a, at), b).join('') }));
    at = b;
  }
  return out.concat(ch.slice(at).join(''));
}

function hitRow(r) {
  const who = r.contact_name || t('Unnamed client');
  return h('li', null, h('a', { class: 'row hit', href: `#/chats/${r.contact_id}/${r.chat_id}/${r.message_id}` },
    h('span', { class: 'row-avatar' }, avatar(who, r.contact_id)),
    h('span', { class: 'row-main' },
      h('span', { class: 'row-top' }, h('span', { class: 'row-name', text: who }),
        h('time', { class: 'row-time', title: fullTime(r.created_ms), text: shortTime(r.created_ms) })),
      h('span', { class: 'hit-text' }, KIND[r.kind] && `${KIND[r.kind]}: `, marked(r.snippet, r.highlights)))));
}


function previewText(r) {
  const m = r.last_message;
  if (!m) return '';
  let text = m.text || '';
  const a = !text && m.attachments && m.attachments[0];
  if (a) {
    const k = (a.mime || '').split('/')[0];
    text = k === 'image' ? t('Photo') : k === 'audio' ? t('Voice message') : k === 'video' ? t('Video') : t('File: {name}', { name: a.name });
  }
  // Named as the history names the sender.
  if (m.kind === 'manager') return `${m.author_name || t('Manager')}: ${text}`;
  return m.kind === 'bot' ? `${t('Bot')}: ${text}` : m.kind === 'note' ? `${t('Note')}: ${text}` : text;
}

function renderRow(r) {
  const selected = r.contact_id === st.selected;
  const marks = h('span', { class: 'row-marks' });
  const mark = (on, name, label, ic = name) => on && marks.append(h('span', { class: `mark mark-${name}`, title: label }, icon(ic), h('span', { class: 'sr-only', text: label })));
  mark(r.marked, 'flag', t('Marked'));
  mark(r.open_task, 'task', t('Open task'));
  mark(st.restDrafts.has(r.contact_id) || hasDraft((r.chats || []).map((c) => c.id)), 'draft', t('Draft'), 'pencil');
  mark(r.blacklisted, 'ban', t('Blacklisted'));
  const chats = r.chats || [];
  const ch = chats.find((x) => x.channel_id === r.channel_id);
  const chName = ch ? channelLabel(ch, chats) : r.channel_id || '';
  return h('a', {
    class: ['row', selected && 'is-selected', r.unread > 0 && 'is-unread', r.archived && 'is-archived'],
    href: `#/chats/${r.contact_id}`,
    'data-contact': r.contact_id,
    tabindex: selected || (!st.selected && st.items[0] === r) ? '0' : '-1',
    'aria-current': selected ? 'true' : null,
  },
  h('span', { class: 'row-avatar' }, avatar(r.name, r.contact_id),
    r.channel_kind ? messengerIcon(r.channel_kind, chats.length > 1 ? t('{name} and {n} more', { name: chName, n: chats.length - 1 }) : chName) : null),
  h('span', { class: 'row-main' },
    h('span', { class: 'row-top' }, h('span', { class: 'row-name', text: r.name || t('Unnamed client') }), marks,
      h('time', { class: 'row-time', text: shortTime(r.last_activity_ms) })),
    r.matched && h('span', { class: 'row-match' }, marked(r.matched.text, r.matched.marks)),
    h('span', { class: 'row-bottom' }, h('span', { class: 'row-preview', text: previewText(r) }),
      r.unread > 0 ? h('span', { class: 'badge' }, r.unread > 999 ? `${num(999)}+` : num(r.unread), h('span', { class: 'sr-only', text: ` ${t('unread')}` })) : null)));
}

function patchRow(contactId, fields) {
  const i = st.items.findIndex((x) => x.contact_id === contactId);
  if (i < 0) return;
  st.items[i] = { ...st.items[i], ...fields };
  vlist.setItems(st.items);
}

function inSection(row) {
  if (row.archived) return false;
  if (st.section === 'dialogs') return null; // the row does not say: that section reloads
  return st.section === 'unread' ? row.unread > 0 : st.section === 'important' ? row.open_task : true;
}

/** Does row a sort before row b? */
function before(a, b) {
  const d = (a.last_activity_ms || 0) - (b.last_activity_ms || 0) || a.contact_id - b.contact_id;
  return st.sort === 'newest' ? d > 0 : d < 0;
}

/** A `chat.updated` frame: update, move or drop the row (L7). */
function onRowEvent({ contact_id: cid, row }) {
  if (!row) return;
  learn({ ...row, draft: false });
  if (st.pendingAnnounce.delete(cid)) announceRow(row);
  const i = st.items.findIndex((x) => x.contact_id === cid);
  if (st.q || st.filter) return void (i >= 0 && patchRow(cid, row));
  // A client not shown may be a new unassigned one; the rows do not say whose they are.
  if (st.assigned && i < 0) return void (st.assigned === 'none' && inSection(row) !== false && reloadLater());
  const belongs = inSection(row);
  if (belongs === null) return void (i >= 0 ? patchRow(cid, row) : reloadSoon());
  if (i >= 0) st.items.splice(i, 1);
  if (belongs || cid === st.selected) {
    let at = st.items.findIndex((x) => before(row, x));
    if (at < 0) at = st.next ? -1 : st.items.length; // beyond the loaded page: paging brings it
    if (!belongs) at = i; // the open client stays put until another is chosen
    if (at >= 0) st.items.splice(at, 0, row);
  }
  vlist.setItems(st.items);
  showEmpty();
}

function onMessage({ contact_id: cid, message }) {
  if (!message || message.kind !== 'client') return;
  const r = getRow(cid);
  if (r) announceRow({ ...r, last_message: message });
  else st.pendingAnnounce.add(cid);
}

function announceRow(r) {
  announce(`${t('New message from {name}', { name: r.name || t('a client') })}${r.last_message?.text ? `: ${r.last_message.text}` : ''}`);
}


export function select(contactId) {
  const prev = st.selected;
  st.selected = contactId;
  // A row that left its section while open goes once another client is chosen.
  const old = getRow(prev);
  if (old && prev !== contactId && !st.q && !st.filter && inSection(old) === false) st.items = st.items.filter((x) => x !== old);
  st.items = st.items.map((r) => (r.contact_id === prev || r.contact_id === contactId ? { ...r } : r));
  vlist.setItems(st.items);
  const idx = st.items.findIndex((x) => x.contact_id === contactId);
  if (idx >= 0) vlist.reveal(idx);
}

export function getRow(contactId) {
  return st.items.find((x) => x.contact_id === contactId) || null;
}

/** The row `delta` places from the selected one (Ctrl+Shift+↑/↓). */
export function neighbour(delta) {
  const i = st.items.findIndex((x) => x.contact_id === st.selected);
  const j = i < 0 ? (delta > 0 ? 0 : st.items.length - 1) : i + delta;
  if (j >= st.items.length - 3) loadMore();
  return st.items[j] || null;
}

export const updateRow = patchRow;

function focusRow(i) {
  if (!st.items.length) return;
  const idx = Math.max(0, Math.min(st.items.length - 1, i));
  vlist.reveal(idx);
  vlist.element(st.items[idx].contact_id)?.querySelector('a.row')?.focus();
}

function onListKey(e) {
  const a = e.target.closest && e.target.closest('a.row');
  if (!a || e.ctrlKey || e.metaKey || e.altKey || e.shiftKey) return;
  const i = st.items.findIndex((x) => String(x.contact_id) === a.dataset.contact);
  const to = { ArrowDown: i + 1, ArrowUp: i - 1, PageDown: i + 8, PageUp: i - 8, Home: 0, End: st.items.length - 1 }[e.key];
  if (to !== undefined) { e.preventDefault(); focusRow(to); }
}
