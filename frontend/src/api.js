// Thin helpers for the REST API (SPEC.md §4), the access token, and a tiny
// DOM builder.

const TOKEN_KEY = 'cowrite:token';

/**
 * The access token for servers running with authentication (a JWT). A link
 * may carry it as #token=… (or ?token=…): it is then stored in localStorage
 * and removed from the address bar, so copied links do not leak it.
 */
export function getToken() {
  const url = new URL(location.href);
  const fromHash = new URLSearchParams(url.hash.slice(1)).get('token');
  const fromQuery = url.searchParams.get('token');
  const t = fromHash ?? fromQuery;
  if (t !== null) {
    setToken(t);
    url.searchParams.delete('token');
    url.hash = '';
    history.replaceState(null, '', url.pathname + url.search);
  }
  try {
    return localStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

export function setToken(t) {
  try {
    if (t) localStorage.setItem(TOKEN_KEY, t.trim());
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* ignore */
  }
}

/** A form asking for an access token; saving it reloads the page. */
export function tokenForm(message) {
  const input = h('input', { id: 'token-input', type: 'password', autocomplete: 'off', 'data-testid': 'token-input' });
  return h(
    'form',
    {
      class: 'token-form',
      'data-testid': 'token-form',
      onsubmit: (e) => {
        e.preventDefault();
        setToken(input.value);
        location.reload();
      },
    },
    h('p', {}, message),
    h('label', { for: 'token-input' }, 'Access token'),
    input,
    h('button', { type: 'submit', class: 'primary' }, 'Use token'),
  );
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

export async function api(method, path, body) {
  const init = { method, headers: { Accept: 'application/json' } };
  const token = getToken();
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'network', 'The server cannot be reached.');
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = data?.error;
    throw new ApiError(res.status, err?.code ?? 'http', err?.message ?? `${res.status} ${res.statusText}`);
  }
  return data;
}

export const docPath = (id) => `/api/docs/${encodeURIComponent(id)}`;

/** Lists documents, following the pagination cursor. */
export async function listDocs() {
  const out = [];
  let cursor = '';
  for (let page = 0; page < 50; page++) {
    const data = await api('GET', `/api/docs?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    const docs = Array.isArray(data) ? data : (data?.docs ?? data?.items ?? data?.documents ?? []);
    out.push(...docs);
    cursor = data?.next_cursor ?? data?.nextCursor ?? data?.cursor ?? '';
    if (!cursor || docs.length === 0) break;
  }
  return out;
}

export function relativeTime(t) {
  const d = new Date(t);
  if (!t || Number.isNaN(d.getTime())) return '—';
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

/** A size in bytes (UTF-8), as the API reports it. */
export function formatSize(n) {
  if (typeof n !== 'number') return '—';
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1000).toFixed(1)} kB`;
  return `${(n / 1e6).toFixed(1)} MB`;
}

/** Tiny DOM builder: h('div', {class: 'x', onclick}, ...children). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
