// The sync logic of one open document, as a pure state machine: events in,
// effects out. It owns the OT client (ot-client.js), the text, collaborators'
// presence (peers.js), the connection and save state; it performs no I/O and
// reads no clock. A driver (client.js) feeds it socket events, acks, timer
// firings and REST results, and carries out the effects it returns: emit an
// event, arm or cancel a named timer, fetch over REST, save or clear the
// local state, reconnect, and tell listeners (change, presence, status,
// notice).
//
// Reconnects and reloads: after (re)connecting, doc:join is sent with the last
// integrated version; the catch-up ops are transformed against the pending
// ops (our own committed op among them acks the in-flight op); then the
// in-flight op is resent with its original seq, so the server's (client, seq)
// dedupe applies it at most once.
//
// If the server answers a versioned join with full content instead of ops (we
// are too far behind) while local edits are pending, the ops since our
// version are paged in over REST (GET /api/docs/{id}/ops) and integrated as a
// normal catch-up. Only if that fails, the content at our version is fetched,
// the difference to the current content computed, and our pending edits are
// transformed against it and submitted as a new op with a fresh seq (if the
// in-flight op had in fact been committed, its effect could then appear
// twice). If even that fails, the server's text wins and the unsent text is
// reported in a notice (`merge_failed`).
//
// Effects (plain objects, `type` first):
//   { type: 'emit', event, payload, ack?: {kind, ...}, timeout? }
//       send a Socket.IO event; when `ack` is given, feed the answer back as
//       { type: 'ack', ...ack, err, ack: answer } (err: the timeout error)
//   { type: 'timer', name, ms } / { type: 'cancel', name }
//       arm (replacing) or cancel a named timer; feed { type: 'timer', name }
//   { type: 'fetch', tag, path }  GET over REST; feed { type: 'fetched', tag, data } or { …, error }
//   { type: 'save', state } / { type: 'clear' }   local persistence; feed { type: 'saved', ok }
//   { type: 'reconnect', why }  drop the socket and connect again (a resync)
//   { type: 'close' }           stop: the document is gone; no more events for it
//   { type: 'change', op, text, origin }   the text changed by `op` ('local' | 'remote')
//   { type: 'presence' }        collaborators or their selections changed
//   { type: 'status', status }  connection / save state changed
//   { type: 'notice', code, message, text?, error? }   something to tell the user;
//       code 'clear' withdraws the last notice; `text` is unsent text to offer
//   { type: 'joined' }          a join completed (e.g. reload metadata)
//   { type: 'log', level, message, detail? }

import { type } from 'ot-text-unicode';
import { OTClient } from './ot-client.js';
import { Peers } from './peers.js';
import { diffOp, cpLength } from './offsets.js';

/** How long an ack may take before the connection is considered stuck (ms). */
export const OP_TIMEOUT = 15000;
/** Local state is saved this long after a change (ms). */
export const PERSIST_DELAY = 250;
/** Selection changes are sent at most this often (ms). */
export const PRESENCE_DELAY = 120;
/** A missing version that does not arrive within this time triggers a resync (ms). */
export const GAP_TIMEOUT = 5000;
/** More queued versions than this behind a missing one trigger a resync at once. */
export const GAP_LIMIT = 200;
/** Pages of ops fetched over REST when far behind. */
export const CATCHUP_PAGE = 1000;

/**
 * The saved state if it is well-formed ({client, version, seq, inflight,
 * buffer, text}), else null (start fresh).
 */
export function usableState(saved) {
  if (!saved || typeof saved !== 'object' || typeof saved.text !== 'string') return null;
  try {
    new OTClient(saved);
    if (!Number.isInteger(saved.version) || saved.version < 0) throw new Error('bad version');
    if (saved.inflight) type.checkOp(saved.inflight.op);
    if (saved.buffer) type.checkOp(saved.buffer);
    if (saved.inflight && !Number.isInteger(saved.inflight.seq)) throw new Error('bad seq');
    return saved;
  } catch {
    return null;
  }
}

export class DocController {
  /**
   * @param {object} o
   * @param {string} o.doc        document id
   * @param {string} o.client     OT client id, used when there is no saved state
   * @param {object|null} [o.saved] a state saved earlier (see usableState)
   * @param {() => number} [o.now]    clock for the saved state's timestamp
   * @param {() => number} [o.random] in [0, 1), for the reconnect back-off
   * @param {{maxSelectionRanges?: number}} [o.limits]
   */
  constructor({ doc, client, saved = null, now = () => 0, random = () => 0.5, limits = {} }) {
    this.doc = doc;
    this.now = now;
    this.random = random;
    this.limits = limits;
    saved = usableState(saved);
    this.peers = new Peers();
    this.ot = new OTClient({
      ...(saved ?? { client, version: 0 }),
      onCommit: (version, op, author) => this.peers.commit(version, op, author),
    });
    /** The local text: server(version) ∘ inflight ∘ buffer. */
    this.text = saved?.text ?? '';
    /** The length of `text` in code points (kept up to date by change()). */
    this.length = cpLength(this.text);
    /** Our selection in code points of `text`. */
    this.selection = [{ anchor: 0, head: 0 }];

    this.knowVersion = !!saved; // we have a version to join with
    this.connected = false; // the socket is up
    this.joining = false; // doc:join sent, ack not yet handled
    this.joined = false;
    this.catchingUp = false; // integrating catch-up ops fetched over REST
    this.deleted = false;
    this.readOnly = false; // the server said we may not edit (viewer)
    this.authLapsed = null; // 'expired' | 'revoked' after auth:expired, until auth:refresh
    this.editable = this.knowVersion;
    this.conn = 'connecting';
    this.storedLocally = true; // the last local save worked
    this.joinAttempt = 0;
    this.forbiddenSeq = 0;
    this.presenceDirty = false;
    this.armed = new Set(); // timers armed: persist, presence, gap
    this.rebase = null; // {attempt, version, content, guard} while catching up over REST
    this.lastStatus = '';
  }

  /** Connection and save state. */
  get status() {
    const pending = this.ot.hasPending();
    const save = !this.knowVersion ? 'loading' : pending ? (this.joined ? 'saving' : 'unsaved') : 'saved';
    return { conn: this.conn, save, storedLocally: this.storedLocally, editable: this.editable, readOnly: this.readOnly, deleted: this.deleted };
  }

  /** Collaborators, with their selections in code points of `text`. */
  presence() {
    return this.peers.display(this.ot.version, [this.ot.inflight?.op, this.ot.buffer]);
  }

  /** Handles one event; returns the effects to carry out, in order. */
  handle(ev) {
    const fx = [];
    this.fx = fx;
    try {
      switch (ev.type) {
        case 'connect': this.onConnect(); break;
        case 'disconnect': this.onDisconnect(ev.reason); break;
        case 'connect_error': this.onConnectError(ev.message, ev.online, ev.hadToken); break;
        case 'offline': this.conn = 'offline'; break;
        case 'doc:op': this.onRemoteOp(ev.msg); break;
        case 'doc:presence': this.onPresence(ev.msg); break;
        case 'doc:deleted': this.onDeleted(ev.msg); break;
        case 'doc:meta': this.emit({ type: 'meta', meta: { title: typeof ev.msg?.title === 'string' ? ev.msg.title : '', version: ev.msg?.version, updated: ev.msg?.updated } }); break;
        case 'ack': ev.kind === 'join' ? this.onJoinAck(ev) : this.onOpAck(ev); break;
        case 'fetched': this.onFetched(ev); break;
        case 'timer': this.onTimer(ev.name); break;
        case 'saved': this.onSaved(ev.ok); break;
        case 'local': this.onLocal(ev.op); break;
        case 'select': this.onSelect(ev.selection); break;
        case 'persist': this.persistNow(); break;
        case 'auth_expired': this.onAuthExpired(ev); break;
        case 'auth_refreshed': this.onAuthRefreshed(ev); break;
        default: throw new Error(`DocController: unknown event ${ev.type}`);
      }
      this.pushStatus();
    } finally {
      this.fx = null;
    }
    return fx;
  }

  // ---- helpers -----------------------------------------------------------

  emit(e) {
    this.fx.push(e);
  }

  pushStatus() {
    const s = this.status;
    const key = JSON.stringify(s);
    if (key === this.lastStatus) return;
    this.lastStatus = key;
    this.emit({ type: 'status', status: s });
  }

  arm(name, ms) {
    if (this.armed.has(name)) return;
    this.armed.add(name);
    this.emit({ type: 'timer', name, ms });
  }

  disarm(name) {
    if (!this.armed.delete(name)) return;
    this.emit({ type: 'cancel', name });
  }

  setEditable(on) {
    this.editable = on;
  }

  resync(why) {
    this.emit({ type: 'log', level: 'warn', message: `resyncing: ${why}` });
    this.emit({ type: 'reconnect', why });
  }

  /** Applies an op to the text and tells listeners. */
  change(op, origin) {
    if (!op || op.length === 0) return;
    this.text = type.apply(this.text, op);
    for (const c of op) {
      if (typeof c === 'string') this.length += cpLength(c);
      else if (typeof c === 'object') this.length -= typeof c.d === 'number' ? c.d : cpLength(c.d);
    }
    this.selection = this.selection.map((r) => ({ anchor: type.transformPosition(r.anchor, op), head: type.transformPosition(r.head, op) }));
    this.emit({ type: 'change', op, text: this.text, origin });
  }

  /** Applies server ops (already transformed to our coordinates) as one change. */
  applyRemote(entries) {
    let combined = null; // one change for the lot (a catch-up may hold thousands of ops)
    for (const e of entries) {
      if (e.op && e.op.length) combined = combined ? type.compose(combined, e.op) : e.op;
    }
    this.change(combined, 'remote');
    if (entries.length) {
      this.emit({ type: 'presence' });
      this.schedulePersist();
    }
  }

  /** Makes the text `content` with a minimal change. */
  replaceText(content) {
    this.change(diffOp(this.text, content), 'remote');
  }

  // ---- persistence -------------------------------------------------------

  schedulePersist() {
    this.arm('persist', PERSIST_DELAY);
  }

  persistNow() {
    this.disarm('persist');
    if (!this.knowVersion || this.deleted) return;
    this.emit({ type: 'save', state: { ...this.ot.snapshot(), text: this.text, saved: this.now() } });
  }

  onSaved(ok) {
    if (ok === this.storedLocally) return;
    this.storedLocally = ok;
    if (!ok) this.emit({ type: 'log', level: 'warn', message: 'could not save the local state (storage full or disabled)' });
  }

  clearStorage() {
    this.disarm('persist');
    this.emit({ type: 'clear' });
  }

  // ---- connection and join ----------------------------------------------

  onConnect() {
    this.connected = true;
    this.authLapsed = null; // a new connection was accepted: its token is valid
    if (this.deleted) return;
    this.conn = 'joining';
    this.join();
  }

  onDisconnect(reason) {
    this.connected = false;
    this.joined = false;
    this.joining = false;
    this.ot.disconnected();
    this.disarm('gap');
    if (this.deleted) return;
    this.conn = reason === 'io client disconnect' ? 'offline' : 'reconnecting';
    // socket.io-client does not reconnect by itself when the server closed
    // the session (e.g. a graceful shutdown or a slow-consumer kick).
    if (reason === 'io server disconnect') this.emit({ type: 'timer', name: 'reconnect', ms: 500 + this.random() * 1500 });
    this.peers.clear();
    this.emit({ type: 'presence' });
  }

  onConnectError(message, online, hadToken) {
    this.conn = online === false ? 'offline' : 'reconnecting';
    if (message === 'unauthorized') {
      // Not retried (the driver stops the socket): the token is missing or invalid.
      this.conn = 'error';
      this.emit({ type: 'notice', code: 'unauthorized', message: hadToken ? 'The server refused your access token.' : 'This server requires an access token.' });
    }
  }

  join() {
    const attempt = ++this.joinAttempt;
    // `client` (a Cowrite extension of doc:join) makes presence events carry
    // our OT client id, so others can move our cursor along with our ops.
    const payload = { doc: this.doc, client: this.ot.client };
    if (this.knowVersion) payload.version = this.ot.version;
    this.joining = true;
    this.emit({ type: 'emit', event: 'doc:join', payload, ack: { kind: 'join', attempt }, timeout: OP_TIMEOUT });
  }

  onJoinAck({ attempt, err, ack }) {
    if (attempt !== this.joinAttempt || !this.connected) return;
    this.joining = false;
    if (err) return this.resync('join timed out');
    if (!ack?.ok) return this.joinFailed(ack?.error ?? { code: 'internal', message: 'bad ack' });
    if (Array.isArray(ack.ops)) {
      this.applyRemote(ack.ops.flatMap((o) => this.ot.remote(o.version, o.op, o.client)));
      if (this.ot.version < ack.version) return this.resync(`catch-up ended at ${this.ot.version}, head is ${ack.version}`);
    } else if (typeof ack.content === 'string') {
      if (!this.knowVersion || !this.ot.hasPending()) {
        this.ot.reset(ack.version);
        this.replaceText(ack.content);
        this.applyRemote(this.ot.drain());
      } else {
        this.rebase = { attempt, ack, guard: 0 };
        this.catchingUp = true;
        return this.fetchOps();
      }
    } else {
      return this.joinFailed({ code: 'internal', message: 'join ack without ops or content' });
    }
    this.joinDone(ack);
  }

  joinDone(ack) {
    this.knowVersion = true;
    this.setEditable(!this.readOnly && !this.deleted);
    this.joined = true;
    this.conn = 'connected';
    if (!this.readOnly) this.emit({ type: 'notice', code: 'clear' });
    this.peers.clear();
    for (const p of ack.presence ?? []) this.peers.update({ ...p, doc: this.doc }, this.ot.version);
    this.emit({ type: 'presence' });
    this.persistNow();
    this.flush();
    this.sendPresence(true);
    this.emit({ type: 'joined' });
  }

  joinFailed(e) {
    if (e.code === 'unauthorized' && this.authLapsed) return; // wait for auth:refresh
    if (e.code === 'version_ahead' || e.code === 'version_too_old') {
      // The server does not know our version (its data was reset): start over
      // from its content. Unsent text is offered to the user.
      const unsent = this.ot.hasPending() ? this.text : null;
      this.ot.reset(0);
      this.knowVersion = false;
      this.setEditable(false);
      this.clearStorage();
      if (unsent !== null) this.emit({ type: 'notice', code: 'history_lost', message: "The server lost this document's history; your unsent text was:", text: unsent });
      this.join();
      return;
    }
    if (e.code === 'not_found' && e.reason === 'deleted') {
      // An old link to a deleted document: the server keeps a tombstone and
      // does not bring it back empty. The page may offer to create it again.
      this.deleted = true;
      this.clearStorage();
      this.setEditable(false);
      this.emit({ type: 'notice', code: 'deleted_link', message: 'This document was deleted.', error: e });
      this.conn = 'offline';
      return;
    }
    const message =
      e.code === 'forbidden' ? 'You do not have access to this document.'
        : e.code === 'not_found' ? 'This document does not exist (and this server does not create documents on first open).'
        : `Cannot open the document: ${e.message} (${e.code})`;
    this.emit({ type: 'notice', code: e.code === 'forbidden' || e.code === 'not_found' ? e.code : 'join_failed', message, error: e });
    this.conn = 'error';
  }

  // ---- far behind: catch up over REST, else rebase on a content diff ------

  fetchOps() {
    const { ack } = this.rebase;
    const path = `/api/docs/${encodeURIComponent(this.doc)}/ops?from=${this.ot.version}&to=${ack.version}&limit=${CATCHUP_PAGE}`;
    this.emit({ type: 'fetch', tag: 'ops', path });
  }

  onFetched({ tag, data, error }) {
    const rb = this.rebase;
    if (!rb) return;
    if (tag === 'ops') {
      if (error) {
        this.emit({ type: 'log', level: 'warn', message: 'catch-up over REST failed', detail: error });
      } else {
        const ops = data?.ops ?? [];
        if (ops.length > 0) this.applyRemote(ops.flatMap((o) => this.ot.remote(o.version, o.op, o.client)));
        if (this.ot.version >= rb.ack.version) return this.rebaseDone();
        if (ops.length > 0 && ++rb.guard < 10000) return this.fetchOps();
      }
      this.catchingUp = false;
      this.emit({ type: 'fetch', tag: 'base', path: `/api/docs/${encodeURIComponent(this.doc)}?version=${this.ot.version}` });
      return;
    }
    // tag 'base': the content at our version, to diff against the new content
    const { content, version } = rb.ack;
    const pending = this.ot.inflight && this.ot.buffer ? type.compose(this.ot.inflight.op, this.ot.buffer) : (this.ot.inflight?.op ?? this.ot.buffer);
    let rebased = null;
    if (error || typeof data?.content !== 'string') {
      this.emit({ type: 'notice', code: 'merge_failed', message: 'Your offline edits could not be merged and were not saved:', text: this.text });
    } else {
      rebased = type.transform(pending, diffOp(data.content, content), 'left');
    }
    this.ot.reset(version);
    this.replaceText(content);
    if (rebased && rebased.length) {
      this.ot.local(rebased); // a new local edit: gets a fresh seq
      this.change(rebased, 'remote');
    }
    this.applyRemote(this.ot.drain()); // ops that arrived meanwhile, transformed against the rebased edit
    this.rebaseDone();
  }

  rebaseDone() {
    const { attempt, ack } = this.rebase;
    this.rebase = null;
    this.catchingUp = false;
    if (attempt !== this.joinAttempt || !this.connected) return;
    this.joinDone(ack);
  }

  // ---- ops ----------------------------------------------------------------

  onLocal(op) {
    op = type.normalize(op);
    if (op.length === 0) return;
    this.ot.local(op);
    this.change(op, 'local');
    this.schedulePersist();
    this.flush();
    this.schedulePresence();
  }

  onRemoteOp(m) {
    // Ops may arrive between doc:join and its ack: the OT client queues them
    // by version until the join's catch-up (or content) is integrated.
    if (!(this.joined || this.joining || this.catchingUp)) return;
    this.applyRemote(this.ot.remote(m.version, m.op, m.client));
    this.checkGap();
    this.flush();
  }

  flush() {
    if (!this.joined || this.deleted) return;
    const m = this.ot.take();
    if (!m) return;
    this.schedulePersist();
    const payload = { doc: this.doc, version: m.version, op: m.op, client: this.ot.client, seq: m.seq };
    this.emit({ type: 'emit', event: 'doc:op', payload, ack: { kind: 'op', seq: m.seq }, timeout: OP_TIMEOUT });
  }

  onOpAck({ seq, err, ack }) {
    if (err) {
      if (this.connected) this.resync('op ack timed out');
      return;
    }
    if (!ack?.ok) return this.opFailed(seq, ack?.error ?? { code: 'internal', message: 'bad ack' });
    this.applyRemote(this.ot.ack(seq, ack.version));
    this.checkGap();
    this.schedulePersist();
    this.flush();
    if (!this.ot.hasPending() && this.presenceDirty) this.sendPresence(true);
  }

  opFailed(seq, e) {
    if (this.ot.inflight?.seq !== seq) return;
    if (e.code === 'rate_limited') {
      this.ot.unsend();
      this.emit({ type: 'timer', name: 'flush', ms: 1000 });
      return;
    }
    if (e.code === 'unauthorized') {
      // The token lapsed (auth:expired follows or came first): keep the edit
      // and resend it after auth:refresh.
      this.ot.unsend();
      return;
    }
    if (e.code === 'not_joined' || e.code === 'version_ahead') return this.resync(e.code);
    if (e.code === 'forbidden' && (/client id/i.test(e.message ?? '') || this.forbiddenSeq !== seq)) {
      // Either our client id is still bound to our previous (dead) connection
      // on the server, or a first refusal: reconnect and resend once more.
      this.forbiddenSeq = seq;
      this.ot.unsend();
      this.emit({ type: 'timer', name: 'resync', ms: 1000 });
      return;
    }
    if (e.code === 'forbidden') {
      // Refused again: we are a viewer. Reload the server's text and stop editing.
      this.readOnly = true;
      this.setEditable(false);
      this.ot.reset(this.ot.version);
      this.knowVersion = false;
      this.clearStorage();
      this.emit({ type: 'notice', code: 'read_only', message: 'You can view this document but not edit it.' });
      return this.resync(e.code);
    }
    // The op can never succeed (invalid_op, too_large, …): drop our pending
    // edits and reload the server's text.
    this.emit({ type: 'log', level: 'error', message: 'op rejected', detail: e });
    this.emit({ type: 'notice', code: 'op_rejected', message: `Your last edit was rejected: ${e.message} (${e.code}). Reloaded the server's version.`, error: e });
    this.ot.reset(this.ot.version);
    this.knowVersion = false;
    this.setEditable(false);
    this.resync(e.code);
  }

  // Events wait in the OT client's queue until the versions before them
  // arrive; if a gap does not fill quickly, something was lost: rejoin.
  checkGap() {
    const gap = this.ot.gap();
    if (gap === 0) this.disarm('gap');
    else if (gap > GAP_LIMIT) this.resync('too many ops queued behind a missing version');
    else this.arm('gap', GAP_TIMEOUT);
  }

  onTimer(name) {
    this.armed.delete(name);
    switch (name) {
      case 'persist': return this.persistNow();
      case 'presence': return this.sendPresence(false);
      case 'gap': if (this.ot.gap() > 0) this.resync('a version never arrived'); return;
      case 'flush': return this.flush();
      case 'resync': return this.resync('forbidden, retrying');
      case 'reconnect': if (!this.deleted) this.emit({ type: 'reconnect', why: 'the server closed the session' }); return;
      default: throw new Error(`DocController: unknown timer ${name}`);
    }
  }

  // ---- token lapse and refresh (auth:expired, auth:refresh) -----------------

  /** The server says our token expired or was revoked: read-only, out of the room, edits kept. */
  onAuthExpired({ reason, message }) {
    this.authLapsed = reason === 'revoked' ? 'revoked' : 'expired';
    this.joined = false;
    this.joining = false;
    this.ot.disconnected();
    this.disarm('gap');
    this.setEditable(false);
    this.conn = this.authLapsed;
    this.peers.clear();
    this.emit({ type: 'presence' });
    this.emit({ type: 'notice', code: 'auth_expired', reason: this.authLapsed, message: message || 'Your access expired.' });
  }

  /** auth:refresh succeeded: editable again; rejoin (catch-up, then the pending edit is resent). */
  onAuthRefreshed({ rejoin }) {
    const lapsed = this.authLapsed;
    this.authLapsed = null;
    this.readOnly = false; // the new role decides (a viewer is told again at its first edit)
    if (this.deleted || !this.connected) return;
    if (rejoin || lapsed || !this.joined) {
      this.joined = false;
      this.conn = 'joining';
      this.join();
      return;
    }
    this.setEditable(true);
    this.flush();
  }

  onDeleted() {
    this.deleted = true;
    this.joined = false;
    this.clearStorage();
    this.setEditable(false);
    this.disarm('gap');
    this.disarm('presence');
    this.emit({ type: 'notice', code: 'deleted', message: 'This document was deleted. Your editor is read-only.' });
    this.emit({ type: 'close' });
    this.conn = 'offline';
  }

  // ---- presence -------------------------------------------------------------

  onSelect(selection) {
    const max = this.limits.maxSelectionRanges;
    const len = this.length;
    const clamp = (x) => Math.max(0, Math.min(len, Number.isInteger(x) ? x : 0));
    let ranges = (Array.isArray(selection) ? selection : []).map((r) => ({ anchor: clamp(r?.anchor), head: clamp(r?.head) }));
    if (max > 0 && ranges.length > max) ranges = ranges.slice(0, max);
    this.selection = ranges;
    this.schedulePresence();
  }

  schedulePresence() {
    this.presenceDirty = true;
    this.arm('presence', PRESENCE_DELAY);
  }

  sendPresence(force) {
    if (!this.joined || (!this.presenceDirty && !force)) return;
    // Our selection is in local coordinates; they equal the server's at
    // ot.version only when nothing is pending, so wait for the ack otherwise.
    if (this.ot.hasPending()) {
      this.presenceDirty = true;
      return;
    }
    this.presenceDirty = false;
    this.emit({ type: 'emit', event: 'doc:presence', payload: { doc: this.doc, version: this.ot.version, selection: this.selection } });
  }

  onPresence(m) {
    this.peers.update(m, this.ot.version);
    this.emit({ type: 'presence' });
  }
}
