// Browser tests for the AI assistant (issue 16), run by run.sh with assistant.config.toml
// added to the config: an [[assistants]] entry on the fake OpenAI-compatible endpoint this
// file starts. The composer's Suggested reply fills the text field and sends nothing; the
// header's switch makes the assistant answer as a bot message; Settings shows the usage and
// the last error.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, request } from 'playwright-core';
import { eventually } from './lib.mjs';

const URL = process.env.PARLEY_URL;
const TOKEN = process.env.PARLEY_CHANNEL_TOKEN;
const PASSWORD = process.env.PARLEY_PASSWORD;
const LLM_PORT = Number(process.env.PARLEY_LLM_PORT);
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');
const CLIENT = 'Vera Assistant';
const ANSWER = 'We open at 10 on Saturday.';

assert.ok(URL && TOKEN && PASSWORD && LLM_PORT, 'run through tests/e2e/run.sh (PARLEY_URL, PARLEY_LLM_PORT, …)');
mkdirSync(SHOTS, { recursive: true });

let browser;
let hook;
let llm;
const asked = []; // request bodies the fake endpoint received
let failNext = 0;
let ids;
let page;

function startLlm() {
  return new Promise((resolve) => {
    const srv = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        if (req.method !== 'POST' || !req.url.endsWith('/v1/chat/completions')) {
          res.writeHead(404, { 'content-type': 'application/json' });
          return res.end('{"error":{"message":"not found"}}');
        }
        asked.push(JSON.parse(body));
        if (failNext > 0) {
          failNext--;
          res.writeHead(500, { 'content-type': 'application/json' });
          return res.end('{"error":{"message":"model crashed"}}');
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({
          choices: [{ index: 0, message: { role: 'assistant', content: ANSWER }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 40, completion_tokens: 8 },
        }));
      });
    });
    srv.listen(LLM_PORT, '127.0.0.1', () => resolve(srv));
  });
}

async function inject(ext, text) {
  const res = await hook.post('/webhooks/api/crm', {
    headers: { Authorization: `Bearer ${TOKEN}` },
    data: { contact: { external_id: 'c-vera', name: CLIENT }, message: { external_id: ext, text } },
  });
  assert.equal(res.status(), 200, await res.text());
  return res.json();
}

const kinds = () => page.$$eval('.history .msg', (els) => els.map((e) => e.dataset.kind));

before(async () => {
  llm = await startLlm();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  hook = await request.newContext({ baseURL: URL, ignoreHTTPSErrors: true });
  const r = await inject('vera-1', 'Are you open on Saturday?');
  ids = { contact: r.contact_id, chat: r.chat_id };
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1440, height: 900 } });
  page = await context.newPage();
  await page.goto(`${URL}/#/chats/${ids.contact}/${ids.chat}`);
  await page.locator('#signin-login').fill('alice');
  await page.locator('#signin-password').fill(PASSWORD);
  await page.locator('#signin-submit').click();
  await page.locator('#app').waitFor({ state: 'visible' });
  await eventually(async () => assert.equal(await page.locator('#chat-name').textContent(), CLIENT));
  await page.locator('.history .msg').first().waitFor();
});

after(async () => {
  await browser?.close();
  await hook?.dispose();
  llm?.close();
});

test('Suggested reply fills the text field and sends nothing, also with the assistant off', async () => {
  assert.equal(await page.locator('#sw-ai').isChecked(), false);
  const before = await kinds();
  const button = page.locator('button[aria-label="Suggested reply"]');
  await button.waitFor({ state: 'visible' });
  await button.click();
  await eventually(async () => assert.equal(await page.locator('#composer-text').inputValue(), ANSWER));
  assert.equal(asked.length, 1);
  assert.ok(asked[0].messages.some((m) => m.role === 'user' && m.content === 'Are you open on Saturday?'));
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(await kinds(), before, 'nothing was sent or stored');
  await page.screenshot({ path: join(SHOTS, 'assistant-suggestion.png') });

  // A failing endpoint says why under the composer; the text typed so far stays.
  await page.locator('#composer-text').fill('my own draft');
  failNext = 1;
  await button.click();
  await eventually(async () => assert.match(await page.locator('.composer-error').textContent(), /No suggestion: .*500.*model crashed/));
  assert.equal(await page.locator('#composer-text').inputValue(), 'my own draft');
  await page.locator('#composer-text').fill('');
});

test('switched on in the header, the assistant answers the client as a bot message', async () => {
  await page.locator('label.switch[for="sw-ai"]').click();
  await eventually(async () => assert.equal(await page.locator('#sw-ai').isChecked(), true));
  await eventually(async () => assert.match(await page.locator('label.switch[for="sw-ai"]').textContent(), /Shop helper/));
  await inject('vera-2', 'And on Sunday?');
  await eventually(async () => {
    const bots = await page.$$eval('.history .msg-bot', (els) => els.map((e) => e.textContent));
    assert.ok(bots.some((t) => t.includes(ANSWER)), JSON.stringify(bots));
  }, { timeout: 10000 });
  await page.screenshot({ path: join(SHOTS, 'assistant-answer.png') });
});

test('Settings shows each assistant\'s usage and last error, and the chats using it', async () => {
  await page.goto(`${URL}/#/settings`);
  const panel = page.locator('section.panel', { has: page.locator('h3', { hasText: 'AI assistants' }) });
  await panel.waitFor();
  await eventually(async () => {
    const text = await panel.textContent();
    assert.match(text, /Shop helper/);
    assert.match(text, /e2e-model/);
    assert.match(text, /model crashed/, 'the last error');
    assert.match(text, new RegExp(CLIENT));
    assert.doesNotMatch(text, /sk-e2e/, 'never the key');
  });
  await page.screenshot({ path: join(SHOTS, 'assistant-settings.png'), fullPage: true });
});
