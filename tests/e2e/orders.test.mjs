// Browser tests for live orders and order custom fields (A2), run by run.sh against a live
// server. Another manager changes orders through the API while the page is open:
// - the board follows order.updated / order.deleted without a reload (a card appears, moves
//   column, changes, leaves the filtered board and disappears; the stage totals follow), keeps
//   the focused card focused, and does not re-render under a card being dragged;
// - the client's orders view adds an order with custom fields, edits them (a field removed is
//   gone from the server), follows live changes and says so in an open edit dialog;
// - the client card in Chats shows the client's orders and their fields, live.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, request } from 'playwright-core';
import { eventually } from './lib.mjs';

const URL = process.env.PARLEY_URL;
const TOKEN = process.env.PARLEY_CHANNEL_TOKEN;
const PASSWORD = process.env.PARLEY_PASSWORD;
const ADMIN = { login: process.env.PARLEY_ADMIN_LOGIN || 'alice', name: process.env.PARLEY_ADMIN_NAME || 'Alice Admin' };
const MANAGER = { login: process.env.PARLEY_MANAGER_LOGIN || 'bob', name: process.env.PARLEY_MANAGER_NAME || 'Bob Builder' };
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');
const PLAN = 'Live board';

assert.ok(URL && TOKEN && PASSWORD, 'run through tests/e2e/run.sh (PARLEY_URL, PARLEY_CHANNEL_TOKEN, PARLEY_PASSWORD)');
mkdirSync(SHOTS, { recursive: true });

let browser;
let hook;
let bobApi; // the other manager, changing orders through the API
let csrf;
let alice; // { context, page, errors }: the browser that watches
const people = {}; // name → { contact, chat }
const managers = {}; // login → id

async function call(method, path, data) {
  const res = await bobApi.fetch(path, { method, data, headers: { 'X-CSRF-Token': csrf } });
  const text = await res.text();
  return [res.status(), text ? JSON.parse(text) : null];
}

async function ok(method, path, data) {
  const [status, body] = await call(method, path, data);
  assert.ok(status >= 200 && status < 300, `${method} ${path}: ${status} ${JSON.stringify(body)}`);
  return body;
}

async function client(name) {
  const ext = `ord-${name.replace(/\W+/g, '-').toLowerCase()}`;
  const res = await hook.post('/webhooks/api/crm', {
    headers: { Authorization: `Bearer ${TOKEN}` },
    data: { contact: { external_id: ext, name }, message: { external_id: `${ext}-${Date.now()}`, text: 'About my order' } },
  });
  assert.equal(res.status(), 200, await res.text());
  const body = await res.json();
  people[name] = { contact: body.contact_id, chat: body.chat_id };
}

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  hook = await request.newContext({ baseURL: URL, ignoreHTTPSErrors: true });
  bobApi = await request.newContext({ baseURL: URL, ignoreHTTPSErrors: true });
  const s = await bobApi.post('/api/v1/session', { data: { login: MANAGER.login, password: PASSWORD } });
  assert.equal(s.status(), 200);
  csrf = (await s.json()).csrf_token;
  for (const m of (await ok('GET', '/api/v1/managers')).items) managers[m.login] = m.id;
  await client('Olga Orderly');
  await client('Pavel Fields');
  await ok('POST', '/api/v1/sales_plans', { name: PLAN, stages: ['New', 'Offer', 'Won'] });

  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${URL}/#/orders`);
  await page.locator('#signin-login').fill(ADMIN.login);
  await page.locator('#signin-password').fill(PASSWORD);
  await page.locator('#signin-submit').click();
  await page.locator('#app').waitFor({ state: 'visible' });
  alice = { context, page, errors };
});

after(async () => {
  await browser?.close();
  await hook?.dispose();
  await bobApi?.dispose();
});

const col = (page, name) => page.locator('#view-orders .board-col', { has: page.locator('h3', { hasText: name }) });
const cardIn = (page, stage, title) => col(page, stage).locator('.board-card', { has: page.locator('.board-title', { hasText: title }) });
const total = (page, stage) => col(page, stage).locator('.board-col-head .muted').textContent();
const cardsNamed = (page, title) => page.locator('#view-orders .board-card', { has: page.locator('.board-title', { hasText: title }) });

test('the open board follows orders created, moved, changed and deleted elsewhere', async () => {
  const { page, errors } = alice;
  await page.locator('#ord-plan-pick option', { hasText: PLAN }).waitFor({ state: 'attached' }).catch(async (e) => {
    await page.screenshot({ path: join(SHOTS, 'orders-live-fail.png') });
    throw new Error(`${e.message}; page errors: ${errors.join(' | ')}`);
  });
  await page.locator('#ord-plan-pick').selectOption(PLAN);
  await eventually(async () => assert.equal(await page.locator('#view-orders .board-col').count(), 3));
  assert.match(await total(page, 'New'), /^0$/);
  // Anything below happening by a reload would lose this.
  await page.evaluate(() => { window.__sameDocument = true; });
  const olga = people['Olga Orderly'].contact;

  const piano = await ok('POST', '/api/v1/orders', { contact_id: olga, plan: PLAN, title: 'Piano', amount: 300, currency: 'EUR' });
  await eventually(async () => assert.equal(await cardIn(page, 'New', 'Piano').count(), 1));
  assert.match(await cardIn(page, 'New', 'Piano').textContent(), /Olga Orderly/);
  await eventually(async () => assert.match(await total(page, 'New'), /^1 · 300 EUR$/));
  const drum = await ok('POST', '/api/v1/orders', { contact_id: olga, plan: PLAN, title: 'Drum', amount: 50.25, currency: 'EUR' });
  await eventually(async () => assert.match(await total(page, 'New'), /^2 · 350[.,]25 EUR$/));
  assert.match(await page.locator('#view-orders p[role=status]').textContent(), /2 orders/);

  // Moved to another stage: the card changes column, both totals follow.
  await ok('PATCH', `/api/v1/orders/${piano.id}`, { stage: 'Offer' });
  await eventually(async () => assert.equal(await cardIn(page, 'Offer', 'Piano').count(), 1));
  assert.equal(await cardIn(page, 'New', 'Piano').count(), 0);
  assert.equal(await cardsNamed(page, 'Piano').count(), 1, 'one card, not a copy');
  await eventually(async () => assert.match(await total(page, 'New'), /^1 · 50[.,]25 EUR$/));
  assert.match(await total(page, 'Offer'), /^1 · 300 EUR$/);

  // An edit: the new amount and the custom fields show on the card; the focused card keeps focus.
  await cardIn(page, 'New', 'Drum').focus();
  await ok('PATCH', `/api/v1/orders/${piano.id}`, { amount: 320, custom_fields: { Colour: 'Black', Keys: '88' } });
  await eventually(async () => assert.match(await total(page, 'Offer'), /^1 · 320 EUR$/));
  const card = cardIn(page, 'Offer', 'Piano');
  assert.deepEqual(await card.locator('.board-fields dt').allTextContents(), ['Colour', 'Keys']);
  assert.deepEqual(await card.locator('.board-fields dd').allTextContents(), ['Black', '88']);
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.id), String(drum.id), 'focus stays on the card the manager is on');
  // The focused card itself is moved by someone else: focus goes with it.
  await ok('PATCH', `/api/v1/orders/${drum.id}`, { stage: 'Won' });
  await eventually(async () => assert.equal(await cardIn(page, 'Won', 'Drum').count(), 1));
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.id), String(drum.id));
  assert.match(await total(page, 'New'), /^0$/);

  // A manager filter: an order of somebody else's stays off the board until it becomes Bob's.
  await page.locator('#ord-manager').selectOption(String(managers[MANAGER.login]));
  await eventually(async () => assert.equal(await cardsNamed(page, 'Piano').count(), 1));
  const flute = await ok('POST', '/api/v1/orders', { contact_id: olga, plan: PLAN, title: 'Flute', amount: 10, currency: 'EUR', manager_id: managers[ADMIN.login] });
  const bell = await ok('POST', '/api/v1/orders', { contact_id: olga, plan: PLAN, title: 'Bell', amount: 5, currency: 'EUR' });
  await eventually(async () => assert.equal(await cardsNamed(page, 'Bell').count(), 1));
  assert.equal(await cardsNamed(page, 'Flute').count(), 0, 'an order of another manager is not on the filtered board');
  await ok('PATCH', `/api/v1/orders/${flute.id}`, { manager_id: managers[MANAGER.login] });
  await eventually(async () => assert.equal(await cardIn(page, 'New', 'Flute').count(), 1));
  assert.match(await total(page, 'New'), /^2 · 15 EUR$/);
  await ok('PATCH', `/api/v1/orders/${bell.id}`, { manager_id: managers[ADMIN.login] });
  await eventually(async () => assert.equal(await cardsNamed(page, 'Bell').count(), 0));
  assert.match(await total(page, 'New'), /^1 · 10 EUR$/);
  await page.locator('#ord-manager').selectOption('');
  await eventually(async () => assert.equal(await cardsNamed(page, 'Bell').count(), 1));

  // Deleted: the card is gone, the totals drop.
  await ok('DELETE', `/api/v1/orders/${piano.id}`);
  await eventually(async () => assert.equal(await cardsNamed(page, 'Piano').count(), 0));
  assert.match(await total(page, 'Offer'), /^0$/);
  // A focused card deleted elsewhere hands the focus to its neighbour in the column.
  await cardsNamed(page, 'Flute').focus();
  await ok('DELETE', `/api/v1/orders/${flute.id}`);
  await eventually(async () => assert.equal(await cardsNamed(page, 'Flute').count(), 0));
  assert.match(await page.evaluate(() => document.activeElement?.getAttribute('aria-label') || ''), /^Bell, /);
  await ok('DELETE', `/api/v1/orders/${bell.id}`);
  await eventually(async () => assert.match(await total(page, 'New'), /^0$/));

  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');
  await page.screenshot({ path: join(SHOTS, 'orders-live-board.png') });
  assert.deepEqual(errors, []);
});

test('a change to the card being dragged waits for the drop', async () => {
  const { page, errors } = alice;
  const drum = cardIn(page, 'Won', 'Drum');
  await drum.waitFor();
  const id = Number(await drum.getAttribute('data-id'));
  const handle = await drum.elementHandle();
  const dt = await page.evaluateHandle(() => new DataTransfer());
  await drum.dispatchEvent('dragstart', { dataTransfer: dt });
  await ok('PATCH', `/api/v1/orders/${id}`, { title: 'Drum kit' });
  // The event has surely arrived by now; the card under the pointer is the same element.
  await page.waitForTimeout(1200);
  assert.equal(await handle.evaluate((e) => e.isConnected), true, 'the dragged card was not replaced mid-drag');
  assert.equal(await handle.evaluate((e) => e.querySelector('.board-title').textContent), 'Drum');
  await drum.dispatchEvent('dragend', { dataTransfer: dt });
  await eventually(async () => assert.equal(await cardIn(page, 'Won', 'Drum kit').count(), 1));
  assert.equal(await cardsNamed(page, 'Drum').count(), 1);
  await ok('DELETE', `/api/v1/orders/${id}`);
  await eventually(async () => assert.equal(await cardsNamed(page, 'Drum').count(), 0));
  assert.deepEqual(errors, []);
});

const rowOf = (page, title) => page.locator('#view-orders .ord-table tbody tr', { has: page.locator('td:first-child', { hasText: title }) });
const fieldsOf = async (row) => {
  const keys = await row.locator('.ord-fields dt').allTextContents();
  const values = await row.locator('.ord-fields dd').allTextContents();
  return Object.fromEntries(keys.map((k, i) => [k, values[i]]));
};

test('custom fields: added with a new order, kept over a reload, one removed in the edit dialog', async () => {
  const { page, errors } = alice;
  const pavel = people['Pavel Fields'].contact;
  await page.goto(`${URL}/#/orders/${pavel}`);
  await eventually(async () => assert.equal(await page.locator('#view-orders .panel-title').first().textContent(), 'Orders of Pavel Fields'));
  const form = page.locator('#view-orders form.ord-form');
  await form.locator('#ord-new-title').fill('Bicycle');
  await form.locator('#ord-new-plan').selectOption(PLAN);
  await form.locator('#ord-new-amount').fill('450');
  await form.locator('#ord-new-currency').fill('eur');
  const rows = form.locator('.ord-field-row');
  for (const [k, v] of [['Frame size', 'L'], ['Colour', 'Racing green']]) {
    await form.getByRole('button', { name: 'Add a field' }).click();
    // The new row's name box has the focus.
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Field name');
    await rows.last().locator('.ord-field-key').fill(k);
    await rows.last().locator('.ord-field-value').fill(v);
  }
  assert.equal(await rows.count(), 2);
  // A name over the server's 64 bytes (33 Cyrillic letters) is refused here, naming the field.
  await form.getByRole('button', { name: 'Add a field' }).click();
  await rows.last().locator('.ord-field-key').fill('Ж'.repeat(33));
  await rows.last().locator('.ord-field-value').fill('x');
  await form.getByRole('button', { name: 'Add order' }).click();
  await eventually(async () => assert.match(await form.locator('.form-note').textContent(), /longer than 64 bytes/));
  assert.equal(await rows.last().locator('.ord-field-key').getAttribute('aria-invalid'), 'true');
  assert.equal((await ok('GET', `/api/v1/contacts/${pavel}/orders`)).items.length, 0, 'nothing was saved');
  await rows.last().getByRole('button', { name: /^Remove the field/ }).click();
  assert.equal(await rows.count(), 2);
  await form.getByRole('button', { name: 'Add order' }).click();

  await eventually(async () => assert.equal(await rowOf(page, 'Bicycle').count(), 1));
  assert.deepEqual(await fieldsOf(rowOf(page, 'Bicycle')), { 'Frame size': 'L', Colour: 'Racing green' });
  assert.equal(await rows.count(), 0, 'the form is empty for the next order');
  const [saved] = (await ok('GET', `/api/v1/contacts/${pavel}/orders`)).items;
  assert.deepEqual(saved.custom_fields, { 'Frame size': 'L', Colour: 'Racing green' });
  assert.equal(saved.currency, 'EUR');

  await page.reload();
  await page.locator('#app').waitFor({ state: 'visible' });
  await eventually(async () => assert.equal(await rowOf(page, 'Bicycle').count(), 1));
  assert.deepEqual(await fieldsOf(rowOf(page, 'Bicycle')), { 'Frame size': 'L', Colour: 'Racing green' });
  // The board card shows them too.
  await page.locator('#ord-plan-pick').selectOption(PLAN);
  await eventually(async () => assert.deepEqual(await cardIn(page, 'New', 'Bicycle').locator('.board-fields dt').allTextContents(), ['Colour', 'Frame size']));

  await rowOf(page, 'Bicycle').getByRole('button', { name: 'Edit the order “Bicycle”' }).click();
  const dlg = page.locator('dialog.modal[open]');
  await dlg.waitFor();
  const drows = dlg.locator('.ord-field-row');
  assert.equal(await drows.count(), 2);
  assert.deepEqual(await drows.locator('.ord-field-key').evaluateAll((xs) => xs.map((x) => x.value)), ['Colour', 'Frame size']);
  assert.deepEqual(await drows.locator('.ord-field-value').evaluateAll((xs) => xs.map((x) => x.value)), ['Racing green', 'L']);
  await dlg.getByRole('button', { name: 'Remove the field “Frame size”' }).click();
  assert.equal(await drows.count(), 1);
  await page.screenshot({ path: join(SHOTS, 'orders-fields-edit.png') });
  await dlg.getByRole('button', { name: 'Save' }).click();
  await dlg.waitFor({ state: 'detached' });
  const stored = await ok('GET', `/api/v1/orders/${saved.id}`);
  assert.deepEqual(stored.custom_fields, { Colour: 'Racing green' });
  await eventually(async () => assert.deepEqual(await fieldsOf(rowOf(page, 'Bicycle')), { Colour: 'Racing green' }));
  await eventually(async () => assert.deepEqual(await cardIn(page, 'New', 'Bicycle').locator('.board-fields dt').allTextContents(), ['Colour']));
  await page.screenshot({ path: join(SHOTS, 'orders-client.png') });
  assert.deepEqual(errors, []);
});

test('the client’s orders follow changes made elsewhere, and an open edit dialog says so', async () => {
  const { page, errors } = alice;
  const pavel = people['Pavel Fields'].contact;
  const [bike] = (await ok('GET', `/api/v1/contacts/${pavel}/orders`)).items;
  await ok('PATCH', `/api/v1/orders/${bike.id}`, { stage: 'Offer', custom_fields: { Colour: 'Red', Bell: 'yes' } });
  await eventually(async () => assert.equal(await rowOf(page, 'Bicycle').locator('td').nth(2).textContent(), 'Offer'));
  assert.deepEqual(await fieldsOf(rowOf(page, 'Bicycle')), { Bell: 'yes', Colour: 'Red' });
  const helmet = await ok('POST', '/api/v1/orders', { contact_id: pavel, plan: PLAN, title: 'Helmet', amount: 40, currency: 'EUR' });
  await eventually(async () => assert.equal(await rowOf(page, 'Helmet').count(), 1));

  // Editing the helmet while Bob changes it: the typed text stays, a note says what happened.
  await rowOf(page, 'Helmet').getByRole('button', { name: 'Edit the order “Helmet”' }).click();
  const dlg = page.locator('dialog.modal[open]');
  await dlg.locator('#ord-edit-title').fill('Helmet, size M');
  await ok('PATCH', `/api/v1/orders/${helmet.id}`, { amount: 45 });
  await eventually(async () => assert.match(await dlg.locator('.form-note').textContent(), /Someone has just changed this order/));
  assert.equal(await dlg.locator('#ord-edit-title').inputValue(), 'Helmet, size M');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'ord-edit-title', 'the focus stays in the field');
  await ok('DELETE', `/api/v1/orders/${helmet.id}`);
  await eventually(async () => assert.match(await dlg.locator('.form-note').textContent(), /has just been deleted/));
  assert.equal(await dlg.getByRole('button', { name: 'Save' }).isDisabled(), true);
  await dlg.getByRole('button', { name: 'Cancel' }).click();
  await eventually(async () => assert.equal(await rowOf(page, 'Helmet').count(), 0));
  assert.match(await page.evaluate(() => document.activeElement?.getAttribute('aria-label') || ''), /^Edit the order/, 'focus is back in the list');

  // Field names and values are text, never markup (on the list and on the board card).
  const evil = { '<b id="k">name</b>': '<img src=x onerror="window.__xss=1">' };
  await ok('PATCH', `/api/v1/orders/${bike.id}`, { custom_fields: evil });
  await eventually(async () => assert.deepEqual(await fieldsOf(rowOf(page, 'Bicycle')), evil));
  await eventually(async () => assert.deepEqual(await cardIn(page, 'Offer', 'Bicycle').locator('.board-fields dd').allTextContents(), Object.values(evil)));
  assert.equal(await page.locator('#view-orders img, #view-orders b#k').count(), 0);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  await ok('PATCH', `/api/v1/orders/${bike.id}`, { custom_fields: { Colour: 'Red', Bell: 'yes' } });
  await eventually(async () => assert.deepEqual(await fieldsOf(rowOf(page, 'Bicycle')), { Bell: 'yes', Colour: 'Red' }));
  assert.deepEqual(errors, []);
});

test('leaving Orders stops the live updates; coming back shows the current board', async () => {
  const { page, errors } = alice;
  await page.evaluate(() => { location.hash = '#/chats'; });
  await page.locator('#view-chats').waitFor({ state: 'visible' });
  // Nothing on the hidden board changes while another page is shown.
  const shown = await page.locator('#view-orders .board-card').count();
  const olga = people['Olga Orderly'].contact;
  const ghost = await ok('POST', '/api/v1/orders', { contact_id: olga, plan: PLAN, title: 'Ghost', amount: 1 });
  await page.waitForTimeout(800);
  assert.equal(await page.locator('#view-orders .board-card').count(), shown, 'the hidden board did not follow');
  await page.evaluate(() => { location.hash = '#/orders'; });
  await page.locator('#ord-plan-pick').selectOption(PLAN);
  await eventually(async () => assert.equal(await cardsNamed(page, 'Ghost').count(), 1));
  await ok('DELETE', `/api/v1/orders/${ghost.id}`);
  await eventually(async () => assert.equal(await cardsNamed(page, 'Ghost').count(), 0));
  assert.deepEqual(errors, []);
});

test('the client card in Chats lists the orders with their fields, live', async () => {
  const { page, errors } = alice;
  const pavel = people['Pavel Fields'];
  await page.goto(`${URL}/#/chats/${pavel.contact}/${pavel.chat}`);
  const card = page.locator('.pane-card');
  await eventually(async () => assert.equal(await card.locator('.card-name').textContent(), 'Pavel Fields'));
  const orders = card.locator('.card-orders');
  await eventually(async () => assert.match(await orders.textContent(), /Bicycle · Live board: Offer · 450 EUR/));
  assert.deepEqual(await orders.locator('li', { hasText: 'Bicycle' }).locator('dt').allTextContents(), ['Bell', 'Colour']);
  const lamp = await ok('POST', '/api/v1/orders', { contact_id: pavel.contact, plan: PLAN, title: 'Lamp', amount: 12, currency: 'EUR', custom_fields: { Bulb: 'E27' } });
  await eventually(async () => assert.equal(await orders.locator('li', { hasText: 'Lamp' }).count(), 1));
  assert.deepEqual(await orders.locator('li', { hasText: 'Lamp' }).locator('dd').allTextContents(), ['E27']);
  // An edit that writes no system message (no stage move) still shows.
  await ok('PATCH', `/api/v1/orders/${lamp.id}`, { custom_fields: { Bulb: 'GU10' } });
  await eventually(async () => assert.deepEqual(await orders.locator('li', { hasText: 'Lamp' }).locator('dd').allTextContents(), ['GU10']));
  await ok('DELETE', `/api/v1/orders/${lamp.id}`);
  await eventually(async () => assert.equal(await orders.locator('li', { hasText: 'Lamp' }).count(), 0));
  assert.equal(await orders.locator('li', { hasText: 'Bicycle' }).count(), 1);
  await page.screenshot({ path: join(SHOTS, 'orders-card.png') });
  assert.deepEqual(errors, []);
});
