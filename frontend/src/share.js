// Share links and live permission changes in the editor (docs/sharing.md):
// the Share dialog (mint a link with a role and an expiry, copy it, list and
// revoke the active ones; in open mode, say that anyone with the address can
// edit), the role a share token gives on this document (a viewer link opens
// read-only), and the path back from an expired or revoked token: the page
// turns read-only and asks for a new link or token, which is presented over
// the live connection (auth:refresh; another user's token reconnects), so
// pending edits are kept.

import { Compartment, EditorState } from '@codemirror/state';
import { api, docPath } from './rest.js';
import { h } from './dom.js';
import { readToken, storeToken } from './token.js';

const EXPIRIES = [
  ['1 hour', 3600],
  ['1 day', 86400],
  ['7 days', 7 * 86400],
  ['30 days', 30 * 86400],
];

/** The claims of a JWT, without checking it (the server does), or null. */
export function tokenClaims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0)));
    const claims = JSON.parse(json);
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

/** The token of a pasted share link (…#token=…), or the pasted text itself. */
export function tokenFromInput(text) {
  const t = text.trim();
  const m = t.match(/[#?&]token=([^&#\s]+)/);
  if (!m) return t;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return m[1];
  }
}

/**
 * The role the stored token gives on docId when it is a share link's (its
 * "docs" names exactly this document); '' otherwise (the server decides).
 */
export function shareRole(docId, token = readToken()) {
  const c = token ? tokenClaims(token) : null;
  if (!c || typeof c.jti !== 'string' || typeof c.sub !== 'string' || !c.sub.startsWith('share:')) return '';
  const r = c.docs?.[docId];
  return r === 'viewer' || r === 'editor' ? r : '';
}

/**
 * What a share token changes in the editor: a role badge for the header and
 * an extension that keeps the text read-only for a viewer link (the server
 * refuses a viewer's writes anyway; this avoids typing into a dead end).
 * update() re-reads the stored token (after a refresh).
 */
export function shareRoleGuard(docId) {
  const compartment = new Compartment();
  const badge = h('span', { class: 'role-badge', 'data-testid': 'share-role', hidden: true });
  const readOnly = (role) => EditorState.readOnly.of(role === 'viewer');
  const show = (role) => {
    badge.hidden = !role;
    badge.dataset.role = role;
    badge.textContent = role === 'viewer' ? 'View only' : role === 'editor' ? 'Can edit' : '';
  };
  show(shareRole(docId));
  return {
    badge,
    extension: compartment.of(readOnly(shareRole(docId))),
    update(view) {
      const role = shareRole(docId);
      show(role);
      view.dispatch({ effects: compartment.reconfigure(readOnly(role)) });
    },
  };
}

/** The header's Share button; it opens the dialog. */
export function shareButton(docId) {
  const button = h('button', { type: 'button', 'data-testid': 'share-button', 'aria-haspopup': 'dialog' }, 'Share');
  button.addEventListener('click', () => openShareDialog(docId, button));
  return button;
}

function openShareDialog(docId, opener) {
  const role = h('select', { id: 'share-role', 'data-testid': 'share-role-select' }, h('option', { value: 'editor' }, 'Can edit'), h('option', { value: 'viewer' }, 'Can view'));
  const expiry = h('select', { id: 'share-expiry', 'data-testid': 'share-expiry-select' }, ...EXPIRIES.map(([label, s]) => h('option', { value: String(s), selected: s === 7 * 86400 }, label)));
  const create = h('button', { type: 'submit', class: 'primary', 'data-testid': 'share-create' }, 'Create link');
  const result = h('div', { class: 'share-result', hidden: true });
  const message = h('p', { class: 'share-message', role: 'status', 'data-testid': 'share-message' });
  const list = h('ul', { class: 'share-list', 'data-testid': 'share-list', 'aria-label': 'Active links' });
  const close = h('button', { type: 'button', 'data-testid': 'share-close' }, 'Close');
  const form = h(
    'form',
    { class: 'share-form' },
    h('label', { for: 'share-role' }, 'People with the link'),
    role,
    h('label', { for: 'share-expiry' }, 'Expires after'),
    expiry,
    create,
  );
  const dialog = h(
    'dialog',
    { class: 'share-dialog', 'data-testid': 'share-dialog', 'aria-labelledby': 'share-heading' },
    h('h2', { id: 'share-heading' }, `Share “${docId}”`),
    form,
    message,
    result,
    h('h3', {}, 'Active links'),
    list,
    h('div', { class: 'share-actions' }, close),
  );
  const say = (t) => (message.textContent = t);
  close.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => {
    dialog.remove();
    opener.focus();
  });

  function openMode() {
    // No secret, no tokens: the document's address is the whole story.
    form.hidden = true;
    list.previousElementSibling.hidden = true;
    list.hidden = true;
    say('This server runs in open mode: anyone who can reach it can open and edit every document. Anyone with the link can edit — copy the address to share it.');
    showLink(location.origin + `/d/${encodeURIComponent(docId)}`, 'Address');
  }

  function showLink(url, label) {
    const input = h('input', { type: 'text', readonly: true, value: url, 'aria-label': label, 'data-testid': 'share-url' });
    const copy = h('button', { type: 'button', 'data-testid': 'share-copy' }, 'Copy');
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(url);
        copy.textContent = 'Copied';
      } catch {
        input.select(); // the user copies by hand
        copy.textContent = 'Press Ctrl+C';
      }
    });
    result.replaceChildren(input, copy);
    result.hidden = false;
    input.select();
  }

  async function refresh() {
    try {
      const { shares = [] } = (await api('GET', `${docPath(docId)}/share`)) ?? {};
      list.replaceChildren(...shares.map(shareItem));
      if (shares.length === 0) list.replaceChildren(h('li', { class: 'muted' }, 'No active links.'));
    } catch (err) {
      if (err.reason === 'open_mode') return openMode();
      list.replaceChildren(h('li', { class: 'muted' }, err.status === 403 ? 'Only an owner of this document can share it.' : `Cannot list the links: ${err.message}`));
      if (err.status === 403) form.hidden = true;
    }
  }

  function shareItem(s) {
    const revoke = h('button', { type: 'button', class: 'danger', 'data-testid': 'share-revoke', 'data-share': s.id }, 'Revoke');
    revoke.addEventListener('click', async () => {
      revoke.disabled = true;
      try {
        await api('DELETE', `${docPath(docId)}/share/${encodeURIComponent(s.id)}`);
        say('Link revoked: it no longer opens the document, and whoever has it open is cut off.');
      } catch (err) {
        say(`Cannot revoke: ${err.message}`);
      }
      refresh();
    });
    const until = new Date(s.expires_at).toLocaleString();
    return h('li', { 'data-testid': 'share-item', 'data-share': s.id, 'data-role': s.role }, `${s.role === 'viewer' ? 'Can view' : 'Can edit'} · until ${until} `, revoke);
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    create.disabled = true;
    try {
      const s = await api('POST', `${docPath(docId)}/share`, { role: role.value, ttl: Number(expiry.value) });
      say(`Anyone with this link ${s.role === 'viewer' ? 'can view' : 'can edit'} the document until ${new Date(s.expires_at).toLocaleString()}. It is shown only now.`);
      showLink(s.url, 'Share link');
      refresh();
    } catch (err) {
      if (err.reason === 'open_mode') openMode();
      else say(`Cannot create a link: ${err.message}`);
    } finally {
      create.disabled = false;
    }
  });

  document.body.append(dialog);
  dialog.showModal();
  refresh();
}

/**
 * The editor lost its access (auth_expired notice): show it read-only and
 * ask for a new link or token; presenting one refreshes the live
 * connection. onRefreshed runs once the client has the new token.
 */
export function askForNewToken(banner, client, docId, notice, onRefreshed) {
  const revoked = notice.reason === 'revoked' || /revoked/.test(notice.message ?? '');
  const input = h('input', { id: 'refresh-token', type: 'password', autocomplete: 'off', 'data-testid': 'refresh-token-input' });
  const status = h('span', { class: 'muted', role: 'status' });
  const form = h(
    'form',
    { class: 'token-form', 'data-testid': 'refresh-form' },
    h('p', { 'data-testid': 'access-lapsed' }, revoked ? 'The link you opened this document with was revoked. The document is read-only; your unsent edits are kept.' : 'Your access expired. The document is read-only; your unsent edits are kept.'),
    h('label', { for: 'refresh-token' }, 'Paste a new link or access token'),
    input,
    h('button', { type: 'submit', class: 'primary' }, 'Continue'),
    status,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = tokenFromInput(input.value);
    if (!token) return;
    status.textContent = 'Checking…';
    // The user pasted it here on purpose: that is the confirmation the
    // editor asks for before replacing a stored token.
    const ack = await client.refreshToken(token, { doc: docId });
    if (ack.ok || ack.error?.code === 'forbidden') {
      storeToken(token);
      banner.hidden = true;
      banner.replaceChildren();
      onRefreshed?.();
      return;
    }
    status.textContent = ack.error?.message ?? 'The server refused this token.';
  });
  banner.hidden = false;
  banner.replaceChildren(form);
}
