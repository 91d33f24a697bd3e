// Parley — keyboard shortcuts (K1): one keydown listener emits `hotkey:<action>` for the Chats
// screen (Cmd for Ctrl on macOS); `?` outside text fields lists them.

import { h, table, isMac, modName, inTextField } from './dom.js';
import { emit } from './store.js';
import { modal, modalOpen } from './ui.js';
import { t } from './i18n.js';

const KEYS = [
  [['Shift', 'Enter'], t('Mark the open chat as read')],
  [[modName, 'Enter'], t('Send the message')],
  [[modName, 'Shift', 'S'], t('Open the large client card')],
  [['Esc'], t('Close the client card or dialog')],
  [[modName, 'Shift', '↑'], t('Previous chat')],
  [[modName, 'Shift', '↓'], t('Next chat')],
  [[modName, 'Shift', 'A'], t('Mark the client in the list')],
  [['?'], t('Show this list')],
];
const CHORDS = { KeyS: 'largeCard', KeyA: 'mark', ArrowUp: 'prev', ArrowDown: 'next' };

let installed = false;

export function init() {
  if (!installed) document.addEventListener('keydown', onKey);
  installed = true;
}

function fire(e, action) {
  e.preventDefault();
  e.stopPropagation();
  emit(`hotkey:${action}`, { event: e });
}

function onKey(e) {
  const mod = isMac ? e.metaKey : e.ctrlKey;
  if (e.isComposing || e.defaultPrevented || e.altKey || (isMac ? e.ctrlKey : e.metaKey)) return;
  const text = inTextField(e.target);
  if (e.key === '?' && !mod && !text && !modalOpen()) {
    e.preventDefault();
    showHelp();
    return;
  }
  if (document.getElementById('app').dataset.route !== 'chats' || modalOpen()) return;
  // In a text field only the composer takes Enter chords (elsewhere they are new lines).
  const enterOk = !text || e.target.closest('.composer');
  if (e.key === 'Enter' && e.shiftKey && !mod && enterOk) fire(e, 'markRead');
  else if (e.key === 'Enter' && mod && !e.shiftKey && enterOk) fire(e, 'send');
  else if (mod && e.shiftKey && CHORDS[e.code]) fire(e, CHORDS[e.code]);
  else if (e.key === 'Escape' && !mod) emit('hotkey:escape', { event: e });
}

export function showHelp() {
  if (modalOpen()) return;
  modal({
    title: t('Keyboard shortcuts'),
    cls: 'modal-small',
    body: [table(['Keys', 'Action'], KEYS.map(([keys, action]) => h('tr', null,
      h('td', { class: 'keys' }, keys.flatMap((k, i) => [i ? ' + ' : null, h('kbd', { text: k })])), h('td', { text: action }))))],
  });
}
