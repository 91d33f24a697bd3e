// Browser tests for the Variables page (issue 15, A3), run by run.sh against a live server:
// a manager (not an admin) creates a chat template (a 422 for an unknown variable shows at the
// text field, a 409 at the name), renames and rewrites it inline, inserts it from the composer's
// Variables button in a chat, and deletes it through the page's dialog; the config file's
// template is listed read-only; a name with markup is shown as text; the page is in Russian
// for a Russian browser.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from './lib.mjs';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, request } from 'playwright-core';

const URL = process.env.PARLEY_URL;
const TOKEN = process.env.PARLEY_CHANNEL_TOKEN;
const PASSWORD = process.env.PARLEY_PASSWORD;
const MANAGER = { login: process.env.PARLEY_MANAGER_LOGIN || 'bob', name: process.env.PARLEY_MANAGER_NAME || 'Bob Builder' };
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');
const CLIENT = 'Nina Template';

assert.ok(URL && TOKEN && PASSWORD, 'run through tests/e2e/run.sh (PARLEY_URL, PARLEY_CHANNEL_TOKEN, PARLEY_PASSWORD)');
mkdirSync(SHOTS, { recursive: true });

let browser;
let hook;
let apiCtx;
let csrf;
let ids; // { contact, chat }
let bob; // { context, page, dialogs, errors }

/** An API call as the manager; returns [status, body]. */
async function call(method, path, data) {
  const res = await apiCtx.fetch(path, { method, data, headers: { 'X-CSRF-Token': csrf } });
  const text = await res.text();
  return [res.status(), text ? JSON.parse(text) : null];
}

const templates = async () => (await call('GET', '/api/v1/templates'))[1].items;

async function newPage(who, hash, locale) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1440, height: 900 }, ...(locale ? { locale } : {}) });
  const page = await context.newPage();
  const dialogs = [];
  const errors = [];
  // window.alert/confirm would show up here: confirmations must be dialogs in the page.
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${URL}/${hash}`);
  await page.locator('#signin-login').fill(who.login);
  await page.locator('#signin-password').fill(PASSWORD);
  await page.locator('#signin-submit').click();
  await page.locator('#app').waitFor({ state: 'visible' });
  return { context, page, dialogs, errors };
}

const rowNamed = (page, name) => page.locator('#view-variables tbody tr', { has: page.locator('.tpl-name', { hasText: name }) });
const go = (page, hash) => page.evaluate((x) => { location.hash = x; }, hash);

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  hook = await request.newContext({ baseURL: URL, ignoreHTTPSErrors: true });
  const res = await hook.post('/webhooks/api/crm', {
    headers: { Authorization: `Bearer ${TOKEN}` },
    data: { contact: { external_id: 'c-nina', name: CLIENT }, message: { external_id: `nina-${Date.now()}`, text: 'When does my order ship?' } },
  });
  assert.equal(res.status(), 200, await res.text());
  const body = await res.json();
  ids = { contact: body.contact_id, chat: body.chat_id };
  apiCtx = await request.newContext({ baseURL: URL, ignoreHTTPSErrors: true });
  const s = await apiCtx.post('/api/v1/session', { data: { login: MANAGER.login, password: PASSWORD } });
  assert.equal(s.status(), 200);
  csrf = (await s.json()).csrf_token;
  bob = await newPage(MANAGER, '#/variables');
});

after(async () => {
  await browser?.close();
  await hook?.dispose();
  await apiCtx?.dispose();
});

test('the page lists the config file’s template read-only and explains placeholders', async () => {
  const { page } = bob;
  const greeting = rowNamed(page, 'Greeting');
  await greeting.waitFor();
  assert.equal(await greeting.locator('.tpl-badge').textContent(), 'from the config file');
  assert.equal(await greeting.locator('.tpl-text').textContent(), 'Hello, {client.name}! How can we help?');
  assert.equal(await greeting.locator('.tpl-edit, .tpl-delete').count(), 0);
  const help = await page.locator('#view-variables .tpl-help').textContent();
  assert.match(help, /Create, edit and delete them here/);
  assert.match(help, /\[\[templates\]\]/);
  for (const v of ['{client.name}', '{client.phone}', '{client.email}', '{manager.name}', '{client.field.<name>}']) assert.ok(help.includes(v), v);
  assert.doesNotMatch(help, /set by the admin in the config file/);
});

test('a manager creates a template: a 422 shows at the text field, a 409 at the name', async () => {
  const { page, errors } = bob;
  await page.locator('#tpl-new').click();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'tpl-new-name');
  await page.locator('#tpl-new-name').fill('Delivery');
  await page.locator('#tpl-new-text').fill('Hi {client.nmae}, your order ships today.');
  await page.locator('#tpl-new-save').click();
  const textErr = page.locator('#tpl-new-text-error');
  await textErr.waitFor();
  assert.match(await textErr.textContent(), /unknown variable \{client\.nmae\}/);
  assert.equal(await page.locator('#tpl-new-text').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.locator('#tpl-new-name-error').isHidden(), true);
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'tpl-new-text');
  assert.ok(!(await templates()).some((x) => x.name === 'Delivery'));
  await page.screenshot({ path: join(SHOTS, 'variables-new-422.png'), fullPage: true });

  // The Variables menu inserts at the cursor; typing clears the error.
  await page.locator('#tpl-new-text').fill('Hi ');
  await page.locator('#tpl-new-text').press('End');
  assert.equal(await textErr.isHidden(), true);
  await page.locator('#tpl-new-vars').click();
  await page.locator('.tpl-menu button[data-var="{client.name}"]').click();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'tpl-new-text');
  await page.keyboard.type(', your order ships today.');
  assert.equal(await page.locator('#tpl-new-text').inputValue(), 'Hi {client.name}, your order ships today.');
  await page.locator('#tpl-new-save').click();
  const row = rowNamed(page, 'Delivery');
  await row.waitFor();
  assert.equal(await page.locator('#view-variables .tpl-create').isHidden(), true);
  assert.equal(await row.locator('.tpl-text').textContent(), 'Hi {client.name}, your order ships today.');
  assert.equal(await row.locator('.tpl-badge').count(), 0);
  const made = (await templates()).find((x) => x.name === 'Delivery');
  assert.equal(made?.source, 'ui');
  assert.equal(made.text, 'Hi {client.name}, your order ships today.');

  // The config file's name, in another case: 409 at the name.
  await page.locator('#tpl-new').click();
  await page.locator('#tpl-new-name').fill('greeting');
  await page.locator('#tpl-new-text').fill('Hello');
  await page.locator('#tpl-new-save').click();
  const nameErr = page.locator('#tpl-new-name-error');
  await nameErr.waitFor();
  assert.match(await nameErr.textContent(), /already exists/);
  assert.equal(await page.locator('#tpl-new-name').getAttribute('aria-invalid'), 'true');
  // Empty fields are caught before a request.
  await page.locator('#tpl-new-name').fill('');
  await page.locator('#tpl-new-text').fill('');
  await page.locator('#tpl-new-save').click();
  assert.equal(await nameErr.textContent(), 'Enter a name.');
  assert.equal(await page.locator('#tpl-new-text-error').textContent(), 'Enter the text.');
  await page.locator('#tpl-new-cancel').click();
  assert.equal(await page.locator('#view-variables .tpl-create').isHidden(), true);
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'tpl-new');
  await page.screenshot({ path: join(SHOTS, 'variables-list.png'), fullPage: true });
  assert.deepEqual(errors, []);
});

test('a template is renamed and rewritten inline; Escape cancels an edit', async () => {
  const { page } = bob;
  // Escape puts the row back and focus on its Edit button.
  await rowNamed(page, 'Delivery').locator('.tpl-edit').click();
  await page.locator('#tpl-edit-name').fill('Something else');
  await page.locator('#tpl-edit-name').press('Escape');
  assert.equal(await page.locator('#tpl-edit-name').count(), 0);
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Edit the template “Delivery”');

  await rowNamed(page, 'Delivery').locator('.tpl-edit').click();
  assert.equal(await page.locator('#tpl-edit-name').inputValue(), 'Delivery');
  assert.equal(await page.locator('#tpl-edit-text').inputValue(), 'Hi {client.name}, your order ships today.');
  // A bad rewrite: the 422 at the text field, nothing saved.
  await page.locator('#tpl-edit-text').fill('Hello {client.nmae}');
  await page.locator('#tpl-edit-save').click();
  await page.locator('#tpl-edit-text-error').waitFor();
  assert.match(await page.locator('#tpl-edit-text-error').textContent(), /client\.nmae/);
  await page.screenshot({ path: join(SHOTS, 'variables-edit.png'), fullPage: true });
  await page.locator('#tpl-edit-name').fill('Shipping');
  await page.locator('#tpl-edit-text').fill('Hello {client.name}, your order ships today!');
  await page.locator('#tpl-edit-save').click();
  const row = rowNamed(page, 'Shipping');
  await row.waitFor();
  assert.equal(await rowNamed(page, 'Delivery').count(), 0);
  assert.equal(await row.locator('.tpl-text').textContent(), 'Hello {client.name}, your order ships today!');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Edit the template “Shipping”');
  const list = await templates();
  assert.ok(!list.some((x) => x.name === 'Delivery'));
  assert.equal(list.find((x) => x.name === 'Shipping')?.text, 'Hello {client.name}, your order ships today!');
});

test('the composer’s Variables button offers the new template at once and inserts it', async () => {
  const { page } = bob;
  // No reload: the page's change refreshed the shared list.
  await page.evaluate(() => { window.__noReload = true; });
  await go(page, `#/chats/${ids.contact}/${ids.chat}`);
  await page.locator('.history .msg').first().waitFor();
  await page.locator('#composer-text').fill('');
  await page.locator('button[aria-label="Variables"]').click();
  const item = page.locator('.vars-panel .var-item', { hasText: 'Shipping' });
  await item.waitFor();
  const names = await page.$$eval('.vars-panel .var-item', (els) => els.map((e) => e.textContent));
  assert.deepEqual(names, ['Greeting', 'Shipping']);
  await item.click();
  assert.equal(await page.locator('#composer-text').inputValue(), `Hello ${CLIENT}, your order ships today!`);
  await page.locator('#composer-text').fill('');
  assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was reloaded');
});

test('Delete asks in a page dialog; Cancel keeps the template', async () => {
  const { page, dialogs } = bob;
  await go(page, '#/variables');
  const row = rowNamed(page, 'Shipping');
  await row.waitFor();
  await row.locator('.tpl-delete').click();
  let dlg = page.locator('dialog.modal[open]');
  await dlg.waitFor();
  assert.match(await dlg.textContent(), /Delete the template “Shipping”\?/);
  await dlg.locator('.btn-ghost', { hasText: 'Cancel' }).click();
  await dlg.waitFor({ state: 'detached' });
  assert.equal(await row.count(), 1);
  assert.ok((await templates()).some((x) => x.name === 'Shipping'));

  await row.locator('.tpl-delete').click();
  dlg = page.locator('dialog.modal[open]');
  await dlg.waitFor();
  await dlg.locator('.btn-danger').click();
  await eventually(async () => assert.equal(await rowNamed(page, 'Shipping').count(), 0));
  assert.ok(!(await templates()).some((x) => x.name === 'Shipping'));
  assert.deepEqual(dialogs, [], 'no window.confirm');

  // The composer no longer offers it.
  await go(page, `#/chats/${ids.contact}/${ids.chat}`);
  await page.locator('.history .msg').first().waitFor();
  await page.locator('button[aria-label="Variables"]').click();
  await page.locator('.vars-panel .var-item').first().waitFor();
  assert.deepEqual(await page.$$eval('.vars-panel .var-item', (els) => els.map((e) => e.textContent)), ['Greeting']);
  await page.keyboard.press('Escape');
});

test('template names and texts are shown as text, never as markup', async () => {
  const { page, errors } = bob;
  await go(page, '#/variables');
  await page.locator('#tpl-new').click();
  const name = '<img src=x onerror="window.__xss=1">Promo';
  await page.locator('#tpl-new-name').fill(name);
  await page.locator('#tpl-new-text').fill('<b>{client.name}</b><script>window.__xss=2</script>');
  await page.locator('#tpl-new-save').click();
  const row = rowNamed(page, 'Promo');
  await row.waitFor();
  assert.equal(await row.locator('.tpl-name').textContent(), name);
  assert.equal(await row.locator('.tpl-text').textContent(), '<b>{client.name}</b><script>window.__xss=2</script>');
  assert.equal(await row.locator('.tpl-delete').getAttribute('aria-label'), `Delete the template “${name}”`);
  // In the inline editor and the delete dialog too.
  await row.locator('.tpl-edit').click();
  assert.equal(await page.locator('#tpl-edit-name').inputValue(), name);
  await page.locator('#tpl-edit-cancel').click();
  await rowNamed(page, 'Promo').locator('.tpl-delete').click();
  const dlg = page.locator('dialog.modal[open]');
  await dlg.waitFor();
  assert.match(await dlg.textContent(), /<img src=x/);
  await dlg.locator('.btn-ghost', { hasText: 'Cancel' }).click();
  assert.equal(await page.locator('#view-variables img, #view-variables b, #view-variables script, dialog img').count(), 0);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.deepEqual(errors, []);
});

test('a Russian browser sees the page in Russian', async () => {
  const ru = await newPage(MANAGER, '#/variables', 'ru-RU');
  const { page, errors } = ru;
  await rowNamed(page, 'Greeting').waitFor();
  assert.equal(await page.getAttribute('html', 'lang'), 'ru');
  assert.equal(await page.locator('#view-variables .page-title').textContent(), 'Переменные');
  assert.equal((await page.locator('#tpl-new').textContent()).trim(), 'Новый шаблон');
  assert.deepEqual(await page.$$eval('#view-variables thead th', (els) => els.map((e) => e.textContent)), ['Шаблон', 'Текст', 'Действия']);
  assert.equal(await rowNamed(page, 'Greeting').locator('.tpl-badge').textContent(), 'из файла конфигурации');
  assert.match(await page.locator('#view-variables .tpl-help').textContent(), /^Шаблоны чатов — готовые ответы/);
  const promo = rowNamed(page, 'Promo');
  assert.equal((await promo.locator('.tpl-edit').textContent()).trim(), 'Изменить');
  assert.equal((await promo.locator('.tpl-delete').textContent()).trim(), 'Удалить');

  await page.locator('#tpl-new').click();
  assert.equal(await page.locator('label[for="tpl-new-name"]').textContent(), 'Название шаблона');
  assert.equal((await page.locator('#tpl-new-save').textContent()).trim(), 'Создать');
  await page.locator('#tpl-new-save').click();
  assert.equal(await page.locator('#tpl-new-name-error').textContent(), 'Введите название.');
  assert.equal(await page.locator('#tpl-new-text-error').textContent(), 'Введите текст.');
  await page.locator('#tpl-new-vars').click();
  await page.locator('.tpl-menu').waitFor();
  assert.match(await page.locator('.tpl-menu').textContent(), /Имя клиента/);
  // No English left in the page's own words (template names, texts and code aside).
  const english = await page.evaluate(() => {
    const root = document.getElementById('view-variables');
    const out = [];
    const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      if (n.parentElement.closest('code, .tpl-name, .tpl-text, textarea')) continue;
      if (/[A-Za-z]{3,}/.test(n.textContent)) out.push(n.textContent);
    }
    for (const e of root.querySelectorAll('[aria-label], [placeholder], [title]')) {
      for (const a of ['aria-label', 'placeholder', 'title']) {
        const v = (e.getAttribute(a) || '').replace(/\{[^}]*\}|“[^”]*”|«[^»]*»/g, '');
        if (/[A-Za-z]{3,}/.test(v)) out.push(`${a}=${e.getAttribute(a)}`);
      }
    }
    return out;
  });
  assert.deepEqual(english, []);
  await page.keyboard.press('Escape');
  await promo.locator('.tpl-delete').click();
  const dlg = page.locator('dialog.modal[open]');
  await dlg.waitFor();
  assert.match(await dlg.textContent(), /Удалить шаблон «<img/);
  await page.screenshot({ path: join(SHOTS, 'variables-ru.png'), fullPage: true });
  await dlg.locator('.btn-ghost').click();
  assert.deepEqual(errors, []);
  await ru.context.close();
});
