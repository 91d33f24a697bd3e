// Browser test: a reply whose callback keeps failing (issue 13, item 1). The manager sees
// why it has not gone out and when it is tried next, can try it now or cancel it, and a
// final failure stays in view with its reason. run.sh gives this file an API channel
// "crm-slow" whose callback is the small HTTP server started here.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from './lib.mjs';
import { createServer } from 'node:http';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, request } from 'playwright-core';

const URL = process.env.PARLEY_URL;
const TOKEN = process.env.PARLEY_SLOW_TOKEN;
const CALLBACK_PORT = Number(process.env.PARLEY_CALLBACK_PORT);
const PASSWORD = process.env.PARLEY_PASSWORD;
const ADMIN = process.env.PARLEY_ADMIN_LOGIN || 'alice';
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');

assert.ok(URL && TOKEN && CALLBACK_PORT && PASSWORD, 'run through tests/e2e/run.sh');
mkdirSync(SHOTS, { recursive: true });

let browser;
let server;
const calls = [];
// What the callback answers next: 503 with Retry-After (busy) or 400 (refuses for good).
let mode = 'busy';

before(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls.push(Date.now());
      if (mode === 'busy') {
        res.writeHead(503, { 'Content-Type': 'text/plain', 'Retry-After': '30' });
        res.end('CRM is under maintenance');
      } else {
        // Slow enough that the test can scroll away before the refusal arrives.
        setTimeout(() => {
          res.writeHead(400, { 'Content-Type': 'text/plain' });
          res.end('unknown customer');
        }, 1500);
      }
    });
  });
  await new Promise((r) => server.listen(CALLBACK_PORT, '127.0.0.1', r));
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

test('a retrying reply says why and when, Retry now tries at once, Cancel stops it, a final failure stays in view', async () => {
  const hook = await request.newContext({ baseURL: URL, ignoreHTTPSErrors: true });
  const res = await hook.post('/webhooks/api/crm-slow', {
    headers: { Authorization: `Bearer ${TOKEN}` },
    data: { contact: { external_id: 'slow-1', name: 'Greta Slow' }, message: { external_id: `slow-${Date.now()}`, text: 'Is my order ready?' } },
  });
  assert.equal(res.status(), 200, await res.text());

  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${URL}/#/chats`);
  await page.locator('#signin-login').fill(ADMIN);
  await page.locator('#signin-password').fill(PASSWORD);
  await page.locator('#signin-submit').click();
  await page.locator('.pane-list a.row', { hasText: 'Greta Slow' }).click();
  await page.locator('.history .msg').first().waitFor();

  await page.locator('#composer-text').fill('Yes, it ships today');
  await page.keyboard.press('Control+Enter');
  const reply = page.locator('.history .msg-out', { hasText: 'Yes, it ships today' });
  const waiting = reply.locator('.msg-retrying');
  await waiting.waitFor({ timeout: 10000 });
  const text = await waiting.textContent();
  assert.match(text, /attempt 1 failed/);
  assert.match(text, /HTTP 503/);
  assert.match(text, /CRM is under maintenance/);
  assert.match(text, /next attempt in (2\d|30) s/, text);
  await page.screenshot({ path: join(SHOTS, 'delivery-retrying-1440.png') });

  // Retry now: a second call at once, and the message says so.
  const before = calls.length;
  await waiting.getByRole('button', { name: 'Retry now' }).click();
  await eventually(() => assert.ok(calls.length > before, 'Retry now called the CRM again'));
  await eventually(async () => assert.match(await reply.locator('.msg-retrying').textContent(), /attempt 2 failed/));

  // Cancel: failed, with who cancelled and the last error, and no further calls.
  await reply.locator('.msg-retrying').getByRole('button', { name: 'Cancel' }).click();
  const failed = reply.locator('.msg-failed');
  await failed.waitFor();
  assert.match(await failed.textContent(), /cancelled by Alice Admin after 2 failed attempts/);
  const after2 = calls.length;
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(calls.length, after2, 'a cancelled reply is not sent');

  // A final failure (the CRM refuses) keeps its reason in view even when the history was
  // scrolled away from it.
  mode = 'refuse';
  for (let i = 0; i < 25; i++) {
    await hook.post('/webhooks/api/crm-slow', {
      headers: { Authorization: `Bearer ${TOKEN}` },
      data: { contact: { external_id: 'slow-1', name: 'Greta Slow' }, message: { external_id: `slow-fill-${i}-${Date.now()}`, text: `filler message ${i}` } },
    });
  }
  // The text alone: "filler message 2" next to a time such as "4:21 PM" reads "filler message 24:21 PM".
  await page.locator('.history .msg-text', { hasText: /^filler message 24$/ }).waitFor();
  await failed.getByRole('button', { name: 'Retry' }).click();
  await page.locator('.history').evaluate((el) => { el.scrollTop = el.scrollHeight; });
  const outOfView = await reply.evaluate((el) => {
    const r = el.getBoundingClientRect();
    const h = el.closest('.history').getBoundingClientRect();
    return r.bottom <= h.top || r.top >= h.bottom;
  });
  assert.ok(outOfView, 'the reply was scrolled out of view before it failed');
  await eventually(async () => {
    assert.match(await reply.locator('.msg-failed').textContent(), /HTTP 400: unknown customer/);
  });
  await eventually(async () => assert.ok(await reply.locator('.msg-failed').isVisible()));
  const inView = await reply.locator('.msg-failed').evaluate((el) => {
    const r = el.getBoundingClientRect();
    const h = el.closest('.history').getBoundingClientRect();
    return r.bottom > h.top && r.top < h.bottom;
  });
  assert.ok(inView, 'the failed reply is scrolled into view');
  await page.screenshot({ path: join(SHOTS, 'delivery-failed-1440.png') });
  await context.close();
  await hook.dispose();
});
