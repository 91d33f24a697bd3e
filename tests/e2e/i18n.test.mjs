// Browser tests for the UI language (issue 13 item 8), run by run.sh against a live server:
// a Russian browser sees the Chats screen in Russian with Russian dates and numbers, the choice
// made in Settings › Profile survives a reload, an English browser sees English with one date format;
// every literal t('…') string (and plural form) in web/js has a Russian entry.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
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
const CLIENT = 'Ольга Смирнова';

assert.ok(URL && TOKEN && PASSWORD, 'run through tests/e2e/run.sh (PARLEY_URL, PARLEY_CHANNEL_TOKEN, PARLEY_PASSWORD)');
mkdirSync(SHOTS, { recursive: true });

let browser;
let hook;

async function inject(ext, name, text) {
  const res = await hook.post('/webhooks/api/crm', {
    headers: { Authorization: `Bearer ${TOKEN}` },
    data: { contact: { external_id: ext, name }, message: { external_id: `${ext}-${Date.now()}-${Math.random()}`, text } },
  });
  assert.equal(res.status(), 200, await res.text());
}

/** A signed-in page in a browser that prefers `locale`. */
async function open(locale, who, viewport = { width: 1440, height: 900 }) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, locale, viewport });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${URL}/#/chats`);
  await page.locator('#signin-login').fill(who.login);
  await page.locator('#signin-password').fill(PASSWORD);
  await page.locator('#signin-submit').click();
  await page.locator('#app').waitFor({ state: 'visible' });
  await page.locator('.pane-list a.row').first().waitFor();
  return { context, page, errors };
}

async function openClient(page, name) {
  await page.locator('.pane-list a.row', { has: page.locator('.row-name', { hasText: name }) }).click();
  await eventually(async () => assert.equal(await page.locator('#chat-name').textContent(), name));
  await page.locator('.history .msg').first().waitFor();
}

const text = (page, sel) => page.locator(sel).first().textContent();
const sectionLabel = (page, id) => page.locator(`[data-section="${id}"] span:not(.count)`).first().textContent();

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  hook = await request.newContext({ baseURL: URL, ignoreHTTPSErrors: true });
  await inject('c-olga', CLIENT, 'Здравствуйте! Заказ уже отправили?');
  await inject('c-ivan', 'Иван Петров', 'Спасибо, всё получил.');
});

after(async () => {
  await browser?.close();
  await hook?.dispose();
});

test('a Russian browser sees the sign-in screen and the Chats screen in Russian', async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'ru-RU' });
  const page = await context.newPage();
  await page.goto(`${URL}/`);
  await page.locator('#signin').waitFor({ state: 'visible' });
  assert.equal(await page.getAttribute('html', 'lang'), 'ru');
  assert.equal((await text(page, '#signin-title')).trim(), 'Вход');
  assert.equal((await text(page, 'label[for="signin-login"]')).trim(), 'Логин');
  assert.equal((await text(page, 'label[for="signin-password"]')).trim(), 'Пароль');
  assert.equal((await text(page, '#signin-submit')).trim(), 'Вход');
  await page.locator('#signin-login').fill(ADMIN.login);
  await page.locator('#signin-password').fill('not-the-password');
  await page.locator('#signin-submit').click();
  await eventually(async () => assert.equal(await text(page, '#signin-error'), 'Неверный логин или пароль'));
  await context.close();

  const { page: p, context: c, errors } = await open('ru-RU', ADMIN);
  assert.equal(await p.getAttribute('html', 'lang'), 'ru');
  // The unread count leads the title when there is any: "(2) Чаты — Parley".
  assert.match(await p.title(), /^(\(\d+\) )?Чаты — Parley$/);
  assert.equal((await text(p, '.app-nav a[data-route="chats"]')).trim(), 'Чаты');
  assert.equal((await text(p, '.app-nav a[data-route="settings"]')).trim(), 'Настройки');
  assert.equal((await text(p, '#signout')).trim(), 'Выйти');
  assert.equal(await sectionLabel(p, 'important'), 'Важные');
  assert.equal(await sectionLabel(p, 'all'), 'Все');
  assert.equal(await sectionLabel(p, 'unread'), 'Непрочитанные');
  assert.equal(await sectionLabel(p, 'dialogs'), 'Диалоги');
  assert.equal(await p.getAttribute('#chat-search', 'placeholder'), 'Поиск клиентов');
  assert.equal(await p.getAttribute('#chat-search', 'title'), 'Поиск клиентов по имени, телефону или почте');
  assert.equal(await text(p, '.chat-empty p'), 'Выберите клиента слева, чтобы открыть переписку.');

  await openClient(p, CLIENT);
  assert.equal((await text(p, '.send-btn')).trim(), 'Отправить');
  assert.match(await p.getAttribute('#composer-text', 'placeholder'), /^Напишите сообщение…/);
  // Client-provided text is never translated.
  assert.equal(await text(p, '.history .msg-client .msg-text'), 'Здравствуйте! Заказ уже отправили?');
  assert.equal(await p.locator('.card-name').first().textContent(), CLIENT);
  assert.match(await text(p, '.card-title .muted'), /^Клиент с \d{1,2} [а-я]{3,4}\.? \d{4} г\.$/);
  assert.deepEqual(errors, []);
  await c.close();
});

test('Russian dates, times and numbers come from Intl', async () => {
  const { page, context } = await open('ru-RU', MANAGER);
  // The time of today's message: 24-hour clock; the full date in its title: "7 дек. 2026 г., 14:05".
  await openClient(page, CLIENT);
  const time = page.locator('.history .msg time').first();
  assert.match(await time.textContent(), /^\d{2}:\d{2}$/);
  assert.match(await time.getAttribute('title'), /^\d{1,2} [а-я]{3,4}\.? \d{4} г\., \d{2}:\d{2}$/);
  assert.match(await text(page, '.pane-list .row-time'), /^\d{2}:\d{2}$/);
  const f = await page.evaluate(async () => {
    const m = await import('/js/i18n.js');
    const today = Date.now();
    return {
      lang: m.current(), n: m.num(20000), big: m.num(1234567), size: m.fileSize(5 * 1048576 + 300000),
      today: m.dayLabel(today), yesterday: m.dayLabel(today - 86400000), date: m.date(Date.UTC(2026, 11, 7, 12)),
      three: m.plural(3, { one: '{n} condition', other: '{n} conditions' }), five: m.plural(5, { one: '{n} condition', other: '{n} conditions' }),
      one: m.plural(21, { one: '{n} condition', other: '{n} conditions' }),
    };
  });
  assert.equal(f.lang, 'ru');
  assert.match(f.n, /^20\s000$/, 'full numbers with a space separator, never "20k"');
  assert.match(f.big, /^1\s234\s567$/);
  assert.match(f.size, /^5,3\sМБ$/);
  assert.equal(f.today, 'Сегодня');
  assert.equal(f.yesterday, 'Вчера');
  assert.equal(f.date, '7 дек. 2026 г.');
  assert.deepEqual([f.one, f.three, f.five], ['21 условие', '3 условия', '5 условий']);
  // The section counters use the same number format.
  const count = await page.locator('[data-section="all"] .count').textContent();
  assert.match(count, /^\d+$/);
  await context.close();
});

test('the language switch in Settings › Profile is kept across reloads', async () => {
  const { page, context } = await open('ru-RU', MANAGER);
  await page.goto(`${URL}/#/settings`);
  const sel = page.locator('#set-lang');
  await sel.waitFor();
  assert.equal((await text(page, 'label[for="set-lang"]')).trim(), 'Язык');
  assert.equal(await sel.inputValue(), 'ru');
  await Promise.all([page.waitForEvent('load'), sel.selectOption('en')]);
  await page.locator('#app').waitFor({ state: 'visible' });
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal((await text(page, '.app-nav a[data-route="chats"]')).trim(), 'Chats');
  assert.equal(await page.evaluate(() => localStorage.getItem('parley.lang')), 'en');
  await page.reload();
  await page.locator('#app').waitFor({ state: 'visible' });
  assert.equal((await text(page, '.app-nav a[data-route="settings"]')).trim(), 'Settings');
  await page.goto(`${URL}/#/chats`);
  await page.locator('.pane-list a.row').first().waitFor();
  assert.equal(await sectionLabel(page, 'unread'), 'Unread');
  // And back to Russian.
  await page.goto(`${URL}/#/settings`);
  await Promise.all([page.waitForEvent('load'), page.locator('#set-lang').selectOption('ru')]);
  await page.locator('#app').waitFor({ state: 'visible' });
  assert.equal((await text(page, '.app-nav a[data-route="settings"]')).trim(), 'Настройки');
  await context.close();
});

test('an English browser sees English with one date format', async () => {
  const { page, context, errors } = await open('en-US', ADMIN);
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal(await sectionLabel(page, 'important'), 'Important');
  assert.equal(await page.getAttribute('#chat-search', 'placeholder'), 'Search clients');
  await openClient(page, CLIENT);
  assert.equal((await text(page, '.send-btn')).trim(), 'Send');
  const date = /^[A-Z][a-z]{2} \d{1,2}, \d{4}$/; // Dec 7, 2026
  assert.match((await text(page, '.card-title .muted')).replace(/^Client since /, ''), date);
  const title = await page.locator('.history .msg time').first().getAttribute('title');
  assert.match(title.split(/, (?=\d{1,2}:)/)[0], date);
  const f = await page.evaluate(async () => {
    const m = await import('/js/i18n.js');
    return { n: m.num(20000), date: m.date(Date.UTC(2026, 11, 7, 12)), size: m.fileSize(2048) };
  });
  assert.deepEqual(f, { n: '20,000', date: 'Dec 7, 2026', size: '2 kB' });
  assert.deepEqual(errors, []);
  await context.close();
});

test('screenshots of the Russian Chats screen (1440×900, 390×844)', async () => {
  const wide = await open('ru-RU', ADMIN, { width: 1440, height: 900 });
  await openClient(wide.page, CLIENT);
  await wide.page.screenshot({ path: join(SHOTS, 'i18n-ru-1440.png') });
  await wide.context.close();
  const narrow = await open('ru-RU', ADMIN, { width: 390, height: 844 });
  await narrow.page.screenshot({ path: join(SHOTS, 'i18n-ru-390-list.png') });
  await openClient(narrow.page, CLIENT);
  await narrow.page.screenshot({ path: join(SHOTS, 'i18n-ru-390.png') });
  await narrow.context.close();
});

test('every t() string in web/js has a Russian entry', async () => {
  const web = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web', 'js');
  const ru = (await import(join(web, 'locales', 'ru.js'))).default;
  const missing = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory() && e.name !== 'locales') walk(path);
      else if (e.isFile() && e.name.endsWith('.js')) {
        const src = readFileSync(path, 'utf8');
        // t('…') with a literal key, and plural(n, {…, other: '…'}) (the catalogue keys plurals by `other`).
        for (const m of src.matchAll(/\bt\(\s*'((?:[^'\\]|\\.)*)'|\bother:\s*'((?:[^'\\]|\\.)*)'/g)) {
          const key = (m[1] ?? m[2]).replace(/\\'/g, "'");
          if (!(key in ru)) missing.push(`${path.slice(web.length + 1)}: ${key}`);
        }
      }
    }
  };
  walk(web);
  assert.deepEqual(missing, [], 'strings without a Russian translation in web/js/locales/ru.js');
});
