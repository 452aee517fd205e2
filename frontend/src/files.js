// Download a document (GET /api/docs/{id}/export) and import a file as a new
// document (POST /api/docs/import), with the stored token.
import { readToken } from './token.js';
import { h } from './dom.js';

function authHeaders(extra = {}) {
  const t = readToken();
  return t ? { ...extra, Authorization: `Bearer ${t}` } : extra;
}

/** Buttons that download the document as .txt, .md and .html. */
export function downloadButtons(docId, onError) {
  const button = (format) => {
    const b = h('button', { type: 'button', 'data-testid': `download-${format}`, title: `Download as .${format}` }, `.${format}`);
    b.addEventListener('click', async () => {
      try {
        const res = await fetch(`/api/docs/${encodeURIComponent(docId)}/export?format=${format}`, { headers: authHeaders() });
        if (!res.ok) throw new Error(`the server answered ${res.status}`);
        const url = URL.createObjectURL(await res.blob());
        const a = h('a', { href: url, download: `${docId}.${format}`, hidden: true });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60_000);
      } catch (err) {
        onError(`Could not download: ${err.message}`);
      }
    });
    return b;
  };
  return h('div', { class: 'downloads', role: 'group', 'aria-label': 'Download', 'data-testid': 'downloads' }, button('txt'), button('md'), button('html'));
}

/** The media type an import of `name` is sent with (as its export came with). */
export function importType(name) {
  if (/\.jsonl$/i.test(name)) return 'application/x-ndjson';
  if (/\.(md|markdown)$/i.test(name)) return 'text/markdown';
  return 'text/plain';
}

/** Imports `file` as a new document titled after it; resolves to its id. */
export async function importFile(file) {
  const title = file.name.replace(/\.[^.]*$/, '') || 'Imported';
  const res = await fetch(`/api/docs/import?title=${encodeURIComponent(title)}`, {
    method: 'POST',
    headers: authHeaders({ 'Content-Type': importType(file.name) }),
    body: await file.arrayBuffer(),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body?.error?.message ?? `the server answered ${res.status}`);
  return body.id;
}
