// Browser tests for issue 13 items 7 and 10, run by run.sh against a live server (no
// [[assistants]] configured there): every action on a chat leaves a system message in the
// history and an entry in the client log naming the manager; "Disable chat" asks in a page
// dialog first; the AI switch cannot be turned on and says why; the notification panel names
// the client.

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
const CLIENT = 'Nina Actions';

assert.ok(URL && TOKEN && PASSWORD, 'run through tests/e2e/run.sh (PARLEY_URL, PARLEY_CHANNEL_TOKEN, PARLEY_PASSWORD)');
mkdirSync(SHOTS, { recursive: true });

let browser;
let hook;
const apis = {}; // login → { ctx, csrf }
let ids; // { contact, chat }
let alice; // { context, page, dialogs, errors }

async function signedInApi(who) {
  const ctx = await request.newContext({ baseURL: URL, ignoreHTTPSErrors: true });
  const res = await ctx.post('/api/v1/session', { data: { login: who.login, password: PASSWORD } });
  assert.equal(res.status(), 200);
  return { ctx, csrf: (await res.json()).csrf_token };
}

/** An API call as `who`; returns [status, body]. */
async function call(who, method, path, data) {
  const { ctx, csrf } = apis[who.login];
  const res = await ctx.fetch(path, { method, data, headers: { 'X-CSRF-Token': csrf } });
  const text = await res.text();
  return [res.status(), text ? JSON.parse(text) : null];
}

async function chat() {
  const [st, v] = await call(ADMIN, 'GET', `/api/v1/chats/${ids.chat}`);
  assert.equal(st, 200);
  return v.chat;
}

async function systemTexts(page) {
  return page.$$eval('.history .msg-system', (els) => els.map((e) => e.textContent));
}

async function logTexts(page) {
  return page.$$eval('.pane-card .log li', (els) => els.map((e) => e.textContent));
}

async function newPage(who, viewport) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport });
  const page = await context.newPage();
  const dialogs = [];
  const errors = [];
  // window.alert/confirm would show up here: the confirmation must be a dialog in the page.
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${URL}/#/chats/${ids.contact}/${ids.chat}`);
  await page.locator('#signin-login').fill(who.login);
  await page.locator('#signin-password').fill(PASSWORD);
  await page.locator('#signin-submit').click();
  await page.locator('#app').waitFor({ state: 'visible' });
  await eventually(async () => assert.equal(await page.locator('#chat-name').textContent(), CLIENT));
  await page.locator('.history .msg').first().waitFor();
  return { context, page, dialogs, errors };
}

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  hook = await request.newContext({ baseURL: URL, ignoreHTTPSErrors: true });
  const res = await hook.post('/webhooks/api/crm', {
    headers: { Authorization: `Bearer ${TOKEN}` },
    data: { contact: { external_id: 'c-nina', name: CLIENT }, message: { external_id: 'nina-1', text: 'Please stop the newsletter.' } },
  });
  assert.equal(res.status(), 200, await res.text());
  const body = await res.json();
  ids = { contact: body.contact_id, chat: body.chat_id };
  apis[ADMIN.login] = await signedInApi(ADMIN);
  apis[MANAGER.login] = await signedInApi(MANAGER);
  alice = await newPage(ADMIN, { width: 1440, height: 900 });
});

after(async () => {
  await browser?.close();
  await hook?.dispose();
  for (const a of Object.values(apis)) await a.ctx.dispose();
});

test('Disable chat asks first in a page dialog; Cancel changes nothing', async () => {
  const { page } = alice;
  const before = await systemTexts(page);
  await page.locator('#sw-disabled').click();
  const dlg = page.locator('dialog.modal[open]');
  await dlg.waitFor();
  assert.match(await dlg.textContent(), /Disable this chat\?.*running funnels never resume/);
  await page.screenshot({ path: join(SHOTS, 'actions-01-disable-confirm-1440.png') });
  await dlg.locator('button', { hasText: 'Cancel' }).click();
  await dlg.waitFor({ state: 'detached' });
  await eventually(async () => assert.equal(await page.locator('#sw-disabled').isChecked(), false, 'the switch flips back'));
  assert.equal((await chat()).disabled, false, 'nothing was sent to the server');
  await page.waitForTimeout(300);
  assert.deepEqual(await systemTexts(page), before, 'no trace of an action that did not happen');
  assert.deepEqual(alice.dialogs, [], 'no window.confirm');
});

test('each chat action leaves a system message and a client-log entry naming the manager', async () => {
  const { page } = alice;
  const who = ADMIN.name;
  const expectTrace = async (text) => {
    await eventually(async () => assert.ok((await systemTexts(page)).some((t) => t.includes(`${who} ${text}`)), `history: ${text}`));
    await eventually(async () => assert.ok((await logTexts(page)).some((t) => t.includes(`${who} ${text} in the CRM bridge chat`)), `log: ${text}`));
  };

  // Disable chat: confirmed.
  await page.locator('#sw-disabled').click();
  await page.locator('dialog.modal[open] button', { hasText: 'Disable chat' }).click();
  await eventually(async () => assert.equal((await chat()).disabled, true));
  assert.equal(await page.locator('#sw-disabled').isChecked(), true);
  await expectTrace('disabled the chat');

  // Enabling again does not ask.
  await page.locator('#sw-disabled').click();
  assert.equal(await page.locator('dialog.modal[open]').count(), 0);
  await eventually(async () => assert.equal((await chat()).disabled, false));
  await expectTrace('enabled the chat');

  await page.locator('#sw-bot').check();
  await eventually(async () => assert.equal((await chat()).bot_disabled, true));
  await expectTrace('disabled bot messages');
  await page.locator('#sw-bot').uncheck();
  await expectTrace('enabled bot messages');

  await page.locator('button[aria-label="Choose the AI assistant or reset it"]').click();
  await page.locator('.ai-panel button', { hasText: 'Reset' }).click();
  await page.locator('dialog.modal[open] button', { hasText: 'Reset' }).click();
  await expectTrace('reset the AI assistant');

  // Dialog open and close (these were already recorded; the history shows them live).
  const dialogsBtn = page.locator('.chat-head button', { hasText: /^Dialog/ });
  await dialogsBtn.click();
  await page.locator('.popover button', { hasText: 'Open a new dialog' }).click();
  await eventually(async () => assert.equal(await dialogsBtn.textContent(), 'Dialog open'));
  await page.locator('.popover button', { hasText: 'Close dialog' }).click();
  await page.keyboard.press('Escape');
  await eventually(async () => assert.ok((await systemTexts(page)).some((t) => t.includes(`${who} opened a dialog`))));
  await eventually(async () => assert.ok((await systemTexts(page)).some((t) => t.includes(`${who} closed the dialog`))));
  await eventually(async () => assert.ok((await logTexts(page)).some((t) => t.includes(`${who} closed the dialog`))));

  // The order in the history is the order of the actions.
  const texts = (await systemTexts(page)).map((t) => t.replace(/\d\d:\d\d.*$/, '').trim());
  const order = ['disabled the chat', 'enabled the chat', 'disabled bot messages', 'enabled bot messages', 'reset the AI assistant', 'opened a dialog', 'closed the dialog']
    .map((x) => texts.findIndex((t) => t.includes(x)));
  assert.deepEqual(order, order.slice().sort((a, b) => a - b), texts.join(' | '));
  await page.locator('.history .msg-system').last().scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(SHOTS, 'actions-02-history-and-log-1440.png') });
  assert.deepEqual(alice.dialogs, []);
  assert.deepEqual(alice.errors, []);
});

test('the AI switch cannot be turned on with no assistant configured, and says why', async () => {
  const { page } = alice;
  const ai = page.locator('#sw-ai');
  await eventually(async () => assert.equal(await ai.isDisabled(), true));
  assert.equal(await ai.isChecked(), false);
  const title = await page.locator('label.switch[for="sw-ai"]').getAttribute('title');
  assert.match(title, /No AI assistant is configured/);
  // Forcing the click does nothing either; the server refuses the request on its own.
  await ai.click({ force: true }).catch(() => {});
  await page.waitForTimeout(300);
  assert.equal((await chat()).assistant_on, false);
  const [st, err] = await call(ADMIN, 'PATCH', `/api/v1/chats/${ids.chat}`, { assistant_on: true });
  assert.equal(st, 422);
  assert.match(err.message, /no AI assistant is configured/);
  assert.equal((await chat()).assistant_on, false);
  // The AI panel says the same.
  await page.locator('button[aria-label="Choose the AI assistant or reset it"]').click();
  assert.match(await page.locator('.ai-panel').textContent(), /No AI assistant is configured/);
  await page.keyboard.press('Escape');
});

test('the notification panel names the client', async () => {
  const { page } = alice;
  const [, managers] = await call(MANAGER, 'GET', '/api/v1/managers');
  const aliceId = managers.items.find((m) => m.login === ADMIN.login).id;
  const [st] = await call(MANAGER, 'POST', `/api/v1/chats/${ids.chat}/notes`, { text: 'Can you call her back?', mentions: [aliceId] });
  assert.equal(st, 201);
  await eventually(async () => assert.equal(await page.locator('#bell-count').textContent(), '1'));
  await page.locator('#bell').click();
  const item = page.locator('.notif-panel .notif').first();
  await item.waitFor();
  assert.match(await item.textContent(), new RegExp(`${MANAGER.name} mentioned you.*about ${CLIENT}.*Can you call her back\\?`));
  await page.screenshot({ path: join(SHOTS, 'actions-03-notification-names-client-1440.png') });
  await page.keyboard.press('Escape');
});

test('phone width: the confirmation and the trace fit the screen', async () => {
  const phone = await newPage(ADMIN, { width: 390, height: 844 });
  const { page } = phone;
  await page.locator('#sw-disabled').click();
  const dlg = page.locator('dialog.modal[open]');
  await dlg.waitFor();
  const box = await dlg.boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 390, `dialog inside the screen: ${JSON.stringify(box)}`);
  await page.screenshot({ path: join(SHOTS, 'actions-04-disable-confirm-390.png') });
  await dlg.locator('button', { hasText: 'Disable chat' }).click();
  await eventually(async () => assert.ok((await systemTexts(page)).filter((t) => t.includes(`${ADMIN.name} disabled the chat`)).length === 2));
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `no horizontal overflow (${width}px)`);
  await page.screenshot({ path: join(SHOTS, 'actions-05-history-390.png') });
  // Put the chat back for whoever runs next.
  await page.locator('#sw-disabled').click();
  await eventually(async () => assert.equal((await chat()).disabled, false));
  assert.deepEqual(phone.dialogs, []);
  await phone.context.close();
});
