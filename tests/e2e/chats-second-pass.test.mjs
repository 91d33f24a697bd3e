// Browser tests for issue 13 (the Chats screen, second pass), items 3, 4, 5, 6 and 9: the filter
// panel's room, the client card following live events, search rows that say what matched,
// toasts that cover no control, and the polish list. Run by run.sh against a live server.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
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
const WIDE = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844 };

assert.ok(URL && TOKEN && PASSWORD, 'run through tests/e2e/run.sh (PARLEY_URL, PARLEY_CHANNEL_TOKEN, PARLEY_PASSWORD)');
mkdirSync(SHOTS, { recursive: true });

let browser;
let hook;
let adminApi;
let csrf;
let me; // the admin's manager id
const ids = {};
const pages = [];

async function eventually(fn, { timeout = 8000, interval = 100, message } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > end) {
        if (message) err.message = `${message}: ${err.message}`;
        throw err;
      }
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

async function inject(ext, name, text, extra = {}, channel = 'crm') {
  const res = await hook.post(`/webhooks/api/${channel}`, {
    headers: { Authorization: `Bearer ${TOKEN}` },
    data: {
      contact: { external_id: ext, name, ...extra },
      message: { external_id: `${ext}-${Date.now()}-${Math.random().toString(36).slice(2)}`, text },
    },
  });
  assert.equal(res.status(), 200, await res.text());
  const body = await res.json();
  ids[ext] = { contact: body.contact_id, chat: body.chat_id };
  return body;
}

async function call(method, path, data) {
  const res = await adminApi.fetch(path, { method, data, headers: { 'X-CSRF-Token': csrf } });
  const text = await res.text();
  assert.ok(res.ok(), `${method} ${path} → ${res.status()} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function newPage(who, viewport) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  pages.push({ context, errors });
  await page.goto(`${URL}/#/chats`);
  await page.locator('#signin-login').fill(who.login);
  await page.locator('#signin-password').fill(PASSWORD);
  await page.locator('#signin-submit').click();
  await page.locator('#app').waitFor({ state: 'visible' });
  await page.locator('.pane-list a.row').first().waitFor();
  return page;
}

const row = (page, name) => page.locator('.pane-list a.row', { has: page.locator('.row-name', { hasText: name }) });
const box = (loc) => loc.boundingBox();
const overlaps = (a, b) => a && b && a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
const shot = (page, name) => page.screenshot({ path: join(SHOTS, `${name}.png`) });

async function openClient(page, contactId) {
  await page.evaluate((id) => { location.hash = `#/chats/${id}`; }, contactId);
  await page.locator('.history .msg').first().waitFor();
}

/** Does the search box show its whole placeholder? (Typed in as the value, the text must not scroll.) */
const placeholderFits = (page) => page.$eval('#chat-search', (i) => {
  const v = i.value;
  i.value = i.placeholder;
  const fits = i.scrollWidth <= i.clientWidth;
  i.value = v;
  return fits;
});

/** Width in px of `text` in the element's own font (what an option label needs). */
function textWidth(page, selector, text) {
  return page.$eval(selector, (el, t) => {
    const cs = getComputedStyle(el);
    const ctx = document.createElement('canvas').getContext('2d');
    ctx.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
    return ctx.measureText(t).width;
  }, text);
}

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  hook = await request.newContext({ baseURL: URL, ignoreHTTPSErrors: true });
  adminApi = await request.newContext({ baseURL: URL, ignoreHTTPSErrors: true });
  const session = await adminApi.post('/api/v1/session', { data: { login: ADMIN.login, password: PASSWORD } });
  assert.equal(session.status(), 200);
  const s = await session.json();
  csrf = s.csrf_token;
  me = s.manager.id;

  // Six clients with one name, told apart only by phone or e-mail.
  await inject('anna-1', 'Anna Chen', 'Hello', { phone: '+7 912 111-22-33' });
  await inject('anna-2', 'Anna Chen', 'Hi there', { email: 'anna.work@example.com' });
  await inject('anna-3', 'Anna Chen', 'Good day', { phone: '+44 20 7946 0000' });
  await inject('anna-4', 'Anna Chen', 'Question', { email: 'a.chen@shop.example' });
  await inject('anna-5', 'Anna Chen', 'Order', { phone: '+1 415 555 0199' });
  await inject('anna-6', 'Anna Chen', 'Thanks', { email: 'chen.anna@mail.example' });
  // One client on two channels that share a name (linked by phone), with unread on both.
  await inject('casey', 'Casey Card', 'First question', { phone: '+49 151 2345 6789' });
  await inject('casey', 'Casey Card', 'Second question', { phone: '+49 151 2345 6789' });
  await inject('casey-shop', 'Casey Card', 'From the shop', { phone: '+49 151 2345 6789' }, 'shop');
  assert.equal(ids.casey.contact, ids['casey-shop'].contact, 'linked by phone into one client');
  for (let i = 0; i < 70; i += 1) await inject('casey', 'Casey Card', `Unread ${i}`, { phone: '+49 151 2345 6789' });
  // A system message (blacklist on, off) for the phone-width check.
  await inject('sys', 'Sam System', 'Ping');
  await call('PATCH', `/api/v1/contacts/${ids.sys.contact}`, { blacklisted: true });
  await call('PATCH', `/api/v1/contacts/${ids.sys.contact}`, { blacklisted: false });
});

after(async () => {
  for (const p of pages) {
    assert.deepEqual(p.errors, [], 'no uncaught errors in the page');
    await p.context.close();
  }
  await browser?.close();
  await hook?.dispose();
  await adminApi?.dispose();
});

// ---------- item 3: the filter panel ----------

test('item 3: the filter panel lies over the conversation with room for conditions; the list stays in view', async () => {
  const page = await newPage(ADMIN, WIDE);
  const list = await box(page.locator('.pane-list'));
  await page.locator('button[aria-controls="filters-host"]').click();
  const panel = page.locator('#filters-host');
  await panel.waitFor();
  await panel.locator('button', { hasText: 'More' }).click();
  for (const f of ['tag', 'channel', 'created', 'custom_field']) await panel.locator('#flt-add').selectOption(f);
  await page.locator('#cond-1-v').selectOption('shop');
  const p = await box(panel);
  assert.ok(p.x >= list.x + list.width - 1, `the panel starts right of the list (${p.x} vs ${list.x + list.width})`);
  assert.ok(p.width >= 400, `the panel is wide enough (${p.width})`);
  assert.ok(p.height >= 500, `more than three rows of room (${p.height})`);
  // The list is still there, unchanged and usable.
  assert.deepEqual(await box(page.locator('.pane-list')), list);
  assert.ok(await row(page, 'Casey Card').isVisible());
  // No condition card is clipped.
  for (const card of await panel.locator('.cond-card').all()) {
    const c = await box(card);
    assert.ok(c.x >= p.x && c.x + c.width <= p.x + p.width + 0.5, 'a condition card fits the panel width');
  }
  const opt = await page.$eval('#cond-1-v', (s) => s.selectedOptions[0].textContent);
  assert.equal(opt, 'CRM bridge (api shop)', 'channels with one name are told apart by kind and id');
  await shot(page, 'second-pass-filters-1440');

  // Apply: the chip's "Clear filter" stays on one line. Esc closes the panel, focus goes back.
  while (await panel.locator('.cond-card').count()) await panel.locator('.cond-card').first().locator('button[aria-label^="Remove"]').click();
  await panel.locator('#flt-add').selectOption('channel');
  await panel.locator('#cond-0-v').selectOption('shop');
  await panel.locator('button', { hasText: 'Filter' }).first().click();
  const clear = page.locator('.list-chip button', { hasText: 'Clear filter' });
  await clear.waitFor();
  const lineHeight = await clear.evaluate((b) => parseFloat(getComputedStyle(b).lineHeight) || 20);
  assert.ok((await clear.evaluate((b) => b.querySelector('span')?.offsetHeight ?? b.clientHeight)) < 2 * lineHeight + 16, 'Clear filter does not wrap');
  assert.ok(await clear.evaluate((b) => b.scrollWidth <= b.clientWidth), 'Clear filter is not cut');
  await eventually(async () => assert.deepEqual(await page.$$eval('.pane-list .row-name', (e) => e.map((x) => x.textContent)), ['Casey Card']));
  await page.locator('#flt-add').focus();
  await page.keyboard.press('Escape');
  assert.equal(await panel.isVisible(), false, 'Esc closes the panel');
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-controls')), 'filters-host');
  await clear.click();

  // Phone width: the panel is a sheet at the bottom, the list rows above it stay visible.
  const phone = await newPage(ADMIN, PHONE);
  await phone.locator('button[aria-controls="filters-host"]').click();
  await phone.locator('#filters-host button', { hasText: 'More' }).click();
  await phone.locator('#flt-add').selectOption('tag');
  const sheet = await box(phone.locator('#filters-host'));
  const first = await box(phone.locator('.pane-list a.row').first());
  await shot(phone, 'second-pass-filters-390');
  assert.ok(first.y + first.height <= sheet.y + 1, `a list row is visible above the sheet (${JSON.stringify([first, sheet])})`);
  assert.ok(sheet.x >= 0 && sheet.x + sheet.width <= PHONE.width + 0.5, 'the sheet fits the screen');
  await shot(phone, 'second-pass-filters-390');
  await phone.locator('#filters-host button[aria-label="Close the filters"]').click();
  assert.equal(await phone.locator('#filters-host').isVisible(), false);
});

// ---------- item 4: the card follows live events ----------

test('item 4: the client card follows mark-read and live changes to tags, tasks, plan and name', async () => {
  const page = await newPage(ADMIN, WIDE);
  await openClient(page, ids.casey.contact);
  const card = page.locator('.pane-card');
  const badge = (name) => card.locator('.card-chats li', { hasText: name }).locator('.badge');
  await eventually(async () => assert.equal(await badge('api crm').textContent(), '72'));
  assert.equal(await badge('api shop').textContent(), '1');

  // Mark read (Shift+Enter in the composer): the card's badge goes with the list's and the switch's.
  await page.locator('.composer textarea').focus();
  await page.keyboard.press('Shift+Enter');
  await eventually(async () => assert.equal(await badge('api crm').count(), 0, 'the card badge clears'));
  assert.match(await row(page, 'Casey Card').locator('.badge').textContent(), /^1\b/);
  assert.doesNotMatch(await page.$eval('#channel-select', (s) => s.selectedOptions[0].textContent), /unread/);

  // A new client message: the card's badge counts it.
  await inject('casey', 'Casey Card', 'One more', { phone: '+49 151 2345 6789' });
  await eventually(async () => assert.equal(await badge('api crm').textContent(), '1'));
  // Typing in the card while live events rebuild it: the text and the focus stay.
  const tagInput = card.locator('input[aria-label="New tag"]');
  await tagInput.fill('vip');
  await inject('casey', 'Casey Card', 'Still there?', { phone: '+49 151 2345 6789' });
  await eventually(async () => assert.equal(await badge('api crm').textContent(), '2'));
  assert.equal(await tagInput.inputValue(), 'vip');
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'New tag');
  await tagInput.fill('');

  // Changes made elsewhere (another session, the API) reach the card live.
  const id = ids.casey.contact;
  await call('POST', `/api/v1/contacts/${id}/tags`, { tag: 'wholesale' });
  await eventually(async () => assert.deepEqual(await card.locator('.tag span').allTextContents(), ['wholesale']));
  await call('POST', `/api/v1/contacts/${id}/tasks`, { title: 'Send the price list' });
  await eventually(async () => assert.match(await card.locator('.tasks').textContent(), /Send the price list/));
  assert.ok(await row(page, 'Casey Card').locator('.mark-task').count(), 'the list row shows the open task');
  await call('PATCH', `/api/v1/contacts/${id}`, { sales_plan: 'Gold', name: 'Casey Cardigan' });
  await eventually(async () => assert.equal(await card.locator('.card-name').textContent(), 'Casey Cardigan'));
  assert.match(await card.locator('.kv').textContent(), /Gold/);
  assert.equal(await page.locator('#chat-name').textContent(), 'Casey Cardigan');
  await eventually(async () => assert.equal(await row(page, 'Casey Cardigan').count(), 1));
  await shot(page, 'second-pass-card-1440');
});

// ---------- item 5: search rows say what matched ----------

test('item 5: search rows show the matched phone or e-mail, highlighted', async () => {
  const page = await newPage(ADMIN, WIDE);
  await page.locator('#chat-search').fill('Anna Chen');
  await eventually(async () => assert.equal(await page.locator('.pane-list a.row').count(), 6));
  const shown = await page.$$eval('.pane-list a.row .row-match', (e) => e.map((x) => x.textContent));
  assert.equal(shown.length, 6);
  assert.equal(new Set(shown).size, 6, `six different phones or e-mails: ${shown}`);
  await shot(page, 'second-pass-search-1440');

  await page.locator('#chat-search').fill('912 111');
  await eventually(async () => assert.equal(await page.locator('.pane-list a.row').count(), 1));
  assert.equal(await page.locator('.row-match').textContent(), '+79121112233');
  assert.equal(await page.locator('.row-match mark').textContent(), '912111');

  await page.locator('#chat-search').fill('anna.work');
  await eventually(async () => assert.equal(await page.locator('.row-match').textContent(), 'anna.work@example.com'));
  assert.equal(await page.locator('.row-match mark').textContent(), 'anna.work');
  // Text, not markup: the mark is an element with a text node.
  assert.equal(await page.locator('.row-match mark').evaluate((m) => m.childNodes.length === 1 && m.firstChild.nodeType), 3);

  const phone = await newPage(ADMIN, PHONE);
  await phone.locator('#chat-search').fill('Anna Chen');
  await eventually(async () => assert.equal(await phone.locator('.pane-list a.row .row-match').count(), 6));
  const r = await box(phone.locator('.pane-list a.row').first());
  const m = await box(phone.locator('.pane-list a.row .row-match').first());
  assert.ok(m.y + m.height <= r.y + r.height, 'the matched line fits in the row');
  await shot(phone, 'second-pass-search-390');
});

// ---------- item 6: toasts ----------

test('item 6: toasts cover no control, stack at most three, go by themselves and never take focus', async () => {
  const page = await newPage(ADMIN, WIDE);
  await openClient(page, ids['anna-1'].contact);
  const textarea = page.locator('.composer textarea');
  await textarea.focus();
  // A mention from the other manager, then a burst of status messages.
  const bobApi = await request.newContext({ baseURL: URL, ignoreHTTPSErrors: true });
  const bs = await (await bobApi.post('/api/v1/session', { data: { login: MANAGER.login, password: PASSWORD } })).json();
  const note = await bobApi.fetch(`/api/v1/chats/${ids['anna-1'].chat}/notes`, { method: 'POST', data: { text: 'look at this order', mentions: [me] }, headers: { 'X-CSRF-Token': bs.csrf_token } });
  assert.ok(note.ok(), await note.text());
  const mention = async (text) => {
    const r = await bobApi.fetch(`/api/v1/chats/${ids['anna-1'].chat}/notes`, { method: 'POST', data: { text, mentions: [me] }, headers: { 'X-CSRF-Token': bs.csrf_token } });
    assert.ok(r.ok(), await r.text());
  };
  const toast = page.locator('.toast');
  await toast.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.tagName), 'TEXTAREA', 'the toast did not take focus');
  for (let i = 0; i < 4; i += 1) {
    await page.keyboard.press('Shift+Enter'); // "Marked as read"
    await page.waitForTimeout(150);
  }
  assert.ok(await page.locator('#toasts > *').count() <= 3, 'at most three at once');
  const controls = ['.app-header', '.chat-head', '#channel-select', '.chat-controls', '.composer', '.send-btn', '.pane-list', '.pane-card'];
  for (const t of await page.locator('#toasts > *').all()) {
    const b = await box(t);
    for (const sel of controls) assert.ok(!overlaps(b, await box(page.locator(sel).first())), `a toast covers ${sel}`);
  }
  await shot(page, 'second-pass-toasts-1440');
  assert.equal(await page.evaluate(() => document.activeElement.tagName), 'TEXTAREA');
  // Status messages go after a few seconds; a mention after longer, but it goes too.
  await eventually(async () => assert.equal(await page.locator('#toasts > *').count(), 0), { timeout: 25000 });
  await mention('second look, please');
  await toast.waitFor();
  const mentionAt = Date.now();
  await page.keyboard.press('Shift+Enter');
  await page.locator('#toasts .flash').waitFor();
  await eventually(async () => assert.equal(await page.locator('#toasts .flash').count(), 0), { timeout: 9000 });
  assert.equal(await toast.count(), 1, 'the mention is still there');
  await toast.waitFor({ state: 'detached', timeout: 25000 });
  assert.ok(Date.now() - mentionAt > 12000, 'the mention stayed longer than a status message');

  // Phone width: over the history, clear of the header and the composer.
  const phone = await newPage(ADMIN, PHONE);
  await openClient(phone, ids['anna-2'].contact);
  await phone.locator('.composer textarea').focus();
  await phone.keyboard.press('Shift+Enter');
  const f = await box(phone.locator('#toasts .flash'));
  for (const sel of ['.app-header', '.chat-head', '.composer']) assert.ok(!overlaps(f, await box(phone.locator(sel).first())), `the toast covers ${sel}`);
  await shot(phone, 'second-pass-toasts-390');
  await bobApi.dispose();
});

// ---------- item 9: polish ----------

test('item 9: placeholder, channel switch, preview author, Esc on the docked card, icon labels', async () => {
  const page = await newPage(ADMIN, WIDE);
  assert.ok(await placeholderFits(page), 'the search placeholder fits');
  await openClient(page, ids.casey.contact);
  await inject('casey-shop', 'Casey Card', 'More from the shop', { phone: '+49 151 2345 6789' }, 'shop');
  await page.locator('#channel-select').selectOption(String(ids['casey-shop'].chat));
  const labels = await page.$$eval('#channel-select option', (o) => o.map((x) => x.textContent.replace(/ ·.*/, '')).sort());
  assert.deepEqual(labels, ['CRM bridge (api crm)', 'CRM bridge (api shop)'], 'two channels named alike are told apart');
  // The closed switch shows its whole label.
  await page.locator('#channel-select').selectOption(String(ids.casey.chat));
  await inject('casey', 'Casey Card', 'Unread again', { phone: '+49 151 2345 6789' });
  await inject('casey-shop', 'Casey Card', 'Unread shop', { phone: '+49 151 2345 6789' }, 'shop');
  await eventually(async () => assert.match(await page.$eval('#channel-select', (s) => Array.from(s.options, (o) => o.textContent).join()), /unread/));
  for (const i of [0, 1]) {
    await page.$eval('#channel-select', (s, k) => { s.selectedIndex = k; }, i);
    const label = await page.$eval('#channel-select', (s) => s.selectedOptions[0].textContent);
    const need = await textWidth(page, '#channel-select', label);
    const room = await page.$eval('#channel-select', (s) => s.clientWidth - parseFloat(getComputedStyle(s).paddingLeft) - 20);
    assert.ok(need <= room, `the switch shows “${label}” whole (${need} > ${room})`);
  }

  // The list preview names the sender as the history does.
  await page.locator('.composer textarea').fill('Your parcel left today');
  await page.locator('.send-btn').click();
  await page.locator('.history .msg-out', { hasText: 'Your parcel left today' }).waitFor();
  const author = await page.locator('.history .msg-out', { hasText: 'Your parcel left today' }).locator('.msg-author').textContent();
  await eventually(async () => assert.equal(await row(page, 'Casey').locator('.row-preview').textContent(), `${author}: Your parcel left today`));
  assert.equal(author, ADMIN.name);

  // Esc closes the docked card; the card button brings it back.
  const card = page.locator('.pane-card');
  assert.ok(await card.isVisible());
  await card.locator('.card-name').click();
  await page.keyboard.press('Escape');
  await eventually(async () => assert.equal(await card.isVisible(), false, 'Esc closes the docked card'));
  const historyWidth = (await box(page.locator('.history'))).width;
  assert.ok(historyWidth > 900, 'the conversation takes the room');
  await page.locator('.card-btn').click();
  await eventually(async () => assert.ok(await card.isVisible()));
  // Esc typed into the composer is not taken to mean "close the card".
  await page.locator('.composer textarea').focus();
  await page.keyboard.press('Escape');
  assert.ok(await card.isVisible());

  // Every icon-only button on the screen has a name and a tooltip.
  const unnamed = await page.$$eval('#app button', (bs) => bs.filter((b) => b.offsetParent && !b.textContent.trim())
    .filter((b) => !b.getAttribute('aria-label') || !b.title).map((b) => b.outerHTML.slice(0, 80)));
  assert.deepEqual(unnamed, []);
  assert.equal(await page.locator('button[aria-controls="plan-row"]').getAttribute('title'), 'Sales plan filter');

  // "Choose an image" in the constructor.
  await page.locator('button[aria-label="Message constructor"]').click();
  const dlg = page.locator('dialog.constructor[open]');
  await dlg.locator('.add-blocks button', { hasText: 'Image' }).click();
  assert.match(await dlg.locator('.file-pick').first().textContent(), /^Choose an image:/);
  await page.keyboard.press('Escape');
});

test('item 9 at phone width: the nav fits, system times do not wrap, the Audience table keeps words whole', async () => {
  const page = await newPage(ADMIN, PHONE);
  assert.ok(await placeholderFits(page), 'the search placeholder fits');
  // Tools say what they are where there are no tooltips.
  assert.equal((await page.locator('button[aria-controls="plan-row"]').innerText()).trim(), 'Plan');
  for (const a of await page.locator('.app-nav a').all()) {
    const b = await box(a);
    assert.ok(b && b.x >= 0 && b.x + b.width <= PHONE.width, `${await a.textContent()} is on screen`);
  }
  await shot(page, 'second-pass-nav-390');
  await openClient(page, ids.sys.contact);
  const time = page.locator('.system-pill time').first();
  await time.waitFor();
  const lh = await time.evaluate((t) => parseFloat(getComputedStyle(t).lineHeight) || 20);
  assert.ok((await box(time)).height < lh * 1.5, 'a system-message time stays on one line');
  await shot(page, 'second-pass-system-390');

  await page.locator('.app-nav a[data-route="audience"]').click();
  await page.locator('#view-audience .aud-rows .aud-row[data-id]').first().waitFor();
  // Lines a cell's text takes: letter by letter would be many more than its words.
  const lines = (loc) => loc.evaluate((el) => { const r = document.createRange(); r.selectNodeContents(el); return new Set(Array.from(r.getClientRects(), (x) => Math.round(x.top))).size; });
  assert.ok(await lines(page.locator('#view-audience .aud-rows [role="cell"] a', { hasText: 'Anna Chen' }).first()) <= 2, 'a name is not broken letter by letter');
  assert.ok(await lines(page.locator('#view-audience .aud-rows [role="cell"]', { hasText: 'anna.work@example.com' }).first()) <= 2, 'an e-mail is not broken letter by letter');
  await shot(page, 'second-pass-audience-390');
});
