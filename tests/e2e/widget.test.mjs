// Browser test for the website widget, run by run.sh after chats.test.mjs: a visitor page on
// another origin (a tiny static server on PARLEY_SITE) embeds Parley's widget.js; a manager
// signed in to Parley in a second browser context answers. Messages go both ways live, typing
// shows on both sides, and a reload continues the same chat.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, request } from 'playwright-core';

const URL = process.env.PARLEY_URL;
const SITE = process.env.PARLEY_SITE;
const PASSWORD = process.env.PARLEY_PASSWORD;
const ADMIN = { login: process.env.PARLEY_ADMIN_LOGIN || 'alice', name: process.env.PARLEY_ADMIN_NAME || 'Alice Admin' };
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');
const MOD = process.platform === 'darwin' ? 'Meta' : 'Control';

assert.ok(URL && SITE && PASSWORD, 'run through tests/e2e/run.sh (PARLEY_URL, PARLEY_SITE, PARLEY_PASSWORD)');
mkdirSync(SHOTS, { recursive: true });

// The shop's page: a strict CSP of its own that allows Parley only for the script and its
// connections, and hostile CSS the widget must not be affected by.
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Flower shop</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'self'; script-src 'self' ${URL}; connect-src ${URL} ${URL.replace('https:', 'wss:')}; img-src 'self' blob:; style-src 'self'">
<link rel="stylesheet" href="/shop.css">
<script src="${URL}/widget.js" data-channel="site" async></script>
</head><body><h1>Flower shop</h1><p>Roses, tulips and more.</p></body></html>`;
const SHOP_CSS = `* { color: red !important; font-size: 40px !important; }
button, textarea, div { display: inline !important; border: 5px dashed green !important; }`;

let site; // the visitor page's HTTP server
let browser;
let adminApi;
let csrf;
let visitor; // { context, page, violations, errors }
let manager;

async function eventually(fn, { timeout = 8000, interval = 100, message } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) {
      if (message) last.message = `${message}: ${last.message}`;
      throw last;
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

async function call(method, path, data) {
  const res = await adminApi.fetch(path, { method, data, headers: { 'X-CSRF-Token': csrf } });
  const text = await res.text();
  assert.ok(res.ok(), `${method} ${path} → ${res.status()} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function newPage(watchCsp) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 720 } });
  const violations = [];
  const errors = [];
  if (watchCsp) {
    await context.exposeFunction('__cspViolation', (v) => violations.push(v));
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__cspViolation(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
      });
    });
  }
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => { errors.push(`dialog: ${d.message()}`); d.dismiss().catch(() => {}); });
  return { context, page, violations, errors };
}

// Locators pierce the widget's open shadow root.
const w = (page, sel, opts) => page.locator(`#parley-widget ${sel}`, opts);

async function openWidget(page) {
  await page.goto(`${SITE}/`);
  await w(page, '#pw-bubble').click();
  await w(page, '#pw-panel').waitFor({ state: 'visible' });
}

before(async () => {
  site = createServer((req, res) => {
    if (req.url === '/shop.css') {
      res.writeHead(200, { 'content-type': 'text/css' });
      return res.end(SHOP_CSS);
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  });
  const port = Number(new globalThis.URL(SITE).port);
  await new Promise((resolve) => site.listen(port, '127.0.0.1', resolve));
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  adminApi = await request.newContext({ baseURL: URL, ignoreHTTPSErrors: true });
  const session = await adminApi.post('/api/v1/session', { data: { login: ADMIN.login, password: PASSWORD } });
  assert.equal(session.status(), 200);
  csrf = (await session.json()).csrf_token;
});

after(async () => {
  await browser?.close();
  await adminApi?.dispose();
  await new Promise((resolve) => (site ? site.close(resolve) : resolve()));
});

test('a visitor on another site writes, leaves details, and sees the greeting', async () => {
  visitor = await newPage(true);
  const { page } = visitor;
  await openWidget(page);
  await eventually(async () => assert.equal(await w(page, '#pw-title').textContent(), 'Ask the shop'));
  await eventually(async () => assert.match(await w(page, '.greeting').textContent(), /Hello! How can we help\?/));
  // The page's CSS does not reach into the widget.
  const bubble = await w(page, '#pw-bubble').evaluate((b) => getComputedStyle(b).display);
  assert.equal(bubble, 'grid');
  assert.equal(await page.locator('#parley-widget').evaluate((e) => getComputedStyle(e).borderTopStyle), 'none');
  // Contact details first, so the manager sees a name.
  await w(page, '[aria-label="Your contact details"]').click();
  await w(page, '#pw-name').fill('Vera Visitor');
  await w(page, '#pw-email').fill('vera@example.com');
  await w(page, 'form.details button[type="submit"]').click();
  await eventually(async () => assert.match(await w(page, '.details .note').textContent(), /Saved/));
  await w(page, '#pw-text').fill('Do you have white roses?');
  await w(page, '#pw-text').press('Enter');
  await w(page, '.msg-client', { hasText: 'Do you have white roses?' }).waitFor();
  await eventually(async () => assert.ok(await w(page, '.msg-client[data-id]').count() === 1, 'stored (has a server id)'));
  assert.equal(await w(page, '#pw-text').inputValue(), '');
  await page.screenshot({ path: join(SHOTS, '20-widget-visitor.png') });
});

test('the manager sees the visitor live, with their details, and typing', async () => {
  manager = await newPage(false);
  const { page } = manager;
  await page.goto(`${URL}/#/chats`);
  await page.locator('#signin-login').fill(ADMIN.login);
  await page.locator('#signin-password').fill(PASSWORD);
  await page.locator('#signin-submit').click();
  await page.locator('#app').waitFor({ state: 'visible' });
  const row = page.locator('.pane-list a.row', { has: page.locator('.row-name', { hasText: 'Vera Visitor' }) });
  await row.waitFor();
  await row.click();
  await eventually(async () => assert.equal(await page.locator('#chat-name').textContent(), 'Vera Visitor'));
  await page.locator('.history .msg-client', { hasText: 'Do you have white roses?' }).waitFor();
  const contacts = await call('GET', '/api/v1/contacts?q=vera');
  assert.ok(contacts.items.some((c) => (c.emails || []).includes('vera@example.com')), 'the e-mail is on the contact');

  // The visitor types: the manager's typing line names them.
  await visitor.page.bringToFront();
  await w(visitor.page, '#pw-text').pressSequentially('And', { delay: 50 });
  await eventually(async () => assert.match(await page.locator('#typing-line').textContent(), /Vera Visitor is typing/));
  await w(visitor.page, '#pw-text').fill('');

  // The manager types: the visitor sees it.
  await page.locator('#composer-text').pressSequentially('Yes', { delay: 50 });
  await eventually(async () => assert.match(await w(visitor.page, '#pw-typing').textContent(), new RegExp(`${ADMIN.name} is typing`)));
});

test('the manager replies and the visitor gets it live; the visitor writes back', async () => {
  const { page } = manager;
  const reply = 'Yes, fresh white roses every morning.';
  await page.locator('#composer-text').fill(reply);
  const sentAt = Date.now();
  await page.keyboard.press(`${MOD}+Enter`);
  const got = w(visitor.page, '.msg-manager', { hasText: reply });
  await got.waitFor({ timeout: 8000 });
  const replyMs = Date.now() - sentAt;
  assert.match(await got.locator('.author').textContent(), new RegExp(ADMIN.name));
  // The visitor's open panel showed it: the manager's message becomes read.
  await eventually(async () => {
    const chat = (await call('GET', '/api/v1/chats?q=vera')).items[0].default_chat_id;
    const h = await call('GET', `/api/v1/chats/${chat}/messages`);
    assert.equal(h.items.find((m) => m.text === reply).status, 'read');
  });

  const back = 'Great, I will come by at noon.';
  await w(visitor.page, '#pw-text').fill(back);
  const wroteAt = Date.now();
  await w(visitor.page, '#pw-send').click();
  await page.locator('.history .msg-client', { hasText: back }).waitFor({ timeout: 8000 });
  const backMs = Date.now() - wroteAt;
  console.log(`widget round trip through the browsers: manager → visitor ${replyMs} ms, visitor → manager ${backMs} ms`);
  await visitor.page.screenshot({ path: join(SHOTS, '21-widget-reply.png') });
});

test('the visitor sends a picture and the manager sees it', async () => {
  // A 1×1 PNG.
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
  await w(visitor.page, '#pw-file').setInputFiles({ name: 'rose.png', mimeType: 'image/png', buffer: png });
  await w(visitor.page, '.msg-client[data-id] img.image[src^="blob:"]').waitFor();
  const img = manager.page.locator('.history .msg-client .att-image img[alt="rose.png"]');
  await img.waitFor();
  await eventually(async () => assert.ok(await img.evaluate((i) => i.complete && i.naturalWidth === 1), 'the manager can load the picture'));
});

test('a reload continues the same chat', async () => {
  const { page } = visitor;
  const key = await page.evaluate(() => Object.keys(localStorage).find((k) => k.endsWith(':token')));
  const token = await page.evaluate((k) => localStorage.getItem(k), key);
  assert.ok(token, 'the token is kept in localStorage');
  await page.reload();
  await w(page, '#pw-bubble').click();
  await w(page, '.msg-client', { hasText: 'Do you have white roses?' }).waitFor();
  await w(page, '.msg-manager', { hasText: 'Yes, fresh white roses every morning.' }).waitFor();
  await w(page, '.msg-client', { hasText: 'Great, I will come by at noon.' }).waitFor();
  assert.equal(await page.evaluate((k) => localStorage.getItem(k), key), token, 'same visitor');
  const rows = (await call('GET', '/api/v1/chats?q=vera')).items;
  assert.equal(rows.length, 1, 'still one client');
  // While the panel is closed, a new reply shows as a badge on the bubble.
  await w(page, '#pw-bubble').click();
  await manager.page.locator('#composer-text').fill('See you then!');
  await manager.page.keyboard.press(`${MOD}+Enter`);
  await eventually(async () => assert.equal(await w(page, '.badge').textContent(), '1'));
  assert.deepEqual(visitor.violations, [], 'no CSP violations on the shop page');
  assert.deepEqual(visitor.errors, [], 'no script errors on the shop page');
  assert.deepEqual(manager.errors, []);
});

test('Settings shows the tag to paste, with a copy button', async () => {
  const { page } = manager;
  await page.goto(`${URL}/#/settings`);
  const tag = page.locator('#embed-site');
  await tag.waitFor();
  assert.equal(await tag.inputValue(), `<script src="${URL}/widget.js" data-channel="site" async></script>`);
  assert.equal(await tag.getAttribute('readonly'), '');
  assert.match(await page.locator('label[for="embed-site"]').textContent(), new RegExp(SITE.replace(/[.]/g, '\\.')));
  await page.locator('#embed-site + button', { hasText: 'Copy' }).waitFor();
  // Each channel's state reads as text (the widget is ready as soon as the server is).
  const channels = await page.locator('section.panel', { has: page.locator('#embed-site') }).textContent();
  assert.match(channels, /Ready/);
  assert.doesNotMatch(channels, /object Object/);
  await tag.scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(SHOTS, '22-widget-settings.png') });
});
