// Parley — Orders and sales (A2): a board per sales plan (stages as columns, orders as cards
// moved by drag and drop or Shift+←/→), totals per stage, filters by manager and date, plans
// and their stages edited here; #/orders/<client id> shows one client's orders, adds and edits
// them (with their custom fields). Live: order.updated / order.deleted from the WebSocket move,
// add and remove cards and rows while the page is shown (hide() unsubscribes).

import { api } from '../api.js';
import { h, btn, lbl, clear, fill, date, errText, num, announce, field } from '../dom.js';
import { flash, setNote, modal, confirmDialog } from '../ui.js';
import { state as shared, loadManagers, on } from '../store.js';
import { forgetPlans } from './plans.js';
import { t, plural } from '../i18n.js';
import { orderControls, fieldsView, samePlan } from './order-form.js';

// board/query: the shown board and the filters it was fetched with; *Queue: live events that
// came while a fetch was on its way (applied to its answer); drag: the card being dragged
// (the board is not re-rendered under it; dirty renders it at the drop); edit: the open edit
// dialog's watcher.
const st = { plans: [], plansReady: null, plan: '', board: null, query: null, boardQueue: null, gen: 0, cgen: 0, client: null,
  contact: null, orders: null, clientQueue: null, drag: null, dirty: false, edit: null, offs: null, soon: 0, shownPlan: null };
const el = {};

export function mount(root) {
  document.head.append(h('link', { rel: 'stylesheet', href: '/css/orders.css' }));
  el.plan = h('select', { id: 'ord-plan-pick', onchange: () => { st.plan = el.plan.value; loadBoard(); } });
  el.manager = h('select', { id: 'ord-manager', onchange: () => loadBoard() }, h('option', { value: '', text: t('Any manager') }));
  el.from = h('input', { type: 'date', id: 'ord-from', onchange: () => loadBoard() });
  el.to = h('input', { type: 'date', id: 'ord-to', onchange: () => loadBoard() });
  el.client = h('section', { class: 'panel', hidden: true });
  el.note = h('p', { class: 'muted', role: 'status' });
  el.board = h('div', { class: 'board', role: 'list', 'aria-label': t('Stages') });
  root.append(
    h('div', { class: 'page-head' }, h('h2', { class: 'page-title', text: t('Orders and sales') }),
      h('div', { class: 'page-tools' }, lbl('ord-plan-pick', t('Sales plan')), el.plan,
        btn(t('Edit stages'), () => editPlan(currentPlan())), btn(t('New plan'), () => editPlan(null)))),
    el.client,
    h('div', { class: 'board-filters' }, lbl('ord-manager', t('Manager')), el.manager, lbl('ord-from', t('Created from')), el.from,
      lbl('ord-to', t('to')), el.to),
    h('p', { class: 'muted hint', text: t('Drag a card to another stage, or focus it and press Shift+← / Shift+→.') }),
    el.note, el.board);
  loadManagers().then(() => {
    el.manager.append(...Array.from(shared.managers.values()).map((m) => h('option', { value: m.id, text: m.name || m.login })));
  }, () => {});
}

export function show(args) {
  listen();
  st.client = Number(args[0]) || null;
  st.plansReady = loadPlans();
  st.plansReady.then(loadBoard);
  if (st.client) showClient(st.client);
  else {
    st.cgen++;
    st.contact = st.orders = st.clientQueue = null;
    clear(el.client).hidden = true;
  }
}

/** Another page is shown: stop following live events (show() reads everything again). */
export function hide() {
  for (const off of st.offs || []) off();
  st.offs = null;
  clearTimeout(st.soon);
}

function listen() {
  if (st.offs) return;
  st.offs = [
    on('ws:order.updated', ({ order }) => order && live(order, false)),
    on('ws:order.deleted', (d) => d?.id != null && live(d, true)),
    on('ws:contact.updated', ({ contact }) => contact && renamed(contact)),
    on('ws:resync', () => { loadBoard(); refreshOrders(); }),
  ];
}

/** An order changed (`gone`: deleted; then `o` is {id, contact_id, plan}), live or by this page. */
function live(o, gone) {
  if (st.boardQueue) st.boardQueue.push([o, gone]);
  else boardEvent(o, gone);
  if (st.clientQueue) st.clientQueue.push([o, gone]);
  else clientEvent(o, gone);
  st.edit?.(o, gone);
}

function renamed(c) {
  for (const o of st.board?.items || []) {
    if (o.contact_id === c.id && o.contact_name !== c.name) {
      o.contact_name = c.name;
      if (st.drag == null) placeCard(o);
      else st.dirty = true;
    }
  }
  if (st.contact?.id === c.id && el.clientTitle) el.clientTitle.textContent = t('Orders of {name}', { name: c.name || t('Unnamed client') });
}

const currentPlan = () => st.plans.find((p) => p.name === st.plan) || null;

async function loadPlans() {
  try {
    st.plans = (await api('GET', '/api/v1/sales_plans')).items || [];
  } catch (err) {
    el.note.textContent = errText(err);
    return;
  }
  if (!st.plans.some((p) => p.name === st.plan)) st.plan = st.plans[0]?.name || '';
  fill(el.plan, st.plans.length ? st.plans.map((p) => h('option', { value: p.name, text: p.name, selected: p.name === st.plan }))
    : h('option', { value: '', text: t('No plans yet') }));
}

function dayMs(v, end = false) {
  if (!v) return null;
  const d = new Date(`${v}T00:00:00`);
  return d.getTime() + (end ? 86400000 : 0);
}

// ---------- the board ----------

async function loadBoard() {
  const gen = ++st.gen;
  clearTimeout(st.soon);
  if (!st.plan) {
    st.board = st.boardQueue = null;
    clear(el.board);
    el.note.textContent = t('Make a sales plan to start: its stages become the board’s columns.');
    return;
  }
  const q = { manager: Number(el.manager.value) || null, from: dayMs(el.from.value), to: dayMs(el.to.value, true) };
  const p = new URLSearchParams({ plan: st.plan });
  if (q.manager) p.set('manager_id', String(q.manager));
  if (q.from != null) p.set('from', String(q.from));
  if (q.to != null) p.set('to', String(q.to));
  st.boardQueue = [];
  if (!st.board) el.note.textContent = t('Loading…');
  try {
    const board = await api('GET', `/api/v1/orders?${p}`);
    if (gen !== st.gen) return;
    const queued = st.boardQueue;
    Object.assign(st, { board, query: q, boardQueue: null });
    renderBoard();
    for (const [o, gone] of queued) boardEvent(o, gone);
  } catch (err) {
    if (gen !== st.gen) return;
    st.boardQueue = null;
    el.note.textContent = errText(err);
  }
}

/** Read the board again soon (several events in a row make one request). */
function refetchSoon() {
  clearTimeout(st.soon);
  st.soon = setTimeout(loadBoard, 250);
}

const money = (totals) => Object.entries(totals || {}).map(([cur, v]) => `${num(v, { maximumFractionDigits: 2 })}${cur ? ` ${cur}` : ''}`).join(' · ');
const headText = (s) => `${num(s.count)}${Object.keys(s.totals).length ? ` · ${money(s.totals)}` : ''}`;
const cardOf = (id) => el.board.querySelector(`.board-card[data-id="${id}"]`);

function countNote() {
  const b = st.board;
  el.note.textContent = `${plural(b.items.length, { one: '{n} order', other: '{n} orders' })}${b.truncated ? ` ${t('(more than shown: narrow the filters)')}` : ''}`;
}

function renderBoard() {
  if (st.drag != null) {
    st.dirty = true;
    return;
  }
  const b = st.board;
  // A re-render keeps the focused card focused (or, if it is gone, the card now in its place)
  // and each column where it was scrolled to.
  const had = el.board.contains(document.activeElement) ? document.activeElement.closest('.board-card') : null;
  const focused = had?.dataset.id;
  const place = had ? { stage: had.parentElement?.dataset.stage, index: Array.prototype.indexOf.call(had.parentElement?.children || [], had) } : null;
  const same = st.shownPlan === b.plan?.name;
  const scroll = new Map(same ? Array.from(el.board.querySelectorAll('.board-cards'), (l) => [l.dataset.stage, l.scrollTop]) : []);
  st.shownPlan = b.plan?.name;
  countNote();
  // Cards are grouped once per render; 10k orders are 10k small nodes, built in one pass.
  const byStage = new Map(b.stages.map((s) => [s.id, []]));
  for (const o of b.items) byStage.get(o.stage_id)?.push(o);
  fill(el.board, b.stages.map((s) => {
    const list = h('ul', { class: 'board-cards', 'data-stage': s.id, 'aria-label': s.name });
    list.append(...byStage.get(s.id).map(card));
    const col = h('section', { class: 'board-col', role: 'listitem', 'data-stage': s.id },
      h('header', { class: 'board-col-head' }, h('h3', { text: s.name }), h('span', { class: 'muted board-col-total', text: headText(s) })), list);
    col.addEventListener('dragover', (e) => { e.preventDefault(); col.classList.add('is-over'); });
    col.addEventListener('dragleave', () => col.classList.remove('is-over'));
    col.addEventListener('drop', (e) => {
      e.preventDefault();
      col.classList.remove('is-over');
      const id = Number(e.dataTransfer.getData('text/plain'));
      if (id) move(id, s.id);
    });
    return col;
  }));
  for (const l of el.board.querySelectorAll('.board-cards')) l.scrollTop = scroll.get(l.dataset.stage) || 0;
  if (focused) {
    const list = el.board.querySelector(`.board-cards[data-stage="${place.stage}"]`);
    const n = list?.children.length || 0;
    (cardOf(focused) || (n ? list.children[Math.min(place.index, n - 1)] : null))?.focus({ preventScroll: true });
  }
}

/** Counts and totals per stage from the cards (sums in cents, as the server adds them). */
function tally(b) {
  const per = new Map(b.stages.map((s) => [s.id, { count: 0, cents: {} }]));
  for (const o of b.items) {
    const x = per.get(o.stage_id);
    if (!x) continue;
    x.count++;
    x.cents[o.currency] = (x.cents[o.currency] || 0) + Math.round(o.amount * 100);
  }
  for (const s of b.stages) {
    const x = per.get(s.id);
    s.count = x.count;
    s.totals = Object.fromEntries(Object.keys(x.cents).sort().map((c) => [c, x.cents[c] / 100]));
  }
}

/** Whether the board's filters (as fetched) show `o`. */
function fits(o) {
  const q = st.query;
  return samePlan(o.plan, st.board.plan?.name ?? st.plan) && (!q.manager || o.manager_id === q.manager)
    && (q.from == null || o.created_ms >= q.from) && (q.to == null || o.created_ms < q.to);
}

/** A live change on the board: the card appears, moves, changes or leaves; totals follow. */
function boardEvent(o, gone) {
  const b = st.board;
  if (!b) return;
  const i = b.items.findIndex((x) => x.id === o.id);
  if (i < 0 && !samePlan(o.plan, b.plan?.name ?? st.plan)) return;
  // A cut-off board's totals are over the orders it shows: only the server knows the new cut.
  if (b.truncated) return refetchSoon();
  if (!gone && i >= 0 && o.updated_ms < b.items[i].updated_ms) return; // an older state than shown
  const keep = !gone && fits(o);
  if (keep && !b.stages.some((s) => s.id === o.stage_id)) return refetchSoon(); // a stage added since
  if (i < 0 && !keep) return;
  if (i >= 0) b.items.splice(i, 1);
  if (keep) {
    const j = b.items.findIndex((x) => x.id > o.id);
    b.items.splice(j < 0 ? b.items.length : j, 0, o);
  }
  tally(b);
  if (st.drag != null) {
    st.dirty = true;
    return;
  }
  if (keep) placeCard(o);
  else removeCard(o.id);
  for (const s of b.stages) {
    const x = el.board.querySelector(`.board-col[data-stage="${s.id}"] .board-col-total`);
    if (x) x.textContent = headText(s);
  }
  countNote();
}

/** Take a card off the board; a focused one hands the focus to its neighbour in the column,
 * so the keyboard stays on the board. */
function removeCard(id) {
  const c = cardOf(id);
  if (!c) return;
  const had = c.contains(document.activeElement);
  const next = c.nextElementSibling || c.previousElementSibling;
  c.remove();
  if (had) next?.focus({ preventScroll: true });
}

/** Put `o`'s card (new or changed) into its column in id order; a focused card stays focused. */
function placeCard(o) {
  const list = el.board.querySelector(`.board-cards[data-stage="${o.stage_id}"]`);
  if (!list) return;
  const old = cardOf(o.id);
  const had = !!old && old.contains(document.activeElement);
  const li = card(o);
  old?.remove();
  list.insertBefore(li, Array.from(list.children).find((x) => Number(x.dataset.id) > o.id) || null);
  if (had) li.focus({ preventScroll: true });
}

function card(o) {
  const fields = Object.entries(o.custom_fields || {});
  const li = h('li', { class: 'board-card', draggable: 'true', tabindex: '0', 'data-id': o.id,
    'aria-label': t('{title}, {client}, {amount}', { title: o.title, client: o.contact_name, amount: money({ [o.currency]: o.amount }) }) },
  h('a', { href: `#/orders/${o.contact_id}`, class: 'board-client', text: o.contact_name || t('Unnamed client'), tabindex: '-1' }),
  h('span', { class: 'board-title', text: o.title }),
  h('span', { class: 'board-amount', text: money({ [o.currency]: o.amount }) }),
  fieldsView(Object.fromEntries(fields.slice(0, 3)), 'board-fields'),
  fields.length > 3 ? h('span', { class: 'board-more', text: plural(fields.length - 3, { one: '+{n} more field', other: '+{n} more fields' }) }) : null);
  li.addEventListener('dragstart', (e) => {
    e.dataTransfer.setData('text/plain', String(o.id));
    e.dataTransfer.effectAllowed = 'move';
    st.drag = o.id;
  });
  li.addEventListener('dragend', () => {
    st.drag = null;
    if (st.dirty) {
      st.dirty = false;
      renderBoard();
    }
  });
  li.addEventListener('keydown', (e) => {
    const stages = st.board.stages;
    const at = stages.findIndex((s) => s.id === (st.board.items.find((x) => x.id === o.id) || o).stage_id);
    if (e.shiftKey && (e.key === 'ArrowRight' || e.key === 'ArrowLeft')) {
      e.preventDefault();
      const to = stages[at + (e.key === 'ArrowRight' ? 1 : -1)];
      if (to && at >= 0) move(o.id, to.id, true);
    } else if (!e.shiftKey && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
      e.preventDefault();
      (e.key === 'ArrowDown' ? li.nextElementSibling : li.previousElementSibling)?.focus();
    } else if (e.key === 'Enter') {
      location.hash = `#/orders/${o.contact_id}`;
    }
  });
  return li;
}

async function move(id, stageId, keyboard = false) {
  const o = st.board.items.find((x) => x.id === id);
  if (!o || o.stage_id === stageId) return;
  try {
    const u = await api('PATCH', `/api/v1/orders/${id}`, { stage: stageId });
    announce(t('“{title}” moved to {stage}', { title: u.title, stage: u.stage }));
    live(u, false); // as the event will (it may have come already)
    if (keyboard) cardOf(id)?.focus();
  } catch (err) {
    flash(errText(err), 'error');
  }
}

// ---------- plans ----------

function editPlan(plan) {
  const name = h('input', { type: 'text', id: 'plan-name', value: plan?.name || '', required: true, readOnly: !!plan });
  const rows = h('ol', { class: 'plan-stages' });
  const addRow = (s = { name: '' }) => {
    const input = h('input', { type: 'text', value: s.name, 'aria-label': t('Stage name'), 'data-id': s.id ?? '' });
    const li = h('li', null, input,
      btn('↑', () => li.previousElementSibling?.before(li), 'ghost', { 'aria-label': t('Move up') }),
      btn('↓', () => li.nextElementSibling?.after(li), 'ghost', { 'aria-label': t('Move down') }),
      btn(t('Remove'), () => li.remove(), 'ghost'));
    rows.append(li);
    return input;
  };
  for (const s of plan?.stage_list || [{ name: t('Lead') }, { name: t('Won') }]) addRow(s);
  const note = h('p', { class: 'form-note', role: 'alert' });
  const save = h('button', { class: 'btn btn-primary', text: t('Save') });
  const m = modal({ title: plan ? t('Stages of {name}', { name: plan.name }) : t('New sales plan'), body: [field(t('Plan name'), name),
    h('h3', { class: 'sub-title', text: t('Stages, in order') }), rows, btn(t('Add a stage'), () => addRow().focus()), note],
  actions: [h('button', { class: 'btn btn-ghost', text: t('Cancel'), onclick: () => m.close() }), save] });
  save.addEventListener('click', async () => {
    const stages = Array.from(rows.querySelectorAll('input')).map((i) => (i.dataset.id ? { id: Number(i.dataset.id), name: i.value } : i.value)).filter((s) => (s.name ?? s).trim());
    try {
      const p = await api('POST', '/api/v1/sales_plans', { name: name.value.trim(), stages });
      m.close();
      forgetPlans();
      st.plan = p.name;
      flash(t('Sales plan saved'), 'ok');
      await loadPlans();
      loadBoard();
      if (st.contact && el.form?.tagName === 'P') {
        const form = orderForm(st.contact);
        el.form.replaceWith(form);
        el.form = form;
      }
    } catch (err) {
      setNote(note, errText(err));
    }
  });
  (plan ? rows.querySelector('input') : name).focus();
}

// ---------- one client ----------

async function showClient(id) {
  const gen = ++st.cgen;
  el.client.hidden = false;
  fill(el.client, h('p', { class: 'muted', text: t('Loading…') }));
  st.contact = st.orders = null;
  st.clientQueue = [];
  let c;
  let orders;
  try {
    [c, orders] = await Promise.all([api('GET', `/api/v1/contacts/${id}`).then((r) => r.contact), api('GET', `/api/v1/contacts/${id}/orders`).then((r) => r.items || []),
      st.plansReady]);
  } catch (err) {
    if (gen !== st.cgen) return;
    st.clientQueue = null;
    if (err.status === 404 && err.body?.merged_into) {
      location.hash = `#/orders/${err.body.merged_into}`;
      return;
    }
    fill(el.client, h('p', { class: 'form-error', text: errText(err) }));
    return;
  }
  if (gen !== st.cgen) return;
  const queued = st.clientQueue;
  Object.assign(st, { contact: c, orders, clientQueue: null });
  el.clientTitle = h('h3', { class: 'panel-title', text: t('Orders of {name}', { name: c.name || t('Unnamed client') }) });
  el.orders = h('div', { class: 'ord-client-orders' });
  el.form = orderForm(c);
  fill(el.client, el.clientTitle, el.orders, el.form,
    h('div', { class: 'form-actions' }, h('a', { class: 'btn btn-ghost btn-sm', href: `#/chats/${c.id}`, text: t('Open chat') }),
      h('a', { class: 'btn btn-ghost btn-sm', href: `#/audience/${c.id}`, text: t('Open in Audience') })));
  renderOrders();
  for (const [o, gone] of queued) clientEvent(o, gone);
}

/** The client's orders read again (after a gap in the live events); the form is left alone. */
async function refreshOrders() {
  const gen = st.cgen;
  const id = st.contact?.id;
  if (id == null) return;
  st.clientQueue = [];
  try {
    const orders = (await api('GET', `/api/v1/contacts/${id}/orders`)).items || [];
    if (gen !== st.cgen) return;
    const queued = st.clientQueue;
    Object.assign(st, { orders, clientQueue: null });
    renderOrders();
    for (const [o, gone] of queued) clientEvent(o, gone);
  } catch (err) {
    if (gen === st.cgen) st.clientQueue = null;
    console.warn('orders:', err.message);
  }
}

/** A live change in the client's list (an order merged to another client leaves it). */
function clientEvent(o, gone) {
  const list = st.orders;
  if (!list) return;
  const i = list.findIndex((x) => x.id === o.id);
  const keep = !gone && o.contact_id === st.contact.id;
  if ((i < 0 && !keep) || (!gone && i >= 0 && o.updated_ms < list[i].updated_ms)) return;
  if (i >= 0) list.splice(i, 1);
  if (keep) {
    const j = list.findIndex((x) => x.id > o.id);
    list.splice(j < 0 ? list.length : j, 0, o);
  }
  renderOrders();
}

/** The client's orders table (oldest first); a focused Edit button keeps its focus. */
function renderOrders() {
  const a = document.activeElement;
  const focused = el.orders.contains(a) ? a.closest('tr')?.dataset.id : null;
  const heads = [t('Order'), t('Plan'), t('Stage'), t('Amount'), t('Custom fields'), t('Created'), t('Closed'), t('Actions')];
  fill(el.orders, st.orders.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table ord-table' },
    h('thead', null, h('tr', null, heads.map((x) => h('th', { scope: 'col', text: x })))),
    h('tbody', null, st.orders.map((o) => h('tr', { 'data-id': o.id }, h('td', { text: o.title }), h('td', { text: o.plan }), h('td', { text: o.stage }),
      h('td', { text: money({ [o.currency]: o.amount }) }), h('td', null, fieldsView(o.custom_fields)), h('td', { text: date(o.created_ms) }),
      h('td', { text: o.closed_ms ? date(o.closed_ms) : '' }),
      h('td', null, btn(t('Edit'), () => editOrder(o.id), 'ghost', { class: 'btn btn-sm btn-ghost ord-edit', 'aria-label': t('Edit the order “{title}”', { title: o.title }) })))))))
    : h('p', { class: 'muted', text: t('No orders yet.') }));
  if (!focused) return;
  // A removed row (deleted elsewhere) hands its focus to the row that took its place, so the
  // keyboard stays in the list instead of falling back to the page.
  const edits = [...el.orders.querySelectorAll('tr[data-id] .ord-edit')];
  const next = el.orders.querySelector(`tr[data-id="${focused}"] .ord-edit`)
    || edits.find((b) => Number(b.closest('tr').dataset.id) > Number(focused)) || edits.at(-1);
  next?.focus({ preventScroll: true });
}

function orderForm(c) {
  if (!st.plans.length) return h('p', { class: 'muted', text: t('Make a sales plan first (New plan).') });
  const f = orderControls(st.plans, null, 'ord-new', st.plan);
  const note = h('p', { class: 'form-note', role: 'alert', hidden: true });
  const form = h('form', { class: 'form-grid ord-form' }, h('h4', { class: 'sub-title', text: t('Add an order') }), f.el, note,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', text: t('Add order') })));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const o = await api('POST', '/api/v1/orders', { contact_id: c.id, ...f.body() });
      flash(t('Order added'), 'ok');
      setNote(note, '');
      f.reset();
      live(o, false);
    } catch (err) {
      setNote(note, errText(err));
    }
  });
  return form;
}

/** The edit dialog of one of the client's orders. A live change to it is noted (saving then
 * replaces it); a deletion disables Save. */
function editOrder(id) {
  const o = st.orders?.find((x) => x.id === id);
  if (!o) return;
  const f = orderControls(st.plans, o, 'ord-edit');
  const note = h('p', { class: 'form-note', role: 'alert', hidden: true });
  const form = h('form', { id: 'ord-edit-form', class: 'stack' }, f.el, note);
  const save = h('button', { type: 'submit', form: 'ord-edit-form', class: 'btn btn-primary', text: t('Save') });
  const del = h('button', { class: 'btn btn-danger-ghost', text: t('Delete order') });
  let busy = false;
  let gone = false;
  const watch = (x, deleted) => {
    if (x.id !== id || busy) return;
    if (deleted) {
      gone = save.disabled = true;
      setNote(note, t('This order has just been deleted.'));
    } else if (x.updated_ms > o.updated_ms) {
      setNote(note, t('Someone has just changed this order: saving replaces their changes.'), 'info');
    }
  };
  const m = modal({ title: t('Order “{title}”', { title: o.title }), body: [form],
    actions: [del, h('button', { class: 'btn btn-ghost', text: t('Cancel'), onclick: () => m.close() }), save],
    onClose: () => {
      if (st.edit === watch) st.edit = null;
      // The row may have been re-rendered (or removed) meanwhile: focus goes back to the list.
      (el.orders.querySelector(`tr[data-id="${id}"] .ord-edit`) || el.orders.querySelector('.ord-edit'))?.focus();
    } });
  st.edit = watch;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (busy || gone) return;
    busy = save.disabled = true;
    try {
      const u = await api('PATCH', `/api/v1/orders/${id}`, f.body());
      st.edit = null; // its own event is no news
      m.close();
      flash(t('Order saved'), 'ok');
      live(u, false);
    } catch (err) {
      setNote(note, errText(err));
    } finally {
      busy = false;
      save.disabled = gone;
    }
  });
  del.addEventListener('click', async () => {
    if (!await confirmDialog(t('Delete the order “{title}”?', { title: o.title }), { ok: t('Delete'), danger: true })) return;
    try {
      await api('DELETE', `/api/v1/orders/${id}`);
      m.close();
      flash(t('Order deleted'), 'ok');
      live({ id, contact_id: o.contact_id, plan: o.plan }, true);
    } catch (err) {
      setNote(note, errText(err));
    }
  });
  f.title.focus();
}
