// Parley — tiny fetch wrapper for the JSON API.
//
//   import { api, setCsrf, ApiError } from './api.js';
//   const data = await api('GET', '/api/v1/session');
//   await api('POST', '/api/v1/session', { login, password });
//
// * Sends/receives JSON, credentials: 'same-origin'.
// * Adds X-CSRF-Token (set via setCsrf) to every non-GET/HEAD request.
// * Non-2xx responses throw ApiError { status, code, message, retryAfter }.
//   Server errors are JSON: {"code": "...", "message": "..."}.
// * Network failures throw ApiError with status 0, code "network_error".

let csrfToken = null;

/** Remember (or clear, with null) the CSRF token sent on mutating requests. */
export function setCsrf(token) {
  csrfToken = typeof token === 'string' && token !== '' ? token : null;
}

export function getCsrf() {
  return csrfToken;
}

export class ApiError extends Error {
  /**
   * @param {number} status      HTTP status (0 = network failure)
   * @param {string} code        machine-readable code from the server
   * @param {string} message     human-readable message
   * @param {number|null} retryAfter  seconds to wait (429 only, else null)
   */
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** Parse a Retry-After header (delta-seconds or HTTP-date) into whole seconds. */
function parseRetryAfter(value) {
  if (value == null) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return parseInt(v, 10);
  const when = Date.parse(v);
  if (!Number.isNaN(when)) {
    return Math.max(0, Math.ceil((when - Date.now()) / 1000));
  }
  return null;
}

async function readJson(res) {
  if (res.status === 204 || res.status === 205) return null;
  const text = await res.text();
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // not JSON
  }
}

/**
 * Perform an API request.
 * @param {string} method  'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
 * @param {string} path    e.g. '/api/v1/session'
 * @param {any} [body]     serialised as JSON when not undefined
 * @returns {Promise<any>} parsed JSON body (null for empty responses)
 */
export async function api(method, path, body) {
  const m = String(method).toUpperCase();
  const headers = { Accept: 'application/json' };
  const init = {
    method: m,
    headers,
    credentials: 'same-origin',
    cache: 'no-store',
  };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (m !== 'GET' && m !== 'HEAD' && csrfToken) {
    headers['X-CSRF-Token'] = csrfToken;
  }

  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, 'network_error', 'Cannot reach the server. Check your connection.');
  }

  const data = await readJson(res).catch(() => undefined);

  if (res.ok) {
    if (data === undefined) {
      throw new ApiError(res.status, 'bad_response', 'The server sent an unexpected response.');
    }
    return data;
  }

  const code = data && typeof data.code === 'string' ? data.code : `http_${res.status}`;
  const message = data && typeof data.message === 'string' && data.message !== ''
    ? data.message
    : (res.statusText || `Request failed (HTTP ${res.status})`);
  const retryAfter = res.status === 429 ? parseRetryAfter(res.headers.get('Retry-After')) : null;
  throw new ApiError(res.status, code, message, retryAfter);
}
