// Parley — Orders and sales (A2): a board per sales plan (stages as columns, orders as cards
// moved by drag and drop or Shift+←/→), totals per stage, filters by manager and date, plans
// and their stages edited here; #/orders/<client id> shows one client's orders and adds one.

import { api } from '../api.js';
import { h, btn, lbl, field, clear, fill, date, errText, num, announce } from '../dom.js';
import { flash, setNote, modal } from '../ui.js';
import { state as shared, loadManagers } from '../store.js';
import { forgetPlans } from './plans.js';
import { t, plural } from '../i18n.js';

const st = { plans: [], plan: '', board: null, client: null, gen: 0 };
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
  st.client = Number(args[0]) || null;
  loadPlans().then(loadBoard);
  if (st.client) showClient(st.client);
  else clear(el.client).hidden = true;
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

async function loadBoard() {
  const gen = ++st.gen;
  if (!st.plan) {
    clear(el.board);
    el.note.textContent = t('Make a sales plan to start: its stages become the board’s columns.');
    return;
  }
  const p = new URLSearchParams({ plan: st.plan });
  if (el.manager.value) p.set('manager_id', el.manager.value);
  const from = dayMs(el.from.value);
  const to = dayMs(el.to.value, true);
  if (from != null) p.set('from', String(from));
  if (to != null) p.set('to', String(to));
  el.note.textContent = t('Loading…');
  try {
    const board = await api('GET', `/api/v1/orders?${p}`);
    if (gen !== st.gen) return;
    st.board = board;
    renderBoard();
  } catch (err) {
    if (gen === st.gen) el.note.textContent = errText(err);
  }
}

const money = (totals) => Object.entries(totals || {}).map(([cur, v]) => `${num(v, { maximumFractionDigits: 2 })}${cur ? ` ${cur}` : ''}`).join(' · ');

function renderBoard() {
  const b = st.board;
  const n = b.items.length;
  el.note.textContent = `${plural(n, { one: '{n} order', other: '{n} orders' })}${b.truncated ? ` ${t('(more than shown: narrow the filters)')}` : ''}`;
  // Cards are grouped once per render; 10k orders are 10k small nodes, built in one pass.
  const byStage = new Map(b.stages.map((s) => [s.id, []]));
  for (const o of b.items) byStage.get(o.stage_id)?.push(o);
  fill(el.board, b.stages.map((s, i) => {
    const list = h('ul', { class: 'board-cards', 'data-stage': s.id, 'aria-label': s.name });
    list.append(...byStage.get(s.id).map((o) => card(o, i)));
    const col = h('section', { class: 'board-col', role: 'listitem', 'data-stage': s.id },
      h('header', { class: 'board-col-head' }, h('h3', { text: s.name }),
        h('span', { class: 'muted', text: `${num(s.count)}${Object.keys(s.totals).length ? ` · ${money(s.totals)}` : ''}` })), list);
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
}

function card(o, stageIndex) {
  const li = h('li', { class: 'board-card', draggable: 'true', tabindex: '0', 'data-id': o.id,
    'aria-label': t('{title}, {client}, {amount}', { title: o.title, client: o.contact_name, amount: money({ [o.currency]: o.amount }) }) },
  h('a', { href: `#/orders/${o.contact_id}`, class: 'board-client', text: o.contact_name || t('Unnamed client'), tabindex: '-1' }),
  h('span', { class: 'board-title', text: o.title }),
  h('span', { class: 'board-amount', text: money({ [o.currency]: o.amount }) }));
  li.addEventListener('dragstart', (e) => { e.dataTransfer.setData('text/plain', String(o.id)); e.dataTransfer.effectAllowed = 'move'; });
  li.addEventListener('keydown', (e) => {
    const stages = st.board.stages;
    if (e.shiftKey && (e.key === 'ArrowRight' || e.key === 'ArrowLeft')) {
      e.preventDefault();
      const to = stages[stageIndex + (e.key === 'ArrowRight' ? 1 : -1)];
      if (to) move(o.id, to.id, true);
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
    await loadBoard();
    if (keyboard) el.board.querySelector(`.board-card[data-id="${id}"]`)?.focus();
    if (st.client === u.contact_id) showClient(st.client);
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
    } catch (err) {
      setNote(note, errText(err));
    }
  });
  (plan ? rows.querySelector('input') : name).focus();
}

// ---------- one client ----------

async function showClient(id) {
  el.client.hidden = false;
  fill(el.client, h('p', { class: 'muted', text: t('Loading…') }));
  let c;
  let orders;
  try {
    [c, orders] = await Promise.all([api('GET', `/api/v1/contacts/${id}`).then((r) => r.contact), api('GET', `/api/v1/contacts/${id}/orders`).then((r) => r.items || [])]);
  } catch (err) {
    if (err.status === 404 && err.body?.merged_into) {
      location.hash = `#/orders/${err.body.merged_into}`;
      return;
    }
    fill(el.client, h('p', { class: 'form-error', text: errText(err) }));
    return;
  }
  if (st.client !== id) return;
  const list = orders.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
    h('thead', null, h('tr', null, [t('Order'), t('Plan'), t('Stage'), t('Amount'), t('Created'), t('Closed')].map((x) => h('th', { scope: 'col', text: x })))),
    h('tbody', null, orders.map((o) => h('tr', null, h('td', { text: o.title }), h('td', { text: o.plan }), h('td', { text: o.stage }),
      h('td', { text: money({ [o.currency]: o.amount }) }), h('td', { text: date(o.created_ms) }), h('td', { text: o.closed_ms ? date(o.closed_ms) : '' }))))))
    : h('p', { class: 'muted', text: t('No orders yet.') });
  fill(el.client, h('h3', { class: 'panel-title', text: t('Orders of {name}', { name: c.name || t('Unnamed client') }) }), list, orderForm(c),
    h('div', { class: 'form-actions' }, h('a', { class: 'btn btn-ghost btn-sm', href: `#/chats/${c.id}`, text: t('Open chat') }),
      h('a', { class: 'btn btn-ghost btn-sm', href: `#/audience/${c.id}`, text: t('Open in Audience') })));
}

function orderForm(c) {
  if (!st.plans.length) return h('p', { class: 'muted', text: t('Make a sales plan first (New plan).') });
  const plan = h('select', { id: 'ord-new-plan' }, st.plans.map((p) => h('option', { value: p.name, text: p.name, selected: p.name === st.plan })));
  const stage = h('select', { id: 'ord-new-stage' });
  const stages = () => fill(stage, (st.plans.find((p) => p.name === plan.value)?.stage_list || []).map((s) => h('option', { value: s.id, text: s.name })));
  plan.addEventListener('change', stages);
  stages();
  const title = h('input', { type: 'text', id: 'ord-new-title', required: true, maxlength: '200' });
  const amount = h('input', { type: 'number', id: 'ord-new-amount', step: '0.01', value: '0' });
  const currency = h('input', { type: 'text', id: 'ord-new-currency', maxlength: '3', size: '4', placeholder: 'EUR' });
  const note = h('p', { class: 'form-note', role: 'alert', hidden: true });
  const form = h('form', { class: 'form-grid' }, h('h4', { class: 'sub-title', text: t('Add an order') }),
    field(t('Title'), title), field(t('Plan'), plan), field(t('Stage'), stage), field(t('Amount'), amount), field(t('Currency'), currency), note,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', text: t('Add order') })));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('POST', '/api/v1/orders', { contact_id: c.id, plan: plan.value, stage: Number(stage.value), title: title.value.trim(),
        amount: Number(amount.value) || 0, currency: currency.value.trim() });
      flash(t('Order added'), 'ok');
      showClient(c.id);
      if (plan.value === st.plan) loadBoard();
    } catch (err) {
      setNote(note, errText(err));
    }
  });
  return form;
}
