// Parley — inline SVG icons (24×24 strokes in currentColor) built with createElementNS.
import { t } from './i18n.js';

const NS = 'http://www.w3.org/2000/svg';

const O = 'M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20z'; // a full circle

const P = {
  bell: ['M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9', 'M10.3 21a1.94 1.94 0 0 0 3.4 0'],
  search: ['M11 4a7 7 0 1 0 0 14 7 7 0 0 0 0-14z', 'M21 21l-4.3-4.3'],
  filter: ['M22 3H2l8 9.46V19l4 2v-8.54L22 3z'],
  sort: ['M3 6h13', 'M3 12h9', 'M3 18h5', 'M17 10v10', 'M14 17l3 3 3-3'],
  send: ['M22 2L11 13', 'M22 2l-7 20-4-9-9-4 20-7z'],
  mic: ['M12 2a3 3 0 0 0-3 3v7a3 3 0 0 0 6 0V5a3 3 0 0 0-3-3z', 'M19 10v2a7 7 0 0 1-14 0v-2', 'M12 19v3'],
  smile: [O, 'M8 14s1.5 2 4 2 4-2 4-2', 'M9 9h.01', 'M15 9h.01'],
  braces: ['M8 3H7a2 2 0 0 0-2 2v5a2 2 0 0 1-2 2 2 2 0 0 1 2 2v5a2 2 0 0 0 2 2h1',
    'M16 21h1a2 2 0 0 0 2-2v-5a2 2 0 0 1 2-2 2 2 0 0 1-2-2V5a2 2 0 0 0-2-2h-1'],
  blocks: ['M3 3h7v7H3z', 'M14 3h7v7h-7z', 'M14 14h7v7h-7z', 'M3 14h7v7H3z'],
  checks: ['M2 12l5 5L18 6', 'M12 16l1 1L22 6'],
  check: ['M20 6L9 17l-5-5'],
  at: ['M12 8a4 4 0 1 0 0 8 4 4 0 0 0 0-8z', 'M16 8v5a3 3 0 0 0 6 0v-1a10 10 0 1 0-3.9 7.9'],
  x: ['M18 6L6 18', 'M6 6l12 12'],
  back: ['M19 12H5', 'M12 19l-7-7 7-7'],
  down: ['M6 9l6 6 6-6'],
  flag: ['M4 15s1-1 4-1 5 2 8 2 4-1 4-1V3s-1 1-4 1-5-2-8-2-4 1-4 1z', 'M4 22v-7'],
  task: ['M9 11l3 3L22 4', 'M21 12v7a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h11'],
  pencil: ['M17 3a2.83 2.83 0 1 1 4 4L7.5 20.5 2 22l1.5-5.5L17 3z'],
  card: ['M3 4h18v16H3z', 'M7 9a2 2 0 1 0 4 0 2 2 0 0 0-4 0', 'M6 16c.5-2 2-3 3-3s2.5 1 3 3', 'M14 9h4', 'M14 13h4'],
  chat: ['M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z'],
  plus: ['M12 5v14', 'M5 12h14'],
  archive: ['M21 8v13H3V8', 'M1 3h22v5H1z', 'M10 12h4'],
  ban: [O, 'M4.9 4.9l14.2 14.2'],
  keyboard: ['M2 6h20v12H2z', 'M6 10h.01', 'M10 10h.01', 'M14 10h.01', 'M18 10h.01', 'M7 14h10'],
  external: ['M18 13v6a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h6', 'M15 3h6v6', 'M10 14L21 3'],
  bookmark: ['M19 21l-7-5-7 5V5a2 2 0 0 1 2-2h10a2 2 0 0 1 2 2z'],
  file: ['M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8z', 'M14 2v6h6'],
  image: ['M3 3h18v18H3z', 'M8.5 10a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3', 'M21 15l-5-5L5 21'],
  video: ['M23 7l-7 5 7 5V7z', 'M1 5h15v14H1z'],
  link: ['M10 13a5 5 0 0 0 7.54.54l3-3a5 5 0 0 0-7.07-7.07l-1.72 1.71',
    'M14 11a5 5 0 0 0-7.54-.54l-3 3a5 5 0 0 0 7.07 7.07l1.71-1.71'],
  text: ['M4 7V4h16v3', 'M9 20h6', 'M12 4v16'],
  up: ['M18 15l-6-6-6 6'],
  info: [O, 'M12 16v-4', 'M12 8h.01'],
  bot: ['M4 8h16v12H4z', 'M12 4v4', 'M9 13h.01', 'M15 13h.01', 'M9 17h6'],
  clock: [O, 'M12 6v6l4 2'],
  alert: [O, 'M12 8v4', 'M12 16h.01'],
};

/** An SVG element with attributes and children. */
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

/** An icon element (aria-hidden; pair it with visible text or an aria-label). */
export function icon(name, cls = '') {
  return svg('svg', { viewBox: '0 0 24 24', class: `icon ${cls}`.trim(), 'aria-hidden': 'true', focusable: 'false' },
    ...(P[name] || P.alert).map((d) => svg('path', { d })));
}

// Messenger marks: a filled disc in the platform's colour with a white glyph.
const MESSENGER = {
  telegram: { label: 'Telegram', d: 'M5.5 11.6l11-4.3c.5-.2 1 .1.8.9l-1.9 8.8c-.1.6-.5.8-1 .5l-2.9-2.1-1.4 1.3c-.2.2-.3.3-.6.3l.2-3 5.4-4.9c.2-.2 0-.3-.3-.1l-6.7 4.2-2.9-.9c-.6-.2-.6-.6.3-.9z' },
  whatsapp: { label: 'WhatsApp', d: 'M12 5.2a6.8 6.8 0 0 0-5.9 10.2L5.2 18.8l3.5-.9A6.8 6.8 0 1 0 12 5.2zm3.3 9.2c-.2.4-.8.8-1.3.8-.4 0-.8.2-2.7-.6-2.3-1-3.7-3.2-3.8-3.4-.1-.1-.9-1.2-.9-2.3s.6-1.6.8-1.8c.2-.2.4-.3.6-.3h.4c.1 0 .3 0 .5.4l.7 1.6c0 .1.1.3 0 .4l-.3.5-.4.4c-.1.1-.2.3-.1.5.2.3.7 1.1 1.4 1.7.9.8 1.7 1.1 2 1.2.2.1.4.1.5-.1l.7-.9c.2-.2.3-.2.5-.1l1.5.7c.2.1.4.2.4.3.1.1.1.6-.1 1.1z' },
  viber: { label: 'Viber', d: 'M12 5c-3.9 0-6.5 1.4-6.5 5.6 0 2.4.9 3.8 2.3 4.6v2.5c0 .3.3.4.5.2l2.1-2.1c.5.1 1 .1 1.6.1 3.9 0 6.5-1.4 6.5-5.3S15.9 5 12 5zm2.6 8.3c-.3.5-.8.8-1.3.7-2.2-.6-4-2.3-4.6-4.5-.1-.5.2-1 .7-1.3.3-.2.6-.1.8.2l.6.9c.2.3.1.6-.1.8l-.3.2c.3.9 1 1.6 1.9 1.9l.2-.3c.2-.3.5-.3.8-.1l.9.6c.4.2.5.6.4.9z' },
  widget: { label: t('Website chat'), d: 'M7.5 7h9A1.5 1.5 0 0 1 18 8.5v6a1.5 1.5 0 0 1-1.5 1.5H12l-3 2.5V16H7.5A1.5 1.5 0 0 1 6 14.5v-6A1.5 1.5 0 0 1 7.5 7z' },
  api: { label: 'API', d: 'M9.5 8.5L6 12l3.5 3.5 1-1L8 12l2.5-2.5-1-1zm5 0l-1 1L16 12l-2.5 2.5 1 1L18 12l-3.5-3.5z' },
};

export const messengerLabel = (kind) => MESSENGER[kind]?.label || kind;

/** Messenger mark for a channel kind, with a text alternative. */
export function messengerIcon(kind, title) {
  const m = MESSENGER[kind] || MESSENGER.api;
  const label = title || m.label;
  return svg('svg', { viewBox: '0 0 24 24', class: `messenger m-${MESSENGER[kind] ? kind : 'api'}`, role: 'img', 'aria-label': label },
    svg('title', {}, label), svg('circle', { cx: 12, cy: 12, r: 12 }), svg('path', { d: m.d }));
}
