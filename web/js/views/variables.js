// Parley — Variables (A3): lists the chat templates ([[templates]] in the config file).

import { h, clear, table, errText } from '../dom.js';
import { loadTemplates } from '../store.js';
import { t } from '../i18n.js';

const el = {};

export function mount(root) {
  el.body = h('tbody');
  el.note = h('p', { class: 'muted', role: 'status' });
  root.append(
    h('div', { class: 'page-head' }, h('h2', { class: 'page-title', text: t('Variables') })),
    h('section', { class: 'panel' },
      h('p', { class: 'muted' }, t('Chat templates are set by the admin in the config file as [[templates]] with a name and a text. Placeholders: {list}.')
        .split(/(\[\[templates\]\]|\{list\})/).map((s) => (s === '[[templates]]' ? h('code', { text: s })
          : s === '{list}' ? ['{client.name}', '{client.phone}', '{client.email}', '{manager.name}'].flatMap((c, i) => [i ? ', ' : null, h('code', { text: c })]) : s))),
      table(['Name', 'Text'], el.body),
      el.note));
}

export async function show() {
  el.note.textContent = t('Loading…');
  try {
    const list = await loadTemplates(true);
    clear(el.body);
    for (const t of list) el.body.append(h('tr', null, h('td', { text: t.name }), h('td', { class: 'pre', text: t.text })));
    el.note.textContent = list.length ? '' : t('No chat templates yet.');
  } catch (err) {
    el.note.textContent = errText(err);
  }
}
