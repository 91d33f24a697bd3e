// Parley — sales plans: the server's pipelines plus plan names found on clients (a bounded
// read of the contacts), with counts where the server can filter. Cached for a minute.

import { api } from '../api.js';

const MAX_SCAN = 2000;
let cache = null;
let cachedAt = 0;

/** Calls `each(contact)` for up to MAX_SCAN contacts; returns [scanned, complete]. */
async function scan(each) {
  let cursor = null;
  let n = 0;
  while (n < MAX_SCAN) {
    const p = new URLSearchParams({ limit: '200' });
    if (cursor != null) p.set('cursor', cursor);
    const res = await api('GET', `/api/v1/contacts?${p}`);
    for (const c of res.items || []) { n++; each(c); }
    cursor = res.next_cursor;
    if (cursor == null || !(res.items || []).length) return [n, true];
  }
  return [n, false];
}

/** Clients on a plan, through the filtered search. */
function filtered(plan, limit) {
  return api('GET', `/api/v1/contacts?${new URLSearchParams({ limit, filter: JSON.stringify({ sales_plan: plan }) })}`);
}

/** [{name, stages, count}] by name; the array has .scanned and .complete. */
export async function knownPlans(force = false) {
  if (cache && !force && Date.now() - cachedAt < 60000) return cache;
  const byName = new Map();
  const add = (name, stages = []) => {
    const k = name.toLowerCase();
    if (!byName.has(k)) byName.set(k, { name, stages, count: 0 });
    return byName.get(k);
  };
  const defined = await api('GET', '/api/v1/sales_plans').then((r) => r.items || [], () => []);
  for (const p of defined) add(p.name, p.stages || []);
  const [scanned, complete] = await scan((c) => { if (c.sales_plan) add(c.sales_plan).count++; });
  const out = Array.from(byName.values()).sort((a, b) => a.name.localeCompare(b.name));
  await Promise.all(out.map(async (p) => {
    const res = await filtered(p.name, 1).catch(() => null);
    if (Number.isFinite(res?.total)) p.count = res.total;
  }));
  Object.assign(out, { scanned, complete });
  cache = out;
  cachedAt = Date.now();
  return out;
}

/** Clients on one plan (the first `limit`). */
export async function contactsOnPlan(plan, limit = 200) {
  return (await filtered(plan, limit)).items || [];
}
