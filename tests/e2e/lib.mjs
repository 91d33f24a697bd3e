// What the browser test files share (run.sh runs only *.test.mjs, so this is no test).

/** Retry `fn` until it stops throwing or `timeout` ms pass; the last error is thrown. */
export async function eventually(fn, { timeout = 10000, interval = 100 } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > end) throw err;
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}
