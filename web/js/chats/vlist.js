// Parley — a virtualised list of fixed-height rows: only the rows in view (plus a margin)
// exist, absolutely positioned in a spacer of count × rowHeight.

import { h } from '../dom.js';

export class VList {
  /** o: rowHeight, render(item) → element, key(item), onNearEnd() near the end, label. */
  constructor(scroller, { rowHeight, render, key, onNearEnd, label }) {
    this.scroller = scroller;
    this.rowHeight = rowHeight;
    this.renderRow = render;
    this.key = key;
    this.onNearEnd = onNearEnd;
    this.items = [];
    this.nodes = new Map(); // key → { el, item, index }
    this.inner = h('div', { class: 'vlist-inner', role: 'list', 'aria-label': label || null });
    scroller.append(this.inner);
    this.frame = 0;
    scroller.addEventListener('scroll', () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.schedule()).observe(scroller);
  }

  setItems(items, { force = false } = {}) {
    this.items = items;
    if (force) this.dropAll();
    this.inner.style.height = `${items.length * this.rowHeight}px`;
    this.draw();
  }

  dropAll() {
    for (const { el } of this.nodes.values()) el.remove();
    this.nodes.clear();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  draw() {
    const rh = this.rowHeight;
    const top = this.scroller.scrollTop;
    const height = this.scroller.clientHeight || 600;
    const overscan = 6;
    const first = Math.max(0, Math.floor(top / rh) - overscan);
    const last = Math.min(this.items.length - 1, Math.ceil((top + height) / rh) + overscan);
    const keep = new Set();
    const focused = document.activeElement;
    for (let i = first; i <= last; i++) {
      const item = this.items[i];
      const k = this.key(item);
      keep.add(k);
      let node = this.nodes.get(k);
      if (node && node.item !== item) {
        // Content changed: rebuild but keep focus on the replacement.
        const hadFocus = node.el.contains(focused);
        node.el.remove();
        node = null;
        this.nodes.delete(k);
        if (hadFocus) this.refocus = k;
      }
      if (!node) {
        const el = h('div', { class: 'vrow', role: 'listitem' }, this.renderRow(item, i));
        node = { el, item, index: -1 };
        this.nodes.set(k, node);
        this.inner.append(el);
      }
      if (node.index !== i) {
        node.index = i;
        node.el.style.transform = `translateY(${i * rh}px)`;
        node.el.setAttribute('aria-posinset', String(i + 1));
      }
      node.el.setAttribute('aria-setsize', String(this.items.length));
    }
    for (const [k, node] of this.nodes) {
      // Keep a focused row alive even when scrolled out, so keyboard focus is not lost.
      if (!keep.has(k) && !node.el.contains(focused)) {
        node.el.remove();
        this.nodes.delete(k);
      }
    }
    if (this.refocus !== undefined) {
      const n = this.nodes.get(this.refocus);
      this.refocus = undefined;
      const target = n && n.el.querySelector('a, button');
      if (target) target.focus({ preventScroll: true });
    }
    if (this.onNearEnd && this.items.length && last >= this.items.length - 8) this.onNearEnd();
  }

  /** Scroll so that row `index` is visible. */
  reveal(index) {
    const rh = this.rowHeight;
    const top = index * rh;
    const s = this.scroller;
    if (top < s.scrollTop) s.scrollTop = top;
    else if (top + rh > s.scrollTop + s.clientHeight) s.scrollTop = top + rh - s.clientHeight;
    this.draw();
  }

  /** The row element for a key if it is rendered. */
  element(key) {
    const n = this.nodes.get(key);
    return n ? n.el : null;
  }
}
