// The document list: title, last edited, size; create, rename, delete. The
// rows follow renames, edits and deletions live (the client package's
// Watcher, over one Socket.IO connection).
import { randomId, DEFAULT_LIMITS, connect } from '@cowrite/client';
import { api, docPath, listDocs, ApiError } from './rest.js';
import { h, tokenForm, relativeTime, formatSize } from './dom.js';
import { loadLimits } from './limits.js';
import { themeToggle } from './theme.js';
import { importFile } from './files.js';
import { loadIdentity } from './identity.js';
import { readToken } from './token.js';

export function listPage(root) {
  document.title = 'Documents · Cowrite';
  const status = h('p', { class: 'notice', role: 'status', 'aria-live': 'polite', 'data-testid': 'list-status' });
  const tbody = h('tbody', { 'data-testid': 'doc-list' });
  let limits = DEFAULT_LIMITS;
  const titleInput = h('input', { id: 'new-title', name: 'title', placeholder: 'Untitled', maxlength: DEFAULT_LIMITS.maxTitleLength, 'data-testid': 'new-title' });

  const form = h(
    'form',
    {
      class: 'create',
      'data-testid': 'create-form',
      onsubmit: async (e) => {
        e.preventDefault();
        const id = randomId(10);
        try {
          const doc = await api('POST', '/api/docs', { id, title: titleInput.value.trim() || 'Untitled' });
          location.assign(`/d/${encodeURIComponent(doc?.id ?? id)}`);
        } catch (err) {
          say(`Could not create the document: ${err.message}`);
        }
      },
    },
    h('label', { for: 'new-title' }, 'New document'),
    titleInput,
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'create-button' }, 'Create'),
  );

  const openInput = h('input', { id: 'open-name', name: 'name', placeholder: 'meeting-notes', maxlength: DEFAULT_LIMITS.maxTitleLength, 'data-testid': 'open-name' });
  const openForm = h(
    'form',
    {
      class: 'create',
      onsubmit: async (e) => {
        e.preventDefault();
        const name = openInput.value.trim();
        // Document ids are limited to A-Z a-z 0-9 . _ ~ - ; the name becomes the title.
        const id = name.replace(/[^A-Za-z0-9._~-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 100);
        if (!id) return say('Use at least one letter or digit in the name.');
        try {
          await api('POST', '/api/docs', { id, title: name });
        } catch (err) {
          if (err.status !== 409) return say(`Could not open “${name}”: ${err.message}`);
        }
        location.assign(`/d/${encodeURIComponent(id)}`);
      },
    },
    h('label', { for: 'open-name' }, 'Open or start by name'),
    openInput,
    h('button', { type: 'submit', 'data-testid': 'open-button' }, 'Open'),
  );

  const importInput = h('input', { id: 'import-file', type: 'file', accept: '.txt,.md,.markdown,.jsonl,text/plain,text/markdown', 'data-testid': 'import-file' });
  importInput.addEventListener('change', async () => {
    const file = importInput.files?.[0];
    if (!file) return;
    try {
      const id = await importFile(file);
      location.assign(`/d/${encodeURIComponent(id)}`);
    } catch (err) {
      say(`Could not import “${file.name}”: ${err.message}`);
    }
  });
  const importForm = h('div', { class: 'create' }, h('label', { for: 'import-file' }, 'Import a file (.txt, .md, or a .jsonl history)'), importInput);

  loadLimits().then((l) => {
    limits = l;
    titleInput.maxLength = openInput.maxLength = l.maxTitleLength;
  });

  root.replaceChildren(
    h('header', { class: 'topbar' }, h('a', { class: 'brand', href: '/' }, 'Cowrite'), h('div', { class: 'spacer' }), themeToggle()),
    h(
      'main',
      { id: 'main', class: 'list-page' },
      h('h1', {}, 'Documents'),
      form,
      openForm,
      importForm,
      status,
      h(
        'table',
        { class: 'docs' },
        h('caption', { class: 'sr-only' }, 'Your documents'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Title'), h('th', { scope: 'col' }, 'Last edited'), h('th', { scope: 'col' }, 'Size'), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
        tbody,
      ),
    ),
  );

  function say(msg) {
    status.textContent = msg;
  }

  /** id → {doc, showTitle(), touched()} of the rows shown */
  const rows = new Map();

  function row(doc) {
    const title = doc.title || doc.id;
    const link = h('a', { href: `/d/${encodeURIComponent(doc.id)}`, 'data-testid': 'doc-link' }, title);
    const titleCell = h('td', {}, link);
    const rename = h('button', {
      type: 'button',
      'aria-label': `Rename ${title}`,
      'data-testid': 'rename-button',
      onclick: () => {
        const input = h('input', { value: doc.title ?? '', 'aria-label': 'New title', maxlength: limits.maxTitleLength, 'data-testid': 'rename-input' });
        let finished = false;
        const done = async (save) => {
          if (finished) return;
          finished = true;
          if (save && input.value.trim() && input.value.trim() !== doc.title) {
            try {
              const upd = await api('PATCH', docPath(doc.id), { title: input.value.trim() });
              doc.title = upd?.title ?? input.value.trim();
              say(`Renamed to “${doc.title}”.`);
            } catch (err) {
              say(`Could not rename: ${err.message}`);
            }
          }
          link.textContent = doc.title || doc.id;
          titleCell.replaceChildren(link);
          rename.focus();
        };
        input.addEventListener('keydown', (e) => {
          // preventDefault: the Enter must not also "click" the button that gets the focus back
          if (e.key === 'Enter' || e.key === 'Escape') e.preventDefault();
          if (e.key === 'Enter') done(true);
          if (e.key === 'Escape') done(false);
        });
        input.addEventListener('blur', () => done(true), { once: true });
        titleCell.replaceChildren(input);
        input.focus();
        input.select();
      },
    }, 'Rename');
    const del = h('button', {
      type: 'button',
      class: 'danger',
      'aria-label': `Delete ${title}`,
      'data-testid': 'delete-button',
      onclick: async () => {
        if (!confirm(`Delete “${doc.title || doc.id}”? Collaborators editing it are disconnected.`)) return;
        try {
          await api('DELETE', docPath(doc.id));
          tr.remove();
          say(`Deleted “${doc.title || doc.id}”.`);
        } catch (err) {
          say(`Could not delete: ${err.message}`);
        }
      },
    }, 'Delete');
    const time = h('time', { datetime: doc.updated ?? '', title: doc.updated ?? '' }, relativeTime(doc.updated ?? doc.created));
    const tr = h(
      'tr',
      { 'data-testid': 'doc-row', 'data-doc': doc.id },
      titleCell,
      h('td', {}, time),
      h('td', {}, formatSize(doc.size)),
      h('td', { class: 'actions' }, rename, del),
    );
    rows.set(doc.id, {
      tr,
      // A rename from elsewhere (an input being edited here keeps its text).
      showTitle(t) {
        doc.title = t;
        link.textContent = t || doc.id;
        rename.setAttribute('aria-label', `Rename ${t || doc.id}`);
        del.setAttribute('aria-label', `Delete ${t || doc.id}`);
      },
      touched(when) {
        doc.updated = when;
        time.dateTime = time.title = when;
        time.textContent = relativeTime(when);
      },
    });
    return tr;
  }

  // Live rows: renames (doc:meta), edits and deletions by anyone.
  let watcher = null;
  function watchRows(docs) {
    if (!watcher) {
      const me = loadIdentity();
      const client = connect('', { token: readToken(), name: me.name, color: me.color });
      watcher = client.watch({
        meta: (id, m) => {
          rows.get(id)?.showTitle(m.title);
          if (m.updated) rows.get(id)?.touched(m.updated);
        },
        op: (id) => rows.get(id)?.touched(new Date().toISOString()),
        deleted: (id) => {
          rows.get(id)?.tr.remove();
          rows.delete(id);
        },
      });
      window.addEventListener('pagehide', () => client.close());
    }
    for (const d of docs) if (!watcher.add(d.id, d.version)) break; // the most recent ones
  }

  async function load() {
    try {
      const docs = await listDocs();
      docs.sort((a, b) => String(b.updated ?? '').localeCompare(String(a.updated ?? '')));
      rows.clear();
      tbody.replaceChildren(...docs.map(row));
      watchRows(docs);
      if (docs.length === 0) say('No documents yet. Create one, or open any /d/<name> link.');
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
        say(err.status === 403 ? 'Your access token may not list documents; open one by name or link instead.' : '');
        status.after(tokenForm(err.status === 403 ? 'Use another access token:' : 'This server requires an access token to list documents.'));
        return;
      }
      say(err instanceof ApiError && err.status === 0 ? 'The server cannot be reached.' : `Could not list documents: ${err.message}`);
    }
  }
  load();
}
