// Parley — the composer (S1–S6): text field, Variables, constructor, emoji, mention, Mark as
// read, voice and Send. A failed send keeps the text and shows the reason. `/` opens the quick
// replies (T2, replies.js, loaded on demand), whose files wait above the text until sent.

import { api, upload } from '../api.js';
import { h, lbl, field, fill, errText, modName, presenceDot } from '../dom.js';
import { icon } from '../icons.js';
import { state, loadTemplates, loadAssistants, setDraftMark, managerName } from '../store.js';
import { togglePopover, modal, flash, setNote, iconButton, attempt } from '../ui.js';
import { mountTyping, setTypingChat, selfTyped, selfStopped } from './typing.js';
import { attachVoice } from './voice.js';
import { openConstructor } from './constructor.js';
import { t } from '../i18n.js';

const EMOJI = Array.from('😀😂😊😍😉😎🤔😅😢😮🙏👍👎👌👋🙌👏💪🔥🎉✅❌⭐📦🚚💳📞📅⏰🛒🎁💬📎🙂😇💡');

const texts = new Map(); // chat id → unsent text, kept while switching chats
const files = new Map(); // chat id → attachments to send with the text ({id, name, …})
let quick = null; // the quick replies module, once asked for
const replies = () => (quick ||= import('./replies.js').then((r) => (r.use({ fillTemplate, addFiles }), r)));
const el = {};
let chatId = null;
let contact = null;
let sending = false;
let hooks = {};

export function mountComposer(root, opts) {
  hooks = opts;
  el.typing = h('div', { class: 'typing-line', id: 'typing-line' });
  mountTyping(el.typing);
  el.error = h('p', { class: 'composer-error', role: 'alert', hidden: true });
  el.rec = h('div', { class: 'recording', role: 'status', hidden: true });
  el.text = h('textarea', { id: 'composer-text', rows: '2', maxlength: '4000', placeholder: t('Write a message… ({mod}+Enter to send)', { mod: modName }), 'aria-describedby': 'typing-line' });
  el.text.addEventListener('input', () => {
    texts.set(chatId, el.text.value);
    if (el.text.value.trim()) selfTyped();
    setNote(el.error, '');
    autosize();
    // `/` at the start or after a space: the quick replies, filtered by what follows it.
    const m = /(?:^|\s)\/([^\s/]*)$/.exec(el.text.value.slice(0, el.text.selectionStart));
    if (m || quick) replies().then((r) => r.suggest(m && m[1]));
  });
  el.files = h('ul', { class: 'composer-files', 'aria-label': t('Attachments'), hidden: true });
  el.vars = iconButton('braces', t('Variables'), { onclick: openVariables });
  el.builder = iconButton('blocks', t('Message constructor'), { onclick: openBuilder });
  const save = iconButton('bookmark', t('Save as quick reply'), { onclick: () => replies().then((r) => (el.text.value.trim() ? r.saveAs(el.text.value, files.get(chatId)) : setNote(el.error, t('Write a message first.')))) });
  el.emoji = iconButton('smile', t('Emoji'), { onclick: openEmoji });
  el.suggest = iconButton('bot', t('Suggested reply'), { cls: 'suggest-btn', onclick: suggest });
  el.suggest.title = t('Suggested reply: the AI assistant drafts an answer into the text field; nothing is sent');
  el.suggest.hidden = true;
  loadAssistants().then((a) => { el.suggest.hidden = !a.length; }, () => {});
  el.voice = h('button', { class: 'icon-btn voice-btn', 'aria-label': t('Voice message: hold to record, release to send'), title: t('Hold to record a voice message'), 'aria-pressed': 'false' }, icon('mic'));
  el.send = h('button', { class: 'btn btn-primary send-btn', title: t('Send ({mod}+Enter)', { mod: modName }), onclick: send }, icon('send'), h('span', { text: t('Send') }));
  attachVoice(el.voice, {
    onRecorded: sendVoice,
    onError: (msg) => setNote(el.error, msg),
    onState: (on, ms) => {
      el.rec.hidden = !on;
      el.rec.textContent = t('Recording {time} — release to send', { time: `${Math.floor(ms / 60000)}:${String(Math.floor(ms / 1000) % 60).padStart(2, '0')}` });
    },
  });
  root.append(h('div', { class: 'composer' }, el.typing, el.error, el.rec, el.files, lbl('composer-text', t('Message'), true), el.text,
    h('div', { class: 'composer-bar' },
      h('div', { class: 'composer-tools' }, h('div', { class: 'pop-wrap' }, el.vars), save, el.builder, h('div', { class: 'pop-wrap' }, el.emoji),
        iconButton('at', t('Comment or mention a manager'), { onclick: openMention }), el.suggest,
        iconButton('checks', t('Mark as read (Shift+Enter)'), { onclick: markRead })),
      h('div', { class: 'composer-send' }, el.voice, el.send))));
}

function autosize() {
  el.text.style.height = 'auto';
  el.text.style.height = `${Math.min(200, Math.max(56, el.text.scrollHeight + 2))}px`;
}

/** Point the composer at a chat; remembers the text typed for the previous one. */
export async function setComposerChat(id, c) {
  if (chatId != null) texts.set(chatId, el.text.value);
  chatId = id;
  contact = c;
  el.text.value = texts.get(id) || '';
  autosize();
  showFiles();
  quick?.then((r) => r.suggest(null));
  setNote(el.error, '');
  el.builder.classList.remove('has-draft');
  setTypingChat(id);
  if (id == null) return;
  try {
    const has = !!(await api('GET', `/api/v1/chats/${id}/draft`)).draft;
    if (chatId !== id) return;
    el.builder.classList.toggle('has-draft', has);
    setDraftMark(id, has);
  } catch { /* no draft mark */ }
}

export function setComposerContact(c) {
  contact = c;
}

export function focusComposer() {
  el.text.focus();
}

export async function send() {
  if (chatId == null || sending) return;
  const text = el.text.value.trim();
  const atts = files.get(chatId) || [];
  if (!text && !atts.length) {
    setNote(el.error, t('Write a message first.'));
    el.text.focus();
    return;
  }
  const id = chatId;
  sending = el.send.disabled = true;
  try {
    const m = await api('POST', `/api/v1/chats/${id}/messages`, { text, attachments: atts.map((a) => ({ id: a.id, name: a.name })) });
    texts.delete(id);
    files.delete(id);
    if (chatId === id) {
      el.text.value = '';
      autosize();
      showFiles();
    }
    selfStopped();
    hooks.onSent(m);
  } catch (err) {
    // The text stays in the field so nothing is lost.
    if (chatId === id) setNote(el.error, t('Not sent: {error}', { error: errText(err) }));
  } finally {
    sending = el.send.disabled = false;
  }
}

export function markRead() {
  if (chatId != null) {
    attempt(async () => {
      hooks.onRead((await api('POST', `/api/v1/chats/${chatId}/read`)).chat);
      flash(t('Marked as read'), 'ok');
    });
  }
}

async function sendVoice(blob, ms) {
  const id = chatId;
  if (id == null) return;
  el.rec.hidden = false;
  el.rec.textContent = t('Sending the voice message…');
  try {
    const att = await upload(blob, `voice-${new Date().toISOString().replace(/[:.]/g, '-')}.webm`, 'audio/webm');
    hooks.onSent(await api('POST', `/api/v1/chats/${id}/messages`, { attachments: [{ id: att.id, name: att.name }] }));
  } catch (err) {
    setNote(el.error, t('Voice message not sent ({s} s): {error}', { s: Math.round(ms / 1000), error: errText(err) }));
  }
  el.rec.hidden = true;
}

/** Add files (a quick reply's) to the message being written. */
export function addFiles(list = []) {
  const cur = files.get(chatId) || [];
  files.set(chatId, cur.concat(list.filter((a) => !cur.some((x) => x.id === a.id))));
  showFiles();
}

function showFiles() {
  const list = files.get(chatId) || [];
  el.files.hidden = !list.length;
  fill(el.files, list.map((a) => h('li', { class: 'file-chip' }, icon('file'), h('span', { text: a.name }),
    iconButton('x', t('Remove {name}', { name: a.name }), { cls: 'icon-btn-sm', onclick: () => { files.set(chatId, list.filter((x) => x !== a)); showFiles(); el.text.focus(); } }))));
}

/** Ask the chat's assistant for a reply and put it into the text field; nothing is sent. */
async function suggest() {
  const id = chatId;
  if (id == null || el.suggest.disabled) return;
  el.suggest.disabled = true;
  el.suggest.classList.add('is-busy');
  setNote(el.error, t('Asking the AI assistant…'), 'info');
  try {
    const { text } = await api('POST', `/api/v1/chats/${id}/suggest`);
    if (chatId !== id) return;
    setNote(el.error, '');
    el.text.value = text || '';
    el.text.dispatchEvent(new Event('input'));
    el.text.focus();
  } catch (err) {
    if (chatId === id) setNote(el.error, t('No suggestion: {error}', { error: errText(err) }));
  } finally {
    el.suggest.disabled = false;
    el.suggest.classList.remove('is-busy');
  }
}

function insert(text) {
  el.text.setRangeText(text, el.text.selectionStart, el.text.selectionEnd, 'end');
  el.text.focus();
  el.text.dispatchEvent(new Event('input'));
}

/** Template text with its placeholders filled for the open client. */
export function fillTemplate(text) {
  const c = contact || {};
  const vals = { 'client.name': c.name, 'client.phone': c.phones?.[0] && `+${c.phones[0]}`, 'client.email': c.emails?.[0], 'manager.name': state.me?.name };
  const fields = c.custom_fields || {};
  const field = (name) => fields[name] ?? Object.entries(fields).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
  return String(text || '').replace(/\{(client\.name|client\.phone|client\.email|manager\.name|client\.field\.([^{}]+))\}/g,
    (_, k, f) => (f !== undefined ? field(f) : vals[k]) || '');
}

function openVariables() {
  togglePopover(el.vars, async (panel, close) => {
    panel.classList.add('vars-panel');
    let list = [];
    let failed = '';
    try {
      list = await loadTemplates();
    } catch (err) {
      failed = errText(err);
    }
    if (!panel.isConnected) return;
    panel.append(h('div', { class: 'pop-head' }, h('h2', { text: t('Variables') })));
    if (!list.length) return panel.append(h('p', { class: 'empty', text: failed || t('No chat templates yet. Make them on the Variables page.') }));
    const preview = h('p', { class: 'var-preview', id: 'var-preview' });
    const ul = h('ul', { class: 'var-list' }, list.map((t) => {
      const value = fillTemplate(t.text);
      const show = () => { preview.textContent = value; };
      // The title is the hover tooltip; the preview line shows the same for keyboard users.
      return h('li', null, h('button', {
        class: 'var-item', title: value, 'aria-describedby': 'var-preview', onmouseenter: show, onfocus: show, onclick: () => { close(); insert(value); },
      }, h('span', { class: 'var-name', text: t.name })));
    }));
    panel.append(ul, preview);
    ul.querySelector('button').focus();
  }, { label: t('Variables') });
}

function openEmoji() {
  togglePopover(el.emoji, (panel, close) => {
    panel.classList.add('emoji-panel');
    panel.append(h('div', { class: 'emoji-grid', role: 'group', 'aria-label': t('Emoji') },
      EMOJI.map((e) => h('button', { class: 'emoji', text: e, onclick: () => { close(); insert(e); } }))));
  }, { label: t('Emoji') });
}

function openBuilder() {
  if (chatId == null) return;
  openConstructor({ chatId, contact, fillTemplate, onSent: hooks.onSent, onDraft: (has) => el.builder.classList.toggle('has-draft', has) });
}

function openMention() {
  const id = chatId;
  if (id == null) return;
  const others = Array.from(state.managers.values()).filter((m) => !m.disabled && m.id !== state.me?.id);
  const comment = h('textarea', { id: 'mention-text', rows: '4', maxlength: '4000', placeholder: t('What should they know? (optional when you add someone)') });
  const err = h('p', { class: 'form-error', role: 'alert' });
  const add = h('button', { class: 'btn btn-primary', text: t('Add'), onclick: submit });
  const form = h('form', { class: 'stack', onsubmit: (e) => { e.preventDefault(); submit(); } },
    h('fieldset', { class: 'mention-list' }, h('legend', { text: t('Add managers to the chat') }),
      others.length ? others.map((m) => h('label', { class: 'check' }, h('input', { type: 'checkbox', value: m.id, name: 'mention' }), presenceDot(m), ` ${m.name || m.login}`))
        : h('p', { class: 'muted', text: t('No other managers.') })),
    field(t('Comment (visible only to managers)'), comment), err);
  const m = modal({ title: t('Comment or mention'), body: [form], actions: [add], cls: 'modal-mid' });
  comment.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); submit(); }
  });
  (form.querySelector('input') || comment).focus();
  async function submit() {
    const mentions = Array.from(form.querySelectorAll('input[name=mention]:checked'), (i) => Number(i.value));
    // The server needs some text; a bare mention reads as an invitation.
    const text = comment.value.trim() || (mentions.length ? t('Please join this chat.') : '');
    if (!text) {
      err.textContent = t('Write a comment or choose at least one manager.');
      return comment.focus();
    }
    add.disabled = true;
    try {
      hooks.onSent(await api('POST', `/api/v1/chats/${id}/notes`, { text, mentions }));
      m.close();
      flash(mentions.length ? t('Added {names}', { names: mentions.map(managerName).join(', ') }) : t('Comment added'), 'ok');
    } catch (e2) {
      err.textContent = errText(e2);
      add.disabled = false;
    }
  }
}
