// Parley — sales plans (A2) from the server, with how many clients are on each (the filtered
// search's total). Cached for a minute; the Chats sales-plan filter (L3) lists them.

import { api } from '../api.js';

let cache = null;
let cachedAt = 0;

/** Clients on a plan, through the filtered search. */
function filtered(plan, limit) {
  return api('GET', `/api/v1/contacts?${new URLSearchParams({ limit, filter: JSON.stringify({ sales_plan: plan }) })}`);
}

/** [{name, stages, stage_list, count}] by name. */
export async function knownPlans(force = false) {
  if (cache && !force && Date.now() - cachedAt < 60000) return cache;
  const plans = ((await api('GET', '/api/v1/sales_plans')).items || []).map((p) => ({ ...p, count: 0 }));
  plans.sort((a, b) => a.name.localeCompare(b.name));
  await Promise.all(plans.map(async (p) => {
    const res = await filtered(p.name, 1).catch(() => null);
    if (Number.isFinite(res?.total)) p.count = res.total;
  }));
  cache = plans;
  cachedAt = Date.now();
  return plans;
}

export function forgetPlans() {
  cache = null;
}

/** Clients on one plan (the first `limit`). */
export async function contactsOnPlan(plan, limit = 200) {
  return (await filtered(plan, limit)).items || [];
}
