// Parley — the Orders section of the client card (A2), loaded by chats/card.js when the first
// client opens (it is not part of the Chats screen's first load): each order with its plan,
// stage, amount and custom fields, kept live by order.updated / order.deleted.

import { h, num } from '../dom.js';
import { on } from '../store.js';
import { t } from '../i18n.js';
import { fieldsView } from './order-form.js';

const amount = (o) => `${num(o.amount, { maximumFractionDigits: 2 })}${o.currency ? ` ${o.currency}` : ''}`;

/**
 * Follow the orders of the card's client: `cs` is the card's state ({id, orders}), `render`
 * rebuilds the card (keeping focus and typed text). Gives `cs.ordersSec(contact)`, the section.
 * The card lives as long as the page, so do these two subscriptions (made once).
 */
export function follow(cs, render) {
  const changed = (d) => {
    const o = d.order || d; // order.deleted has {id, contact_id, plan}
    if (o.contact_id !== cs.id && !cs.orders.some((x) => x.id === o.id)) return;
    cs.orders = cs.orders.filter((x) => x.id !== o.id);
    // A merge moves an order to the client who stays: it leaves the others' cards.
    if (d.order?.contact_id === cs.id) cs.orders = cs.orders.concat([o]).sort((a, b) => a.id - b.id);
    render();
  };
  on('ws:order.updated', changed);
  on('ws:order.deleted', changed);
  cs.ordersSec = (c) => h('section', { class: 'card-sec card-orders' }, h('h3', { text: t('Orders') }),
    cs.orders.length ? h('ul', { class: 'card-chats' }, cs.orders.map((o) => h('li', { 'data-id': o.id },
      h('div', { class: 'grow' }, h('strong', { text: o.title }), h('span', { class: 'muted', text: ` · ${o.plan}: ${o.stage} · ${amount(o)}` }),
        fieldsView(o.custom_fields, 'kv')))))
      : h('p', { class: 'muted', text: t('No orders yet.') }),
    h('a', { class: 'btn btn-sm btn-ghost', href: `#/orders/${c.id}`, text: t('Add an order') }));
  render();
}
