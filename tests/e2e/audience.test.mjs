// Browser tests for Audience and Orders (issue 17, A1/A2), run by run.sh against a live
// server: a CSV import with a column mapped by hand (preview, dry run, import, per-line
// errors), merging two selected clients into the chosen one, and a sales-plan board whose
// cards move by drag and drop and by the keyboard, with the stage totals following.

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

assert.ok(URL && TOKEN && PASSWORD, 'run through tests/e2e/run.sh (PARLEY_URL, PARLEY_CHANNEL_TOKEN, PARLEY_PASSWORD)');
mkdirSync(SHOTS, { recursive: true });

let browser;
let hook;
let apiCtx;
let csrf;
let bob;

async function call(method, path, data) {
  const res = await apiCtx.fetch(path, { method, data, headers: { 'X-CSRF-Token': csrf } });
  const text = await res.text();
  return [res.status(), text ? JSON.parse(text) : null];
}

async function contactNamed(name) {
  const [, body] = await call('GET', `/api/v1/contacts?q=${encodeURIComponent(name)}`);
  return (body.items || []).find((c) => c.name === name);
}

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  hook = await request.newContext({ baseURL: URL, ignoreHTTPSErrors: true });
  // A client who wrote in: the import will find her by another form of her phone.
  const res = await hook.post('/webhooks/api/crm', {
    headers: { Authorization: `Bearer ${TOKEN}` },
    data: { contact: { external_id: 'c-vera', name: 'Vera Chat', phone: '+7 912 000-11-22' }, message: { external_id: `vera-${Date.now()}`, text: 'Hello' } },
  });
  assert.equal(res.status(), 200, await res.text());
  apiCtx = await request.newContext({ baseURL: URL, ignoreHTTPSErrors: true });
  const s = await apiCtx.post('/api/v1/session', { data: { login: MANAGER.login, password: PASSWORD } });
  assert.equal(s.status(), 200);
  csrf = (await s.json()).csrf_token;
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${URL}/#/audience`);
  await page.locator('#signin-login').fill(MANAGER.login);
  await page.locator('#signin-password').fill(PASSWORD);
  await page.locator('#signin-submit').click();
  await page.locator('#app').waitFor({ state: 'visible' });
  bob = { context, page, errors };
});

after(async () => {
  await browser?.close();
  await hook?.dispose();
  await apiCtx?.dispose();
});

const rowOf = (page, name) => page.locator('#view-audience .aud-rows .aud-row', { has: page.locator('.aud-name a', { hasText: name }) });

test('a CSV import with a mapped column: preview, dry run, import, errors by line', async () => {
  const { page, errors } = bob;
  await page.locator('#view-audience .aud-scroller').waitFor();
  await page.getByRole('button', { name: 'Import CSV' }).click();
  const csv = '\uFEFFClient;Mobile;Town\r\nVera Importova;8 912 000 11 22;Kazan\r\n"Ilya; Jr";+44 20 7946 0001;Leeds\r\nBroken;12ab;\r\n';
  await page.locator('#imp-file').setInputFiles({ name: 'clients.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  // "Client" is guessed as the name; "Mobile" as a phone; "Town" is mapped to a field by hand.
  await page.locator('#imp-col-0').waitFor();
  assert.equal(await page.locator('#imp-col-0').inputValue(), 'name');
  assert.equal(await page.locator('#imp-col-1').inputValue(), 'phone');
  await page.locator('#imp-col-2').selectOption('field:Town');
  const preview = page.locator('.imp-preview tbody tr');
  assert.equal(await preview.count(), 3);
  assert.equal(await preview.nth(1).locator('td').first().textContent(), 'Ilya; Jr');

  await page.getByRole('button', { name: 'Dry run' }).click();
  const report = page.locator('.imp-report');
  await eventually(async () => assert.match(await report.textContent(), /Dry run: 1 new, 1 updated, 0 unchanged, 1 with errors/));
  assert.match(await report.locator('.imp-errors').textContent(), /Line 4: phone “12ab” is not a phone number/);
  assert.equal(await contactNamed('Ilya; Jr'), undefined, 'a dry run writes nothing');

  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await eventually(async () => assert.match(await report.textContent(), /Imported: 1 new, 1 updated/));
  await page.screenshot({ path: join(SHOTS, 'audience-import.png') });
  await page.locator('dialog.modal .icon-btn').click();
  const vera = await eventually(async () => {
    const c = await contactNamed('Vera Importova');
    assert.ok(c, 'the client who wrote in got the file’s name');
    return c;
  });
  assert.equal(vera.custom_fields.Town, 'Kazan');
  await eventually(async () => assert.equal(await rowOf(page, 'Ilya; Jr').count(), 1));
  assert.deepEqual(errors, []);
});

test('two selected clients merge into the chosen one', async () => {
  const { page, errors } = bob;
  const imp = await apiCtx.fetch('/api/v1/contacts/import', { method: 'POST', headers: { 'X-CSRF-Token': csrf, 'content-type': 'text/csv' },
    data: Buffer.from('name,email\nMira Twin,mira@example.com\nMira T.,mira.t@example.com\n') });
  assert.equal(imp.status(), 200, await imp.text());
  await eventually(async () => assert.ok(await contactNamed('Mira T.')));
  await page.locator('#aud-search').fill('mira');
  await eventually(async () => assert.equal(await page.locator('#view-audience .aud-rows .aud-row:not(.is-loading)').count(), 2), { timeout: 5000 }).catch(async (e) => {
    await page.screenshot({ path: join(SHOTS, 'audience-merge-fail.png') });
    throw new Error(`${e.message}; page errors: ${errors.join(' | ')}`);
  });
  await rowOf(page, 'Mira Twin').locator('input[type=checkbox]').check();
  await rowOf(page, 'Mira T.').locator('input[type=checkbox]').check();
  await page.getByRole('button', { name: 'Merge…' }).click();
  const dlg = page.locator('dialog.modal');
  await dlg.locator('label', { hasText: 'Mira T.' }).locator('input[type=radio]').check();
  await dlg.getByRole('button', { name: 'Merge', exact: true }).click();
  await eventually(async () => assert.equal(await page.locator('#view-audience .aud-rows .aud-row').count(), 1));
  assert.equal(await page.locator('#view-audience .aud-rows .aud-name a').textContent(), 'Mira T.');
  const kept = await contactNamed('Mira T.');
  assert.deepEqual(kept.emails.sort(), ['mira.t@example.com', 'mira@example.com']);
  await page.screenshot({ path: join(SHOTS, 'audience-merged.png') });
  assert.deepEqual(errors, []);
});

test('the board: a card moves by drag and drop and by Shift+→, totals follow', async () => {
  const { page, errors } = bob;
  const [st] = await call('POST', '/api/v1/sales_plans', { name: 'Board test', stages: ['Lead', 'Offer', 'Won'] });
  assert.equal(st, 201);
  const vera = await contactNamed('Vera Importova');
  for (const [title, amount] of [['Sofa', 100], ['Lamp', 25.5]]) {
    const [s, body] = await call('POST', '/api/v1/orders', { contact_id: vera.id, plan: 'Board test', title, amount, currency: 'EUR' });
    assert.equal(s, 201, JSON.stringify(body));
  }
  await page.evaluate(() => { location.hash = '#/orders'; });
  await page.locator('#ord-plan-pick').waitFor({ timeout: 5000 }).catch(async (e) => {
    await page.screenshot({ path: join(SHOTS, 'orders-fail.png') });
    throw new Error(`${e.message}; page errors: ${errors.join(' | ')}`);
  });
  await page.locator('#ord-plan-pick').selectOption('Board test');
  const col = (name) => page.locator('.board-col', { has: page.locator('h3', { hasText: name }) });
  await eventually(async () => assert.equal(await col('Lead').locator('.board-card').count(), 2));
  assert.match(await col('Lead').locator('.board-col-head .muted').textContent(), /2 · 125[.,]5 EUR/);

  await col('Lead').locator('.board-card', { hasText: 'Sofa' }).dragTo(col('Offer').locator('.board-cards'));
  await eventually(async () => assert.equal(await col('Offer').locator('.board-card').count(), 1));
  const lamp = col('Lead').locator('.board-card', { hasText: 'Lamp' });
  await lamp.focus();
  await page.keyboard.press('Shift+ArrowRight');
  await eventually(async () => assert.equal(await col('Offer').locator('.board-card').count(), 2));
  await page.keyboard.press('Shift+ArrowRight');
  await eventually(async () => assert.equal(await col('Won').locator('.board-card').count(), 1));
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), await col('Won').locator('.board-card').textContent(), 'focus stays on the moved card');
  assert.match(await col('Won').locator('.board-col-head .muted').textContent(), /1 · 25[.,]5 EUR/);
  const [, orders] = await call('GET', `/api/v1/contacts/${vera.id}/orders`);
  assert.deepEqual(orders.items.map((o) => `${o.title}:${o.stage}`).sort(), ['Lamp:Won', 'Sofa:Offer']);
  const [, log] = await call('GET', `/api/v1/contacts/${vera.id}/log`);
  assert.ok(log.items.some((e) => /moved the order “Lamp” from Offer to Won/.test(e.text)));
  await page.screenshot({ path: join(SHOTS, 'orders-board.png') });
  assert.deepEqual(errors, []);
});
