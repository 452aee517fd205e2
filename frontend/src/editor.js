// The editor page at /d/{id}: CodeMirror 6 wired to the OT client, the
// socket, presence, status, offline persistence and history.
//
// Reconnects and reloads: the OT state (client id, seq, last integrated
// version, in-flight op, buffered op) and the editor text are saved to
// localStorage. After (re)connecting, doc:join is sent with the last
// integrated version; the catch-up ops are transformed against the pending
// ops (and our own committed op, if it is among them, acks the in-flight op);
// then the in-flight op is resent with its original seq, so the server's
// client+seq dedupe applies it at most once.
//
// If the server answers a versioned join with full content instead of ops
// (we are too far behind) while local edits are pending, the ops since our
// version are paged in over REST (GET /api/docs/{id}/ops) and integrated as a
// normal catch-up. Only if that fails, the content at our version is fetched,
// the difference to the current content computed, and our pending edits are
// transformed against it and submitted as a new op with a fresh seq (if the
// in-flight op had in fact been committed, its effect could then appear
// twice). If even that fails, the server's text wins and the unsent text is
// shown to the user to copy.

import { io } from 'socket.io-client';
import { EditorState, Compartment, Annotation, Transaction } from '@codemirror/state';
import { EditorView, keymap, lineNumbers, highlightActiveLine, drawSelection, placeholder } from '@codemirror/view';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { searchKeymap, highlightSelectionMatches } from '@codemirror/search';
import { type } from 'ot-text-unicode';
import { OTClient } from './ot-client.js';
import { changesToOp, opToChanges, utf16ToCp, cpToUtf16, diffOp, hasSurrogates } from './offsets.js';
import { Peers } from './peers.js';
import { setupHistory } from './history.js';
import { remoteCursors, setRemoteCursors } from './presence.js';
import { loadIdentity, saveIdentity, claimSlot, randomId, COLORS } from './identity.js';
import { api, docPath, h, getToken, tokenForm } from './api.js';

const remote = Annotation.define();
const OP_TIMEOUT = 15000;

export async function editorPage(root, docId) {
  document.title = `${docId} · Cowrite`;
  const me = loadIdentity();
  const slot = await claimSlot(docId);
  const saved = usable(slot.load());

  // ---- DOM ---------------------------------------------------------------
  const statusEl = h('span', { class: 'status', 'data-testid': 'status', 'data-conn': 'connecting', 'data-save': 'saved' }, 'Connecting…');
  // Announces connection changes only (not every "Saving…" while typing).
  const liveEl = h('span', { class: 'sr-only', role: 'status', 'aria-live': 'polite' });
  const titleEl = h('h1', { class: 'doc-title', 'data-testid': 'doc-title' }, docId);
  const renameBtn = h('button', { type: 'button', class: 'icon', 'aria-label': 'Rename document', title: 'Rename', 'data-testid': 'doc-rename' }, '✎');
  const copyBtn = h('button', { type: 'button', 'data-testid': 'copy-link', title: 'Copy a link to this document' }, 'Copy link');
  const historyBtn = h('button', { type: 'button', 'aria-expanded': 'false', 'aria-controls': 'history', 'data-testid': 'history-button' }, 'History');
  const nameInput = h('input', { id: 'my-name', value: me.name, maxlength: 40, autocomplete: 'nickname', 'data-testid': 'name-input' });
  const colorInput = h('input', { id: 'my-color', type: 'color', value: me.color, 'data-testid': 'color-input' });
  const presenceList = h('ul', { class: 'presence', 'data-testid': 'presence-list', 'aria-label': 'People here' });
  const banner = h('div', { class: 'banner', role: 'alert', hidden: true, 'data-testid': 'banner' });
  const editorHost = h('div', { class: 'editor-host', 'data-testid': 'editor' });
  const historyPanel = h('section', { id: 'history', class: 'history', hidden: true, 'aria-label': 'History', 'data-testid': 'history-panel' });

  root.replaceChildren(
    h(
      'header',
      { class: 'topbar' },
      h('a', { class: 'brand', href: '/', 'data-testid': 'back' }, 'Cowrite'),
      titleEl,
      renameBtn,
      h('div', { class: 'spacer' }),
      statusEl,
      liveEl,
      copyBtn,
      historyBtn,
      h('div', { class: 'me' }, h('label', { for: 'my-name', class: 'sr-only' }, 'Your name'), nameInput, h('label', { for: 'my-color', class: 'sr-only' }, 'Your colour'), colorInput),
    ),
    banner,
    h('p', { id: 'editor-hint', class: 'sr-only' }, 'Tab indents. Press Escape, then Tab, to move focus out of the editor.'),
    h('main', { id: 'main', class: 'editor-page' }, editorHost, h('aside', { class: 'sidebar' }, h('h2', {}, 'Here now'), presenceList, historyPanel)),
  );

  function showBanner(msg) {
    banner.textContent = msg;
    banner.hidden = !msg;
  }

  // ---- OT state ----------------------------------------------------------
  let knowVersion = !!saved; // we have a version to join with
  let joined = false;
  let catchingUp = false; // integrating catch-up ops fetched over REST
  let joining = false; // doc:join sent, ack not yet handled
  let deleted = false;
  let readOnly = false; // the server said we may not edit (viewer)
  const peers = new Peers();

  const ot = new OTClient({
    ...(saved ?? { client: randomId(16), version: 0 }),
    onCommit: (version, op, client) => peers.commit(version, op, client),
  });

  // ---- CodeMirror ----------------------------------------------------------
  // While the document holds no astral character (no surrogate pairs), UTF-16
  // offsets equal code point offsets and conversions need no scanning. The
  // flag only ever turns on (deleting the last emoji does not turn it off).
  let bmp = !hasSurrogates(saved?.text ?? '');
  const editable = new Compartment();
  const view = new EditorView({
    parent: editorHost,
    state: EditorState.create({
      doc: saved?.text ?? '',
      extensions: [
        lineNumbers(),
        history(),
        drawSelection(),
        highlightActiveLine(),
        highlightSelectionMatches(),
        EditorView.lineWrapping,
        placeholder('Start typing…'),
        keymap.of([...defaultKeymap, ...historyKeymap, ...searchKeymap, indentWithTab]),
        remoteCursors,
        editable.of(EditorView.editable.of(knowVersion)),
        EditorView.contentAttributes.of({ 'aria-label': `Document ${docId}`, 'aria-describedby': 'editor-hint' }),
        EditorView.updateListener.of(onUpdate),
      ],
    }),
  });

  function onUpdate(update) {
    let local = false;
    for (const tr of update.transactions) {
      if (!tr.docChanged) continue;
      const changes = [];
      tr.changes.iterChanges((fromA, toA, _fromB, _toB, ins) => changes.push({ from: fromA, to: toA, insert: ins.toString() }));
      if (!tr.annotation(remote)) {
        const op = changesToOp(tr.startState.doc, changes, bmp);
        if (op.length) {
          ot.local(op);
          local = true;
        }
      }
      if (bmp && changes.some((c) => hasSurrogates(c.insert))) bmp = false;
    }
    if (local) {
      schedulePersist();
      flush();
      renderStatus();
    }
    if (update.selectionSet || update.docChanged) schedulePresence();
  }

  /** Applies server ops (already transformed to our coordinates) to the editor. */
  function applyRemote(entries) {
    // One editor transaction for the lot (a catch-up may hold thousands of ops).
    let combined = null;
    for (const e of entries) {
      if (e.op && e.op.length) combined = combined ? type.compose(combined, e.op) : e.op;
    }
    if (combined && combined.length) {
      const changes = opToChanges(view.state.doc, combined, bmp);
      view.dispatch({ changes, annotations: [remote.of(true), Transaction.addToHistory.of(false)] });
    }
    if (entries.length) {
      renderPeers();
      schedulePersist();
    }
  }

  /** Makes the editor show `content` with a minimal change (keeps the cursor where possible). */
  function replaceText(content) {
    const cur = view.state.doc.toString();
    if (cur === content) return;
    view.dispatch({ changes: opToChanges(cur, diffOp(cur, content)), annotations: [remote.of(true), Transaction.addToHistory.of(false)] });
  }

  // ---- persistence ---------------------------------------------------------
  let persistTimer = 0;
  let storedLocally = true; // the last local save worked
  function persistNow() {
    clearTimeout(persistTimer);
    persistTimer = 0;
    if (!knowVersion || deleted) return;
    const ok = slot.save({ ...ot.snapshot(), text: view.state.doc.toString(), saved: Date.now() });
    if (ok !== storedLocally) {
      storedLocally = ok;
      if (!ok) console.warn('cowrite: could not save the local state (storage full or disabled)');
      renderStatus();
    }
  }
  function schedulePersist() {
    if (!persistTimer) persistTimer = setTimeout(persistNow, 250);
  }
  window.addEventListener('pagehide', persistNow);
  document.addEventListener('visibilitychange', () => document.visibilityState === 'hidden' && persistNow());

  // ---- socket --------------------------------------------------------------
  const auth = () => ({ name: me.name, color: me.color, ...(getToken() ? { token: getToken() } : {}) });
  const socket = io({ auth: auth(), reconnectionDelayMax: 3000 });
  let conn = 'connecting';

  socket.on('connect', () => {
    conn = 'joining';
    renderStatus();
    join();
  });
  socket.on('disconnect', (reason) => {
    joined = false;
    joining = false;
    ot.disconnected();
    conn = reason === 'io client disconnect' ? 'offline' : 'reconnecting';
    // socket.io-client does not reconnect by itself when the server closed
    // the session (e.g. a graceful shutdown or a slow-consumer kick).
    if (reason === 'io server disconnect' && !deleted) setTimeout(() => socket.connect(), 500 + Math.random() * 1500);
    peers.clear();
    renderPeers();
    renderStatus();
  });
  socket.on('connect_error', (err) => {
    conn = navigator.onLine === false ? 'offline' : 'reconnecting';
    if (err?.message === 'unauthorized') {
      // Not retried: the token is missing or invalid.
      socket.disconnect();
      conn = 'error';
      showBanner('');
      banner.hidden = false;
      banner.replaceChildren(tokenForm(getToken() ? 'The server refused your access token.' : 'This server requires an access token.'));
    }
    renderStatus();
  });
  window.addEventListener('offline', () => {
    conn = 'offline';
    renderStatus();
  });
  window.addEventListener('online', () => {
    if (!socket.connected) socket.connect();
  });

  socket.on('doc:op', (m) => {
    // Ops may arrive between doc:join and its ack: the OT client queues them
    // by version until the join's catch-up (or content) is integrated.
    if (!(joined || joining || catchingUp) || m?.doc !== docId) return;
    applyRemote(ot.remote(m.version, m.op, m.client));
    checkGap();
    flush();
    renderStatus();
  });
  socket.on('doc:presence', (m) => {
    if (m?.doc !== docId) return;
    onPresence(m);
    renderPeers();
  });
  socket.on('doc:deleted', (m) => {
    if (m?.doc !== docId) return;
    deleted = true;
    joined = false;
    slot.clear();
    setEditable(false);
    showBanner('This document was deleted. Your editor is read-only.');
    socket.disconnect();
    conn = 'offline';
    renderStatus();
  });

  // Events wait in the OT client's queue until the versions before them
  // arrive; if a gap does not fill quickly, something was lost: rejoin.
  let gapTimer = 0;
  function checkGap() {
    if (ot.gap() === 0) {
      clearTimeout(gapTimer);
      gapTimer = 0;
    } else if (ot.gap() > 200) {
      resync('too many ops queued behind a missing version');
    } else if (!gapTimer) {
      gapTimer = setTimeout(() => {
        gapTimer = 0;
        if (ot.gap() > 0) resync('a version never arrived');
      }, 5000);
    }
  }

  function resync(why) {
    console.warn('cowrite: resyncing:', why);
    socket.disconnect();
    socket.connect();
  }

  let joinAttempt = 0;
  function join() {
    const attempt = ++joinAttempt;
    // `client` (a Cowrite extension of doc:join) makes presence events carry
    // our OT client id, so others can move our cursor along with our ops.
    const req = { doc: docId, client: ot.client };
    if (knowVersion) req.version = ot.version;
    joining = true;
    socket.timeout(OP_TIMEOUT).emit('doc:join', req, async (err, ack) => {
      if (attempt !== joinAttempt || !socket.connected) return;
      joining = false;
      if (err) return resync('join timed out');
      if (!ack?.ok) return joinFailed(ack?.error ?? { code: 'internal', message: 'bad ack' });
      if (Array.isArray(ack.ops)) {
        applyRemote(ack.ops.flatMap((o) => ot.remote(o.version, o.op, o.client)));
        if (ot.version < ack.version) return resync(`catch-up ended at ${ot.version}, head is ${ack.version}`);
      } else if (typeof ack.content === 'string') {
        if (!knowVersion || !ot.hasPending()) {
          ot.reset(ack.version);
          replaceText(ack.content);
          applyRemote(ot.drain());
        } else {
          await rebaseOnContent(ack.content, ack.version);
          if (attempt !== joinAttempt || !socket.connected) return;
        }
      } else {
        return joinFailed({ code: 'internal', message: 'join ack without ops or content' });
      }
      knowVersion = true;
      setEditable(!readOnly && !deleted);
      joined = true;
      conn = 'connected';
      if (!readOnly) showBanner('');
      peers.clear();
      for (const p of ack.presence ?? []) onPresence({ ...p, doc: docId });
      renderPeers();
      persistNow();
      flush();
      sendPresence(true);
      renderStatus();
      loadMeta();
    });
  }

  function setEditable(on) {
    if (view.state.facet(EditorView.editable) !== on) view.dispatch({ effects: editable.reconfigure(EditorView.editable.of(on)) });
  }

  function joinFailed(e) {
    if (e.code === 'version_ahead' || e.code === 'version_too_old') {
      // The server does not know our version (its data was reset): start over
      // from its content. Unsent text is offered to the user.
      const unsent = ot.hasPending() ? view.state.doc.toString() : null;
      ot.reset(0);
      knowVersion = false;
      setEditable(false);
      slot.clear();
      if (unsent !== null) showBanner(`The server lost this document's history; your unsent text was:\n${unsent.slice(0, 2000)}`);
      join();
      return;
    }
    showBanner(
      e.code === 'forbidden' ? 'You do not have access to this document.'
        : e.code === 'not_found' ? 'This document does not exist (and this server does not create documents on first open).'
        : `Cannot open the document: ${e.message} (${e.code})`,
    );
    conn = 'error';
    renderStatus();
  }

  /**
   * The server answered our versioned join with content instead of ops (we
   * are too far behind) while local edits are pending. Page through the ops
   * since our version over REST and integrate them as a normal catch-up; if
   * that is impossible, diff the content at our version against the current
   * content and rebase the pending edits on that diff (see the file comment).
   */
  async function rebaseOnContent(content, version) {
    catchingUp = true;
    try {
      for (let guard = 0; ot.version < version && guard < 10000; guard++) {
        const data = await api('GET', `${docPath(docId)}/ops?from=${ot.version}&to=${version}&limit=1000`);
        const ops = data?.ops ?? [];
        if (ops.length === 0) break;
        applyRemote(ops.flatMap((o) => ot.remote(o.version, o.op, o.client)));
      }
      if (ot.version >= version) return;
    } catch (e) {
      console.warn('cowrite: catch-up over REST failed:', e);
    } finally {
      catchingUp = false;
    }
    const pending = ot.inflight && ot.buffer ? type.compose(ot.inflight.op, ot.buffer) : (ot.inflight?.op ?? ot.buffer);
    let rebased = null;
    try {
      const meta = await api('GET', `${docPath(docId)}?version=${ot.version}`);
      rebased = type.transform(pending, diffOp(meta.content, content), 'left');
    } catch (e) {
      showBanner(`Your offline edits could not be merged and were not saved:\n${view.state.doc.toString().slice(0, 2000)}`);
    }
    ot.reset(version);
    replaceText(content);
    if (rebased && rebased.length) {
      view.dispatch({ changes: opToChanges(view.state.doc, rebased) }); // a local edit: gets a fresh seq
    }
    applyRemote(ot.drain()); // ops that arrived meanwhile, transformed against the rebased edit
  }

  function flush() {
    if (!joined || deleted) return;
    const m = ot.take();
    if (!m) return;
    schedulePersist();
    socket.timeout(OP_TIMEOUT).emit('doc:op', { doc: docId, version: m.version, op: m.op, client: ot.client, seq: m.seq }, (err, ack) => {
      if (err) return socket.connected && resync('op ack timed out');
      if (!ack?.ok) return opFailed(m, ack?.error ?? { code: 'internal', message: 'bad ack' });
      applyRemote(ot.ack(m.seq, ack.version));
      checkGap();
      schedulePersist();
      flush();
      if (!ot.hasPending() && presenceDirty) sendPresence(true);
      renderStatus();
    });
  }

  let forbiddenSeq = 0;
  function opFailed(m, e) {
    if (ot.inflight?.seq !== m.seq) return;
    if (e.code === 'rate_limited') {
      ot.inflight.sent = false;
      setTimeout(flush, 1000);
      return;
    }
    if (e.code === 'not_joined' || e.code === 'version_ahead') return resync(e.code);
    if (e.code === 'forbidden' && (/client id/i.test(e.message ?? '') || forbiddenSeq !== m.seq)) {
      // Either our client id is still bound to our previous (dead) connection
      // on the server, or a first refusal: reconnect and resend once more.
      forbiddenSeq = m.seq;
      ot.inflight.sent = false;
      setTimeout(() => resync('forbidden, retrying'), 1000);
      return;
    }
    if (e.code === 'forbidden') {
      // Refused again: we are a viewer. Reload the server's text and stop editing.
      readOnly = true;
      setEditable(false);
      ot.reset(ot.version);
      knowVersion = false;
      slot.clear();
      showBanner('You can view this document but not edit it.');
      return resync(e.code);
    }
    // The op can never succeed (invalid_op, too_large, forbidden, …): drop our
    // pending edits and reload the server's text.
    console.error('cowrite: op rejected', e);
    showBanner(`Your last edit was rejected: ${e.message} (${e.code}). Reloaded the server's version.`);
    ot.reset(ot.version);
    knowVersion = false;
    setEditable(false);
    resync(e.code);
  }

  // ---- status ---------------------------------------------------------------
  function renderStatus() {
    const pending = ot.hasPending();
    const save = !knowVersion ? 'loading' : pending ? (joined ? 'saving' : 'unsaved') : 'saved';
    const connText = { connecting: 'Connecting…', joining: 'Connecting…', connected: 'Connected', reconnecting: 'Reconnecting…', offline: 'Offline', error: 'Error' }[conn] ?? conn;
    const saveText = { loading: 'Loading…', saving: 'Saving…', unsaved: storedLocally ? 'Edits kept on this device' : 'Unsaved edits: keep this tab open', saved: 'Saved' }[save];
    if (statusEl.dataset.conn !== conn) liveEl.textContent = connText;
    statusEl.dataset.conn = conn;
    statusEl.dataset.save = save;
    statusEl.textContent = `${connText} · ${saveText}`;
  }
  renderStatus();

  // ---- presence -------------------------------------------------------------
  let presenceTimer = 0;
  let presenceDirty = false;
  function schedulePresence() {
    presenceDirty = true;
    if (!presenceTimer) presenceTimer = setTimeout(() => { presenceTimer = 0; sendPresence(false); }, 120);
  }
  function sendPresence(force) {
    if (!joined || (!presenceDirty && !force)) return;
    // Our selection is in local coordinates; they equal the server's at
    // ot.version only when nothing is pending, so wait for the ack otherwise.
    if (ot.hasPending()) {
      presenceDirty = true;
      return;
    }
    presenceDirty = false;
    const doc = view.state.doc;
    const selection = view.state.selection.ranges.map((r) => ({ anchor: utf16ToCp(doc, r.anchor, bmp), head: utf16ToCp(doc, r.head, bmp) }));
    socket.emit('doc:presence', { doc: docId, version: ot.version, selection }, () => {});
  }

  function onPresence(m) {
    peers.update(m, ot.version);
  }

  function renderPeers() {
    const doc = view.state.doc;
    const shown = peers.display(ot.version, [ot.inflight?.op, ot.buffer]).map((p) => ({
      name: p.name,
      color: validColor(p.color),
      ranges: p.ranges.map((r) => ({ anchor: cpToUtf16(doc, r.anchor, bmp), head: cpToUtf16(doc, r.head, bmp) })),
    }));
    setRemoteCursors(view, shown);
    const items = [presenceItem(me.name, me.color, true)];
    for (const p of peers.list()) items.push(presenceItem(p.name, validColor(p.color), false));
    presenceList.replaceChildren(...items);
  }
  function presenceItem(name, color, self) {
    return h('li', { 'data-testid': 'presence-item' }, h('span', { class: 'dot', style: `background:${color}`, 'aria-hidden': 'true' }), name, self ? h('span', { class: 'muted' }, ' (you)') : null);
  }
  const validColor = (c) => (typeof c === 'string' && /^#[0-9a-f]{3,8}$/i.test(c) ? c : '#475569');
  renderPeers();

  // ---- identity ---------------------------------------------------------------
  function identityChanged() {
    me.name = nameInput.value.trim().slice(0, 40) || me.name;
    me.color = /^#[0-9a-f]{6}$/i.test(colorInput.value) ? colorInput.value : me.color;
    saveIdentity(me);
    renderPeers();
    socket.auth = auth();
    if (socket.connected) resync('identity changed');
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
  renameBtn.addEventListener('click', () => {
    const input = h('input', { value: title, 'aria-label': 'Document title', maxlength: 200, class: 'title-input', 'data-testid': 'doc-title-input' });
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
    state: () => ({ ...ot.snapshot(), queue: [...ot.queue.entries()], joined, conn, peers: [...peers.map.values()] }),
  };

  // ---- history ----------------------------------------------------------------
  setupHistory({ docId, view, panel: historyPanel, button: historyBtn, headVersion: () => ot.version, showBanner });
}

/** The saved state if it is well-formed, else null (start fresh). */
function usable(saved) {
  if (!saved) return null;
  try {
    new OTClient(saved);
    if (saved.inflight) type.checkOp(saved.inflight.op);
    if (saved.buffer) type.checkOp(saved.buffer);
    if (saved.inflight && !Number.isInteger(saved.inflight.seq)) throw new Error('bad seq');
    return saved;
  } catch (e) {
    console.warn('cowrite: ignoring unusable saved state:', e);
    return null;
  }
}
