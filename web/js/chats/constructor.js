// Parley — the message constructor (S2): a message from blocks, sent with "Save message".
// Closing without sending keeps the blocks as my draft for the chat (PUT …/draft).

import { api, upload } from '../api.js';
import { h, lbl, fill, errText, fileSize, modName } from '../dom.js';
import { icon } from '../icons.js';
import { loadTemplates, setDraftMark } from '../store.js';
import { modal, iconButton } from '../ui.js';
import { t } from '../i18n.js';

const TYPES = {
  text: [t('Text'), 'text'],
  image: [t('Image'), 'image', 'image/jpeg,image/png,image/gif,image/webp'],
  link: [t('Link'), 'link'],
  video: [t('Video'), 'video', 'video/mp4,video/webm,video/quicktime'],
  template: [t('Template'), 'braces'],
  file: [t('File'), 'file', ''],
};

/** The text and attachments a list of blocks makes. */
export function compose(blocks) {
  const parts = [];
  const attachments = [];
  for (const b of blocks) {
    const text = (b.text || '').trim();
    const url = (b.url || '').trim();
    const title = (b.title || '').trim();
    if ((b.type === 'text' || b.type === 'template') && text) parts.push(text);
    if (b.type === 'link' && url) parts.push(title ? `${title}: ${url}` : url);
    if (b.att) attachments.push(b.att);
  }
  return { text: parts.join('\n\n'), attachments };
}


export async function openConstructor({ chatId, contact, fillTemplate, onSent, onDraft }) {
  let blocks = [];
  let hadDraft = false;
  let busy = 0;
  let sent = false;
  try {
    const d = (await api('GET', `/api/v1/chats/${chatId}/draft`)).draft;
    if (d) {
      hadDraft = true;
      blocks = Array.isArray(d.blocks) ? d.blocks.filter((b) => b && TYPES[b.type]) : [{ type: 'text', text: d.text }];
    }
  } catch { /* start empty */ }
  if (!blocks.length) blocks = [{ type: 'text', text: '' }];
  const templates = await loadTemplates().catch(() => []);

  const list = h('ol', { class: 'blocks', 'aria-label': t('Blocks') });
  const status = h('p', { class: 'form-error', role: 'alert' });
  const save = h('button', { class: 'btn btn-primary', title: t('Save message ({mod}+Enter)', { mod: modName }), onclick: send }, icon('send'), h('span', { text: t('Save message') }));
  const cancel = h('button', { class: 'btn btn-ghost', text: t('Close'), title: t('Close and keep the draft') });
  const adders = Object.entries(TYPES).map(([type, [label, ic]]) => h('button', {
    class: 'btn btn-sm btn-ghost', onclick: () => { blocks.push({ type }); render(); focusBlock(blocks.length - 1); },
  }, icon(ic), h('span', { text: label })));
  const m = modal({
    title: contact && contact.name ? t('Message constructor for {name}', { name: contact.name }) : t('Message constructor'),
    cls: 'modal-wide constructor',
    body: [h('div', { class: 'add-blocks', role: 'group', 'aria-label': t('Add a block') }, h('span', { class: 'muted', text: t('Add:') }), adders), list, status],
    actions: [cancel, save],
    onClose: () => sent || keepDraft(),
  });
  cancel.addEventListener('click', () => m.close('dismiss'));
  m.dialog.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); send(); }
  });
  render();
  focusBlock(0);

  function focusBlock(i) {
    list.children[i]?.querySelector('textarea, input, select')?.focus();
  }

  function render() {
    fill(list, blocks.map(blockEl));
  }

  function move(i, d) {
    if (!blocks[i + d]) return;
    [blocks[i], blocks[i + d]] = [blocks[i + d], blocks[i]];
    render();
    list.children[i + d].querySelector(d < 0 ? '.move-up' : '.move-down').focus();
  }

  function bind(ctl, b, key) {
    ctl.addEventListener('input', () => { b[key] = ctl.value; });
    return ctl;
  }

  function blockEl(b, i) {
    const [label, ic, accept] = TYPES[b.type];
    const id = `blk-${i}`;
    const body = h('div', { class: 'block-body' });
    if (b.type === 'text') body.append(bind(h('textarea', { id, rows: '3', value: b.text || '', 'aria-label': t('Text'), placeholder: t('Text of the message') }), b, 'text'));
    else if (b.type === 'link') {
      body.append(lbl(id, t('Link address'), true), bind(h('input', { type: 'url', id, value: b.url || '', placeholder: 'https://…' }), b, 'url'),
        lbl(`${id}-t`, t('Link title'), true), bind(h('input', { type: 'text', id: `${id}-t`, value: b.title || '', placeholder: t('Title (optional)') }), b, 'title'));
    } else if (b.type === 'template') {
      const ta = bind(h('textarea', { id, rows: '3', value: b.text || '', 'aria-label': t('Template text') }), b, 'text');
      const sel = h('select', { id: `${id}-s`, disabled: !templates.length, onchange: () => { const t = templates[sel.value]; if (t) ta.value = b.text = fillTemplate(t.text); } },
        h('option', { value: '', text: templates.length ? t('Choose a template…') : t('No templates configured') }), templates.map((tp, k) => h('option', { value: k, text: tp.name })));
      body.append(lbl(sel.id, t('Template'), true), sel, ta);
    } else {
      const a = b.att;
      const input = h('input', { type: 'file', id, accept: accept || null });
      const note = h('span', { class: 'muted', role: 'status' });
      input.addEventListener('change', async () => {
        const f = input.files[0];
        if (!f) return;
        note.textContent = t('Uploading…');
        save.disabled = ++busy > 0;
        try {
          b.att = await upload(f, f.name);
          render();
        } catch (err) {
          note.textContent = t('Upload failed: {error}', { error: errText(err) });
        }
        save.disabled = --busy > 0;
      });
      body.append(h('div', { class: 'file-block' },
        a && b.type === 'image' ? h('img', { src: a.url, alt: a.name, class: 'block-preview' }) : null,
        a && b.type === 'video' ? h('video', { src: a.url, controls: true, preload: 'metadata', class: 'block-preview' }) : null,
        a ? h('span', { text: `${a.name} · ${fileSize(a.size)}` }) : null,
        h('label', { for: id, class: 'file-pick', text: t(a ? 'Replace the {what}:' : b.type === 'image' ? 'Choose an {what}:' : 'Choose a {what}:', { what: label.toLowerCase() }) }), input, note));
    }
    return h('li', { class: 'block' },
      h('div', { class: 'block-head' }, icon(ic), h('strong', { text: label }),
        h('span', { class: 'block-tools' },
          iconButton('up', t('Move {what} block up', { what: label }), { cls: 'icon-btn-sm move-up', onclick: () => move(i, -1) }),
          iconButton('down', t('Move {what} block down', { what: label }), { cls: 'icon-btn-sm move-down', onclick: () => move(i, 1) }),
          iconButton('x', t('Remove {what} block', { what: label }), { cls: 'icon-btn-sm', onclick: () => { blocks.splice(i, 1); render(); } }))),
      body);
  }

  async function send() {
    if (busy) return;
    const { text, attachments } = compose(blocks);
    status.textContent = !text && !attachments.length ? t('Add some text or a file first.') : attachments.length > 10 ? t('At most 10 files per message.') : '';
    if (status.textContent) return;
    save.disabled = true;
    try {
      const msg = await api('POST', `/api/v1/chats/${chatId}/messages`, { text, attachments: attachments.map((a) => ({ id: a.id, name: a.name })) });
      sent = true;
      await api('DELETE', `/api/v1/chats/${chatId}/draft`).catch(() => {});
      mark(false);
      m.close('sent');
      onSent(msg);
    } catch (err) {
      status.textContent = t('Not sent: {error}', { error: errText(err) });
      save.disabled = false;
    }
  }

  function mark(has) {
    setDraftMark(chatId, has);
    onDraft(has);
  }

  async function keepDraft() {
    const c = compose(blocks);
    try {
      if (c.text || c.attachments.length) {
        await api('PUT', `/api/v1/chats/${chatId}/draft`, { text: c.text, blocks: blocks.filter((b) => b.type !== 'image' && b.type !== 'video' && b.type !== 'file' || b.att) });
        mark(true);
      } else if (hadDraft) {
        await api('DELETE', `/api/v1/chats/${chatId}/draft`);
        mark(false);
      }
    } catch (err) {
      console.warn('draft not saved:', err.message);
    }
  }
}
