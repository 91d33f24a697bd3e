// Browser tests for the team (T2, T4), run by run.sh against a live server: `/` in the composer
// lists quick replies filtered as you type (shortcut matches first) and inserts one with the open
// chat's variables filled and its file added; Save as quick reply shows the server's refusal;
// Settings lists, creates, edits and deletes quick replies, shared ones read-only for managers;
// a desktop notification (permission granted, Notification recorded) and a sound come on a new
// client message, without its text by default, per the browser's setting, and a click opens the
// chat; the tab title shows the unread count; presence dots follow another manager's socket
// (online, away after the idle report, offline); the PWA's manifest, icons and service worker
// (the offline page when the network is down, the API never from a cache).

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

assert.ok(URL && TOKEN && PASSWORD, 'run through tests/e2e/run.sh (PARLEY_URL, PARLEY_CHANNEL_TOKEN, PARLEY_PASSWORD)');
mkdirSync(SHOTS, { recursive: true });

let browser;
let hook;
let adminApi;
let csrf;
const ids = {}; // client name → { contact, chat }
const mgr = {}; // login → manager id

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
async function call(method, path, data, headers = {}) {
  const res = await adminApi.fetch(path, { method, data, headers: { 'X-CSRF-Token': csrf, ...headers } });
  const text = await res.text();
  return [res.status(), text ? JSON.parse(text) : null];
}

/** A signed-in page; `spy` records desktop notifications and sounds and makes the page look
 *  like one in the background (so notifications show). */
async function newPage(who, { spy = false, width = 1440 } = {}) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width, height: 900 } });
  if (spy) {
    await context.grantPermissions(['notifications'], { origin: URL });
    await context.addInitScript(() => {
      window.__notes = [];
      window.__shown = [];
      window.__tones = 0;
      class Recorded {
        static permission = 'granted';
        static requestPermission() { return Promise.resolve('granted'); }
        constructor(title, opts = {}) {
          this.title = title;
          this.opts = opts;
          window.__notes.push({ title, body: opts.body, tag: opts.tag, silent: opts.silent });
          window.__shown.push(this);
        }
        close() { this.closed = true; }
      }
      window.Notification = Recorded;
      const AC = window.AudioContext;
      window.AudioContext = class extends AC {
        createOscillator() { window.__tones += 1; return super.createOscillator(); }
      };
      // In the background: another window has the focus.
      Object.defineProperty(document, 'visibilityState', { get: () => 'hidden', configurable: true });
      document.hasFocus = () => false;
    });
  }
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => d.dismiss().catch(() => {}));
  await page.goto(`${URL}/#/chats`);
  await page.locator('#signin-login').fill(who.login);
  await page.locator('#signin-password').fill(PASSWORD);
  await page.locator('#signin-submit').click();
  await page.locator('#app').waitFor({ state: 'visible' });
  await page.locator('.pane-list a.row').first().waitFor();
  return { context, page, errors };
}

async function openClient(page, name) {
  await page.evaluate(({ c, ch }) => { location.hash = `#/chats/${c}/${ch}`; }, { c: ids[name].contact, ch: ids[name].chat });
  await eventually(async () => assert.equal(await page.locator('#chat-name').textContent(), name));
  await page.locator('.history .msg').first().waitFor();
}

const options = (page) => page.$$eval('#qr-list [role=option] .qr-short', (els) => els.map((e) => e.textContent));
const selected = (page) => page.$eval('#qr-list [aria-selected=true] .qr-short', (e) => e.textContent);
const notes = (page) => page.evaluate(() => window.__notes);

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
  const [, list] = await call('GET', '/api/v1/managers');
  for (const m of list.items) mgr[m.login] = m.id;

  await inject('tm-rita', 'Rita Reply', 'Do you deliver to Riga?');
  await call('PATCH', `/api/v1/contacts/${ids['Rita Reply'].contact}`, { custom_fields: { city: 'Riga' } });
  // Quick replies: one shared, two of the admin's own, one with a file.
  const up = await adminApi.fetch('/api/v1/uploads?name=terms.txt', { method: 'POST', headers: { 'X-CSRF-Token': csrf, 'Content-Type': 'text/plain' }, data: Buffer.from('Our terms: be kind.\n') });
  assert.equal(up.status(), 201, await up.text());
  const file = await up.json();
  for (const r of [
    { shortcut: 'greet', text: 'Hello, {client.name}! This is {manager.name}.', shared: true },
    { shortcut: 'gift', text: 'A great gift for you in {client.field.city}' },
    { shortcut: 'agree', text: 'Deal, {client.name}.' },
    { shortcut: 'terms', text: 'Our terms are attached, {client.name}.', attachments: [{ id: file.id, name: 'terms.txt' }] },
  ]) {
    const [st, body] = await call('POST', '/api/v1/replies', r);
    assert.equal(st, 201, JSON.stringify(body));
  }
});

after(async () => {
  await browser?.close();
  await hook?.dispose();
  await adminApi?.dispose();
});

// ---------- quick replies in the composer ----------

test('`/` lists quick replies as you type (shortcut first), Enter inserts with variables filled, Tab adds the file', async () => {
  const { page, context, errors } = await newPage(ADMIN);
  await openClient(page, 'Rita Reply');
  const box = page.locator('#composer-text');
  await box.click();
  await box.pressSequentially('/gr');
  // Shortcut matches first (greet, then agree), then the text match (gift: "great").
  await eventually(async () => assert.deepEqual(await options(page), ['/greet', '/agree', '/gift']));
  assert.equal(await selected(page), '/greet');
  assert.equal(await box.getAttribute('aria-expanded'), 'true');
  // The preview is the text as it will be inserted.
  assert.equal(await page.locator('#qr-list [role=option] .qr-text').first().textContent(), `Hello, Rita Reply! This is ${ADMIN.name}.`);
  await box.press('ArrowDown');
  assert.equal(await selected(page), '/agree');
  await box.press('ArrowUp');
  await box.press('ArrowUp');
  assert.equal(await selected(page), '/gift', 'the choice wraps around');
  await page.screenshot({ path: join(SHOTS, 'team-quick-replies-1440.png') });
  await box.press('Escape');
  assert.equal(await page.locator('.qr-pop').isHidden(), true, 'Esc closes the list');
  assert.equal(await box.inputValue(), '/gr', 'and keeps the text');
  // Typing on filters again; Enter inserts the chosen one in place of "/…".
  await box.pressSequentially('eet');
  await eventually(async () => assert.deepEqual(await options(page), ['/greet']));
  await box.press('Enter');
  assert.equal(await box.inputValue(), `Hello, Rita Reply! This is ${ADMIN.name}.`);
  assert.equal(await page.locator('.qr-pop').isHidden(), true);

  // After a space in the middle of a text, with a custom field.
  await box.fill('');
  await box.pressSequentially('Sure! /gif');
  await eventually(async () => assert.deepEqual(await options(page), ['/gift']));
  await box.press('Enter');
  assert.equal(await box.inputValue(), 'Sure! A great gift for you in Riga');
  // A slash inside a word is not a shortcut.
  await box.pressSequentially(' and/or');
  await page.waitForTimeout(300);
  assert.equal(await page.locator('.qr-pop').isHidden(), true);

  // Tab inserts too, and the reply's file goes with the message.
  await box.fill('');
  await box.pressSequentially('/terms');
  await eventually(async () => assert.deepEqual(await options(page), ['/terms']));
  assert.match(await page.locator('#qr-list [role=option]').first().textContent(), /1 file/);
  await box.press('Tab');
  assert.equal(await box.inputValue(), 'Our terms are attached, Rita Reply.');
  await eventually(async () => assert.deepEqual(await page.locator('.composer-files .file-chip').allTextContents(), ['terms.txt']));
  await page.locator('.send-btn').click();
  const sent = page.locator('.history .msg', { hasText: 'Our terms are attached, Rita Reply.' });
  await sent.waitFor();
  assert.equal(await sent.locator('.att-file .att-name').textContent(), 'terms.txt');
  assert.equal(await page.locator('.composer-files').isHidden(), true, 'the files went with the message');
  const [, hist] = await call('GET', `/api/v1/chats/${ids['Rita Reply'].chat}/messages`);
  const last = hist.items.find((m) => m.text === 'Our terms are attached, Rita Reply.');
  assert.deepEqual(last.attachments.map((a) => a.name), ['terms.txt']);

  // No match says so.
  await box.fill('');
  await box.pressSequentially('/zzz');
  await eventually(async () => assert.equal(await page.locator('.qr-pop .empty').textContent(), 'No quick replies match “/zzz”.'));
  await box.press('Escape');
  assert.deepEqual(errors, []);
  await context.close();
});

test('Save as quick reply keeps the composer text as a personal reply and shows the server’s refusal', async () => {
  const { page, context, errors } = await newPage(MANAGER);
  await openClient(page, 'Rita Reply');
  const box = page.locator('#composer-text');
  await box.fill('Thanks for waiting, {client.name}!');
  await page.getByRole('button', { name: 'Save as quick reply' }).click();
  const dlg = page.locator('dialog.modal[open]');
  await dlg.waitFor();
  assert.equal(await dlg.locator('#qr-save-text').inputValue(), 'Thanks for waiting, {client.name}!');
  // Taken by the shared reply: 409 with the server's words.
  await dlg.locator('#qr-save-shortcut').fill('greet');
  await dlg.getByRole('button', { name: 'Save' }).click();
  await eventually(async () => assert.equal(await dlg.locator('.form-error').textContent(), 'the shortcut /greet is taken by a shared reply'));
  // Not a shortcut: 422.
  await dlg.locator('#qr-save-shortcut').fill('two words');
  await dlg.getByRole('button', { name: 'Save' }).click();
  await eventually(async () => assert.match(await dlg.locator('.form-error').textContent(), /is not allowed: use letters, digits, - and _/));
  await dlg.locator('#qr-save-shortcut').fill('/wait');
  await dlg.getByRole('button', { name: 'Save' }).click();
  await dlg.waitFor({ state: 'detached' });
  await page.locator('.flash', { hasText: 'Saved as /wait' }).waitFor();
  const [st, mine] = await call('GET', '/api/v1/replies?q=wait');
  assert.equal(st, 200);
  assert.equal(mine.items.length, 0, 'a personal reply is its owner’s alone');

  // It is there at once for `/`.
  await box.fill('');
  await box.pressSequentially('/wa');
  await eventually(async () => assert.deepEqual(await options(page), ['/wait']));
  await box.press('Enter');
  assert.equal(await box.inputValue(), 'Thanks for waiting, Rita Reply!');
  assert.deepEqual(errors, []);
  await context.close();
});

// ---------- quick replies in Settings ----------

test('Settings: a manager creates, edits and deletes their own quick replies; shared ones are read-only to them', async () => {
  const { page, context, errors } = await newPage(MANAGER);
  await page.goto(`${URL}/#/settings/replies`);
  const sec = page.locator('#set-replies');
  await sec.locator('tr[data-reply]').first().waitFor();
  const row = (shortcut) => sec.locator('tr[data-reply]', { has: page.locator('code', { hasText: new RegExp(`^/${shortcut}$`) }) });
  // The shared reply: visible, not changeable. The admin's personal ones: not listed.
  assert.equal(await row('greet').count(), 1);
  assert.match(await row('greet').textContent(), /Shared/);
  assert.equal(await row('greet').getByRole('button').count(), 0);
  assert.equal(await row('greet').locator('.actions').textContent(), 'Read only');
  assert.equal(await row('gift').count(), 0);
  assert.equal(await row('wait').count(), 1, 'the one saved from the composer');

  // Create.
  await page.locator('#qr-new').click();
  const dlg = page.locator('dialog.modal[open]');
  await dlg.waitFor();
  assert.equal(await dlg.locator('#qr-ed-shared').count(), 0, 'only admins make shared replies');
  await dlg.locator('#qr-ed-shortcut').fill('bye');
  await dlg.locator('#qr-ed-text').fill('Goodbye, {client.name}!');
  await dlg.locator('#qr-ed-files').setInputFiles({ name: 'map.txt', mimeType: 'text/plain', buffer: Buffer.from('the way to the shop') });
  await eventually(async () => assert.match(await dlg.locator('.file-chip').textContent(), /^map\.txt/));
  await dlg.getByRole('button', { name: 'Save' }).click();
  await dlg.waitFor({ state: 'detached' });
  await row('bye').waitFor();
  assert.match(await row('bye').textContent(), /Goodbye, \{client\.name\}!.*map\.txt.*Personal/);
  await page.screenshot({ path: join(SHOTS, 'team-settings-replies-1440.png'), fullPage: true });

  // Edit: a taken shortcut is refused with the server's message; then a good change.
  await row('bye').getByRole('button', { name: 'Edit /bye' }).click();
  await dlg.waitFor();
  await dlg.locator('#qr-ed-shortcut').fill('greet');
  await dlg.getByRole('button', { name: 'Save' }).click();
  await eventually(async () => assert.equal(await dlg.locator('.form-error').textContent(), 'the shortcut /greet is taken by a shared reply'));
  await dlg.locator('#qr-ed-shortcut').fill('farewell');
  await dlg.locator('#qr-ed-text').fill('Farewell, {client.name}.');
  await dlg.getByRole('button', { name: 'Remove map.txt' }).click();
  await dlg.getByRole('button', { name: 'Save' }).click();
  await dlg.waitFor({ state: 'detached' });
  await row('farewell').waitFor();
  assert.equal(await row('bye').count(), 0);
  assert.doesNotMatch(await row('farewell').textContent(), /map\.txt/);

  // Search.
  await sec.locator('#qr-search').fill('farew');
  await eventually(async () => assert.equal(await sec.locator('tr[data-reply]').count(), 1));
  await sec.locator('#qr-search').fill('');
  await eventually(async () => assert.ok(await sec.locator('tr[data-reply]').count() > 1));

  // Delete, after a confirmation.
  await row('farewell').getByRole('button', { name: 'Delete /farewell' }).click();
  await page.locator('dialog.modal[open]').getByRole('button', { name: 'Delete' }).click();
  await eventually(async () => assert.equal(await row('farewell').count(), 0));

  // The server agrees: the shared one is not the manager's to change.
  const bobApi = await request.newContext({ baseURL: URL, ignoreHTTPSErrors: true });
  const s = await bobApi.post('/api/v1/session', { data: { login: MANAGER.login, password: PASSWORD } });
  const shared = (await (await bobApi.get('/api/v1/replies?q=greet')).json()).items[0];
  const res = await bobApi.fetch(`/api/v1/replies/${shared.id}`, { method: 'PATCH', data: { text: 'mine now' }, headers: { 'X-CSRF-Token': (await s.json()).csrf_token } });
  assert.equal(res.status(), 403);
  await bobApi.dispose();
  assert.deepEqual(errors, []);
  await context.close();
});

test('Settings: an admin edits a shared quick reply and makes a new one shared', async () => {
  const { page, context, errors } = await newPage(ADMIN);
  await page.goto(`${URL}/#/settings/replies`);
  const sec = page.locator('#set-replies');
  const row = (shortcut) => sec.locator('tr[data-reply]', { has: page.locator('code', { hasText: new RegExp(`^/${shortcut}$`) }) });
  await row('greet').waitFor();
  await row('greet').getByRole('button', { name: 'Edit /greet' }).click();
  const dlg = page.locator('dialog.modal[open]');
  await dlg.waitFor();
  assert.equal(await dlg.locator('#qr-ed-shared').isChecked(), true);
  await dlg.locator('#qr-ed-text').fill('Hello, {client.name}! {manager.name} here.');
  await dlg.getByRole('button', { name: 'Save' }).click();
  await dlg.waitFor({ state: 'detached' });
  await eventually(async () => assert.match(await row('greet').textContent(), /\{manager\.name\} here\./));

  await page.locator('#qr-new').click();
  await dlg.waitFor();
  await dlg.locator('#qr-ed-shortcut').fill('hours');
  await dlg.locator('#qr-ed-text').fill('We are open 9 to 18.');
  await dlg.locator('#qr-ed-shared').check();
  await dlg.getByRole('button', { name: 'Save' }).click();
  await dlg.waitFor({ state: 'detached' });
  await row('hours').waitFor();
  assert.match(await row('hours').textContent(), /Shared/);
  const [, list] = await call('GET', '/api/v1/replies?q=hours');
  assert.equal(list.items[0].shared, true);
  assert.deepEqual(errors, []);
  await context.close();
});

// ---------- attention ----------

test('a desktop notification and a sound on a new client message: no text by default, the setting decides which, a click opens the chat', async () => {
  const bob = await newPage(MANAGER, { spy: true });
  const { page } = bob;
  // Unassigned client: "assigned to me and unassigned" (the default) tells.
  await inject('tm-nina', 'Nina Notify', 'My card number is 1234, please call me');
  await eventually(async () => assert.equal((await notes(page)).length, 1));
  const [n] = await notes(page);
  assert.equal(n.title, 'New message from Nina Notify');
  assert.equal(n.body, '', 'the text stays off the notification (and the lock screen) by default');
  assert.equal(n.tag, `chat-${ids['Nina Notify'].chat}`);
  assert.ok(await page.evaluate(() => window.__tones) > 0, 'a sound was played');

  // Someone else's client: not for bob in this mode.
  await inject('tm-omar', 'Omar Other', 'First');
  await eventually(async () => assert.equal((await notes(page)).length, 2));
  await call('PATCH', `/api/v1/contacts/${ids['Omar Other'].contact}`, { assignee: mgr[ADMIN.login] });
  await page.waitForTimeout(500);
  const before = (await notes(page)).length;
  await inject('tm-omar', 'Omar Other', 'Second, for Alice');
  await page.waitForTimeout(1500);
  assert.equal((await notes(page)).length, before, 'a client assigned to another manager does not notify');

  // Settings: every message, with the text; the sound off.
  await page.goto(`${URL}/#/settings/attention`);
  const sec = page.locator('#set-attention');
  await sec.waitFor();
  assert.equal(await sec.locator('input[name=att-notify][value=mine]').isChecked(), true);
  assert.equal(await sec.locator('#att-text').isChecked(), false);
  assert.equal(await sec.locator('#att-status').textContent(), 'Desktop notifications are allowed in this browser.');
  await sec.locator('input[name=att-notify][value=all]').check();
  await sec.locator('#att-text').check();
  await sec.locator('#att-sound').uncheck();
  assert.deepEqual(await page.evaluate(() => JSON.parse(localStorage.getItem('parley.attention'))), { notify: 'all', text: true, sound: false });
  await page.screenshot({ path: join(SHOTS, 'team-settings-attention-1440.png') });
  const tones = await page.evaluate(() => window.__tones);
  await inject('tm-omar', 'Omar Other', 'Third, now everyone hears');
  await eventually(async () => assert.equal((await notes(page)).at(-1).body, 'Third, now everyone hears'));
  assert.equal((await notes(page)).at(-1).title, 'New message from Omar Other');
  assert.equal(await page.evaluate(() => window.__tones), tones, 'no sound when it is off');

  // Mentions only: a client message does not notify, a mention does.
  await sec.locator('input[name=att-notify][value=mentions]').check();
  const count = (await notes(page)).length;
  await inject('tm-nina', 'Nina Notify', 'Anyone there?');
  await page.waitForTimeout(1500);
  assert.equal((await notes(page)).length, count);
  const [st] = await call('POST', `/api/v1/chats/${ids['Nina Notify'].chat}/notes`, { text: 'Bob, can you call Nina?', mentions: [mgr[MANAGER.login]] });
  assert.equal(st, 201);
  await eventually(async () => assert.equal((await notes(page)).length, count + 1));
  assert.equal((await notes(page)).at(-1).title, `${ADMIN.name} — about Nina Notify`);

  // A click focuses the tab and opens the chat.
  await page.evaluate(() => window.__shown.at(-1).onclick());
  await eventually(async () => assert.equal(await page.locator('#chat-name').textContent(), 'Nina Notify'));
  assert.equal(await page.evaluate(() => location.hash), `#/chats/${ids['Nina Notify'].contact}/${ids['Nina Notify'].chat}`);
  assert.deepEqual(bob.errors, []);
  await bob.context.close();
});

test('the tab title shows the unread count, live', async () => {
  const { page, context, errors } = await newPage(MANAGER);
  const unread = async () => (await call('GET', '/api/v1/chats/counts'))[1].unread;
  await eventually(async () => assert.equal(await page.title(), `(${await unread()}) Chats — Parley`));
  const n = await unread();
  assert.ok(n > 0);
  await inject('tm-tina', 'Tina Title', 'Hello from a new client');
  await eventually(async () => assert.equal(await page.title(), `(${n + 1}) Chats — Parley`));
  // Other views keep the count.
  await page.goto(`${URL}/#/settings`);
  await eventually(async () => assert.equal(await page.title(), `(${n + 1}) Settings — Parley`));
  await page.goto(`${URL}/#/chats`);
  await openClient(page, 'Tina Title');
  await page.locator('#composer-text').press('Shift+Enter');
  await eventually(async () => assert.equal(await page.title(), `(${n}) Chats — Parley`));
  assert.deepEqual(errors, []);
  await context.close();
});

test('presence dots follow another manager: online, away after the idle report, back, offline', async () => {
  const alice = await newPage(ADMIN);
  const bob = await newPage(MANAGER);
  await alice.page.goto(`${URL}/#/settings`);
  const dot = alice.page.locator(`.table .pdot[data-manager="${mgr[MANAGER.login]}"]`);
  await eventually(async () => assert.equal(await dot.getAttribute('data-presence'), 'online'));
  assert.equal(await dot.getAttribute('aria-label'), 'Online');
  assert.equal(await alice.page.locator(`.table .pdot[data-manager="${mgr[ADMIN.login]}"]`).getAttribute('data-presence'), 'online');

  // The card's Responsible chooser shows the assignee's presence too.
  await inject('tm-pia', 'Pia Presence', 'Hi');
  await call('PATCH', `/api/v1/contacts/${ids['Pia Presence'].contact}`, { assignee: mgr[MANAGER.login] });
  const card = await newPage(ADMIN);
  await openClient(card.page, 'Pia Presence');
  const cardDot = card.page.locator('.pane-card .card-assignee-row .pdot');
  await eventually(async () => assert.equal(await cardDot.getAttribute('data-presence'), 'online'));

  // Five minutes without input: the page reports idle over its socket.
  const idle = await bob.page.evaluate(async () => {
    const a = await import('/js/attention.js');
    return a.idleCheck(Date.now() + a.IDLE_MS);
  });
  assert.equal(idle, true);
  await eventually(async () => assert.equal(await dot.getAttribute('data-presence'), 'away'));
  assert.equal(await dot.getAttribute('aria-label'), 'Away');
  await eventually(async () => assert.equal(await cardDot.getAttribute('data-presence'), 'away'));
  const [, list] = await call('GET', '/api/v1/managers');
  assert.equal(list.items.find((m) => m.id === mgr[MANAGER.login]).presence, 'away');
  await dot.scrollIntoViewIfNeeded();
  await alice.page.screenshot({ path: join(SHOTS, 'team-presence-away-1440.png') });

  // The next input says he is back.
  await bob.page.mouse.move(200, 200);
  await bob.page.mouse.move(300, 260);
  await eventually(async () => assert.equal(await dot.getAttribute('data-presence'), 'online'));
  await bob.context.close();
  await eventually(async () => assert.equal(await dot.getAttribute('data-presence'), 'offline'));
  assert.equal(await dot.getAttribute('aria-label'), 'Offline');
  await eventually(async () => assert.equal(await cardDot.getAttribute('data-presence'), 'offline'));
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(card.errors, []);
  await alice.context.close();
  await card.context.close();
});

// ---------- PWA ----------

test('the app is installable: manifest, icons, a service worker that only serves the offline page', async () => {
  const { page, context, errors } = await newPage(ADMIN);
  const href = await page.getAttribute('link[rel=manifest]', 'href');
  const res = await page.request.get(`${URL}${href}`);
  assert.equal(res.status(), 200);
  assert.match(res.headers()['content-type'], /^application\/manifest\+json/);
  const m = await res.json();
  assert.equal(m.name, 'Parley');
  assert.equal(m.short_name, 'Parley');
  assert.equal(m.display, 'standalone');
  assert.ok(m.start_url && m.theme_color);
  for (const icon of m.icons) {
    const r = await page.request.get(`${URL}${icon.src}`);
    assert.equal(r.status(), 200, icon.src);
    assert.equal(r.headers()['content-type'].split(';')[0], icon.type, icon.src);
  }
  assert.ok(m.icons.some((i) => i.type === 'image/png' && i.sizes === '512x512'));
  const sw = await page.request.get(`${URL}/sw.js`);
  assert.equal(sw.status(), 200);
  assert.match(sw.headers()['content-type'], /javascript/);
  const code = await sw.text();
  assert.match(code, /\/api\//, 'the worker leaves the API alone');
  const offline = await page.request.get(`${URL}/offline.html`);
  assert.equal(offline.status(), 200);
  assert.match(await offline.text(), /You are offline/);
  // The offline page itself, in the browser (CSP: no inline code or styles).
  await page.goto(`${URL}/offline.html`);
  assert.equal(await page.locator('h1').textContent(), 'You are offline');
  assert.equal(await page.title(), 'You are offline — Parley');
  assert.deepEqual(errors, []);
  await context.close();
});

test('the service worker shows the offline page when the network is down, never a cached API answer, and the app comes back', async () => {
  // Chromium fetches a service worker only over a certificate it trusts: this browser is told
  // to trust the test server's self-signed one.
  const trusting = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--ignore-certificate-errors', '--no-first-run'],
  });
  try {
    const context = await trusting.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1024, height: 768 } });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${URL}/#/chats`);
    await page.locator('#signin-login').fill(MANAGER.login);
    await page.locator('#signin-password').fill(PASSWORD);
    await page.locator('#signin-submit').click();
    await page.locator('.pane-list a.row').first().waitFor();
    assert.equal(await page.evaluate(async () => (await navigator.serviceWorker.ready).active.scriptURL), `${URL}/sw.js`);
    await eventually(async () => assert.ok(await page.evaluate(() => !!navigator.serviceWorker.controller)));
    // Online, the app and the API come from the server as before.
    assert.equal(await page.evaluate(() => fetch('/api/v1/session').then((r) => r.status)), 200);
    await context.setOffline(true);
    await page.reload();
    await page.locator('h1', { hasText: 'You are offline' }).waitFor();
    assert.equal(await page.evaluate(() => location.hash), '#/chats', 'shown in place of the page asked for');
    assert.equal(await page.evaluate(() => fetch('/api/v1/session').then((r) => r.status, () => 'network error')), 'network error', 'the API is never answered from a cache');
    await page.screenshot({ path: join(SHOTS, 'team-offline-1024.png') });
    await context.setOffline(false);
    // It notices by itself and loads the app again.
    await page.locator('.pane-list a.row').first().waitFor({ timeout: 15000 });
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await trusting.close();
  }
});
