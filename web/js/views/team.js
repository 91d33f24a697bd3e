// Parley — Settings parts for the team: notifications on this device (T4: which events, message
// text, sound, the browser's permission asked for from a button) and quick replies (T2: list,
// create, edit, delete; shared ones are the admins' to change, personal ones their owner's).

import { api, upload } from '../api.js';
import { h, btn, lbl, field, fill, table, fileSize, errText, debounce } from '../dom.js';
import { state, isAdmin } from '../store.js';
import { modal, confirmDialog, flash, attempt, iconButton } from '../ui.js';
import { t } from '../i18n.js';
import { prefs, savePrefs, canNotify, askPermission, beep } from '../attention.js';

function styles() {
  if (!document.querySelector('link[href="/css/team.css"]')) document.head.append(h('link', { rel: 'stylesheet', href: '/css/team.css' }));
}

const panel = (id, title, ...children) => h('section', { class: 'panel', id }, h('h3', { class: 'panel-title', text: title }), children);

// ---------- notifications on this device ----------

const STATUS = {
  granted: 'Desktop notifications are allowed in this browser.',
  denied: 'This browser blocks notifications from Parley. Allow them in the browser’s settings for this site.',
  default: 'Desktop notifications are not turned on in this browser yet.',
  unsupported: 'This browser cannot show desktop notifications.',
};

export function attentionPanel() {
  styles();
  const p = prefs();
  const status = h('p', { class: 'muted', id: 'att-status', role: 'status' });
  const allow = btn(t('Allow desktop notifications'), async () => { await askPermission(); show(); }, 'primary', { id: 'att-allow' });
  const show = () => {
    const perm = canNotify() ? Notification.permission : 'unsupported';
    status.textContent = t(STATUS[perm] || STATUS.default);
    allow.hidden = perm !== 'default';
  };
  show();
  const saved = h('span', { class: 'hint', role: 'status' });
  const change = (v) => {
    savePrefs(v);
    saved.textContent = t('Saved in this browser');
  };
  const radio = (v, label) => h('label', { class: 'check' },
    h('input', { type: 'radio', name: 'att-notify', value: v, checked: p.notify === v, onchange: () => change({ notify: v }) }), ` ${label}`);
  const box = (key, id, label) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', id, checked: !!p[key], onchange: (e) => change({ [key]: e.target.checked }) }), ` ${label}`);
  return panel('set-attention', t('Notifications on this device'),
    h('div', { class: 'att-permission' }, status, allow),
    h('fieldset', { class: 'att-choice' }, h('legend', { text: t('Notify me and play the sound for') }),
      radio('all', t('Every new client message')),
      radio('mine', t('Messages from clients assigned to me and unassigned ones')),
      radio('mentions', t('Only mentions of me and clients assigned to me')),
      radio('off', t('Nothing'))),
    h('div', { class: 'att-options' },
      box('text', 'att-text', t('Show message text in notifications')),
      h('p', { class: 'hint', text: t('Off by default: a notification can show on a locked screen.') }),
      h('div', { class: 'att-sound' }, box('sound', 'att-sound', t('Play a sound')), btn(t('Play it now'), () => beep()))),
    saved);
}

// ---------- quick replies ----------

export function repliesPanel() {
  styles();
  const list = h('div', { class: 'qr-table' });
  const search = h('input', { type: 'search', id: 'qr-search', 'aria-label': t('Search quick replies'), placeholder: t('Search by shortcut or text'), autocomplete: 'off' });
  search.addEventListener('input', debounce(load, 250));
  const sec = panel('set-replies', t('Quick replies'),
    h('p', { class: 'muted', text: t('Type / in the message field to insert one. Shared replies are for the whole team and only admins change them; personal ones are yours alone.') }),
    h('div', { class: 'page-tools' }, search, h('button', { class: 'btn btn-primary btn-sm', id: 'qr-new', text: t('New quick reply'), onclick: () => edit(null) })),
    list);
  load();
  return sec;

  async function load() {
    const q = search.value.trim();
    let body;
    try {
      const items = (await api('GET', `/api/v1/replies?${new URLSearchParams({ q })}`)).items || [];
      body = items.length ? table(['Shortcut', 'Text', 'Files', 'Kind', ''], items.map(row))
        : h('p', { class: 'muted', text: q ? t('No quick replies match your search.') : t('No quick replies yet.') });
    } catch (err) {
      body = h('p', { class: 'form-error', text: errText(err) });
    }
    if (q === search.value.trim()) fill(list, body);
  }

  function row(r) {
    const mine = r.shared ? isAdmin() : r.owner === state.me?.id;
    const name = `/${r.shortcut}`;
    return h('tr', { 'data-reply': r.id },
      h('td', null, h('code', { text: name })),
      h('td', { class: 'pre', text: r.text }),
      h('td', null, r.attachments.map((a) => h('div', null, h('a', { href: a.url, target: '_blank', rel: 'noopener', text: a.name }), ` ${fileSize(a.size)}`))),
      h('td', { text: r.shared ? t('Shared') : t('Personal') }),
      h('td', { class: 'actions' }, mine
        ? [btn(t('Edit'), () => edit(r), 'ghost', { 'aria-label': t('Edit {name}', { name }) }),
          btn(t('Delete'), () => remove(r), 'danger-ghost', { 'aria-label': t('Delete {name}', { name }) })]
        : h('span', { class: 'muted', text: t('Read only'), title: t('Only admins change shared replies.') })));
  }

  async function remove(r) {
    if (!await confirmDialog(t('Delete the quick reply /{shortcut}?', { shortcut: r.shortcut }), { ok: t('Delete'), danger: true })) return;
    attempt(async () => {
      await api('DELETE', `/api/v1/replies/${r.id}`);
      flash(t('Quick reply deleted'), 'ok');
      load();
    });
  }

  /** The editor (a new reply when `r` is null). */
  function edit(r) {
    const shortcut = h('input', { type: 'text', id: 'qr-ed-shortcut', required: true, maxlength: '33', autocomplete: 'off', spellcheck: 'false', value: r ? r.shortcut : '', placeholder: t('e.g. delivery') });
    const text = h('textarea', { id: 'qr-ed-text', rows: '6', maxlength: '4000', required: true, value: r ? r.text : '' });
    const shared = isAdmin() ? h('input', { type: 'checkbox', id: 'qr-ed-shared', checked: !!r?.shared }) : null;
    let files = r ? r.attachments.slice() : [];
    const chips = h('ul', { class: 'composer-files', 'aria-label': t('Files') });
    const showFiles = () => fill(chips, files.map((a) => h('li', { class: 'file-chip' }, h('span', { text: `${a.name} (${fileSize(a.size)})` }),
      iconButton('x', t('Remove {name}', { name: a.name }), { cls: 'icon-btn-sm', onclick: () => { files = files.filter((x) => x !== a); showFiles(); } }))));
    const err = h('p', { class: 'form-error', role: 'alert' });
    const picker = h('input', { type: 'file', id: 'qr-ed-files', multiple: true });
    picker.addEventListener('change', async () => {
      picker.disabled = true;
      for (const f of Array.from(picker.files)) {
        try {
          files.push(await upload(f, f.name, f.type));
        } catch (e) {
          err.textContent = t('{name} not added: {error}', { name: f.name, error: errText(e) });
        }
        showFiles();
      }
      picker.value = '';
      picker.disabled = false;
    });
    const save = h('button', { type: 'submit', class: 'btn btn-primary', form: 'qr-ed', text: t('Save') });
    const form = h('form', { id: 'qr-ed', class: 'stack', onsubmit: submit },
      field(t('Shortcut'), shortcut, t('Type / and the shortcut in the message field to insert the reply. Letters, digits, - and _.')),
      field(t('Text'), text, t('Variables such as {client.name}, {client.phone}, {manager.name} or {client.field.<name>} are filled for the open chat.')),
      h('div', { class: 'field' }, lbl('qr-ed-files', t('Files')), chips, picker),
      shared && h('label', { class: 'check' }, shared, ` ${t('Shared with the whole team')}`), err);
    const m = modal({ title: r ? t('Edit {name}', { name: `/${r.shortcut}` }) : t('New quick reply'), cls: 'modal-mid', body: [form], actions: [save] });
    showFiles();
    shortcut.focus();

    async function submit(e) {
      e.preventDefault();
      save.disabled = true;
      err.textContent = '';
      const body = { shortcut: shortcut.value, text: text.value, attachments: files.map((a) => ({ id: a.id, name: a.name })) };
      if (shared) body.shared = shared.checked;
      try {
        await api(r ? 'PATCH' : 'POST', r ? `/api/v1/replies/${r.id}` : '/api/v1/replies', body);
        m.close();
        flash(t('Quick reply saved'), 'ok');
        load();
      } catch (e2) {
        // The server's reason: a shortcut taken (409), a field it refuses (422), not allowed (403).
        err.textContent = errText(e2);
        save.disabled = false;
      }
    }
  }
}
