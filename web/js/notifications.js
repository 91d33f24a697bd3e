// Parley — mentions: the bell with its count, the panel, and a toast on `notification.created`.

import { api } from './api.js';
import { h, btn, fill, avatar, shortTime, fullTime, announce } from './dom.js';
import { icon } from './icons.js';
import { on } from './store.js';
import { togglePopover, closePopover, iconButton, attempt, notify } from './ui.js';
import { t } from './i18n.js';

const bell = document.getElementById('bell');
const count = document.getElementById('bell-count');
const st = { items: [], unread: 0, loaded: false, panel: null };
let started = false;

export function init() {
  if (started) return;
  started = true;
  bell.prepend(icon('bell'));
  bell.addEventListener('click', () => openPanel(true));
  on('ws:notification.created', (n) => {
    if (!st.items.some((x) => x.id === n.id)) st.items.unshift(n);
    setUnread(st.unread + (n.read ? 0 : 1));
    render();
    toast(n);
  });
  on('ws:notifications.read', (d) => {
    setUnread(d.unread);
    if (!d.unread) st.items.forEach((n) => { n.read = true; });
    render();
  });
  on('ws:resync', load);
  on('ws:reconnected', load);
  load();
}

async function load() {
  try {
    const res = await api('GET', '/api/v1/notifications');
    st.items = res.items || [];
    st.loaded = true;
    setUnread(res.unread ?? st.items.filter((n) => !n.read).length);
    render();
  } catch (err) {
    console.warn('notifications:', err.message);
  }
}

function setUnread(n) {
  st.unread = Math.max(0, n | 0);
  count.textContent = st.unread > 99 ? '99+' : st.unread;
  count.hidden = !st.unread;
  bell.setAttribute('aria-label', st.unread ? t('Notifications, {n} unread', { n: st.unread }) : t('Notifications'));
}

/** Open the panel (the bell toggles it; "Full version" only opens). */
export function openPanel(toggle = false) {
  if (st.panel?.isConnected) {
    if (toggle) closePopover();
    return;
  }
  togglePopover(bell, (panel) => {
    st.panel = panel;
    panel.classList.add('notif-panel');
    render();
  }, { align: 'right', label: t('Notifications') });
}

function post(path, done) {
  return attempt(async () => {
    await api('POST', path);
    done();
    render();
  });
}

function render() {
  if (!st.panel?.isConnected) return;
  fill(st.panel, h('div', { class: 'pop-head' }, h('h2', { text: t('Notifications') }),
    btn(t('Mark all read'), () => post('/api/v1/notifications/read_all', () => { st.items.forEach((n) => { n.read = true; }); setUnread(0); }), 'ghost', { disabled: !st.unread })),
  st.items.length ? h('ul', { class: 'notif-list' }, st.items.slice(0, 100).map(item))
    : h('p', { class: 'empty', text: st.loaded ? t('No notifications yet. Mentions of you in comments appear here.') : t('Loading…') }),
  // Asked for politely: from here or Settings, never by itself.
  window.Notification?.permission === 'default' && h('a', { class: 'notif-ask', href: '#/settings/attention', onclick: closePopover, text: t('Turn on desktop notifications') }));
}

function item(n) {
  const from = n.from?.name || t('A manager');
  return h('li', { class: ['notif', n.read ? 'is-read' : 'is-unread'] }, avatar(from, n.from?.id, '', n.from?.avatar_url),
    h('div', { class: 'notif-main' },
      h('div', { class: 'notif-title' }, h('strong', { text: from }), ` ${t('mentioned you')}`, h('time', { title: fullTime(n.created_ms), text: shortTime(n.created_ms) })),
      h('div', { class: 'muted', text: t('about {name}', { name: n.contact?.name || t('a client') }) }),
      h('p', { class: 'notif-text', text: n.text }),
      h('div', { class: 'notif-actions' }, n.read ? null : btn(t('Mark read'), () => markRead(n)), btn(t('Go to chat'), () => { closePopover(); goToChat(n); }, 'primary'))));
}

function markRead(n) {
  if (!n.read) post(`/api/v1/notifications/${n.id}/read`, () => { n.read = true; setUnread(st.unread - 1); });
}

function goToChat(n) {
  location.hash = `#/chats/${n.contact_id}/${n.chat_id}`;
  markRead(n);
}

function toast(n) {
  const from = n.from?.name || t('A manager');
  announce(`${t('{name} mentioned you', { name: from })}: ${n.text}`);
  const el = h('div', { class: 'toast', role: 'status' },
    h('div', { class: 'toast-head' }, icon('at'), h('strong', { text: t('{name} mentioned you', { name: from }) }), iconButton('x', t('Dismiss'), { cls: 'icon-btn-sm', onclick: () => close() })),
    h('p', { class: 'toast-text', text: n.text }),
    h('div', { class: 'toast-actions' }, btn(t('Full version'), () => { close(); openPanel(); }), btn(t('Chat link'), () => { close(); goToChat(n); }, 'primary')));
  // A mention stays longer than a status message, but it too goes by itself.
  const close = notify(el, 20000);
}
