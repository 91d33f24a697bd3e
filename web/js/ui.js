// Parley — shared widgets: modal dialogs (native <dialog>: Esc and focus trapping come from
// the browser), confirmation, popovers, flash messages.

import { h, errText } from './dom.js';
import { icon } from './icons.js';
import { t } from './i18n.js';

let seq = 0;

/**
 * Open a modal. Returns { dialog, body, close(reason) }; onClose(reason) runs after it closes
 * ('dismiss' for Esc, ×, backdrop; else what close() was given).
 */
export function modal({ title, body = [], actions = [], cls = '', onClose } = {}) {
  const opener = document.activeElement;
  const titleId = `dlg-${++seq}`;
  const x = h('button', { class: 'icon-btn', 'aria-label': t('Close'), title: t('Close') }, icon('x'));
  const bodyEl = h('div', { class: 'modal-body' }, body);
  const dialog = h('dialog', { class: `modal ${cls}`, 'aria-labelledby': titleId },
    h('div', { class: 'modal-head' }, h('h2', { id: titleId, class: 'modal-title', text: title }), x),
    bodyEl, actions.length ? h('div', { class: 'modal-actions' }, actions) : null);
  let reason = 'dismiss';
  const close = (why = 'done') => {
    reason = why;
    if (dialog.open) dialog.close();
  };
  x.addEventListener('click', () => close('dismiss'));
  dialog.addEventListener('cancel', () => { reason = 'dismiss'; });
  dialog.addEventListener('mousedown', (e) => {
    if (e.target !== dialog) return;
    const r = dialog.getBoundingClientRect();
    if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) close('dismiss');
  });
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (onClose) onClose(reason);
    if (opener && opener.isConnected && opener.focus) opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  return { dialog, body: bodyEl, close };
}

export function modalOpen() {
  return document.querySelector('dialog.modal[open]') !== null;
}

export function confirmDialog(text, { ok = t('OK'), danger = false } = {}) {
  return new Promise((resolve) => {
    let answer = false;
    const yes = h('button', { class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, text: ok });
    const no = h('button', { class: 'btn btn-ghost', text: t('Cancel') });
    const m = modal({ title: t('Please confirm'), body: [h('p', { text })], actions: [no, yes], cls: 'modal-small', onClose: () => resolve(answer) });
    yes.addEventListener('click', () => { answer = true; m.close(); });
    no.addEventListener('click', () => m.close());
    yes.focus();
  });
}

// ---------- popovers ----------

let openPop = null;

export function closePopover() {
  if (!openPop) return false;
  const { panel, button } = openPop;
  openPop = null;
  panel.remove();
  button.setAttribute('aria-expanded', 'false');
  return true;
}

/**
 * Toggle a popover under `button` (whose parent is position: relative, class pop-wrap).
 * build(panel, close) fills it; returns the panel, or null when it was closed.
 */
export function togglePopover(button, build, { align = 'left', label } = {}) {
  const again = openPop && openPop.button === button;
  closePopover();
  if (again) return null;
  const panel = h('div', { class: `popover pop-${align}`, role: 'dialog', 'aria-label': label || button.getAttribute('aria-label') });
  button.parentElement.append(panel);
  button.setAttribute('aria-expanded', 'true');
  openPop = { panel, button };
  build(panel, () => { closePopover(); button.focus(); });
  panel.querySelector('input, select, textarea, button, [href]')?.focus();
  return panel;
}

document.addEventListener('mousedown', (e) => {
  if (openPop && !openPop.panel.contains(e.target) && !openPop.button.contains(e.target)) closePopover();
});
document.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape' || !openPop || e.defaultPrevented) return;
  const { button } = openPop;
  closePopover();
  button.focus();
  e.preventDefault();
  e.stopPropagation();
}, true);

// ---------- messages ----------

/**
 * Add `item` to the one message stack (at most three): over the top of the history when a chat
 * is open, so it covers no control. It goes after `ms`, held while pointed at or focused, and
 * never takes focus. Returns a function that removes it.
 */
export function notify(item, ms) {
  const host = document.getElementById('toasts');
  const r = document.querySelector('.history')?.getBoundingClientRect();
  const s = host.style;
  s.top = s.right = s.bottom = s.maxHeight = '';
  if (r?.height) Object.assign(s, { top: `${r.top + 8}px`, right: `${innerWidth - r.right + 12}px`, bottom: 'auto', maxHeight: `${r.height - 16}px` });
  let t;
  const close = () => item.remove();
  const arm = () => { clearTimeout(t); t = setTimeout(close, ms); };
  const hold = () => clearTimeout(t);
  for (const [e, f] of [['mouseleave', arm], ['focusout', arm], ['mouseenter', hold], ['focusin', hold]]) item.addEventListener(e, f);
  host.append(item);
  if (host.children[3]) host.firstChild.remove();
  arm();
  return close;
}

/** A short status message. */
export function flash(text, kind = 'info') {
  notify(h('div', { class: `flash flash-${kind}`, text }), kind === 'error' ? 8000 : 4000);
}

/** Show or hide `panel` (aria-expanded on `button`; focus goes in); returns whether open. */
export function toggle(button, panel) {
  const open = panel.hidden;
  panel.hidden = !open;
  button.setAttribute('aria-expanded', open);
  if (open) panel.querySelector('select, input, button')?.focus();
  return open;
}

/** Await `fn()`; a failure is flashed and gives null. */
export async function attempt(fn) {
  try {
    return await fn();
  } catch (err) {
    flash(errText(err), 'error');
    return null;
  }
}

/** Set an inline note's text (empty hides it). */
export function setNote(el, text, kind = 'error') {
  el.textContent = text || '';
  el.hidden = !text;
  el.classList.toggle('note-error', kind === 'error');
  el.classList.toggle('note-ok', kind === 'ok');
}

/** An icon-only button with an accessible name. */
export function iconButton(name, label, { cls = '', onclick } = {}) {
  return h('button', { class: `icon-btn ${cls}`, 'aria-label': label, title: label, onclick }, icon(name));
}
