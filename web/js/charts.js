// Parley — small inline-SVG charts (no library) for the Reports page: bars per day (one or more
// series side by side) and a weekday × hour heat map. Text goes in through textContent only.
// Each chart is role="img" labelled by its <title> and <desc>; every bar and cell has its own
// <title> (the same numbers are in the page's tables for screen readers and copying).

const NS = 'http://www.w3.org/2000/svg';
let uid = 0;

function s(tag, attrs = {}, ...kids) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) e.setAttribute(k, String(v));
  for (const k of kids) if (k != null) e.append(k);
  return e;
}

function label(tag, str, attrs = {}) {
  const e = s(tag, attrs);
  e.textContent = str;
  return e;
}

function frame(w, h, title, desc, cls) {
  const id = `chart-${++uid}`;
  const svg = s('svg', { viewBox: `0 0 ${w} ${h}`, class: `chart ${cls}`, role: 'img', 'aria-labelledby': `${id}-t ${id}-d`, focusable: 'false' });
  svg.append(label('title', title, { id: `${id}-t` }), label('desc', desc, { id: `${id}-d` }));
  return svg;
}

/** The smallest 1 / 2 / 5 × 10^k at or above `max` (1 for nothing). */
export function niceMax(max) {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= max);
}

/**
 * Bars per label, the series side by side.
 * { title, desc, labels: [x…], series: [{ name, values: [number|null…], cls }], fmt(value) → axis / tooltip text,
 *   tick(label) → x-axis text, top(max) → the axis top (niceMax by default) }
 */
export function bars({ title, desc, labels, series, fmt = String, tick = (x) => x, top = niceMax }) {
  const W = 720, H = 240, L = 64, R = 8, T = 12, B = 28;
  const svg = frame(W, H, title, desc, 'chart-bars');
  const max = Math.max(0, ...series.flatMap((x) => x.values.filter((v) => v != null)));
  const hi = top(max);
  const pw = W - L - R, ph = H - T - B;
  for (const f of [0, 0.5, 1]) {
    const y = T + ph - f * ph;
    svg.append(s('line', { x1: L, x2: W - R, y1: y, y2: y, class: 'chart-grid' }),
      label('text', fmt(hi * f), { x: L - 6, y: y + 4, class: 'chart-axis', 'text-anchor': 'end' }));
  }
  const n = Math.max(labels.length, 1);
  const slot = pw / n;
  const bw = (slot * 0.8) / Math.max(series.length, 1);
  const every = Math.ceil(n / 8);
  labels.forEach((x, i) => {
    const x0 = L + i * slot + slot * 0.1;
    series.forEach((se, j) => {
      const v = se.values[i];
      if (v == null) return;
      const bh = v > 0 ? Math.max((v / hi) * ph, 1.5) : 0;
      svg.append(s('rect', { x: (x0 + j * bw).toFixed(2), y: (T + ph - bh).toFixed(2), width: Math.max(bw - 1, 1).toFixed(2), height: bh.toFixed(2), class: `chart-bar ${se.cls || ''}`, 'data-v': v },
        label('title', `${tick(x)} — ${se.name}: ${fmt(v)}`)));
    });
    if (i % every === 0) svg.append(label('text', tick(x), { x: (L + i * slot + slot / 2).toFixed(2), y: H - 8, class: 'chart-axis', 'text-anchor': 'middle' }));
  });
  return svg;
}

/**
 * A heat map: rows × cols cells, opacity by value.
 * { title, desc, rows: [row label…], cols: [col label…], values: [[number…]…], cellTitle(row, col, v), colEvery }
 */
export function heat({ title, desc, rows, cols, values, cellTitle, colEvery = 3 }) {
  const L = 48, T = 20, cw = 26, ch = 22;
  const W = L + cols.length * cw + 4, H = T + rows.length * ch + 4;
  const svg = frame(W, H, title, desc, 'chart-heat');
  const max = Math.max(0, ...values.flat());
  cols.forEach((c, j) => {
    if (j % colEvery === 0) svg.append(label('text', c, { x: L + j * cw + cw / 2, y: T - 6, class: 'chart-axis', 'text-anchor': 'middle' }));
  });
  rows.forEach((r, i) => {
    svg.append(label('text', r, { x: L - 6, y: T + i * ch + ch / 2 + 4, class: 'chart-axis', 'text-anchor': 'end' }));
    cols.forEach((c, j) => {
      const v = values[i]?.[j] || 0;
      svg.append(s('rect', {
        x: L + j * cw + 1, y: T + i * ch + 1, width: cw - 2, height: ch - 2, rx: 3, 'data-v': v,
        class: v ? 'chart-cell' : 'chart-cell chart-cell-zero', 'fill-opacity': v ? (0.15 + (0.85 * v) / max).toFixed(3) : null,
      }, label('title', cellTitle(i, j, v))));
    });
  });
  return svg;
}
