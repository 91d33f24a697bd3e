// Parley — saved filters (L5): on the server (/api/v1/filters) when it has them, else in
// localStorage per manager; either way { id, name, filter, created_ms }.

import { api } from '../api.js';
import { state } from '../store.js';

let server = null; // null: not known yet

async function onServer() {
  if (server === null) {
    server = await api('GET', '/api/v1/filters').then(() => true, (err) => {
      if (err.status === 404) return false;
      throw err;
    });
  }
  return server;
}

const key = () => `parley.saved-filters.v2.${state.me?.id}`;

function readAll() {
  try {
    const v = JSON.parse(localStorage.getItem(key()) || '[]');
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

function localSave(f) {
  const list = readAll();
  const copy = { created_ms: Date.now(), ...list.find((x) => x.id === f.id), id: f.id || `l${Date.now()}`, name: f.name, filter: f.filter };
  localStorage.setItem(key(), JSON.stringify(list.filter((x) => x.id !== copy.id).concat([copy])));
  return copy;
}

/** Newest first. */
export async function listFilters() {
  const list = (await onServer()) ? (await api('GET', '/api/v1/filters')).items || [] : readAll();
  return list.sort((a, b) => (b.created_ms || 0) - (a.created_ms || 0));
}

/** Create, or update when `f.id` is set; returns the stored filter. */
export async function saveFilter(f) {
  if (!await onServer()) return localSave(f);
  if (f.id != null) {
    try {
      return await api('PATCH', `/api/v1/filters/${f.id}`, { name: f.name, filter: f.filter });
    } catch (err) {
      if (err.status !== 404 && err.status !== 403) throw err; // gone or not mine: save anew
    }
  }
  return api('POST', '/api/v1/filters', { name: f.name, filter: f.filter });
}

export async function deleteFilter(id) {
  if (await onServer()) await api('DELETE', `/api/v1/filters/${id}`);
  else localStorage.setItem(key(), JSON.stringify(readAll().filter((f) => f.id !== id)));
}

export async function duplicateFilter(id) {
  if (await onServer()) return api('POST', `/api/v1/filters/${id}/duplicate`);
  const f = readAll().find((x) => x.id === id);
  return f && localSave({ name: `${f.name} (copy)`, filter: f.filter });
}
