// Browser tests for Reports (T3), run by run.sh against a live server: clients write through the
// API channel's webhook and a manager answers; the Reports section (loaded only when opened) shows
// the tiles (messages in = what was sent), the SVG charts with their titles, a 7 × 24 heat map
// holding the client messages, tables per channel and manager, the definitions (in Russian for a
// Russian browser), an empty state for a quiet span, filters, and a CSV download of the same span.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, request } from 'playwright-core';
import { eventually } from './lib.mjs';

const URL = process.env.PARLEY_URL;
const TOKEN = process.env.PARLEY_CHANNEL_TOKEN;
const PASSWORD = process.env.PARLEY_PASSWORD;
const ADMIN = { login: process.env.PARLEY_ADMIN_LOGIN || 'alice', name: process.env.PARLEY_ADMIN_NAME || 'Alice Admin' };
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');

assert.ok(URL && TOKEN && PASSWORD, 'run through tests/e2e/run.sh (PARLEY_URL, PARLEY_CHANNEL_TOKEN, PARLEY_PASSWORD)');
mkdirSync(SHOTS, { recursive: true });

let browser;
let hook;
let adminApi;
let csrf;
let alice; // { context, page, errors, requests }
const SENT = [['rp-ivan', 'Ivan Report', 'Hello, is my order ready?'], ['rp-ivan', 'Ivan Report', 'It was number 42'], ['rp-nina', 'Nina Report', 'Do you deliver on Sundays?']];
const chats = {};

/** A client writes through the API channel's webhook. */
async function inject(ext, name, text) {
  const res = await hook.post('/webhooks/api/crm', {
    headers: { Authorization: `Bearer ${TOKEN}` },
    data: { contact: { external_id: ext, name }, message: { external_id: `${ext}-${Date.now()}-${Math.random()}`, text } },
  });
  assert.equal(res.status(), 200, await res.text());
  chats[name] = (await res.json()).chat_id;
}

async function call(method, path, data) {
  const res = await adminApi.fetch(path, { method, data, headers: { 'X-CSRF-Token': csrf } });
  const text = await res.text();
  return [res.status(), text ? JSON.parse(text) : null];
}

async function newPage(who, locale) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1440, height: 900 }, locale, acceptDownloads: true });
  const page = await context.newPage();
  const errors = [];
  const requests = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(`${URL}/#/chats`);
  await page.locator('#signin-login').fill(who.login);
  await page.locator('#signin-password').fill(PASSWORD);
  await page.locator('#signin-submit').click();
  await page.locator('#app').waitFor({ state: 'visible' });
  await page.locator('.pane-list a.row').first().waitFor();
  return { context, page, errors, requests };
}

const tile = (page, key) => page.locator(`.rep-tile[data-key="${key}"] .rep-tile-value`);

async function openReports(page) {
  await page.locator('.app-nav a[data-route="reports"]').click();
  await page.locator('#view-reports .rep-tiles, #view-reports .rep-empty').first().waitFor();
}

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  hook = await request.newContext({ baseURL: URL, ignoreHTTPSErrors: true });
  adminApi = await request.newContext({ baseURL: URL, ignoreHTTPSErrors: true });
  const session = await adminApi.post('/api/v1/session', { data: { login: ADMIN.login, password: PASSWORD } });
  assert.equal(session.status(), 200);
  csrf = (await session.json()).csrf_token;
  for (const [ext, name, text] of SENT) await inject(ext, name, text);
  const [st, msg] = await call('POST', `/api/v1/chats/${chats['Ivan Report']}/messages`, { text: 'Yes, it ships today.' });
  assert.ok(st === 200 || st === 201, JSON.stringify(msg));
  alice = await newPage(ADMIN);
});

after(async () => {
  await browser?.close();
  await hook?.dispose();
  await adminApi?.dispose();
});

test('the Reports page loads only when opened and shows the tiles: messages in = what the clients sent', async () => {
  const { page, requests } = alice;
  assert.ok(!requests.some((u) => u.includes('/js/views/reports.js') || u.includes('/js/charts.js')), 'the reports module is not loaded with the chats');
  const started = Date.now();
  await openReports(page);
  await eventually(async () => assert.equal(await tile(page, 'messages_in').textContent(), String(SENT.length)));
  const rendered = Date.now() - started;
  assert.ok(rendered < 5000, `the page rendered in ${rendered} ms (budget 5 s)`);
  assert.ok(requests.some((u) => u.includes('/js/views/reports.js')), 'the module came in on demand');
  assert.ok(requests.some((u) => u.includes('/css/reports.css')), 'its stylesheet too');
  // Like the Audience and Orders pages (tests/foundation/http.rs), what opening Reports adds stays within 60 KB.
  const added = await page.evaluate(() => performance.getEntriesByType('resource')
    .filter((e) => /\/(js\/views\/reports|js\/charts|css\/reports)\.(js|css)$/.test(new URL(e.name).pathname))
    .reduce((a, e) => a + e.decodedBodySize, 0));
  assert.ok(added > 1000 && added <= 60000, `opening Reports loads ${added} bytes of JS + CSS (budget 60 KB)`);
  assert.equal(await tile(page, 'messages_out').textContent(), '1');
  assert.equal(await tile(page, 'conversations').textContent(), '2');
  assert.match(await tile(page, 'first_response_p50').textContent(), /^(\d+ (s|min)|under 1 s)$/);
  assert.equal(await page.locator('.app-nav a[data-route="reports"]').getAttribute('aria-current'), 'page');
  assert.match(await page.title(), /Reports — Parley$/);
});

test('the charts are inline SVG with titles; the heat map has 7 × 24 cells holding the client messages', async () => {
  const { page } = alice;
  for (const cls of ['rep-messages', 'rep-first', 'rep-heat']) {
    const svg = page.locator(`.${cls} svg.chart`);
    assert.equal(await svg.count(), 1, cls);
    assert.equal(await svg.getAttribute('role'), 'img');
    const ids = (await svg.getAttribute('aria-labelledby')).split(' ');
    assert.ok((await page.locator(`[id="${ids[0]}"]`).textContent()).length > 3, `${cls} has a title`);
  }
  // A bar per day for in and out (7 days by default), the in bars summing to what was sent.
  const bars = await page.$$eval('.rep-messages rect.chart-bar.bar-in', (rs) => rs.map((r) => Number(r.dataset.v)));
  assert.equal(bars.length, 7);
  assert.equal(bars.reduce((a, b) => a + b, 0), SENT.length);
  assert.ok(await page.locator('.rep-messages rect.chart-bar.bar-out title').first().textContent());
  assert.ok(await page.locator('.rep-first rect.chart-bar').count() >= 1, 'a first-response bar for today');
  const cells = await page.$$eval('.rep-heat rect.chart-cell', (rs) => rs.map((r) => Number(r.dataset.v)));
  assert.equal(cells.length, 7 * 24);
  assert.equal(cells.reduce((a, b) => a + b, 0), SENT.length);
  assert.equal(await page.locator('.rep-heat text.chart-axis').count(), 7 + 8, 'weekday and hour labels');
  assert.match(await page.locator('.rep-heat rect.chart-cell:not(.chart-cell-zero) title').first().textContent(), /client messages: [1-9]\d*$/);
});

test('tables per channel and manager, and the definitions, carry the same numbers', async () => {
  const { page } = alice;
  const row = page.locator('.rep-by-channel tbody tr').first();
  assert.equal(await row.locator('th').textContent(), 'CRM bridge (crm)', 'two channels share a name: the id tells them apart');
  assert.equal(await row.locator('td').nth(1).textContent(), String(SENT.length));
  const managers = await page.$$eval('.rep-by-manager tbody th', (ths) => ths.map((x) => x.textContent));
  assert.ok(managers.includes(ADMIN.name), managers.join(', '));
  const dds = await page.$$eval('.rep-defs dd', (d) => d.map((x) => x.textContent));
  assert.ok(dds.length >= 6);
  assert.ok(dds.includes('Client messages.'));
  assert.equal(await page.locator('.rep-by-day tbody tr').count(), 7);
});

test('the filters narrow the report; a quiet span shows the empty state', async () => {
  const { page } = alice;
  await page.locator('#rep-manager').selectOption('0'); // bot or nobody: unassigned clients' messages, no answers
  await eventually(async () => assert.equal(await tile(page, 'messages_out').textContent(), '0'));
  assert.equal(await tile(page, 'messages_in').textContent(), String(SENT.length));
  await page.locator('#rep-manager').selectOption('');
  await page.locator('#rep-channel').selectOption('shop');
  await page.locator('.rep-empty').waitFor();
  await page.locator('#rep-channel').selectOption('');
  await page.locator('#rep-from').fill('2020-01-01');
  await page.locator('#rep-to').fill('2020-01-31');
  await page.locator('#rep-to').dispatchEvent('change');
  await eventually(async () => assert.equal(await page.locator('#rep-range').inputValue(), 'custom'));
  await page.locator('.rep-empty').waitFor();
  assert.equal(await page.locator('#view-reports svg.chart').count(), 0);
  await page.locator('#rep-from').fill('2020-02-10');
  await page.locator('#rep-from').dispatchEvent('change');
  await eventually(async () => assert.match(await page.locator('#rep-note').textContent(), /after the end date/));
  await page.locator('#rep-range').selectOption('30');
  await eventually(async () => assert.equal(await tile(page, 'messages_in').textContent(), String(SENT.length)));
  assert.equal(await page.locator('.rep-messages rect.chart-bar.bar-in').count(), 30);
});

test('Download CSV saves the span as one line per day', async () => {
  const { page } = alice;
  await page.locator('#rep-range').selectOption('7');
  await eventually(async () => assert.equal(await page.locator('.rep-by-day tbody tr').count(), 7));
  const [response, download] = await Promise.all([
    page.waitForResponse((r) => r.url().includes('/api/v1/reports/overview') && r.request().headers().accept === 'text/csv'),
    page.waitForEvent('download'),
    page.locator('#rep-csv').click(),
  ]);
  assert.equal(response.status(), 200);
  assert.match(download.suggestedFilename(), /^parley-report-\d{4}-\d\d-\d\d-\d{4}-\d\d-\d\d\.csv$/);
  const lines = readFileSync(await download.path(), 'utf8').trim().split('\n');
  assert.match(lines[0], /^day,conversations,messages_in,messages_out/);
  assert.equal(lines.length, 1 + 7);
  assert.equal(lines.slice(1).reduce((a, l) => a + Number(l.split(',')[2]), 0), SENT.length);
  await page.screenshot({ path: join(SHOTS, 'reports.png') });
  await page.locator('.rep-heat').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(SHOTS, 'reports-heat.png') });
  assert.deepEqual(alice.errors, []);
});

test('a Russian browser sees the section, durations and definitions in Russian', async () => {
  const ru = await newPage(ADMIN, 'ru-RU');
  try {
    assert.equal(await ru.page.locator('.app-nav a[data-route="reports"]').textContent(), 'Отчёты');
    await openReports(ru.page);
    await eventually(async () => assert.equal(await tile(ru.page, 'messages_in').textContent(), String(SENT.length)));
    assert.match(await tile(ru.page, 'first_response_p50').textContent(), /^(\d+ (с|мин)|меньше 1 с)$/);
    const dds = await ru.page.$$eval('.rep-defs dd', (d) => d.map((x) => x.textContent));
    assert.ok(dds.includes('Сообщения клиентов.'), dds.join(' | '));
    assert.ok(dds.every((x) => /[а-я]/i.test(x)), 'every definition is translated');
    assert.equal(await ru.page.locator('#rep-csv').textContent(), 'Скачать CSV');
    assert.deepEqual(ru.errors, []);
  } finally {
    await ru.context.close();
  }
});
