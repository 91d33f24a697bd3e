// Parley — Orders and sales (A2), minimal: sales plans, the clients on a plan, and one
// client's plan (#/orders/<id>). Orders themselves have no server API yet.

import { api } from '../api.js';
import { h, clear, fill, table, errText } from '../dom.js';
import { flash } from '../ui.js';
import { knownPlans, contactsOnPlan } from './plans.js';
import { t } from '../i18n.js';

const el = {};
let current = null;

export function mount(root) {
  el.client = h('section', { class: 'panel', hidden: true });
  el.plans = h('tbody');
  el.note = h('p', { class: 'muted', role: 'status' });
  el.onPlan = h('section', { class: 'panel', hidden: true });
  el.options = h('datalist', { id: 'ord-plan-options' });
  root.append(h('div', { class: 'page-head' }, h('h2', { class: 'page-title', text: t('Orders and sales') })), el.client,
    h('section', { class: 'panel' }, h('h3', { class: 'panel-title', text: t('Sales plans') }),
      table(['Plan', 'Stages', 'Clients'], el.plans),
      el.note),
    el.onPlan, el.options);
}

export function show(args) {
  current = Number(args[0]) || null;
  loadPlans();
  if (current) showClient(current);
  else clear(el.client).hidden = true;
}

async function loadPlans() {
  el.note.textContent = t('Reading clients…');
  try {
    const plans = await knownPlans(true);
    fill(el.plans, plans.map((p) => h('tr', null,
      h('td', null, h('button', { class: 'link-btn', text: p.name, onclick: () => showPlan(p.name) })),
      h('td', { text: p.stages.join(' → ') }), h('td', { text: p.count }))));
    fill(el.options, plans.map((p) => h('option', { value: p.name })));
    el.note.textContent = plans.length ? (plans.complete ? '' : t('Plan names read from the first {n} clients.', { n: plans.scanned })) : t('No sales plans yet.');
  } catch (err) {
    el.note.textContent = errText(err);
  }
}

async function showPlan(plan) {
  el.onPlan.hidden = false;
  const title = h('h3', { class: 'panel-title', text: t('Clients on “{plan}”', { plan }) });
  fill(el.onPlan, title, h('p', { class: 'muted', text: t('Loading…') }));
  try {
    const list = await contactsOnPlan(plan);
    fill(el.onPlan, title, list.length ? h('ul', { class: 'plain-list' }, list.map((c) => h('li', null,
      h('a', { href: `#/orders/${c.id}`, text: c.name || t('Unnamed client') }), ' · ', h('a', { href: `#/chats/${c.id}`, text: t('chat') }))))
      : h('p', { class: 'muted', text: t('None found.') }));
    el.onPlan.scrollIntoView({ block: 'nearest' });
  } catch (err) {
    fill(el.onPlan, title, h('p', { class: 'form-error', text: errText(err) }));
  }
}

async function showClient(id) {
  el.client.hidden = false;
  fill(el.client, h('p', { class: 'muted', text: t('Loading…') }));
  let c;
  try {
    c = (await api('GET', `/api/v1/contacts/${id}`)).contact;
  } catch (err) {
    fill(el.client, h('p', { class: 'form-error', text: errText(err) }));
    return;
  }
  if (current !== id) return;
  const input = h('input', { type: 'text', id: 'ord-plan', list: 'ord-plan-options', value: c.sales_plan || '', placeholder: t('No plan') });
  const status = h('p', { class: 'muted', role: 'status', text: c.sales_plan ? t('On the plan “{plan}”.', { plan: c.sales_plan }) : t('Not on a sales plan yet.') });
  const form = h('form', { class: 'inline-form' }, h('label', { for: 'ord-plan', text: t('Sales plan') }), input,
    h('button', { type: 'submit', class: 'btn btn-primary btn-sm', text: t('Save') }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const u = await api('PATCH', `/api/v1/contacts/${c.id}`, { sales_plan: input.value.trim() || null });
      status.textContent = u.sales_plan ? t('On the plan “{plan}”.', { plan: u.sales_plan }) : t('Not on a sales plan.');
      flash(t('Sales plan saved'), 'ok');
      loadPlans();
    } catch (err) {
      status.textContent = errText(err);
    }
  });
  fill(el.client, h('h3', { class: 'panel-title', text: c.name || t('Unnamed client') }), status, form,
    h('p', { class: 'muted', text: t('Orders (title, amount, status) will appear here once the server records them.') }),
    h('div', { class: 'form-actions' },
      h('a', { class: 'btn btn-ghost btn-sm', href: `#/chats/${c.id}`, text: t('Open chat') }),
      h('a', { class: 'btn btn-ghost btn-sm', href: `#/audience/${c.id}`, text: t('Open in Audience') })));
}
