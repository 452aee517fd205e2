// DOM helpers of the pages: a tiny element builder, the token prompt, and
// formatting of times and sizes.
import { storeToken } from './token.js';

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
        storeToken(input.value);
        location.reload();
      },
    },
    h('p', {}, message),
    h('label', { for: 'token-input' }, 'Access token'),
    input,
    h('button', { type: 'submit', class: 'primary' }, 'Use token'),
  );
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
