// Parley — fetch wrapper for the JSON API: X-CSRF-Token on every non-GET, errors as ApiError
// (status 0 = network); a 401 (but on sign-in) runs the setUnauthorizedHandler handler.

import { t } from './i18n.js';

let csrf = null;
let onUnauthorized = null;

export function setCsrf(token) {
  csrf = token || null;
}

export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** Retry-After (seconds or an HTTP date) in whole seconds. */
function retryAfter(v) {
  if (!v) return null;
  if (/^\s*\d+\s*$/.test(v)) return parseInt(v, 10);
  const when = Date.parse(v);
  return Number.isNaN(when) ? null : Math.max(0, Math.ceil((when - Date.now()) / 1000));
}

const early = new Map();

/** Start GETs now that a view will ask for soon (opening a chat), so they run in parallel. */
export function prefetch(...paths) {
  for (const p of paths) if (!early.has(p)) early.set(p, request('GET', p).finally(() => setTimeout(() => early.delete(p), 2000)));
}

/** JSON request: api('POST', '/api/v1/session', { login, password }). */
export function api(method, path, body) {
  if (method === 'GET' && early.has(path)) {
    const p = early.get(path);
    early.delete(path);
    return p;
  }
  return request(method, path, body === undefined ? undefined : JSON.stringify(body), 'application/json');
}

/** A request with a raw body of `type` (a CSV file), answered with JSON. */
export function sendRaw(method, path, body, type) {
  return request(method, path, body, type);
}

/** Upload raw bytes: POST /api/v1/uploads?name=… with Content-Type = mime → attachment. */
export function upload(blob, name, mime) {
  return request('POST', `/api/v1/uploads?name=${encodeURIComponent(name || 'file')}`, blob, mime || blob.type || 'application/octet-stream');
}

async function request(method, path, body, type) {
  const m = method.toUpperCase();
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = type;
  if (m !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  let res;
  try {
    res = await fetch(path, { method: m, headers, body, credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'network_error', t('Cannot reach the server. Check your connection.'));
  }
  const text = await res.text().catch(() => '');
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = undefined;
  }
  if (res.ok) {
    if (data === undefined) throw new ApiError(res.status, 'bad_response', t('The server sent an unexpected response.'));
    return data;
  }
  if (res.status === 401 && onUnauthorized && !(m === 'POST' && path === '/api/v1/session')) onUnauthorized();
  const err = new ApiError(res.status, data?.code || `http_${res.status}`, data?.message || res.statusText || t('Request failed (HTTP {status})', { status: String(res.status) }),
    res.status === 429 ? retryAfter(res.headers.get('Retry-After')) : null);
  err.body = data;
  throw err;
}
