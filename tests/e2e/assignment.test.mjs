// Browser tests for assignment (T1), run by run.sh against a live server: the client card's
// Responsible chooser assigns a client (the system message comes into the open history live,
// another manager's card follows, a refusal shows the server's message), and the list's
// responsible control (All / Mine / Unassigned / a manager) narrows the list with its count,
// kept across sections and followed live. Clients come in through the API channel's webhook.

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
const CAROL = { login: 'carol', name: 'Carol Temp' };
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');

assert.ok(URL && TOKEN && PASSWORD, 'run through tests/e2e/run.sh (PARLEY_URL, PARLEY_CHANNEL_TOKEN, PARLEY_PASSWORD)');
mkdirSync(SHOTS, { recursive: true });

let browser;
let hook;
let adminApi;
let csrf;
const ids = {}; // client name → { contact, chat }
const mgr = {}; // login → manager id
let alice; // { context, page, errors, dialogs }

/** A client writes through the API channel's webhook. */
async function inject(ext, name, text) {
  const res = await hook.post('/webhooks/api/crm', {
    headers: { Authorization: `Bearer ${TOKEN}` },
    data: { contact: { external_id: ext, name }, message: { external_id: `${ext}-${Date.now()}-${Math.random()}`, text } },
  });
  assert.equal(res.status(), 200, await res.text());
  const body = await res.json();
  ids[name] = { contact: body.contact_id, chat: body.chat_id };
  return body;
}

/** An API call as the admin; returns [status, body]. */
async function call(method, path, data) {
  const res = await adminApi.fetch(path, { method, data, headers: { 'X-CSRF-Token': csrf } });
  const text = await res.text();
  return [res.status(), text ? JSON.parse(text) : null];
}

async function newPage(who) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  const dialogs = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  await page.goto(`${URL}/#/chats`);
  await page.locator('#signin-login').fill(who.login);
  await page.locator('#signin-password').fill(PASSWORD);
  await page.locator('#signin-submit').click();
  await page.locator('#app').waitFor({ state: 'visible' });
  await page.locator('.pane-list a.row').first().waitFor();
  return { context, page, errors, dialogs };
}

async function openClient(page, name) {
  await page.evaluate(({ c, ch }) => { location.hash = `#/chats/${c}/${ch}`; }, { c: ids[name].contact, ch: ids[name].chat });
  await eventually(async () => assert.equal(await page.locator('#chat-name').textContent(), name));
  await page.locator('.history .msg').first().waitFor();
}

const chooser = (page) => page.locator('.pane-card .card-assignee');
const chosenText = (page) => chooser(page).evaluate((s) => s.selectedOptions[0]?.textContent);
const systemTexts = (page) => page.$$eval('.history .msg-system', (els) => els.map((e) => e.textContent));
const rowNames = (page) => page.$$eval('.pane-list .vrow', (els) => els
  .map((e) => [Number(e.getAttribute('aria-posinset')), e.querySelector('.row-name').textContent])
  .sort((a, b) => a[0] - b[0]).map((x) => x[1]));

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
  // A third manager, disabled later while the page still offers her.
  const [st, carol] = await call('POST', '/api/v1/managers', { login: CAROL.login, name: CAROL.name, role: 'manager', password: PASSWORD });
  assert.equal(st, 201, JSON.stringify(carol));
  const [, list] = await call('GET', '/api/v1/managers');
  for (const m of list.items) mgr[m.login] = m.id;
  await inject('as-mila', 'Mila Assign', 'Who is looking after me?');
  await inject('as-oleg', 'Oleg Assign', 'Hello, I ordered a lamp');
  await inject('as-pavel', 'Pavel Assign', 'Is the shop open today?');
  alice = await newPage(ADMIN);
});

after(async () => {
  await browser?.close();
  await hook?.dispose();
  await adminApi?.dispose();
});

test('the card assigns a client: the system message comes in live, the card and another manager’s card show the manager', async () => {
  const { page, errors, dialogs } = alice;
  const bob = await newPage(MANAGER);
  await openClient(page, 'Mila Assign');
  await openClient(bob.page, 'Mila Assign');
  assert.equal(await chooser(page).inputValue(), '');
  assert.equal(await chosenText(page), 'Nobody');
  assert.equal(await page.locator('.pane-card .kv dt', { hasText: 'Responsible' }).count(), 1);
  // Every active manager to choose from, as text.
  const names = await chooser(page).locator('option').allTextContents();
  assert.deepEqual(names.sort(), ['Nobody', ADMIN.name, MANAGER.name, CAROL.name].sort());

  await page.evaluate(() => { window.__noReload = true; });
  await chooser(page).selectOption(String(mgr[MANAGER.login]));
  const line = `${ADMIN.name} assigned the client to ${MANAGER.name}`;
  await eventually(async () => assert.ok((await systemTexts(page)).some((s) => s.includes(line)), JSON.stringify(await systemTexts(page))));
  assert.equal(await chooser(page).inputValue(), String(mgr[MANAGER.login]));
  assert.equal(await chosenText(page), MANAGER.name);
  const [, d] = await call('GET', `/api/v1/contacts/${ids['Mila Assign'].contact}`);
  assert.equal(d.contact.assignee, mgr[MANAGER.login]);
  // The other manager's open chat and card follow.
  await eventually(async () => assert.equal(await chosenText(bob.page), MANAGER.name));
  await eventually(async () => assert.ok((await systemTexts(bob.page)).some((s) => s.includes(line))));
  // The client log in the card says it too.
  await eventually(async () => assert.match(await page.locator('.pane-card .log').textContent(), new RegExp(line)));

  // Changed elsewhere (the API): the card follows live.
  const [st] = await call('PATCH', `/api/v1/contacts/${ids['Mila Assign'].contact}`, { assignee: null });
  assert.equal(st, 200);
  await eventually(async () => assert.equal(await chosenText(page), 'Nobody'));
  await eventually(async () => assert.equal(await chosenText(bob.page), 'Nobody'));
  await eventually(async () => assert.ok((await systemTexts(page)).some((s) => s.includes(`unassigned the client (was ${MANAGER.name})`))));
  await chooser(page).selectOption(String(mgr[MANAGER.login]));
  await eventually(async () => assert.equal(await chosenText(bob.page), MANAGER.name));
  await page.screenshot({ path: join(SHOTS, 'assignment-card.png') });
  assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was reloaded');
  assert.deepEqual(errors, []);
  assert.deepEqual(bob.errors, []);
  assert.deepEqual(dialogs, []);
  await bob.context.close();
});

test('a refused assignment shows the server’s message in the card and keeps the manager', async () => {
  const { page, errors } = alice;
  await openClient(page, 'Mila Assign');
  // Carol is disabled after the page loaded its managers: the page still offers her.
  const [st] = await call('PATCH', `/api/v1/managers/${mgr[CAROL.login]}`, { disabled: true });
  assert.equal(st, 200);
  await chooser(page).selectOption(String(mgr[CAROL.login]));
  const alert = page.locator('.pane-card .form-error[role="alert"]');
  await alert.waitFor();
  assert.match(await alert.textContent(), /no active manager/);
  assert.equal(await chosenText(page), MANAGER.name);
  const [, d] = await call('GET', `/api/v1/contacts/${ids['Mila Assign'].contact}`);
  assert.equal(d.contact.assignee, mgr[MANAGER.login]);
  // Another choice clears it.
  await chooser(page).selectOption(String(mgr[ADMIN.login]));
  await eventually(async () => assert.equal(await chosenText(page), ADMIN.name));
  await eventually(async () => assert.equal(await alert.count(), 0));
  await chooser(page).selectOption(String(mgr[MANAGER.login]));
  await eventually(async () => assert.equal(await chosenText(page), MANAGER.name));
  assert.deepEqual(errors, []);
});

test('the list narrows to Mine, Unassigned or a manager with the count, across sections, and follows assignments live', async () => {
  const { page, errors } = alice;
  // Mila is Bob's (above); Oleg becomes Alice's.
  const [st] = await call('PATCH', `/api/v1/contacts/${ids['Oleg Assign'].contact}`, { assignee: mgr[ADMIN.login] });
  assert.equal(st, 200);
  // (The search index, which narrowed lists come from, follows within a moment.)
  await eventually(async () => assert.deepEqual((await call('GET', '/api/v1/chats?assigned=me'))[1].items.map((r) => r.name), ['Oleg Assign']));
  await page.evaluate(() => { location.hash = '#/chats'; });
  const pick = page.locator('#list-assigned');
  const note = page.locator('.pane-list .list-note');
  const requests = [];
  page.on('request', (r) => { if (/\/api\/v1\/chats\?/.test(r.url())) requests.push(new globalThis.URL(r.url()).searchParams); });
  assert.deepEqual(await pick.locator('option').allTextContents(), ['All', 'Mine', 'Unassigned', MANAGER.name, CAROL.name]);

  await pick.selectOption('me');
  await eventually(async () => assert.deepEqual(await rowNames(page), ['Oleg Assign']));
  assert.equal(await note.textContent(), '1 client: Mine');
  assert.equal(requests.at(-1).get('assigned'), 'me');

  await pick.selectOption('none');
  await eventually(async () => assert.deepEqual(await rowNames(page), ['Pavel Assign']));
  assert.equal(await note.textContent(), '1 client: Unassigned');

  await pick.selectOption(String(mgr[MANAGER.login]));
  await eventually(async () => assert.deepEqual(await rowNames(page), ['Mila Assign']));
  assert.equal(await note.textContent(), `1 client: ${MANAGER.name}`);

  // Kept when the section changes: Unread, still Bob's only.
  await page.locator('.section-btn[data-section="unread"]').click();
  await eventually(async () => assert.equal(requests.at(-1).get('section'), 'unread'));
  assert.equal(requests.at(-1).get('assigned'), String(mgr[MANAGER.login]));
  assert.equal(await pick.inputValue(), String(mgr[MANAGER.login]));
  await eventually(async () => assert.deepEqual(await rowNames(page), ['Mila Assign']));
  await page.locator('.section-btn[data-section="all"]').click();

  // Unassigned follows live: a client given to someone leaves, a new client comes in.
  await pick.selectOption('none');
  await eventually(async () => assert.deepEqual(await rowNames(page), ['Pavel Assign']));
  await call('PATCH', `/api/v1/contacts/${ids['Pavel Assign'].contact}`, { assignee: mgr[MANAGER.login] });
  await eventually(async () => assert.deepEqual(await rowNames(page), []));
  await eventually(async () => assert.equal(await note.textContent(), '0 clients: Unassigned'));
  await inject('as-rita', 'Rita Assign', 'Hi, a new question');
  await eventually(async () => assert.deepEqual(await rowNames(page), ['Rita Assign']));
  await eventually(async () => assert.equal(await note.textContent(), '1 client: Unassigned'));
  await page.screenshot({ path: join(SHOTS, 'assignment-list.png') });

  // Mine follows an assignment to me.
  await pick.selectOption('me');
  await eventually(async () => assert.deepEqual(await rowNames(page), ['Oleg Assign']));
  await call('PATCH', `/api/v1/contacts/${ids['Rita Assign'].contact}`, { assignee: mgr[ADMIN.login] });
  await eventually(async () => assert.deepEqual((await rowNames(page)).sort(), ['Oleg Assign', 'Rita Assign']));
  assert.equal(await note.textContent(), '2 clients: Mine');

  // All: everyone again, no count line.
  await pick.selectOption('');
  await eventually(async () => assert.deepEqual((await rowNames(page)).sort(), ['Mila Assign', 'Oleg Assign', 'Pavel Assign', 'Rita Assign']));
  assert.equal(requests.at(-1).get('assigned'), null);
  assert.equal(await note.isHidden(), true);
  assert.deepEqual(errors, []);
});

test('the saved-filter editor offers Nobody for the assigned manager and sends null', async () => {
  const { page, errors } = alice;
  await page.locator('.search-row .icon-btn[aria-controls="filters-host"]').click();
  await page.locator('button[aria-controls="flt-more"]').click();
  await page.locator('#flt-add').selectOption('assigned_manager');
  const value = page.locator('#cond-0-v');
  assert.deepEqual((await value.locator('option').allTextContents()).slice(0, 2), ['Choose…', 'Nobody']);
  await value.selectOption('none');
  assert.match(await page.locator('.cond-card .cond-toggle').textContent(), /Assigned manager is Nobody/);
  let sent;
  page.on('request', (r) => { if (/\/api\/v1\/chats\?/.test(r.url())) sent = new globalThis.URL(r.url()).searchParams.get('filter'); });
  await page.locator('.flt-actions .btn-primary').click();
  await eventually(async () => assert.ok(sent));
  assert.deepEqual(JSON.parse(sent).conditions, [{ field: 'assigned_manager', op: 'is', value: null }]);
  // Unassigned now: Mila, Oleg, Pavel and Rita all have someone.
  await eventually(async () => assert.deepEqual(await rowNames(page), []));
  assert.deepEqual(errors, []);
});
