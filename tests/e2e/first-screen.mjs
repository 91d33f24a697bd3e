// First-screen timing with the demo data set (issue 6: "first screen usable within 1 s on
// loopback with the demo data set"). Not part of CI: run it through first-screen.sh.
//
// Generates the demo data into a temporary data directory (or reuses PARLEY_DATA), adds a
// manager, starts the server on a free loopback port, then in headless Chromium measures, from
// navigation start: the first list row on screen, the section counts shown; and from the click
// on the first row: its history rendered. RUNS cold loads (a new browser context: empty cache,
// new TLS connection) and RUNS warm ones (a reload in the same context) give p50 and max.
//
// Environment: PARLEY_BIN (required), CHROMIUM (/usr/bin/chromium), CONTACTS (100000),
// MESSAGES (1000000), SEED (42), RUNS (5), PARLEY_DATA (a data directory to keep: generated
// when empty, reused as it is otherwise).

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, request } from 'playwright-core';

const BIN = process.env.PARLEY_BIN;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CONTACTS = process.env.CONTACTS || '100000';
const MESSAGES = process.env.MESSAGES || '1000000';
const SEED = process.env.SEED || '42';
const RUNS = Number(process.env.RUNS || 5);
const LOGIN = 'first-screen';
const PASSWORD = `fs-${Math.random().toString(36).slice(2)}${Date.now()}`;

if (!BIN || !existsSync(BIN)) {
  console.error('first-screen: set PARLEY_BIN to a built parley binary');
  process.exit(2);
}

const tmp = mkdtempSync(join(tmpdir(), 'parley-first-screen.'));
const data = process.env.PARLEY_DATA || join(tmp, 'data');
const reuse = existsSync(data) && readdirSync(data).length > 0;
const config = join(tmp, 'parley.toml');
writeFileSync(config, '[log]\nlevel = "warn"\n');
let server = null;

function run(args, input) {
  const r = spawnSync(BIN, [...args, '--data-dir', data, '--config', config], { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`parley ${args[0]} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

const freePort = () => new Promise((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startServer() {
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  const started = Date.now();
  let log = '';
  server = spawn(BIN, ['serve', '--data-dir', data, '--config', config, '--listen', `127.0.0.1:${port}`, '--http-listen', 'off'], { stdio: ['ignore', 'pipe', 'pipe'] });
  for (const s of [server.stdout, server.stderr]) s.on('data', (d) => { log = (log + d).slice(-4000); });
  const probe = await request.newContext({ ignoreHTTPSErrors: true });
  try {
    // The first start over fresh demo data builds the search indexes before it listens.
    while (Date.now() - started < 30 * 60000) {
      if (server.exitCode != null) throw new Error(`the server exited early:\n${log}`);
      try {
        if ((await probe.get(`${url}/healthz`, { timeout: 2000 })).ok()) return { url, startMs: Date.now() - started };
      } catch { /* not listening yet */ }
      await sleep(250);
    }
    throw new Error(`the server did not become healthy:\n${log}`);
  } finally {
    await probe.dispose();
  }
}

// In the page, before any script: note when each milestone is first met (after the frame that
// shows it), so the figures do not include the test driver's polling.
function milestones() {
  const fs = (window.__fs = {});
  const noted = new Set();
  const note = (key, met) => {
    if (noted.has(key) || !met) return;
    noted.add(key);
    requestAnimationFrame(() => { fs[key] = performance.now(); });
  };
  const check = () => {
    const row = document.querySelector('.pane-list a.row');
    note('row', row && row.getBoundingClientRect().height > 0);
    note('counts', /[1-9]/.test(document.querySelector('[data-section="all"] .count')?.textContent));
    note('history', fs.click && document.querySelector('.history .msg'));
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true, characterData: true });
  document.addEventListener('click', (e) => { if (e.target.closest?.('.pane-list a.row')) fs.click ??= performance.now(); }, true);
}

async function measure(page, url, reload) {
  if (reload) {
    // Back to the bare list first: reloading #/chats/<id> would open that chat at once.
    await page.evaluate(() => history.replaceState(null, '', '#/chats'));
    await page.reload();
  } else await page.goto(`${url}/#/chats`);
  await page.waitForFunction(() => window.__fs.row && window.__fs.counts, null, { timeout: 60000 });
  await page.locator('.pane-list a.row').first().click();
  await page.waitForFunction(() => window.__fs.history, null, { timeout: 60000 }).catch(async (err) => {
    const state = await page.evaluate(() => ({ fs: window.__fs, hash: location.hash, top: document.querySelector('.history-top')?.textContent }));
    throw new Error(`no history after the click: ${JSON.stringify(state)}`, { cause: err });
  });
  const fs = await page.evaluate(() => window.__fs);
  return { row: fs.row, counts: fs.counts, chat: fs.history - fs.click };
}

const pct = (xs, p) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const ms = (x) => `${Math.round(x)} ms`.padStart(8);

async function main() {
  console.log(`parley: ${BIN}`);
  if (reuse) console.log(`data: reusing ${data}`);
  else {
    const t = Date.now();
    process.stdout.write(`demo data: ${CONTACTS} clients, ${MESSAGES} messages, seed ${SEED}… `);
    run(['demo', '--contacts', CONTACTS, '--messages', MESSAGES, '--seed', SEED]);
    console.log(`${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  try {
    run(['user', 'add', LOGIN, '--name', 'First Screen', '--role', 'admin', '--password-stdin'], `${PASSWORD}\n`);
  } catch (err) {
    // A reused data directory has the manager from last time: set the password again.
    if (!reuse) throw err;
    run(['user', 'passwd', LOGIN, '--password-stdin'], `${PASSWORD}\n`);
  }
  const { url, startMs } = await startServer();
  console.log(`server healthy after ${(startMs / 1000).toFixed(1)} s (${url})`);

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  const results = { cold: [], warm: [] };
  try {
    for (let i = 0; i < RUNS; i++) {
      const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 720 } });
      const signin = await context.request.post(`${url}/api/v1/session`, { data: { login: LOGIN, password: PASSWORD } });
      if (!signin.ok()) throw new Error(`sign-in failed: ${signin.status()} ${await signin.text()}`);
      await context.addInitScript(milestones);
      const page = await context.newPage();
      results.cold.push(await measure(page, url, false));
      results.warm.push(await measure(page, url, true));
      await context.close();
      const [c, w] = [results.cold[i], results.warm[i]];
      console.log(`run ${i + 1}: cold row ${ms(c.row)} counts ${ms(c.counts)} chat ${ms(c.chat)} | warm row ${ms(w.row)} counts ${ms(w.counts)} chat ${ms(w.chat)}`);
    }
  } finally {
    await browser.close();
  }

  console.log(`\n${RUNS} runs each; times from navigation start (row, counts) and from the click on the first row (chat)`);
  console.log('                                      p50       max');
  for (const kind of ['cold', 'warm']) {
    const r = results[kind];
    for (const [key, label] of [['row', 'first list row visible'], ['counts', 'section counts shown'], ['chat', 'first chat opened (click → history)']]) {
      const xs = r.map((x) => x[key]);
      console.log(`${kind} ${label.padEnd(36)}${ms(pct(xs, 50))}  ${ms(Math.max(...xs))}`);
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
}).finally(() => {
  if (server && server.exitCode == null) server.kill();
  rmSync(tmp, { recursive: true, force: true });
});
