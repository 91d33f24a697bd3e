// Parley — Audience (A1): every client in a virtual-scrolled table (search, filters, sort,
// chosen columns), bulk actions on a selection or on everyone matching, CSV import with
// column mapping, CSV export, merging clients, and editing one (#/audience/<id>).

import { api, sendRaw } from '../api.js';
import { h, btn, lbl, field, clear, fill, phone, shortTime, date, debounce, errText, num } from '../dom.js';
import { flash, setNote, modal, confirmDialog, togglePopover } from '../ui.js';
import { t, plural } from '../i18n.js';

const ROW = 36;
const PAGE = 100;
const COLUMNS = {
  phones: [t('Phones'), (c) => c.phones.map(phone).join(', ')],
  emails: [t('E-mails'), (c) => c.emails.join(', ')],
  tags: [t('Tags'), (c) => c.tags.join(', ')],
  channels: [t('Channels'), (c) => (c.channels || []).join(', ')],
  sales_plan: [t('Sales plan'), (c) => c.sales_plan || ''],
  stage: [t('Stage'), (c) => c.stage || ''],
  assignee: [t('Responsible'), (c) => c.assignee_name || ''],
  fields: [t('Custom fields'), (c) => Object.entries(c.custom_fields || {}).map(([k, v]) => `${k}: ${v}`).join('; ')],
  created: [t('Created'), (c) => date(c.created_ms)],
  last_activity: [t('Last activity'), (c) => (c.last_activity_ms ? shortTime(c.last_activity_ms) : '')],
};
const DEFAULT_COLS = ['phones', 'emails', 'tags', 'channels', 'sales_plan', 'stage', 'last_activity'];
const COLS_KEY = 'parley.audience.columns';

const st = {
  q: '', filter: null, savedFilter: '', sort: 'activity_desc', total: 0, pages: new Map(), gen: 0,
  selected: new Set(), all: false, editing: null, cols: loadCols(),
};
const el = {};

function loadCols() {
  try {
    const v = JSON.parse(localStorage.getItem(COLS_KEY));
    if (Array.isArray(v)) return v.filter((k) => COLUMNS[k]);
  } catch { /* private mode or bad value */ }
  return DEFAULT_COLS;
}

export function mount(root) {
  document.head.append(h('link', { rel: 'stylesheet', href: '/css/audience.css' }));
  el.search = h('input', { type: 'search', id: 'aud-search', placeholder: t('Search by name, phone, e-mail'), autocomplete: 'off' });
  el.search.addEventListener('input', debounce(() => { st.q = el.search.value.trim(); reload(); }, 250));
  el.sort = h('select', { id: 'aud-sort', onchange: () => { st.sort = el.sort.value; reload(); } },
    h('option', { value: 'activity_desc', text: t('Newest activity first') }), h('option', { value: 'activity_asc', text: t('Oldest activity first') }));
  el.colsBtn = btn(t('Columns'), () => togglePopover(el.colsBtn, (panel) => panel.append(columnsPicker()), { label: t('Columns') }), 'ghost', { 'aria-haspopup': 'true' });
  el.note = h('p', { class: 'muted', role: 'status', id: 'aud-note' });
  el.bulk = h('div', { class: 'aud-bulk', role: 'region', 'aria-label': t('Bulk actions') });
  el.progress = h('div', { class: 'aud-progress', hidden: true });
  el.head = h('div', { class: 'aud-row aud-headrow', role: 'row' });
  el.spacer = h('div', { class: 'aud-spacer' });
  el.rows = h('div', { class: 'aud-rows', role: 'rowgroup' });
  el.scroller = h('div', { class: 'aud-scroller', tabindex: '0', role: 'table', 'aria-label': t('Clients'), 'aria-describedby': 'aud-note' },
    h('div', { role: 'rowgroup', class: 'aud-head' }, el.head), h('div', { class: 'aud-body' }, el.spacer, el.rows));
  el.scroller.addEventListener('scroll', () => requestAnimationFrame(renderRows));
  el.editor = h('section', { class: 'panel editor', hidden: true });
  root.append(
    h('div', { class: 'page-head' }, h('h2', { class: 'page-title', text: t('Audience') }),
      h('div', { class: 'page-tools' }, lbl('aud-search', t('Search clients'), true), el.search,
        lbl('aud-sort', t('Sort'), true), el.sort, el.colsBtn,
        btn(t('Import CSV'), openImport, 'ghost'), btn(t('Export CSV'), () => exportCsv(false), 'ghost'))),
    filterBar(), el.editor, el.bulk, el.progress, el.scroller, el.note);
  reload();
}

export function show(args) {
  const id = Number(args[0]);
  if (id) edit(id);
  else {
    st.editing = null;
    clear(el.editor).hidden = true;
  }
}

// ---------- filters ----------

function filterBar() {
  const sel = (id, label, pairs) => [lbl(id, label, true), h('select', { id, 'aria-label': label }, pairs.map(([v, l]) => h('option', { value: v, text: l })))];
  const yn = [['', t('Any')], ['yes', t('Yes')], ['no', t('No')]];
  const f = {};
  const [l1, messenger] = sel('aud-f-messenger', t('Messenger'), [['', t('Any messenger')], ['telegram', 'Telegram'], ['whatsapp', 'WhatsApp'], ['viber', 'Viber'], ['widget', t('Website chat')], ['api', 'API']]);
  const [l2, hasPhone] = sel('aud-f-phone', t('Has phone'), yn);
  const [l3, hasEmail] = sel('aud-f-email', t('Has e-mail'), yn);
  const [l4, archived] = sel('aud-f-archived', t('Archived'), yn);
  f.tag = h('input', { type: 'text', id: 'aud-f-tag', placeholder: t('Tag'), size: '10' });
  f.plan = h('input', { type: 'text', id: 'aud-f-plan', placeholder: t('Sales plan'), size: '10' });
  el.saved = h('select', { id: 'aud-f-saved' }, h('option', { value: '', text: t('No saved filter') }));
  api('GET', '/api/v1/filters').then((r) => el.saved.append(...(r.items || []).map((x) => h('option', { value: x.id, text: x.name }))), () => {});
  const apply = (e) => {
    e?.preventDefault();
    const spec = { match: 'all', conditions: [] };
    const b = (v) => (v === 'yes' ? true : v === 'no' ? false : undefined);
    if (messenger.value) spec.messengers = [messenger.value];
    if (b(hasPhone.value) !== undefined) spec.has_phone = b(hasPhone.value);
    if (b(hasEmail.value) !== undefined) spec.has_email = b(hasEmail.value);
    if (f.plan.value.trim()) spec.sales_plan = f.plan.value.trim();
    if (f.tag.value.trim()) spec.conditions.push({ field: 'tag', op: 'is', value: f.tag.value.trim() });
    if (b(archived.value) !== undefined) spec.conditions.push({ field: 'archived', op: 'is', value: b(archived.value) });
    if (!spec.conditions.length) delete spec.conditions;
    st.filter = Object.keys(spec).length > 1 ? spec : null;
    st.savedFilter = el.saved.value;
    reload();
  };
  const form = h('form', { class: 'aud-filters', 'aria-label': t('Filters') }, l1, messenger, l2, hasPhone, l3, hasEmail, l4, archived,
    lbl('aud-f-tag', t('Tag'), true), f.tag, lbl('aud-f-plan', t('Sales plan'), true), f.plan,
    lbl('aud-f-saved', t('Saved filter'), true), el.saved,
    h('button', { type: 'submit', class: 'btn btn-sm btn-primary', text: t('Filter') }));
  form.addEventListener('submit', apply);
  return form;
}

function query(extra = {}) {
  const p = new URLSearchParams(extra);
  if (st.q) p.set('q', st.q);
  if (st.filter) p.set('filter', JSON.stringify(st.filter));
  if (st.savedFilter) p.set('saved_filter', st.savedFilter);
  return p;
}

// ---------- the table ----------

function reload() {
  st.gen++;
  st.pages.clear();
  st.selected.clear();
  st.all = false;
  el.scroller.scrollTop = 0;
  renderHead();
  renderBulk();
  loadPage(0).then(renderRows);
}

/** Reload now and again shortly: the search index follows a change within a second. */
function reloadSoon() {
  reload();
  setTimeout(reload, 1200);
}

async function loadPage(n) {
  if (st.pages.has(n)) return st.pages.get(n);
  const gen = st.gen;
  const p = query({ offset: String(n * PAGE), limit: String(PAGE), sort: st.sort });
  const req = api('GET', `/api/v1/audience?${p}`).then((res) => {
    if (gen !== st.gen) return null;
    st.total = res.total || 0;
    st.pages.set(n, res.items || []);
    el.spacer.style.height = `${st.total * ROW}px`;
    el.note.textContent = st.total ? plural(st.total, { one: '{n} client', other: '{n} clients' }) : st.q || st.filter ? t('No clients match.') : t('No clients yet.');
    return res.items;
  }, (err) => {
    st.pages.delete(n);
    if (gen === st.gen) el.note.textContent = errText(err);
  });
  st.pages.set(n, req);
  return req;
}

function gridTemplate() {
  return `36px minmax(160px, 1.4fr) ${st.cols.map(() => 'minmax(110px, 1fr)').join(' ')}`;
}

function renderHead() {
  const all = h('input', { type: 'checkbox', 'aria-label': t('Select every client shown'), onchange: (e) => selectShown(e.target.checked) });
  el.head.style.gridTemplateColumns = gridTemplate();
  fill(el.head, h('span', { role: 'columnheader' }, all), h('span', { role: 'columnheader', text: t('Name') }),
    st.cols.map((k) => h('span', { role: 'columnheader', text: COLUMNS[k][0] })));
}

function renderRows() {
  const top = el.scroller.scrollTop;
  const height = el.scroller.clientHeight || 600;
  const first = Math.max(0, Math.floor(top / ROW) - 5);
  const last = Math.min(st.total, Math.ceil((top + height) / ROW) + 5);
  const rows = [];
  for (let i = first; i < last; i++) {
    const page = st.pages.get(Math.floor(i / PAGE));
    if (!Array.isArray(page)) {
      loadPage(Math.floor(i / PAGE)).then(() => requestAnimationFrame(renderRows));
      rows.push(place(h('div', { class: 'aud-row is-loading', role: 'row' }, h('span', { role: 'cell', text: t('Loading…') })), i));
      continue;
    }
    const c = page[i % PAGE];
    if (c) rows.push(row(c, i));
  }
  fill(el.rows, rows);
}

function row(c, i) {
  const box = h('input', { type: 'checkbox', checked: st.all || st.selected.has(c.id), disabled: st.all, 'aria-label': t('Select {name}', { name: c.name || c.id }) });
  box.addEventListener('change', () => {
    if (box.checked) st.selected.add(c.id);
    else st.selected.delete(c.id);
    renderBulk();
  });
  const name = h('span', { role: 'cell', class: 'aud-name' }, h('a', { href: `#/audience/${c.id}`, text: c.name || t('Unnamed client') }),
    c.archived ? h('span', { class: 'pill', text: t('archived') }) : null, c.blacklisted ? h('span', { class: 'pill', text: t('blacklisted') }) : null);
  return place(h('div', { class: 'aud-row', role: 'row', 'aria-rowindex': String(i + 2), 'data-id': c.id },
    h('span', { role: 'cell' }, box), name, st.cols.map((k) => h('span', { role: 'cell', text: COLUMNS[k][1](c) }))), i);
}

/** Position row `i` (through CSSOM: the CSP refuses style attributes). */
function place(r, i) {
  r.style.top = `${i * ROW}px`;
  r.style.gridTemplateColumns = gridTemplate();
  return r;
}

function selectShown(on) {
  for (const page of st.pages.values()) {
    if (!Array.isArray(page)) continue;
    for (const c of page) on ? st.selected.add(c.id) : st.selected.delete(c.id);
  }
  renderRows();
  renderBulk();
}

function columnsPicker() {
  return h('fieldset', { class: 'aud-cols' }, h('legend', { text: t('Columns') }), Object.entries(COLUMNS).map(([k, [label]]) => {
    const box = h('input', { type: 'checkbox', checked: st.cols.includes(k) });
    box.addEventListener('change', () => {
      st.cols = Object.keys(COLUMNS).filter((x) => (x === k ? box.checked : st.cols.includes(x)));
      try { localStorage.setItem(COLS_KEY, JSON.stringify(st.cols)); } catch { /* private mode */ }
      renderHead();
      renderRows();
    });
    return h('label', { class: 'check' }, box, ` ${label}`);
  }));
}

// ---------- bulk actions ----------

function target() {
  if (st.all) {
    const b = {};
    if (st.q) b.q = st.q;
    if (st.filter) b.filter = st.filter;
    if (st.savedFilter) b.saved_filter = Number(st.savedFilter);
    if (!b.q && !b.filter && !b.saved_filter) b.all = true;
    return b;
  }
  return { ids: Array.from(st.selected) };
}

function renderBulk() {
  const n = st.all ? st.total : st.selected.size;
  if (!n) {
    fill(el.bulk, h('span', { class: 'muted', text: t('Select clients for bulk actions, or act on everyone matching:') }),
      btn(t('Select all {n} matching', { n: num(st.total) }), () => { st.all = true; renderRows(); renderBulk(); }, 'ghost', { disabled: !st.total }));
    return;
  }
  fill(el.bulk, h('strong', { text: st.all ? t('All {n} matching clients', { n: num(n) }) : plural(n, { one: '{n} client selected', other: '{n} clients selected' }) }),
    btn(t('Add tag'), () => tagAction('tag_add')), btn(t('Remove tag'), () => tagAction('tag_remove')),
    btn(t('Archive'), () => runBulk({ action: 'archive' }, t('Archive {n} clients?', { n: num(n) }))),
    btn(t('Unarchive'), () => runBulk({ action: 'unarchive' })),
    btn(t('Start a funnel'), funnelAction), btn(t('Export'), () => exportCsv(true)),
    !st.all && n >= 2 && n <= 50 ? btn(t('Merge…'), () => openMerge(Array.from(st.selected))) : null,
    btn(t('Clear selection'), () => { st.all = false; st.selected.clear(); renderRows(); renderBulk(); }));
}

function ask(title, control, okText) {
  return new Promise((resolve) => {
    let out = null;
    const ok = h('button', { class: 'btn btn-primary', text: okText, type: 'submit', form: 'aud-ask' });
    const form = h('form', { id: 'aud-ask' }, control);
    const m = modal({ title, body: [form], actions: [h('button', { class: 'btn btn-ghost', text: t('Cancel'), onclick: () => m.close() }), ok], cls: 'modal-small', onClose: () => resolve(out) });
    form.addEventListener('submit', (e) => { e.preventDefault(); out = control.querySelector('input,select').value.trim(); m.close(); });
    control.querySelector('input,select').focus();
  });
}

async function tagAction(action) {
  const input = h('input', { type: 'text', id: 'aud-tag', maxlength: '64', required: true });
  const tag = await ask(action === 'tag_add' ? t('Add a tag') : t('Remove a tag'), field(t('Tag'), input), t('Apply'));
  if (tag) runBulk({ action, tag });
}

async function funnelAction() {
  let funnels = [];
  try { funnels = (await api('GET', '/api/v1/funnels')).items || []; } catch (err) { return flash(errText(err), 'error'); }
  if (!funnels.length) return flash(t('No funnels yet: make one in Automation.'), 'error');
  const s = h('select', { id: 'aud-funnel' }, funnels.map((f) => h('option', { value: f.id, text: f.name })));
  const id = await ask(t('Start a funnel'), field(t('Funnel'), s), t('Start'));
  if (id) runBulk({ action: 'funnel', funnel: Number(id) });
}

async function runBulk(body, confirmText) {
  if (confirmText && !(await confirmDialog(confirmText, { ok: t('Archive'), danger: true }))) return;
  try {
    const { job } = await api('POST', '/api/v1/contacts/bulk', { ...target(), ...body });
    const j = await watchJob(job, t('Working on the clients…'));
    flash(j.failed ? t('Done: {done}, not possible for {failed}', { done: num(j.done - j.failed), failed: num(j.failed) }) : t('Done for {n} clients', { n: num(j.done) }), j.failed ? 'info' : 'ok');
    reload();
  } catch (err) {
    flash(errText(err), 'error');
  }
}

/** Poll a job, showing a progress bar, until it ends; resolves with the job. */
async function watchJob(id, label) {
  const bar = h('progress', { max: '1', value: '0', 'aria-label': label });
  const text = h('span', { role: 'status' });
  fill(el.progress, h('span', { text: label }), bar, text);
  el.progress.hidden = false;
  try {
    for (;;) {
      let j = null;
      try { j = await api('GET', `/api/v1/jobs/${encodeURIComponent(id)}`); } catch (err) { if (err.status !== 404) throw err; }
      if (j) {
        bar.max = Math.max(1, j.total);
        bar.value = j.done;
        text.textContent = `${num(j.done)} / ${num(j.total)}`;
        if (j.state === 'failed') throw new Error(j.error || t('The job failed'));
        if (j.state === 'done') return j;
      }
      await new Promise((r) => setTimeout(r, 400));
    }
  } finally {
    el.progress.hidden = true;
  }
}

function exportCsv(selection) {
  const p = selection && !st.all ? new URLSearchParams({ ids: Array.from(st.selected).join(',') }) : query();
  const a = h('a', { href: `/api/v1/contacts/export?${p}`, download: 'parley-clients.csv', hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
}

// ---------- import ----------

/** The first rows of a CSV file, as the server reads it (quotes, `,` or `;`, BOM). */
export function previewCsv(text, max = 6) {
  text = text.replace(/^\uFEFF/, '');
  const firstLine = text.split('\n', 1)[0];
  const sep = (firstLine.match(/;/g) || []).length > (firstLine.match(/,/g) || []).length ? ';' : ',';
  const rows = [];
  let rec = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length && rows.length < max; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (ch === '"') quoted = false; else cell += ch;
    } else if (ch === '"' && cell === '') quoted = true;
    else if (ch === sep) { rec.push(cell); cell = ''; } else if (ch === '\n') { rec.push(cell.replace(/\r$/, '')); if (rec.some((x) => x.trim())) rows.push(rec); rec = []; cell = ''; } else cell += ch;
  }
  if ((cell || rec.length) && rows.length < max) { rec.push(cell); rows.push(rec); }
  return rows;
}

function guess(head) {
  const x = head.trim().toLowerCase();
  if (['name', 'full name', 'client', 'имя', 'фио', 'клиент'].includes(x)) return 'name';
  if (['phone', 'phones', 'telephone', 'mobile', 'телефон', 'телефоны'].includes(x)) return 'phone';
  if (['email', 'e-mail', 'emails', 'e-mails', 'mail', 'почта'].includes(x)) return 'email';
  if (['tags', 'tag', 'теги', 'метки'].includes(x)) return 'tags';
  if (['', 'id', 'channels', 'sales_plan', 'stage', 'assignee', 'created', 'last_activity', 'archived', 'blacklisted'].includes(x)) return 'skip';
  return `field:${head.trim()}`;
}

function openImport() {
  const file = h('input', { type: 'file', id: 'imp-file', accept: '.csv,text/csv' });
  const mapping = h('div', { class: 'imp-map' });
  const preview = h('div', { class: 'imp-preview' });
  const report = h('div', { class: 'imp-report', role: 'status' });
  const dry = h('button', { class: 'btn btn-ghost', text: t('Dry run'), disabled: true });
  const go = h('button', { class: 'btn btn-primary', text: t('Import'), disabled: true });
  let text = '';
  let selects = [];
  const m = modal({ title: t('Import clients from CSV'), cls: 'modal-wide',
    body: [h('p', { class: 'muted', text: t('A header row, then one client per row. Rows are matched to clients by phone or e-mail; importing the same file again changes nothing.') }),
      field(t('CSV file (UTF-8, “,” or “;”)'), file), mapping, preview, report],
    actions: [h('button', { class: 'btn btn-ghost', text: t('Close'), onclick: () => m.close() }), dry, go] });
  file.addEventListener('change', async () => {
    const f = file.files[0];
    if (!f) return;
    text = await f.text();
    const rows = previewCsv(text);
    if (!rows.length) return setNote(report, t('The file is empty.'));
    const head = rows[0];
    const targets = (hd) => [['name', t('Name')], ['phone', t('Phone')], ['email', t('E-mail')], ['tags', t('Tags')], [`field:${hd.trim()}`, t('Custom field “{name}”', { name: hd.trim() })], ['skip', t('Skip')]];
    selects = head.map((hd, i) => {
      const s = h('select', { id: `imp-col-${i}`, 'data-head': hd.trim() }, targets(hd).map(([v, l]) => h('option', { value: v, text: l })));
      s.value = guess(hd);
      return s;
    });
    fill(mapping, h('h3', { class: 'sub-title', text: t('Columns') }), h('div', { class: 'form-grid' }, selects.map((s, i) => field(head[i] || t('Column {n}', { n: i + 1 }), s))));
    fill(preview, h('h3', { class: 'sub-title', text: t('First rows') }), h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
      h('thead', null, h('tr', null, head.map((x) => h('th', { text: x })))),
      h('tbody', null, rows.slice(1).map((r) => h('tr', null, head.map((_, i) => h('td', { text: r[i] || '' }))))))));
    dry.disabled = go.disabled = false;
    clear(report);
  });
  const run = async (dryRun) => {
    dry.disabled = go.disabled = true;
    const map = {};
    for (const s of selects) map[s.dataset.head] = s.value;
    const job = `imp-${Date.now().toString(36)}`;
    const p = new URLSearchParams({ dry_run: String(dryRun), map: JSON.stringify(map), job });
    setNote(report, dryRun ? t('Checking…') : t('Importing…'), 'info');
    const watching = dryRun ? null : watchJob(job, t('Importing…')).catch(() => null);
    try {
      const body = await sendRaw('POST', `/api/v1/contacts/import?${p}`, text, 'text/csv');
      showReport(report, body, dryRun);
      if (!dryRun) reloadSoon();
    } catch (err) {
      setNote(report, errText(err));
    } finally {
      await watching;
      dry.disabled = go.disabled = false;
    }
  };
  dry.addEventListener('click', () => run(true));
  go.addEventListener('click', () => run(false));
  file.focus();
}

function showReport(host, r, dryRun) {
  const line = dryRun
    ? t('Dry run: {created} new, {updated} updated, {skipped} unchanged, {errors} with errors. Nothing was written.', { created: num(r.created), updated: num(r.updated), skipped: num(r.skipped), errors: num(r.error_count) })
    : t('Imported: {created} new, {updated} updated, {skipped} unchanged, {errors} with errors.', { created: num(r.created), updated: num(r.updated), skipped: num(r.skipped), errors: num(r.error_count) });
  fill(host, h('p', { class: 'imp-summary', text: line }), r.errors.length ? h('ul', { class: 'plain-list imp-errors' },
    r.errors.slice(0, 200).map((e) => h('li', { text: t('Line {line}: {message}', { line: e.line, message: e.message }) }))) : null);
}

// ---------- merge ----------

async function openMerge(ids, primaryId = ids[0]) {
  let clients;
  try {
    clients = (await Promise.all(ids.map((id) => api('GET', `/api/v1/contacts/${id}`)))).map((c) => c.contact);
  } catch (err) {
    return flash(errText(err), 'error');
  }
  const note = h('p', { class: 'form-note', role: 'alert' });
  const radios = clients.map((c) => h('input', { type: 'radio', name: 'merge-primary', value: c.id, checked: c.id === primaryId }));
  const go = h('button', { class: 'btn btn-primary', text: t('Merge') });
  const m = modal({ title: t('Merge clients'), body: [
    h('p', { text: t('Choose the client who stays. Chats, phones, e-mails, tags, fields, tasks, notes, orders and the log of the others move to them; the others are removed.') }),
    h('fieldset', { class: 'merge-list' }, h('legend', { text: t('Primary client') }), clients.map((c, i) => h('label', { class: 'check merge-item' }, radios[i],
      h('span', null, h('strong', { text: c.name || t('Unnamed client') }), h('span', { class: 'muted', text: ` ${[...c.phones.map(phone), ...c.emails].join(', ')}` }))))),
    note], actions: [h('button', { class: 'btn btn-ghost', text: t('Cancel'), onclick: () => m.close() }), go] });
  go.addEventListener('click', async () => {
    const primary = Number(radios.find((r) => r.checked)?.value);
    go.disabled = true;
    try {
      const c = await api('POST', `/api/v1/contacts/${primary}/merge`, { from: ids.filter((id) => id !== primary) });
      m.close();
      flash(t('Merged into {name}', { name: c.name }), 'ok');
      reloadSoon();
      if (st.editing) location.hash = `#/audience/${primary}`;
    } catch (err) {
      setNote(note, errText(err));
      go.disabled = false;
    }
  });
}

// ---------- editing one client ----------

const lines = (v) => v.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);

async function edit(id) {
  st.editing = id;
  el.editor.hidden = false;
  fill(el.editor, h('p', { class: 'muted', text: t('Loading…') }));
  let c;
  try {
    c = (await api('GET', `/api/v1/contacts/${id}`)).contact;
  } catch (err) {
    if (err.status === 404 && err.body?.merged_into) {
      location.hash = `#/audience/${err.body.merged_into}`;
      return;
    }
    fill(el.editor, h('p', { class: 'form-error', text: errText(err) }));
    return;
  }
  if (st.editing !== id) return;
  const f = {
    name: h('input', { type: 'text', id: 'ed-name', value: c.name || '', required: true }),
    plan: h('input', { type: 'text', id: 'ed-plan', value: c.sales_plan || '' }),
    phones: h('textarea', { id: 'ed-phones', rows: '2', value: c.phones.map(phone).join('\n') }),
    emails: h('textarea', { id: 'ed-emails', rows: '2', value: c.emails.join('\n') }),
    fields: h('textarea', { id: 'ed-fields', rows: '3', value: Object.entries(c.custom_fields || {}).map(([k, v]) => `${k}: ${v}`).join('\n') }),
    archived: h('input', { type: 'checkbox', checked: c.archived }),
    blacklisted: h('input', { type: 'checkbox', checked: c.blacklisted }),
  };
  const out = h('p', { class: 'form-note', role: 'alert', hidden: true });
  const form = h('form', { class: 'form-grid' },
    field(t('Name'), f.name), field(t('Sales plan'), f.plan), field(t('Phones (one per line)'), f.phones), field(t('E-mails (one per line)'), f.emails),
    field(t('Custom fields (key: value per line)'), f.fields),
    h('div', { class: 'field checks' }, h('label', { class: 'check' }, f.archived, ` ${t('Archived')}`), h('label', { class: 'check' }, f.blacklisted, ` ${t('Blacklisted')}`)),
    out,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', text: t('Save') }),
      h('a', { class: 'btn btn-ghost', href: `#/chats/${c.id}`, text: t('Open chat') }),
      h('a', { class: 'btn btn-ghost', href: `#/orders/${c.id}`, text: t('Orders and sales') }),
      h('a', { class: 'btn btn-ghost', href: '#/audience', text: t('Close') })));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const custom = {};
    for (const line of f.fields.value.split('\n')) {
      const i = line.indexOf(':');
      if (i > 0) custom[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
    const body = { name: f.name.value.trim(), phones: lines(f.phones.value), emails: lines(f.emails.value), sales_plan: f.plan.value.trim() || null, custom_fields: custom };
    for (const k of ['archived', 'blacklisted']) if (f[k].checked !== c[k]) body[k] = f[k].checked;
    try {
      c = await api('PATCH', `/api/v1/contacts/${c.id}`, body);
      st.pages.clear();
      renderRows();
      setNote(out, t('Saved'), 'ok');
      flash(t('Client saved'), 'ok');
    } catch (err) {
      setNote(out, errText(err));
    }
  });
  const dups = h('div', { class: 'aud-dups' }, h('p', { class: 'muted', text: t('Looking for duplicates…') }));
  fill(el.editor, h('h3', { class: 'panel-title', text: t('Edit {name}', { name: c.name || t('client') }) }), form,
    h('h4', { class: 'sub-title', text: t('Possible duplicates') }), dups);
  f.name.focus();
  try {
    const items = (await api('GET', `/api/v1/contacts/${id}/duplicates`)).items || [];
    fill(dups, items.length ? h('ul', { class: 'plain-list' }, items.map((d) => h('li', null,
      h('a', { href: `#/audience/${d.contact.id}`, text: d.contact.name || t('Unnamed client') }),
      h('span', { class: 'muted', text: ` — ${d.reasons.map((r) => t(r)).join(', ')} ` }),
      btn(t('Merge…'), () => openMerge([id, d.contact.id], id))))) : h('p', { class: 'muted', text: t('No likely duplicates.') }));
  } catch (err) {
    fill(dups, h('p', { class: 'form-error', text: errText(err) }));
  }
}
