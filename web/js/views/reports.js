// Parley — Reports (T3): the team's figures over a span of days (presets or custom), narrowed to a
// channel or a manager: summary tiles, messages in / out and first response per day and the
// busiest hours as inline SVG (../charts.js), tables per channel, manager and day, the server's
// definitions, and the same span as CSV (GET /api/v1/reports/overview with Accept: text/csv).

import { api } from '../api.js';
import { h, btn, lbl, fill, num, errText } from '../dom.js';
import { state as shared, on, loadChannels } from '../store.js';
import { flash, setNote } from '../ui.js';
import { t, current } from '../i18n.js';
import { bars, heat, niceMax } from '../charts.js';

const PATH = '/api/v1/reports/overview';
const PRESETS = [['7', 'Last 7 days'], ['30', 'Last 30 days'], ['90', 'Last 90 days'], ['custom', 'Custom range']];
const LABELS = {
  conversations: 'Conversations', messages_in: 'Messages in', messages_out: 'Messages out',
  first_response_ms: 'First response', reply_ms: 'Reply time', resolution_ms: 'Resolution time', manager: 'Manager',
};

const st = { seq: 0, channels: [], data: null };
const el = {};

// ---------- formatting ----------

/** A duration in words: 45 s, 3 min, 1 h 20 min, 2 d 4 h; an em dash for none. */
export function duration(ms) {
  if (ms == null || !Number.isFinite(ms)) return '—';
  if (ms > 0 && ms < 500) return t('under 1 s');
  const sec = Math.round(ms / 1000);
  if (sec < 60) return t('{n} s', { n: sec });
  const min = Math.round(sec / 60);
  if (min < 60) return t('{n} min', { n: min });
  const hrs = Math.floor(min / 60), m = min % 60;
  if (hrs < 24) return m ? t('{h} h {m} min', { h: hrs, m }) : t('{n} h', { n: hrs });
  const d = Math.floor(hrs / 24), hr = hrs % 24;
  return hr ? t('{d} d {h} h', { d, h: hr }) : t('{n} d', { n: d });
}

/** A duration axis top with a whole-unit half-way line: 0 / 2 min / 4 min, 0 / 1 h / 2 h… */
function durationTop(max) {
  if (max < 2000) return 2000;
  const unit = [86400000, 3600000, 60000, 1000].find((u) => max >= u * 2);
  return niceMax(max / unit / 2) * 2 * unit;
}

/** A count axis top with a whole half-way line: 0 / 1 / 2, 0 / 2 / 4, 0 / 5 / 10… */
const countTop = (max) => niceMax(Math.max(max, 1) / 2) * 2;

const ymd = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
function daysBack(n) {
  const d = new Date();
  d.setDate(d.getDate() - (n - 1));
  return ymd(d);
}
const dayFmt = () => new Intl.DateTimeFormat(current(), { month: 'short', day: 'numeric' });
const dayText = (day) => dayFmt().format(new Date(`${day}T12:00:00`));
const weekdays = () => {
  const f = new Intl.DateTimeFormat(current(), { weekday: 'short' });
  return Array.from({ length: 7 }, (_, i) => f.format(new Date(2024, 0, 1 + i, 12))); // 1 Jan 2024 was a Monday
};
const weekdaysLong = () => {
  const f = new Intl.DateTimeFormat(current(), { weekday: 'long' });
  return Array.from({ length: 7 }, (_, i) => f.format(new Date(2024, 0, 1 + i, 12)));
};

// ---------- page ----------

export function mount(root) {
  document.head.append(h('link', { rel: 'stylesheet', href: '/css/reports.css' }));
  el.range = h('select', { id: 'rep-range', onchange: onPreset }, PRESETS.map(([v, l]) => h('option', { value: v, text: t(l) })));
  el.from = h('input', { type: 'date', id: 'rep-from', onchange: onDates });
  el.to = h('input', { type: 'date', id: 'rep-to', onchange: onDates });
  el.channel = h('select', { id: 'rep-channel', onchange: load }, h('option', { value: '', text: t('All channels') }));
  el.manager = h('select', { id: 'rep-manager', onchange: load });
  el.csv = btn(t('Download CSV'), downloadCsv, 'ghost', { id: 'rep-csv' });
  el.note = h('p', { class: 'form-note', role: 'status', id: 'rep-note' });
  el.tz = h('p', { class: 'muted rep-tz' });
  el.body = h('div', { class: 'rep-body' });
  root.append(
    h('div', { class: 'page-head' }, h('h2', { class: 'page-title', text: t('Reports') }), h('div', { class: 'page-tools' }, el.csv)),
    h('form', { class: 'rep-filters panel', 'aria-label': t('Report filters'), onsubmit: (e) => { e.preventDefault(); load(); } },
      h('div', { class: 'field' }, lbl('rep-range', t('Period')), el.range),
      h('div', { class: 'field' }, lbl('rep-from', t('From')), el.from),
      h('div', { class: 'field' }, lbl('rep-to', t('To')), el.to),
      h('div', { class: 'field' }, lbl('rep-channel', t('Channel')), el.channel),
      h('div', { class: 'field' }, lbl('rep-manager', t('Manager')), el.manager)),
    el.note, el.tz, el.body);
  el.range.value = '7';
  setPreset(7);
  fillManagers();
  on('managers', fillManagers);
  loadChannels().then((items) => {
    st.channels = items;
    const v = el.channel.value;
    fill(el.channel, h('option', { value: '', text: t('All channels') }), items.map((c) => h('option', { value: c.id, text: channelName(c.id) })));
    el.channel.value = v;
    if (st.data) render(st.data);
  }, (err) => console.warn('channels:', err.message));
}

export function show() {
  if (el.range.value !== 'custom') setPreset(Number(el.range.value));
  load();
}

function fillManagers() {
  const v = el.manager.value;
  const ms = Array.from(shared.managers.values()).sort((a, b) => (a.name || a.login).localeCompare(b.name || b.login));
  fill(el.manager, h('option', { value: '', text: t('All managers') }),
    ms.map((m) => h('option', { value: m.id, text: m.name || m.login })), h('option', { value: '0', text: t('Bot or nobody') }));
  el.manager.value = v;
}

function setPreset(n) {
  el.from.value = daysBack(n);
  el.to.value = ymd(new Date());
}

function onPreset() {
  if (el.range.value !== 'custom') {
    setPreset(Number(el.range.value));
    load();
  } else el.from.focus();
}

function onDates() {
  el.range.value = 'custom';
  load();
}

function query() {
  const p = new URLSearchParams({ from: el.from.value, to: el.to.value });
  if (el.channel.value) p.set('channel', el.channel.value);
  if (el.manager.value) p.set('manager', el.manager.value);
  return p;
}

function valid() {
  if (!el.from.value || !el.to.value) return setNote(el.note, t('Choose both dates.')), false;
  if (el.from.value > el.to.value) return setNote(el.note, t('The start date is after the end date.')), false;
  return true;
}

async function load() {
  if (!valid()) return;
  const seq = ++st.seq;
  setNote(el.note, t('Loading…'), 'info');
  el.body.setAttribute('aria-busy', 'true');
  try {
    const data = await api('GET', `${PATH}?${query()}`);
    if (seq !== st.seq) return;
    setNote(el.note, '');
    st.data = data;
    render(data);
  } catch (err) {
    if (seq !== st.seq) return;
    setNote(el.note, errText(err));
  } finally {
    if (seq === st.seq) el.body.removeAttribute('aria-busy');
  }
}

// ---------- rendering ----------

function render(d) {
  el.tz.textContent = t('Days in the {tz} time zone.', { tz: d.time_zone || 'UTC' });
  const quiet = !d.conversations && !d.messages_in && !d.messages_out && !d.resolution_ms?.count;
  if (quiet) {
    fill(el.body, h('p', { class: 'empty rep-empty', text: t('No activity in this period.') }), definitions(d));
    return;
  }
  fill(el.body, tiles(d),
    h('div', { class: 'rep-charts' }, messagesChart(d), responseChart(d)),
    heatSection(d),
    h('section', { class: 'panel' }, h('h3', { class: 'panel-title', text: t('By channel') }),
      figuresTable(t('Channel'), d.by_channel || [], (r) => channelName(r.channel_id), 'rep-by-channel')),
    h('section', { class: 'panel' }, h('h3', { class: 'panel-title', text: t('By manager') }),
      figuresTable(t('Manager'), d.by_manager || [], (r) => (r.manager_id == null ? t('Bot or nobody') : r.name || `#${r.manager_id}`), 'rep-by-manager')),
    h('details', { class: 'panel rep-days' }, h('summary', { text: t('Figures per day') }),
      figuresTable(t('Day'), d.by_day || [], (r) => dayText(r.day), 'rep-by-day')),
    definitions(d));
}

/** A channel's name, with its id when another channel has the same name. */
function channelName(id) {
  const c = st.channels.find((x) => x.id === id);
  if (!c?.name) return id;
  return st.channels.some((x) => x !== c && x.name === c.name) ? `${c.name} (${c.id})` : c.name;
}

function tiles(d) {
  const tile = (key, label, value, sub) => h('div', { class: 'rep-tile', 'data-key': key },
    h('span', { class: 'rep-tile-label', text: label }), h('strong', { class: 'rep-tile-value', text: value }),
    sub ? h('span', { class: 'rep-tile-sub', text: sub }) : null);
  const avg = (x) => t('average {v}', { v: duration(x?.avg) });
  return h('section', { class: 'rep-tiles', 'aria-label': t('Summary') },
    tile('conversations', t('Conversations'), num(d.conversations || 0)),
    tile('messages_in', t('Messages in'), num(d.messages_in || 0)),
    tile('messages_out', t('Messages out'), num(d.messages_out || 0)),
    tile('first_response_p50', t('First response, median'), duration(d.first_response_ms?.p50)),
    tile('first_response_avg', t('First response, average'), duration(d.first_response_ms?.avg)),
    tile('reply', t('Reply time, median'), duration(d.reply_ms?.p50), avg(d.reply_ms)),
    tile('resolution', t('Resolution time, median'), duration(d.resolution_ms?.p50), avg(d.resolution_ms)));
}

function figure(cls, title, svg, legend) {
  return h('figure', { class: `panel rep-chart ${cls}` }, h('figcaption', { class: 'panel-title', text: title }), svg,
    legend ? h('ul', { class: 'rep-legend' }, legend.map(([c, text]) => h('li', null, h('span', { class: `rep-swatch ${c}`, 'aria-hidden': 'true' }), text))) : null);
}

function messagesChart(d) {
  const days = d.by_day || [];
  const title = t('Messages per day');
  const svg = bars({
    title, desc: t('Messages in: {a}, out: {b}, over {n} days.', { a: d.messages_in || 0, b: d.messages_out || 0, n: days.length }),
    labels: days.map((x) => x.day), tick: dayText, fmt: (v) => num(Math.round(v)), top: countTop,
    series: [{ name: t('Messages in'), values: days.map((x) => x.messages_in || 0), cls: 'bar-in' },
      { name: t('Messages out'), values: days.map((x) => x.messages_out || 0), cls: 'bar-out' }],
  });
  return figure('rep-messages', title, svg, [['bar-in', t('Messages in')], ['bar-out', t('Messages out')]]);
}

function responseChart(d) {
  const days = d.by_day || [];
  const title = t('First response per day (median)');
  const svg = bars({
    title, desc: t('Median first response over the period: {v}.', { v: duration(d.first_response_ms?.p50) }),
    labels: days.map((x) => x.day), tick: dayText, fmt: (v) => (v ? duration(v) : '0'), top: durationTop,
    series: [{ name: t('First response, median'), values: days.map((x) => x.first_response_ms?.p50 ?? null), cls: 'bar-first' }],
  });
  return figure('rep-first', title, svg);
}

function heatSection(d) {
  const rows = weekdays(), long = weekdaysLong();
  const cols = Array.from({ length: 24 }, (_, i) => String(i).padStart(2, '0'));
  const values = Array.from({ length: 7 }, (_, i) => Array.from({ length: 24 }, (_, j) => d.heatmap?.[i]?.[j] || 0));
  let best = [0, 0, 0];
  values.forEach((r, i) => r.forEach((v, j) => { if (v > best[2]) best = [i, j, v]; }));
  const title = t('Busiest hours');
  const svg = heat({
    title, rows, cols, values,
    desc: best[2] ? t('Client messages by weekday and hour; the busiest is {day} {hour}:00 with {n}.', { day: long[best[0]], hour: cols[best[1]], n: best[2] })
      : t('Client messages by weekday and hour.'),
    cellTitle: (i, j, v) => t('{day} {hour}:00 — client messages: {n}', { day: long[i], hour: cols[j], n: v }),
  });
  return h('figure', { class: 'panel rep-chart rep-heat' }, h('figcaption', { class: 'panel-title', text: title }),
    h('div', { class: 'rep-heat-scroll' }, svg), h('p', { class: 'hint', text: t('Client messages by weekday and hour, in the report’s time zone.') }));
}

function figuresTable(first, rows, name, cls) {
  const heads = [first, t('Conversations'), t('Messages in'), t('Messages out'), t('First response, median'), t('First response, average'),
    t('Reply time, median'), t('Resolution time, median')];
  const body = rows.length
    ? rows.map((r) => h('tr', null, h('th', { scope: 'row', text: name(r) }),
      [num(r.conversations || 0), num(r.messages_in || 0), num(r.messages_out || 0), duration(r.first_response_ms?.p50),
        duration(r.first_response_ms?.avg), duration(r.reply_ms?.p50), duration(r.resolution_ms?.p50)].map((v) => h('td', { class: 'num', text: v }))))
    : h('tr', null, h('td', { colspan: heads.length, class: 'muted', text: t('No activity in this period.') }));
  return h('div', { class: 'table-wrap' }, h('table', { class: `table rep-table ${cls}` },
    h('thead', null, h('tr', null, heads.map((x) => h('th', { scope: 'col', text: x })))), h('tbody', null, body)));
}

function definitions(d) {
  const defs = Object.entries(d.definitions || {});
  if (!defs.length) return null;
  return h('section', { class: 'panel rep-defs' }, h('h3', { class: 'panel-title', text: t('Definitions') }),
    h('dl', null, defs.map(([k, text]) => [h('dt', { text: t(LABELS[k] || k) }), h('dd', { text: t(text) })])));
}

// ---------- CSV ----------

async function downloadCsv() {
  if (!valid()) return;
  el.csv.disabled = true;
  try {
    const res = await fetch(`${PATH}?${query()}`, { headers: { Accept: 'text/csv' }, credentials: 'same-origin', cache: 'no-store' });
    if (!res.ok) {
      let msg = '';
      try { msg = (await res.json()).message; } catch { /* not JSON */ }
      throw new Error(msg || t('Request failed (HTTP {status})', { status: String(res.status) }));
    }
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    const a = h('a', { href: url, download: `parley-report-${el.from.value}-${el.to.value}.csv`, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) {
    flash(err instanceof TypeError ? t('Cannot reach the server. Check your connection.') : errText(err), 'error');
  } finally {
    el.csv.disabled = false;
  }
}
