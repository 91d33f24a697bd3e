// Browser tests for the Automation page (issue 15, B1), run by run.sh against a live server:
// an admin builds a keyword funnel in the editor (send, a 1 s delay, send), the client writes
// the keyword through the API channel, and the open chat shows the funnel's system messages
// and both bot messages live; the list's switch turns a funnel off; a 422 shows at its step;
// Delete asks in a page dialog; the client card lists runs and stops a waiting one; a manager
// (not an admin) sees the page without edit controls; leaving unsaved edits asks first; the
// waiting counts update live (and polling stops off the page); webhook and assign steps save and
// come back with their choices.

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
const ADMIN = { login: process.env.PARLEY_ADMIN_LOGIN || 'alice', name: process.env.PARLEY_ADMIN_NAME || 'Alice Admin' };
const MANAGER = { login: process.env.PARLEY_MANAGER_LOGIN || 'bob', name: process.env.PARLEY_MANAGER_NAME || 'Bob Builder' };
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');
const CLIENT = 'Vera Funnel';
const FUNNEL = 'Price reply';

assert.ok(URL && TOKEN && PASSWORD, 'run through tests/e2e/run.sh (PARLEY_URL, PARLEY_CHANNEL_TOKEN, PARLEY_PASSWORD)');
mkdirSync(SHOTS, { recursive: true });

let browser;
let hook;
const apis = {}; // login → { ctx, csrf }
let ids; // { contact, chat }
let alice; // { context, page, dialogs, errors }
let funnelId;

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

/** The client writes through the API channel's webhook. */
async function clientSays(text) {
  const res = await hook.post('/webhooks/api/crm', {
    headers: { Authorization: `Bearer ${TOKEN}` },
    data: { contact: { external_id: 'c-vera', name: CLIENT }, message: { external_id: `vera-${Date.now()}-${Math.random()}`, text } },
  });
  assert.equal(res.status(), 200, await res.text());
  return res.json();
}

async function newPage(who, hash) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1440, height: 900 } });
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

/** Click "Add a step" under the list at `scope` and choose `kind`. */
async function addStep(page, kind, scope = '.fn-steps > .fn-branch > .pop-wrap') {
  await page.locator(`${scope} .fn-add`).click();
  await page.locator(`.fn-menu button[data-kind="${kind}"]`).click();
}

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  hook = await request.newContext({ baseURL: URL, ignoreHTTPSErrors: true });
  const body = await clientSays('Hello there');
  ids = { contact: body.contact_id, chat: body.chat_id };
  apis[ADMIN.login] = await signedInApi(ADMIN);
  apis[MANAGER.login] = await signedInApi(MANAGER);
  // A custom field for the preview.
  const [st] = await call(ADMIN, 'PATCH', `/api/v1/contacts/${ids.contact}`, { custom_fields: { City: 'Kazan' } });
  assert.equal(st, 200);
  alice = await newPage(ADMIN, '#/automation');
});

after(async () => {
  await browser?.close();
  await hook?.dispose();
  for (const a of Object.values(apis)) await a.ctx.dispose();
});

/** Whether the page would warn before unloading: the editor holds changes not saved yet. */
const unloadBlocked = (page) => page.evaluate(() => {
  const e = new Event('beforeunload', { cancelable: true });
  window.dispatchEvent(e);
  return e.defaultPrevented;
});

test('the Automation page is in the main navigation and loads on demand', async () => {
  const { page } = alice;
  const link = page.locator('.app-nav a[data-route="automation"]');
  assert.equal((await link.textContent()).trim(), 'Automation');
  assert.equal(await link.getAttribute('aria-current'), 'page');
  await page.locator('#fn-new').waitFor();
  await eventually(async () => assert.match(await page.locator('#view-automation .muted[role="status"]').textContent(), /No funnels yet/));
});

test('an admin builds a keyword funnel; the client’s keyword brings its steps into the open chat live', async () => {
  const { page, errors } = alice;
  await page.locator('#fn-new').click();
  await page.locator('#fn-name').fill(FUNNEL);
  assert.equal(await page.locator('#fn-trigger').inputValue(), 'keyword');
  await page.locator('#fn-keywords').fill('price');
  await page.locator('#fn-0-text').fill('Hi {client.name} from {client.field.City}, prices are on the way');
  await addStep(page, 'delay');
  await page.locator('#fn-1').fill('1');
  await page.locator('#fn-1-unit').selectOption('1');
  await addStep(page, 'send');
  await page.locator('#fn-2-text').fill('Here is the price list');
  // The Variables menu inserts at the cursor.
  await page.locator('#fn-2-text').press('End');
  await page.locator('#fn-2-vars').click();
  await page.locator('.fn-menu button', { hasText: '{client.name}' }).click();
  assert.equal(await page.locator('#fn-2-text').inputValue(), 'Here is the price list{client.name}');
  await page.locator('#fn-2-text').fill('Here is the price list, {client.name}');

  // The preview for a chosen client, rendered in the page.
  await page.locator('#fn-preview-pick').click();
  await page.locator('#fn-client-q').fill('Vera');
  await page.locator('#fn-clients button', { hasText: CLIENT }).click();
  await eventually(async () => assert.equal(await page.locator('.fn-step[data-path="0"] .fn-preview').textContent(),
    `Preview: Hi ${CLIENT} from Kazan, prices are on the way`));
  assert.equal(await page.locator('.fn-step[data-path="2"] .fn-preview').textContent(), `Preview: Here is the price list, ${CLIENT}`);

  await page.locator('#fn-save').click();
  await eventually(async () => assert.match(page.url(), /#\/automation\/\d+$/));
  funnelId = Number(page.url().split('/').pop());
  const [st, f] = await call(ADMIN, 'GET', `/api/v1/funnels/${funnelId}`);
  assert.equal(st, 200);
  assert.equal(f.name, FUNNEL);
  assert.equal(f.enabled, true);
  assert.deepEqual(f.trigger, { kind: 'keyword', keywords: ['price'] });
  assert.deepEqual(f.steps.map((s) => s.kind), ['send', 'delay', 'send']);
  assert.equal(f.steps[1].seconds, 1);
  await page.screenshot({ path: join(SHOTS, 'automation-editor.png'), fullPage: true });

  // Open the chat without a reload (hash routing) and mark the page.
  await page.evaluate(({ c, ch }) => { window.__noReload = true; location.hash = `#/chats/${c}/${ch}`; }, { c: ids.contact, ch: ids.chat });
  await page.locator('.history .msg').first().waitFor();
  await clientSays('What is the price?');
  await eventually(async () => {
    const bots = await page.$$eval('.history .msg-bot .msg-text', (els) => els.map((e) => e.textContent));
    assert.deepEqual(bots, [`Hi ${CLIENT} from Kazan, prices are on the way`, `Here is the price list, ${CLIENT}`]);
  }, { timeout: 15000 });
  const system = await page.$$eval('.history .msg-system', (els) => els.map((e) => e.textContent));
  assert.ok(system.some((s) => s.includes(`Funnel ${FUNNEL}`) && /trigger/.test(s)), `no trigger message in ${JSON.stringify(system)}`);
  assert.ok(system.filter((s) => s.includes(`Funnel ${FUNNEL}`)).length >= 2, JSON.stringify(system));
  assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was reloaded');
  // The client card lists the finished run.
  await eventually(async () => assert.match(await page.locator('.pane-card .runs').textContent(), new RegExp(`${FUNNEL}.*done`)));
  await page.screenshot({ path: join(SHOTS, 'automation-chat.png') });
  assert.deepEqual(errors, []);
});

test('the list shows the trigger in words and the switch turns a funnel off', async () => {
  const { page } = alice;
  await page.evaluate(() => { location.hash = '#/automation'; });
  const row = page.locator(`#view-automation tr[data-id="${funnelId}"]`);
  await row.waitFor();
  assert.match(await row.textContent(), /Keyword: “price”/);
  assert.match(await row.textContent(), /All channels/);
  const sw = row.locator('input[role="switch"]');
  assert.equal(await sw.isChecked(), true);
  await sw.click();
  await eventually(async () => {
    const [, f] = await call(ADMIN, 'GET', `/api/v1/funnels/${funnelId}`);
    assert.equal(f.enabled, false);
  });
  assert.equal(await sw.isChecked(), false);
});

test('a 422 shows its message at the step it names', async () => {
  const { page } = alice;
  await page.evaluate(() => { location.hash = '#/automation/new'; });
  await page.locator('#fn-name').fill('Broken');
  await page.locator('#fn-keywords').fill('oops');
  await page.locator('#fn-0-text').fill('fine');
  await addStep(page, 'condition');
  // The condition's yes branch gets a send step with no text.
  await page.locator('#fn-1-c0-v').fill('vip');
  await addStep(page, 'send', '.fn-step[data-path="1"] .fn-yes .pop-wrap');
  await page.locator('#fn-save').click();
  const err = page.locator('.fn-step[data-path="1.yes.0"] .fn-step-error');
  await err.waitFor();
  assert.match(await err.textContent(), /text: must not be empty/);
  assert.match(await page.locator('#fn-error').textContent(), /Step 2 › Yes › 1/);
  assert.match(page.url(), /#\/automation\/new$/);
  // Fixed, it saves.
  await page.locator('#fn-1-yes-0-text').fill('Welcome, VIP');
  await page.locator('#fn-save').click();
  await eventually(async () => assert.match(page.url(), /#\/automation\/\d+$/));
  const id = page.url().split('/').pop();
  const [, f] = await call(ADMIN, 'GET', `/api/v1/funnels/${id}`);
  assert.deepEqual(f.steps[1].yes, [{ kind: 'send', text: 'Welcome, VIP' }]);
  assert.equal(f.steps[1].filter.conditions[0].value, 'vip');

  // Reorder: the first step goes down, its branch with it; focus stays on the moved step.
  await page.locator('#fn-save').waitFor({ state: 'attached' });
  await page.locator('button[aria-label="Move step 1 down"]').click();
  const top = () => page.$$eval('.fn-steps > .fn-branch > .fn-list > .fn-step', (els) => els.map((e) => e.dataset.kind));
  assert.deepEqual(await top(), ['condition', 'send']);
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Move step 2 up');
  await page.locator('#fn-save').click();
  await eventually(async () => {
    const [, g] = await call(ADMIN, 'GET', `/api/v1/funnels/${id}`);
    assert.deepEqual(g.steps.map((s) => s.kind), ['condition', 'send']);
    assert.equal(g.steps[0].yes[0].text, 'Welcome, VIP');
  });
  // The server can have the change before the page has its answer; until then the editor
  // counts as unsaved, and the next test's navigation would stop at the leave dialog.
  await eventually(async () => assert.equal(await unloadBlocked(page), false));
});

test('webhook and assign steps: the headings say what they do, they save as the server takes them and come back on a reload', async () => {
  const { page, errors } = alice;
  const [, managers] = await call(ADMIN, 'GET', '/api/v1/managers');
  const bob = managers.items.find((m) => m.login === MANAGER.login);
  assert.ok(bob, JSON.stringify(managers));
  await page.evaluate(() => { location.hash = '#/automation/new'; });
  await page.locator('#fn-name').fill('Hand over');
  await page.locator('#fn-trigger').selectOption('manual');
  await page.locator('#fn-0-text').fill('Passing you to a colleague');
  const heading = (i) => page.locator(`.fn-step[data-path="${i}"] > .fn-step-head .fn-kind`);
  await addStep(page, 'webhook');
  assert.equal(await heading(1).textContent(), 'Call a webhook');
  await page.locator('#fn-1-url').fill('https://crm.example.com/hook');
  assert.equal(await heading(1).textContent(), 'Call webhook crm.example.com');
  await addStep(page, 'assign');
  assert.equal(await heading(2).textContent(), 'Assign automatically');
  await page.locator('#fn-2-manager').selectOption(String(bob.id));
  assert.equal(await heading(2).textContent(), `Assign to ${MANAGER.name}`);
  await addStep(page, 'assign');
  assert.equal(await heading(3).textContent(), 'Assign automatically');
  await page.locator('#fn-save').click();
  await eventually(async () => assert.match(page.url(), /#\/automation\/\d+$/));
  const id = Number(page.url().split('/').pop());
  const [st, f] = await call(ADMIN, 'GET', `/api/v1/funnels/${id}`);
  assert.equal(st, 200);
  assert.deepEqual(f.trigger, { kind: 'manual' });
  assert.deepEqual(f.steps, [
    { kind: 'send', text: 'Passing you to a colleague' },
    { kind: 'webhook', url: 'https://crm.example.com/hook' },
    { kind: 'assign', manager_id: bob.id },
    { kind: 'assign', manager_id: null },
  ]);

  // A reload reads the funnel back: the same choices and headings.
  await eventually(async () => assert.equal(await unloadBlocked(page), false));
  await page.reload();
  await page.locator('#fn-1-url').waitFor();
  assert.equal(await page.locator('#fn-1-url').inputValue(), 'https://crm.example.com/hook');
  assert.equal(await page.locator('#fn-2-manager').inputValue(), String(bob.id));
  assert.equal(await page.locator('#fn-3-manager').inputValue(), '');
  assert.deepEqual(await Promise.all([1, 2, 3].map((i) => heading(i).textContent())),
    ['Call webhook crm.example.com', `Assign to ${MANAGER.name}`, 'Assign automatically']);
  assert.deepEqual(errors, []);
});

test('the card lists a waiting run and stops it; Delete asks in a page dialog', async () => {
  const { page, dialogs } = alice;
  const [st, f] = await call(ADMIN, 'POST', '/api/v1/funnels', { name: 'Follow-up', trigger: { kind: 'manual' }, steps: [{ kind: 'delay', seconds: 3600 }, { kind: 'send', text: 'Still there?' }] });
  assert.equal(st, 201, JSON.stringify(f));
  // Test on a client, from the editor.
  await page.evaluate((id) => { location.hash = `#/automation/${id}`; }, f.id);
  await page.locator('#fn-test').click();
  await page.locator('#fn-client-q').fill('Vera');
  await page.locator('#fn-clients button', { hasText: CLIENT }).click();
  await eventually(async () => {
    const [, runs] = await call(ADMIN, 'GET', `/api/v1/contacts/${ids.contact}/runs`);
    assert.ok(runs.items.some((r) => r.funnel_id === f.id && r.state === 'waiting'));
  });
  await page.evaluate(({ c, ch }) => { location.hash = `#/chats/${c}/${ch}`; }, { c: ids.contact, ch: ids.chat });
  const stop = page.locator('.pane-card .runs button[aria-label="Stop the funnel Follow-up"]');
  await stop.waitFor();
  await stop.click();
  await eventually(async () => {
    const [, runs] = await call(ADMIN, 'GET', `/api/v1/contacts/${ids.contact}/runs`);
    assert.ok(runs.items.some((r) => r.funnel_id === f.id && r.state !== 'waiting'));
  });
  await eventually(async () => assert.equal(await stop.count(), 0));

  await page.evaluate((id) => { location.hash = `#/automation/${id}`; }, f.id);
  await page.locator('#fn-delete').click();
  const dlg = page.locator('dialog.modal[open]');
  await dlg.waitFor();
  assert.match(await dlg.textContent(), /Delete the funnel “Follow-up”\?/);
  await dlg.locator('.btn-danger').click();
  await eventually(async () => assert.match(page.url(), /#\/automation$/));
  const [gone] = await call(ADMIN, 'GET', `/api/v1/funnels/${f.id}`);
  assert.equal(gone, 404);
  assert.deepEqual(dialogs, [], 'no window.confirm');
});

test('a manager sees funnels without edit controls', async () => {
  const bob = await newPage(MANAGER, '#/automation');
  const { page, errors } = bob;
  const row = page.locator(`#view-automation tr[data-id="${funnelId}"]`);
  await row.waitFor();
  assert.equal(await page.locator('#fn-new').count(), 0);
  assert.equal(await row.locator('input[role="switch"]').isDisabled(), true);
  await row.locator('a.fn-link').click();
  await page.locator('#fn-name').waitFor();
  assert.equal(await page.locator('#fn-name').isDisabled(), true);
  assert.equal(await page.locator('#fn-0-text').isDisabled(), true);
  for (const sel of ['#fn-save', '#fn-delete', '.fn-add', '.fn-tools', '.fn-vars']) assert.equal(await page.locator(sel).count(), 0, sel);
  assert.equal(await page.locator('#fn-test').count(), 1);
  assert.match(await page.locator('.fn-ro').textContent(), /Only an admin can change funnels/);
  await page.screenshot({ path: join(SHOTS, 'automation-readonly.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await bob.context.close();
});

test('funnel and client names are shown as text, never as markup', async () => {
  const { page } = alice;
  const name = '<img src=x onerror="window.__xss=1">Promo';
  const [st, f] = await call(ADMIN, 'POST', '/api/v1/funnels', { name, trigger: { kind: 'manual' }, steps: [{ kind: 'send', text: '<b>{client.name}</b>' }] });
  assert.equal(st, 201, JSON.stringify(f));
  await page.evaluate(() => { location.hash = '#/chats'; });
  await page.evaluate(() => { location.hash = '#/automation'; });
  const link = page.locator(`#view-automation tr[data-id="${f.id}"] a.fn-link`);
  await link.waitFor();
  assert.equal(await link.textContent(), name);
  await link.click();
  await page.locator('#fn-preview-pick').click();
  await page.locator('#fn-clients button', { hasText: CLIENT }).click();
  await eventually(async () => assert.equal(await page.locator('.fn-step[data-path="0"] .fn-preview').textContent(), `Preview: <b>${CLIENT}</b>`));
  assert.equal(await page.locator('#view-automation img, #view-automation b').count(), 0);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
});

test('leaving an editor with unsaved changes asks in a page dialog; Cancel keeps the edits', async () => {
  const { page, dialogs, errors } = alice;
  const dlg = page.locator('dialog.modal[open]');
  // Closed, then removed in its close event, which the answer follows.
  const gone = () => page.locator('dialog.modal').waitFor({ state: 'detached' });
  await page.evaluate((id) => { location.hash = `#/automation/${id}`; }, funnelId);
  await eventually(async () => assert.equal(await page.locator('#fn-name').inputValue(), FUNNEL));
  // Nothing changed: no question, on the way out or on a reload.
  assert.equal(await unloadBlocked(page), false);
  await page.locator('#view-automation a', { hasText: 'All funnels' }).click();
  await page.locator(`#view-automation tr[data-id="${funnelId}"]`).waitFor();
  assert.equal(await dlg.count(), 0);

  await page.locator(`#view-automation tr[data-id="${funnelId}"] a.fn-link`).click();
  await page.locator('#fn-name').fill(`${FUNNEL} (draft)`);
  assert.equal(await unloadBlocked(page), true, 'a reload or a closed tab is not warned about');
  // Another section: asked; Cancel stays in the editor with the edit.
  await page.locator('.app-nav a[data-route="chats"]').click();
  await dlg.waitFor();
  assert.match(await dlg.textContent(), /not saved/);
  await dlg.locator('.btn-ghost', { hasText: 'Cancel' }).click();
  await gone();
  assert.equal(await page.evaluate(() => location.hash), `#/automation/${funnelId}`);
  assert.equal(await page.locator('#view-automation').isVisible(), true);
  assert.equal(await page.locator('#fn-name').inputValue(), `${FUNNEL} (draft)`);
  // The back link within the page asks too; Esc is a Cancel.
  await page.locator('#view-automation a', { hasText: 'All funnels' }).click();
  await dlg.waitFor();
  await page.keyboard.press('Escape');
  await gone();
  assert.equal(await page.evaluate(() => location.hash), `#/automation/${funnelId}`);
  assert.equal(await page.locator('#fn-name').inputValue(), `${FUNNEL} (draft)`);
  // Leave without saving: the funnel keeps its saved name.
  await page.locator('.app-nav a[data-route="chats"]').click();
  await dlg.waitFor();
  await dlg.locator('.btn-danger').click();
  await eventually(async () => assert.match(page.url(), /#\/chats/));
  await page.locator('#view-chats').waitFor({ state: 'visible' });
  assert.equal(await unloadBlocked(page), false);
  const [, f] = await call(ADMIN, 'GET', `/api/v1/funnels/${funnelId}`);
  assert.equal(f.name, FUNNEL);

  // Saved changes leave without a question.
  await page.evaluate((id) => { location.hash = `#/automation/${id}`; }, funnelId);
  await eventually(async () => assert.equal(await page.locator('#fn-name').inputValue(), FUNNEL));
  await page.locator('#fn-keywords').fill('price, cost');
  await page.locator('#fn-save').click();
  await eventually(async () => {
    const [, g] = await call(ADMIN, 'GET', `/api/v1/funnels/${funnelId}`);
    assert.deepEqual(g.trigger.keywords, ['price', 'cost']);
  });
  // Clean once the page has the server's answer.
  await eventually(async () => assert.equal(await unloadBlocked(page), false));
  await page.locator('.app-nav a[data-route="chats"]').click();
  await eventually(async () => assert.match(page.url(), /#\/chats/));
  assert.equal(await dlg.count(), 0);
  assert.deepEqual(dialogs, [], 'no window.confirm');
  assert.deepEqual(errors, []);
});

test('waiting counts follow the clients live on the list and in the editor, and polling stops off the page', async () => {
  const { page, errors } = alice;
  const [st, f] = await call(ADMIN, 'POST', '/api/v1/funnels', { name: 'Call back', enabled: true, trigger: { kind: 'keyword', keywords: ['callback'] },
    steps: [{ kind: 'delay', seconds: 3600 }, { kind: 'send', text: 'We will call you' }] });
  assert.equal(st, 201, JSON.stringify(f));
  const enters = async (ext, name) => {
    const res = await hook.post('/webhooks/api/crm', {
      headers: { Authorization: `Bearer ${TOKEN}` },
      data: { contact: { external_id: ext, name }, message: { external_id: `${ext}-${Date.now()}-${Math.random()}`, text: 'A callback, please' } },
    });
    assert.equal(res.status(), 200, await res.text());
  };
  let polls = 0;
  page.on('request', (r) => { if (r.method() === 'GET' && /\/api\/v1\/funnels(\?|$)/.test(r.url())) polls++; });

  await page.evaluate(() => { window.__noReload = true; location.hash = '#/automation'; });
  const count = page.locator(`#view-automation tr[data-id="${f.id}"] td.fn-count`);
  await eventually(async () => assert.equal(await count.textContent(), '0'));
  await enters('c-wait-1', 'Kirill Wait');
  await eventually(async () => assert.equal(await count.textContent(), '1'), { timeout: 12000 });

  // The editor's step shows its waiting clients and follows a second one in.
  await page.locator(`#view-automation tr[data-id="${f.id}"] a.fn-link`).click();
  // (The run waits in the delay for the step after it.)
  const badge = page.locator('.fn-step .fn-waiting');
  await eventually(async () => assert.equal(await badge.textContent(), '1 client waiting for this step'));
  await page.locator('#fn-0').focus();
  await enters('c-wait-2', 'Lena Wait');
  await eventually(async () => assert.equal(await badge.textContent(), '2 clients waiting for this step'), { timeout: 12000 });
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'fn-0', 'the update took the focus');
  assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was reloaded');

  // A hidden tab does not poll; shown again, it fetches at once.
  await page.evaluate(() => { location.hash = '#/automation'; });
  await eventually(async () => assert.equal(await count.textContent(), '2'));
  await page.evaluate(() => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  polls = 0;
  await new Promise((r) => setTimeout(r, 5600));
  assert.equal(polls, 0, 'polled while the tab was hidden');
  await page.evaluate(() => {
    delete document.hidden;
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await eventually(async () => assert.ok(polls >= 1), { timeout: 2000 });

  // Another page: no more requests.
  await page.locator('.app-nav a[data-route="chats"]').click();
  await page.locator('#view-chats').waitFor({ state: 'visible' });
  await new Promise((r) => setTimeout(r, 300));
  polls = 0;
  await new Promise((r) => setTimeout(r, 5600));
  assert.equal(polls, 0, 'polling went on after leaving the page');
  assert.deepEqual(errors, []);
});
