// Parley — one entry of a chat's history (H5): client left; manager and bot right; system
// centred; notes highlighted. Attachments, delivery status, and for a failure reason and Retry.

import { h, avatar, clock, fullTime, fileSize } from '../dom.js';
import { icon } from '../icons.js';
import { state, managerName } from '../store.js';
import { t } from '../i18n.js';

const STATUS = { queued: [t('Queued'), 'clock'], sent: [t('Sent'), 'check'], delivered: [t('Delivered'), 'checks'], read: [t('Read'), 'checks'], failed: [t('Failed'), 'alert'] };

/** Text with http(s) links as real <a> nodes (the text stays text). */
function richText(text) {
  return text.split(/(\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]])/).map((part, i) =>
    (i % 2 ? h('a', { href: part, target: '_blank', rel: 'noopener noreferrer nofollow', text: part }) : part));
}

function attachment(a) {
  const type = (a.mime || '').split('/')[0];
  const name = a.name || 'file';
  if (type === 'image') return h('a', { class: 'att att-image', href: a.url, target: '_blank', rel: 'noopener', title: name }, h('img', { src: a.url, alt: name, loading: 'lazy' }));
  if (type === 'video' || type === 'audio') return h('div', { class: `att att-${type}` }, h(type, { src: a.url, controls: true, preload: 'metadata', 'aria-label': name }));
  return h('a', { class: 'att att-file', href: a.url, download: name }, icon('file'), h('span', { class: 'att-name', text: name }), h('span', { class: 'att-size', text: fileSize(a.size) }));
}

/** "in 25 s", "in 4 min", "now": how long until the next delivery attempt. */
function until(ms) {
  const s = Math.round((ms - Date.now()) / 1000);
  if (s <= 0) return t('now');
  if (s < 90) return t('in {n} s', { n: s });
  if (s < 5400) return t('in {n} min', { n: Math.round(s / 60) });
  return t('in {n} h', { n: Math.round(s / 3600) });
}

/** A reply between failed attempts: why it has not gone out, when it is tried next, and the
 *  two things a manager can do about it. */
function retrying(m, ctx) {
  const d = m.delivery;
  const when = h('span', { class: 'retry-when', text: t('next attempt {when}', { when: until(d.next_attempt_ms) }), title: fullTime(d.next_attempt_ms) });
  // The countdown ticks while the node is on the page.
  const tick = setInterval(() => {
    if (!when.isConnected) return clearInterval(tick);
    when.textContent = t('next attempt {when}', { when: until(d.next_attempt_ms) });
  }, 1000);
  return h('div', { class: 'msg-retrying', role: 'status' },
    h('div', { class: 'msg-failed-head' },
      h('span', { class: 'status status-retrying', title: t('Attempt {n} failed', { n: d.attempts }) }, icon('clock'),
        h('span', { class: 'status-text', text: t('Retrying (attempt {n} failed)', { n: d.attempts }) })),
      h('button', { class: 'btn btn-sm btn-ghost retry-btn', text: t('Retry now'), onclick: () => ctx.onRetry(m) }),
      h('button', { class: 'btn btn-sm btn-ghost cancel-btn', text: t('Cancel'), onclick: () => ctx.onCancel(m) })),
    h('div', { class: 'msg-error' }, h('span', { text: `${d.last_error || t('no answer')} — ` }), when));
}

function status(m, onRetry) {
  const s = STATUS[m.status];
  if (!s) return null;
  const el = h('span', { class: `status status-${m.status}`, title: s[0] }, icon(s[1]), h('span', { class: 'status-text', text: s[0] }));
  if (m.status !== 'failed') return el;
  return h('div', { class: 'msg-failed', role: 'alert' },
    h('div', { class: 'msg-failed-head' }, el, h('button', { class: 'btn btn-sm btn-ghost retry-btn', text: t('Retry'), onclick: () => onRetry(m) })),
    m.error ? h('div', { class: 'msg-error', text: m.error }) : null);
}

/** @param {{contactName, contactId, onRetry, onCancel}} ctx */
export function renderMessage(m, ctx) {
  const time = h('time', { title: fullTime(m.created_ms), text: clock(m.created_ms) });
  const atts = m.attachments?.length ? h('div', { class: 'atts' }, m.attachments.map(attachment)) : null;
  const base = (kind, ...children) => h('div', { class: `msg msg-${kind}`, 'data-id': m.id, 'data-kind': m.kind }, children);
  if (m.kind === 'system') return base('system', h('div', { class: 'system-pill' }, icon('info'), h('span', { text: m.text || m.event || t('Event') }), time));
  if (m.kind === 'note') {
    const names = (m.mentions || []).map(managerName);
    const author = m.author?.name || t('A manager');
    return base('note', h('div', { class: 'bubble' },
      h('div', { class: 'note-label' }, icon('at'), h('span', { text: t('Note · visible only to managers') })),
      h('div', { class: 'msg-text' }, richText(`${names.length ? t('{author} added {names}', { author, names: names.join(', ') }) : author}: ${m.text || ''}`)),
      atts, h('div', { class: 'msg-meta' }, time)));
  }
  const text = m.text ? h('div', { class: 'msg-text' }, richText(m.text)) : null;
  if (m.kind === 'client') {
    return base('client', avatar(ctx.contactName, ctx.contactId, 'avatar-sm'),
      h('div', { class: 'bubble' }, h('div', { class: 'msg-author sr-only', text: ctx.contactName || t('Client') }), text, atts,
        h('div', { class: 'msg-meta' }, time, m.edited ? h('span', { class: 'edited', text: t('edited') }) : null)));
  }
  // manager or bot: on the right; my own messages show my name and avatar as they are now
  const bot = m.kind === 'bot';
  const who = (m.author?.id === state.me?.id ? state.me : m.author) || {};
  // A funnel's or a broadcast's message says which (`event` is "funnel:<name>" or "broadcast:<id>").
  const from = bot && typeof m.event === 'string' && m.event.startsWith('funnel:') ? m.event.slice(7) : '';
  const name = bot ? (from ? `${t('Bot')} · ${from}` : t('Bot')) : who.name || t('Manager');
  const failed = m.status === 'failed';
  const waiting = m.status === 'queued' && m.delivery;
  const el = base(bot ? 'bot' : 'manager',
    h('div', { class: 'bubble' }, h('div', { class: 'msg-author', text: name }), text, atts,
      h('div', { class: 'msg-meta' }, time, failed || waiting ? null : status(m, ctx.onRetry)),
      failed ? status(m, ctx.onRetry) : null, waiting ? retrying(m, ctx) : null),
    bot ? h('span', { class: 'avatar avatar-sm avatar-bot', 'aria-hidden': 'true' }, icon('bot')) : avatar(name, who.id ?? name, 'avatar-sm', who.avatar_url));
  el.classList.add('msg-out');
  el.classList.toggle('is-failed', failed);
  return el;
}
