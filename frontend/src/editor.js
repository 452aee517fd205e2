// The editor page at /d/{id}: the page around a live document of the client
// package (@cowrite/client, clients/js). The package owns the sync logic —
// joining, catch-up, resubmission across reconnects, offline persistence,
// presence — and the CodeMirror binding; this file builds the DOM, shows the
// document's status, notices and collaborators, and wires identity, title,
// link copying and history.

import { connect, randomId } from '@cowrite/client';
import { cowrite } from '@cowrite/client/codemirror';
import { EditorView, keymap, lineNumbers, highlightActiveLine, drawSelection, placeholder } from '@codemirror/view';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { searchKeymap, highlightSelectionMatches } from '@codemirror/search';
import { setupHistory } from './history.js';
import { loadIdentity, saveIdentity, claimSlot, COLORS, NAME_MAX } from './identity.js';
import { loadLimits } from './limits.js';
import { api, docPath } from './rest.js';
import { h, tokenForm } from './dom.js';
import { readToken } from './token.js';
import { themeToggle } from './theme.js';
import { downloadButtons } from './files.js';
import { markdownEditing, setupPreview } from './markdown.js';
import { shareButton, shareRoleGuard, askForNewToken } from './share.js';
import { undoStore, persistUndo, initialState } from './undo.js';

const CONN_TEXT = { connecting: 'Connecting…', joining: 'Connecting…', connected: 'Connected', reconnecting: 'Reconnecting…', offline: 'Offline', error: 'Error', deleted: 'Deleted', expired: 'Access expired', revoked: 'Access revoked' };

export async function editorPage(root, docId) {
  document.title = `${docId} · Cowrite`;
  const me = loadIdentity();
  // The server's limits (title length, selection ranges, …) come with the
  // slot; both are quick, and the client needs the limits from the start.
  const [slot, limits] = await Promise.all([claimSlot(docId), loadLimits()]);
  const client = connect('', { token: readToken(), name: me.name, color: me.color, limits });
  const doc = await client.openDoc(docId, { persistence: slot, clientId: randomId(16) });

  // ---- DOM ---------------------------------------------------------------
  const statusEl = h('span', { class: 'status', 'data-testid': 'status', 'data-conn': 'connecting', 'data-save': 'saved' }, 'Connecting…');
  // Announces connection changes only (not every "Saving…" while typing).
  const liveEl = h('span', { class: 'sr-only', role: 'status', 'aria-live': 'polite' });
  const titleEl = h('h1', { class: 'doc-title', 'data-testid': 'doc-title' }, docId);
  const renameBtn = h('button', { type: 'button', class: 'icon', 'aria-label': 'Rename document', title: 'Rename', 'data-testid': 'doc-rename' }, '✎');
  const copyBtn = h('button', { type: 'button', 'data-testid': 'copy-link', title: 'Copy a link to this document' }, 'Copy link');
  const historyBtn = h('button', { type: 'button', 'aria-expanded': 'false', 'aria-controls': 'history', 'data-testid': 'history-button' }, 'History');
  const nameInput = h('input', { id: 'my-name', value: me.name, maxlength: NAME_MAX, autocomplete: 'nickname', 'data-testid': 'name-input' });
  const colorInput = h('input', { id: 'my-color', type: 'color', value: me.color, 'data-testid': 'color-input' });
  const presenceList = h('ul', { class: 'presence', 'data-testid': 'presence-list', 'aria-label': 'People here' });
  const banner = h('div', { class: 'banner', role: 'alert', hidden: true, 'data-testid': 'banner' });
  const editorHost = h('div', { class: 'editor-host', 'data-testid': 'editor' });
  const historyPanel = h('section', { id: 'history', class: 'history', hidden: true, 'aria-label': 'History', 'data-testid': 'history-panel' });
  const preview = setupPreview(() => doc.text);
  const shareRoleView = shareRoleGuard(docId); // share.js: a viewer link opens read-only

  root.replaceChildren(
    h(
      'header',
      { class: 'topbar' },
      h('a', { class: 'brand', href: '/', 'data-testid': 'back' }, 'Cowrite'),
      titleEl,
      renameBtn,
      shareRoleView.badge,
      h('div', { class: 'spacer' }),
      statusEl,
      liveEl,
      copyBtn,
      shareButton(docId),
      preview.button,
      historyBtn,
      themeToggle(),
      h('div', { class: 'me' }, h('label', { for: 'my-name' }, 'Name'), nameInput, h('label', { for: 'my-color' }, 'Colour'), colorInput),
    ),
    banner,
    h('p', { id: 'editor-hint', class: 'sr-only' }, 'Tab indents. Press Escape, then Tab, to move focus out of the editor.'),
    h('main', { id: 'main', class: 'editor-page' }, editorHost, preview.pane, h('aside', { class: 'sidebar' }, h('h2', {}, 'Here now'), presenceList, h('h2', {}, 'Download'), downloadButtons(docId, (m) => showBanner(m)), historyPanel)),
  );

  function showBanner(msg) {
    banner.textContent = msg;
    banner.hidden = !msg;
  }

  // ---- CodeMirror, bound to the document -------------------------------------
  // Undo/redo undo this person's edits only (collaborators' changes never
  // enter the history) and survive a reload (undo.js).
  const undo = undoStore(`${slot.key}:undo`);
  const undoSaver = persistUndo(undo);
  const view = new EditorView({
    parent: editorHost,
    state: initialState(
      doc.text,
      [
        lineNumbers(),
        history(),
        drawSelection(),
        highlightActiveLine(),
        highlightSelectionMatches(),
        EditorView.lineWrapping,
        placeholder('Start typing…'),
        keymap.of([...defaultKeymap, ...historyKeymap, ...searchKeymap, indentWithTab]),
        markdownEditing,
        cowrite(doc),
        shareRoleView.extension,
        EditorView.contentAttributes.of({ 'aria-label': `Document ${docId}`, 'aria-describedby': 'editor-hint' }),
        undoSaver.ext,
      ],
      undo.load(),
    ),
  });

  const persist = () => {
    doc.persist();
    if (!doc.status.deleted) undoSaver.flush(view);
  };
  window.addEventListener('pagehide', persist);
  document.addEventListener('visibilitychange', () => document.visibilityState === 'hidden' && persist());

  // ---- status, notices, collaborators ---------------------------------------
  function renderStatus(s = doc.status) {
    const conn = s.deleted ? 'deleted' : s.conn;
    const connText = CONN_TEXT[conn] ?? conn;
    const saveText = s.deleted ? 'read-only'
      : { loading: 'Loading…', saving: 'Saving…', unsaved: s.storedLocally ? 'Edits kept on this device' : 'Unsaved edits: keep this tab open', saved: 'Saved' }[s.save];
    if (statusEl.dataset.conn !== conn) liveEl.textContent = connText;
    statusEl.dataset.conn = conn;
    statusEl.dataset.save = s.save;
    statusEl.textContent = `${connText} · ${saveText}`;
  }
  doc.on('status', renderStatus);
  renderStatus();

  doc.on('notice', (n) => {
    if (n.code === 'clear') return showBanner('');
    if (n.code === 'auth_expired') return askForNewToken(banner, client, docId, n, () => shareRoleView.update(view));
    if (n.code === 'unauthorized') {
      showBanner('');
      banner.hidden = false;
      banner.replaceChildren(tokenForm(n.message));
      return;
    }
    if (n.code === 'deleted_link') {
      // The server remembers the deletion; re-creating the id is explicit.
      const create = h('button', { type: 'button', 'data-testid': 'recreate' }, 'Create a new document here');
      create.addEventListener('click', async () => {
        create.disabled = true;
        try {
          await api('POST', '/api/docs', { id: docId });
          location.reload();
        } catch (err) {
          create.disabled = false;
          showBanner(`Cannot create the document: ${err.message}`);
        }
      });
      banner.hidden = false;
      banner.replaceChildren(h('span', { 'data-testid': 'deleted-notice' }, `${n.message} `), create);
      return;
    }
    showBanner(n.text !== undefined ? `${n.message}\n${n.text.slice(0, 2000)}` : n.message);
  });

  function renderPeers() {
    const items = [presenceItem(me.name, me.color, true)];
    for (const p of doc.presence()) items.push(presenceItem(p.name, validColor(p.color), false));
    presenceList.replaceChildren(...items);
  }
  function presenceItem(name, color, self) {
    return h('li', { 'data-testid': 'presence-item' }, h('span', { class: 'dot', style: `background:${color}`, 'aria-hidden': 'true' }), name, self ? h('span', { class: 'muted' }, ' (you)') : null);
  }
  const validColor = (c) => (typeof c === 'string' && /^#[0-9a-f]{3,8}$/i.test(c) ? c : '#475569');
  doc.on('presence', renderPeers);
  doc.on('meta', (m) => showTitle(m.title)); // a collaborator renamed it
  doc.on('change', preview.changed);
  renderPeers();

  // ---- identity ---------------------------------------------------------------
  function identityChanged() {
    me.name = nameInput.value.trim().slice(0, NAME_MAX) || me.name;
    me.color = /^#[0-9a-f]{6}$/i.test(colorInput.value) ? colorInput.value : me.color;
    saveIdentity(me);
    renderPeers();
    client.setIdentity({ name: me.name, color: me.color });
  }
  nameInput.addEventListener('change', identityChanged);
  colorInput.addEventListener('change', identityChanged);
  if (!COLORS.includes(me.color)) colorInput.value = me.color;

  // ---- header actions -------------------------------------------------------
  copyBtn.addEventListener('click', async () => {
    const url = location.origin + `/d/${encodeURIComponent(docId)}`;
    try {
      await navigator.clipboard.writeText(url);
      copyBtn.textContent = 'Link copied';
    } catch {
      window.prompt('Copy this link:', url);
    }
    setTimeout(() => (copyBtn.textContent = 'Copy link'), 2000);
  });

  let title = '';
  function showTitle(t) {
    title = t || '';
    titleEl.textContent = title || docId;
    document.title = `${title || docId} · Cowrite`;
  }
  async function loadMeta() {
    try {
      const meta = await api('GET', docPath(docId));
      showTitle(meta?.title);
    } catch {
      /* the title is cosmetic */
    }
  }
  doc.on('joined', loadMeta);
  renameBtn.addEventListener('click', () => {
    const input = h('input', { value: title, 'aria-label': 'Document title', maxlength: limits.maxTitleLength, class: 'title-input', 'data-testid': 'doc-title-input' });
    let done = false;
    const finish = async (save) => {
      if (done) return;
      done = true;
      const t = input.value.trim();
      input.replaceWith(titleEl);
      renameBtn.hidden = false;
      renameBtn.focus();
      if (save && t && t !== title) {
        try {
          const meta = await api('PATCH', docPath(docId), { title: t });
          showTitle(meta?.title ?? t);
        } catch (err) {
          showBanner(`Could not rename: ${err.message}`);
        }
      }
    };
    input.addEventListener('keydown', (e) => {
      // preventDefault: the Enter must not also "click" the button that gets the focus back
      if (e.key === 'Enter' || e.key === 'Escape') e.preventDefault();
      if (e.key === 'Enter') finish(true);
      if (e.key === 'Escape') finish(false);
    });
    input.addEventListener('blur', () => finish(true));
    titleEl.replaceWith(input);
    renameBtn.hidden = true;
    input.focus();
    input.select();
  });

  // A read-only hook for debugging and the browser tests.
  window.cowrite = {
    text: () => view.state.doc.toString(),
    state: () => ({ ...doc.ctrl.ot.snapshot(), queue: [...doc.ctrl.ot.queue.entries()], joined: doc.ctrl.joined, conn: doc.status.conn, peers: [...doc.ctrl.peers.map.values()] }),
  };

  // ---- history ----------------------------------------------------------------
  const hist = setupHistory({
    docId,
    view,
    panel: historyPanel,
    button: historyBtn,
    headVersion: () => doc.version,
    showBanner,
    myName: () => me.name,
    // Authors' colours in the panel are their own where known (here now).
    colorOf: (name) => (name === me.name ? me.color : doc.presence().find((p) => p.name === name)?.color),
  });
  doc.on('change', hist.changed);
}
