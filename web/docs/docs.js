// Parley API docs: renders /api/v1/openapi.json. Strict CSP: every node is built with
// createElement/textContent, no inline styles, no external resources.

const SPEC_URL = '/api/v1/openapi.json';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const MAX_DEPTH = 8;

let spec = {};
const entries = []; // { node, text } per rendered operation
const groups = []; // { section, navItem, count, ops: [entry] }

const $ = (id) => document.getElementById(id);

function el(tag, cls, ...kids) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  for (const kid of kids) {
    if (kid === null || kid === undefined || kid === false) continue;
    node.append(kid instanceof Node ? kid : String(kid));
  }
  return node;
}

// Text with `code` spans.
function rich(tag, cls, text) {
  const node = el(tag, cls);
  for (const part of String(text).split(/(`[^`\n]+`)/)) {
    if (/^`[^`]+`$/.test(part)) node.append(el('code', null, part.slice(1, -1)));
    else if (part) node.append(part);
  }
  return node;
}

// Blank-line separated paragraphs; lines starting with "- " become list items.
function prose(text) {
  const box = el('div', 'prose');
  if (!text) return box;
  for (const block of String(text).split(/\n\s*\n/)) {
    let list = null;
    for (const line of block.split('\n')) {
      const item = /^\s*[-*]\s+(.*)$/.exec(line);
      if (item) {
        if (!list) list = box.appendChild(el('ul'));
        list.append(rich('li', null, item[1]));
      } else if (line.trim()) {
        list = null;
        box.append(rich('p', null, line.trim()));
      }
    }
  }
  return box;
}

function slug(text) {
  return String(text).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

// --- $ref and schema helpers -------------------------------------------------------------

function lookup(ref) {
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return null;
  let node = spec;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(key in node)) return null;
    node = node[key];
  }
  return node;
}

function deref(obj) {
  for (let guard = 0; obj && obj.$ref && guard < 16; guard++) obj = lookup(obj.$ref);
  return obj || {};
}

const isNull = (s) => s && s.type === 'null';

// Follows $refs, single-element allOf and "X or null" unions. Keeps the outermost description.
function norm(schema) {
  let s = schema || {};
  let name = null;
  let desc = s.description;
  let nullable = false;
  for (let guard = 0; guard < 16; guard++) {
    if (s.$ref) {
      // A referenced schema's own description is generic; only objects keep it (see below).
      name = s.$ref.split('/').pop();
      s = lookup(s.$ref) || {};
      continue;
    } else if (Array.isArray(s.allOf) && s.allOf.length === 1 && !s.properties) {
      s = s.allOf[0] || {};
    } else {
      const alt = s.oneOf || s.anyOf;
      if (Array.isArray(alt) && !s.properties) {
        const rest = alt.filter((a) => !isNull(a));
        if (rest.length < alt.length) nullable = true;
        if (rest.length === 1) {
          s = rest[0];
          continue;
        }
      }
      break;
    }
    if (desc === undefined) desc = s.description;
  }
  let types = s.type === undefined ? [] : [].concat(s.type);
  if (types.includes('null')) {
    nullable = true;
    types = types.filter((t) => t !== 'null');
  }
  if (desc === undefined && (s.properties || !name)) desc = s.description;
  return { s, name, desc, nullable, types };
}

const variantsOf = (s) => (s.properties ? null : (s.oneOf || s.anyOf || null));

function label(n, depth = 0) {
  const { s, name, types } = n;
  if (depth > MAX_DEPTH) return name || 'any';
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (types.includes('array') || s.items) return `${label(norm(s.items), depth + 1)}[]`;
  if (name && (s.properties || types.includes('object'))) return name;
  const alt = variantsOf(s);
  if (alt) return alt.filter((a) => !isNull(a)).map((a) => label(norm(a), depth + 1)).join(' | ');
  if (s.additionalProperties && typeof s.additionalProperties === 'object') {
    return `map<string, ${label(norm(s.additionalProperties), depth + 1)}>`;
  }
  let text = types.join(' | ') || (s.properties ? 'object' : 'any');
  if (s.format) text += ` (${s.format})`;
  if (s.contentMediaType) text += ` (${s.contentMediaType})`;
  return text;
}

function constraints(s) {
  const out = [];
  if (Array.isArray(s.enum)) out.push(['one of', s.enum.map((v) => JSON.stringify(v)).join(', ')]);
  if (s.default !== undefined) out.push(['default', JSON.stringify(s.default)]);
  if (s.minimum !== undefined && s.minimum !== 0) out.push(['min', String(s.minimum)]);
  if (s.maximum !== undefined) out.push(['max', String(s.maximum)]);
  if (s.maxLength !== undefined) out.push(['max length', String(s.maxLength)]);
  if (s.pattern) out.push(['pattern', s.pattern]);
  if (Array.isArray(s.examples) && s.examples.length) {
    out.push(['example', s.examples.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ')]);
  }
  if (s.additionalProperties === false) out.push(['', 'no other fields']);
  return out;
}

function constraintLine(s) {
  const list = constraints(s);
  if (!list.length) return null;
  const line = el('p', 'constraints');
  list.forEach(([key, value], i) => {
    if (i) line.append(' · ');
    if (key) line.append(`${key}: `);
    line.append(el('code', null, value));
  });
  return line;
}

// Nested content of a schema: object fields, array items, union variants.
function children(n, depth, seen) {
  if (depth > MAX_DEPTH || (n.name && seen.has(n.name))) return null;
  const next = n.name ? new Set([...seen, n.name]) : seen;
  const { s } = n;
  if (n.types.includes('array') || s.items) {
    const item = norm(s.items);
    const box = el('div', 'nested');
    const c = constraintLine(item.s);
    if (c) box.append(c);
    const inner = children(item, depth + 1, next);
    if (inner) box.append(inner);
    return box.childNodes.length ? box : null;
  }
  if (s.properties) return fieldList(s, depth, next);
  const alt = variantsOf(s);
  if (alt) {
    const list = el('ul', 'variants');
    for (const a of alt.filter((x) => !isNull(x))) {
      const v = norm(a);
      const li = el('li', null, el('span', 'variant-tag', 'one of'), ' ', el('span', 'ftype', label(v)));
      if (v.desc) li.append(prose(v.desc));
      const inner = children(v, depth + 1, next);
      if (inner) li.append(inner);
      list.append(li);
    }
    return list;
  }
  return null;
}

function fieldList(s, depth, seen) {
  const required = new Set(s.required || []);
  const list = el('ul', 'fields');
  for (const [key, prop] of Object.entries(s.properties || {})) {
    const n = norm(prop);
    const head = el('div', 'field-head',
      el('code', 'fname', key), ' ', el('span', 'ftype', label(n)),
      required.has(key) ? el('span', 'flag flag-req', 'required') : null,
      n.nullable ? el('span', 'flag', 'nullable') : null);
    const li = el('li', 'field', head);
    if (n.desc) li.append(prose(n.desc));
    const c = constraintLine(n.s);
    if (c) li.append(c);
    const inner = children(n, depth + 1, seen);
    if (inner) li.append(inner);
    list.append(li);
  }
  if (s.oneOf && s.properties) {
    const rules = s.oneOf.map((r) => (r.required || []).join(' + ')).filter(Boolean);
    if (rules.length) list.append(el('li', 'field rule', `Exactly one of: ${rules.join(' | ')}`));
  }
  return list;
}

function schemaBlock(schema) {
  const n = norm(schema);
  const box = el('div', 'schema');
  box.append(el('div', 'schema-type', el('span', 'ftype', label(n)), n.nullable ? el('span', 'flag', 'nullable') : null));
  if (n.desc) box.append(prose(n.desc));
  const c = constraintLine(n.s);
  if (c) box.append(c);
  const inner = children(n, 0, new Set());
  if (inner) box.append(inner);
  return box;
}

function contentBlock(content) {
  const box = el('div', 'content');
  for (const [type, media] of Object.entries(content || {})) {
    box.append(el('div', 'media-type', el('code', null, type)));
    if (media && media.schema) box.append(schemaBlock(media.schema));
  }
  return box;
}

// --- operations ----------------------------------------------------------------------------

function securityText(req) {
  if (!Array.isArray(req)) return null;
  if (!req.length) return 'none (public)';
  const schemes = (spec.components && spec.components.securitySchemes) || {};
  const one = (name) => {
    const s = deref(schemes[name]);
    if (s.type === 'apiKey') return `${s.in} ${s.name}`;
    if (s.type === 'http') return `${s.scheme === 'bearer' ? 'Bearer' : s.scheme} (${name})`;
    return name;
  };
  return req.map((alt) => Object.keys(alt).map(one).join(' + ') || 'none').join('  or  ');
}

function paramTable(params) {
  const table = el('table', 'params');
  table.append(el('thead', null, el('tr', null,
    el('th', null, 'Name'), el('th', null, 'In'), el('th', null, 'Type'), el('th', null, 'Description'))));
  const body = table.appendChild(el('tbody'));
  for (const raw of params) {
    const p = deref(raw);
    const n = norm(p.schema);
    const desc = el('td');
    if (p.description) desc.append(prose(p.description));
    const c = constraintLine(n.s);
    if (c) desc.append(c);
    body.append(el('tr', null,
      el('td', null, el('code', 'fname', p.name), p.required ? el('span', 'flag flag-req', 'required') : null),
      el('td', null, p.in),
      el('td', null, el('span', 'ftype', label(n))),
      desc));
  }
  return table;
}

function statusClass(code) {
  const c = String(code)[0];
  return `status status-${/[1-5]/.test(c) ? c : 'd'}xx`;
}

function renderOp(method, path, op, pathItem, isWebhook) {
  const id = `op-${op.operationId || slug(`${method} ${path}`)}`;
  const node = el('details', `op op-${method}`);
  node.id = id;
  const link = el('a', 'op-link', '#');
  link.href = `#${id}`;
  link.title = 'Link to this operation';
  node.append(el('summary', 'op-head',
    el('span', `badge badge-${method}`, method.toUpperCase()),
    el('code', 'op-path', isWebhook ? `webhook: ${path}` : path),
    el('span', 'op-summary', op.summary || ''),
    link));

  const body = el('div', 'op-body');
  if (op.description) body.append(prose(op.description));
  const meta = el('p', 'op-meta');
  if (op.operationId) meta.append('operationId ', el('code', null, op.operationId));
  const sec = securityText(op.security !== undefined ? op.security : spec.security);
  if (sec && !isWebhook) meta.append(meta.childNodes.length ? ' · ' : '', 'auth: ', el('code', null, sec));
  if (op.deprecated) meta.append(' · ', el('span', 'flag', 'deprecated'));
  if (meta.childNodes.length) body.append(meta);

  const byKey = new Map();
  for (const p of [...(pathItem.parameters || []), ...(op.parameters || [])]) {
    const r = deref(p);
    byKey.set(`${r.in}:${r.name}`, p);
  }
  if (byKey.size) body.append(el('h4', null, 'Parameters'), paramTable([...byKey.values()]));

  if (op.requestBody) {
    const rb = deref(op.requestBody);
    body.append(el('h4', null, 'Request body', rb.required ? el('span', 'flag flag-req', 'required') : null));
    if (rb.description) body.append(prose(rb.description));
    body.append(contentBlock(rb.content));
  }

  const responses = Object.entries(op.responses || {});
  if (responses.length) {
    body.append(el('h4', null, 'Responses'));
    const list = el('div', 'responses');
    for (const [code, raw] of responses) {
      const r = deref(raw);
      const row = el('div', 'response',
        el('div', 'response-head', el('span', statusClass(code), code), rich('span', 'response-desc', r.description || '')));
      if (r.content && !(raw && raw.$ref)) row.append(contentBlock(r.content));
      else if (r.content) {
        const [type, media] = Object.entries(r.content)[0];
        row.append(el('div', 'response-ref', el('code', null, type), ' ', el('span', 'ftype', label(norm(media && media.schema)))));
      }
      list.append(row);
    }
    body.append(list);
  }
  node.append(body);
  const entry = { node, text: `${method} ${path} ${op.summary || ''} ${op.operationId || ''}`.toLowerCase() };
  entries.push(entry);
  return entry;
}

function collect() {
  const byTag = new Map();
  for (const t of spec.tags || []) byTag.set(t.name, { tag: t, ops: [] });
  const add = (tagName, item) => {
    if (!byTag.has(tagName)) byTag.set(tagName, { tag: { name: tagName }, ops: [] });
    byTag.get(tagName).ops.push(item);
  };
  for (const [source, isWebhook] of [[spec.paths, false], [spec.webhooks, true]]) {
    for (const [path, rawItem] of Object.entries(source || {})) {
      const item = deref(rawItem);
      for (const method of METHODS) {
        const op = item[method];
        if (!op) continue;
        const tag = (op.tags && op.tags[0]) || (isWebhook ? 'Webhooks' : 'Other');
        add(tag, { method, path, op, item, isWebhook });
      }
    }
  }
  return [...byTag.values()].filter((g) => g.ops.length);
}

function render() {
  const info = spec.info || {};
  const title = info.title || 'API';
  document.title = title;
  $('doc-title').textContent = title;
  $('doc-version').textContent = info.version ? `v${info.version} · OpenAPI ${spec.openapi || ''}` : '';
  const intro = $('doc-intro');
  if (info.description) {
    intro.append(prose(info.description));
    intro.hidden = false;
  }

  const nav = $('doc-tags');
  const main = $('doc-ops');
  for (const g of collect()) {
    const anchor = `tag-${slug(g.tag.name)}`;
    const section = el('section', 'group');
    section.id = anchor;
    section.append(el('h2', null, g.tag.name));
    if (g.tag.description) section.append(prose(g.tag.description));
    const group = { section, ops: [], count: el('span', 'count', String(g.ops.length)) };
    for (const o of g.ops) {
      const entry = renderOp(o.method, o.path, o.op, o.item, o.isWebhook);
      section.append(entry.node);
      group.ops.push(entry);
    }
    main.append(section);
    const a = el('a', null, el('span', null, g.tag.name), group.count);
    a.href = `#${anchor}`;
    group.navItem = el('li', null, a);
    nav.append(group.navItem);
    groups.push(group);
  }
  $('doc-status').hidden = true;
  openFromHash();
}

function applyFilter() {
  const words = $('doc-search').value.toLowerCase().split(/\s+/).filter(Boolean);
  let total = 0;
  for (const g of groups) {
    let shown = 0;
    for (const e of g.ops) {
      const match = words.every((w) => e.text.includes(w));
      e.node.hidden = !match;
      if (match) shown++;
    }
    g.section.hidden = shown === 0;
    g.navItem.hidden = shown === 0;
    g.count.textContent = String(shown);
    total += shown;
  }
  $('doc-empty').hidden = total > 0;
}

function openFromHash() {
  const id = decodeURIComponent(location.hash.slice(1));
  if (!id) return;
  const target = document.getElementById(id);
  if (!target) return;
  if (target.tagName === 'DETAILS') target.open = true;
  target.scrollIntoView();
}

async function main() {
  $('doc-search').addEventListener('input', applyFilter);
  window.addEventListener('hashchange', openFromHash);
  document.addEventListener('keydown', (ev) => {
    const typing = ev.target instanceof HTMLInputElement || ev.target instanceof HTMLTextAreaElement;
    if (ev.key === '/' && !typing) {
      ev.preventDefault();
      $('doc-search').focus();
    }
  });
  try {
    const res = await fetch(SPEC_URL, { headers: { Accept: 'application/json' } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    spec = await res.json();
  } catch (err) {
    $('doc-status').textContent = `Could not load ${SPEC_URL}: ${err.message}`;
    $('doc-status').classList.add('error');
    return;
  }
  render();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', main);
else main();
