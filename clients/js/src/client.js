// The driver around DocController: one Socket.IO connection per Client, one
// live Doc per open document. It carries out the controller's effects (emits,
// timers, REST fetches, persistence, reconnects) and turns the rest into
// events for the application: 'change', 'presence', 'status', 'notice', 'meta',
// 'joined'.

import { io as defaultIo } from 'socket.io-client';
import { type } from 'ot-text-unicode';
import { DocController } from './controller.js';
import { request } from './rest.js';
import { Emitter } from './emitter.js';
import { Watcher } from './watch.js';
import { cpLength } from './offsets.js';
import { DEFAULT_LIMITS, editTooLarge, utf8Length } from './limits.js';

/** A random id (for OT clients and new documents), URL-safe. */
export function randomId(n = 12) {
  const alphabet = 'abcdefghijkmnopqrstuvwxyz23456789';
  const bytes = new Uint8Array(n);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}

/**
 * Connects to a Cowrite server.
 * @param {string} [url] the server's base URL ('' or undefined: the page's origin)
 * @param {import('../index.js').ConnectOptions} [options]
 */
export function connect(url, options) {
  return new Client(url, options);
}

export class Client {
  constructor(url = '', { token = '', name, color, fetch, io = defaultIo, socket = {}, limits = {}, watchOnline = true } = {}) {
    this.url = (url ?? '').replace(/\/+$/, '');
    this.token = token;
    this.name = name;
    this.color = color;
    this.limits = limits;
    this.fetch = fetch ?? ((...a) => globalThis.fetch(...a));
    /** @type {Map<string, Doc>} */
    this.docs = new Map();
    const opts = { auth: this.auth(), reconnectionDelayMax: 3000, ...socket };
    this.socket = this.url ? io(this.url, opts) : io(opts);
    const s = this.socket;
    s.on('connect', () => this.each({ type: 'connect' }));
    s.on('disconnect', (reason) => this.each({ type: 'disconnect', reason }));
    s.on('connect_error', (err) => {
      // Not retried: the token is missing or invalid.
      if (err?.message === 'unauthorized') s.disconnect();
      this.each({ type: 'connect_error', message: err?.message, online: globalThis.navigator?.onLine, hadToken: !!this.token });
    });
    s.on('auth:expired', (msg) => this.each({ type: 'auth_expired', reason: msg?.reason, message: msg?.message }));
    /** @type {Set<import('./watch.js').Watcher>} */
    this.watchers = new Set();
    for (const event of ['doc:op', 'doc:presence', 'doc:deleted', 'doc:meta']) {
      s.on(event, (msg) => {
        const doc = typeof msg?.doc === 'string' ? this.docs.get(msg.doc) : undefined;
        doc?.handle({ type: event, msg });
        for (const w of this.watchers) w.handle(event, msg);
      });
    }
    this.unwatch = () => {};
    if (watchOnline && typeof window !== 'undefined' && window.addEventListener) {
      const offline = () => this.each({ type: 'offline' });
      const online = () => {
        if (!s.connected) s.connect();
      };
      window.addEventListener('offline', offline);
      window.addEventListener('online', online);
      this.unwatch = () => {
        window.removeEventListener('offline', offline);
        window.removeEventListener('online', online);
      };
    }
  }

  /** The Socket.IO auth payload (SPEC.md §3). */
  auth() {
    return { name: this.name, color: this.color, ...(this.token ? { token: this.token } : {}) };
  }

  each(ev) {
    for (const d of [...this.docs.values()]) d.handle(ev);
  }

  /** Changes the name and colour shown to collaborators (reconnects). */
  setIdentity({ name = this.name, color = this.color } = {}) {
    this.name = name;
    this.color = color;
    this.socket.auth = this.auth();
    if (this.socket.connected) this.reconnect('identity changed');
  }

  /** Changes the access token (reconnects). */
  setToken(token) {
    this.token = token || '';
    this.socket.auth = this.auth();
    this.reconnect('token changed');
  }

  /**
   * Presents a fresh token on the live connection (auth:refresh): the
   * documents regain their role without reconnecting and resend their
   * pending edits. A token the server will not swap in (another user, e.g.
   * another share link) is used by reconnecting instead. Resolves to the
   * server's ack ({ok, role, expires_at, rejoin} or {ok: false, error}).
   * @param {string} token
   * @param {{doc?: string, timeout?: number}} [o]
   */
  refreshToken(token, { doc, timeout = 10000 } = {}) {
    return new Promise((resolve) => {
      const done = (ack) => {
        if (ack?.ok) {
          this.token = token;
          this.socket.auth = this.auth();
          this.each({ type: 'auth_refreshed', rejoin: !!ack.rejoin });
        } else if (ack?.error?.code === 'forbidden' || !this.socket.connected) {
          this.setToken(token);
        }
        resolve(ack ?? { ok: false, error: { code: 'internal', message: 'no answer' } });
      };
      if (!this.socket.connected) return done(null);
      this.socket.timeout(timeout).emit('auth:refresh', { token, ...(doc ? { doc } : {}) }, (err, ack) =>
        done(err ? { ok: false, error: { code: 'internal', message: 'auth:refresh timed out' } } : ack));
    });
  }

  /** Drops the connection and connects again: every open document rejoins. */
  reconnect() {
    if (this.socket.connected) this.socket.disconnect();
    this.socket.connect();
  }

  /** GET/POST/… a REST path of this server with the client's token. */
  rest(method, path, body) {
    return request(method, this.url + path, body, { token: this.token, fetch: this.fetch });
  }

  /**
   * Opens a live document (joins it as soon as the socket is connected).
   * @param {string} id
   * @param {import('../index.js').OpenOptions} [o]
   * @returns {Promise<Doc>}
   */
  async openDoc(id, { persistence = null, clientId, limits } = {}) {
    if (typeof id !== 'string' || id === '') throw new TypeError('openDoc: a document id is required');
    if (this.docs.has(id)) throw new Error(`openDoc: ${id} is already open`);
    const saved = persistence ? await persistence.load(id) : null;
    const ctrl = new DocController({
      doc: id,
      client: clientId ?? randomId(16),
      saved,
      now: Date.now,
      random: Math.random,
      limits: { ...DEFAULT_LIMITS, ...this.limits, ...limits },
    });
    const doc = new Doc(this, id, ctrl, persistence);
    this.docs.set(id, doc);
    if (this.socket.connected) doc.handle({ type: 'connect' });
    return doc;
  }

  /**
   * Watches documents' titles, edits and deletions without opening them
   * (e.g. a document list): see watch.js.
   * @param {ConstructorParameters<typeof Watcher>[1]} [handlers]
   */
  watch(handlers) {
    return new Watcher(this, handlers);
  }

  /** Closes every document and the connection. */
  close() {
    for (const d of [...this.docs.values()]) d.close();
    this.unwatch();
    this.socket.disconnect();
  }

  detach(doc) {
    if (this.docs.get(doc.id) === doc) this.docs.delete(doc.id);
  }
}

export class Doc extends Emitter {
  constructor(client, id, ctrl, persistence) {
    super();
    this.client = client;
    this.id = id;
    this.ctrl = ctrl;
    this.persistence = persistence;
    this.timers = new Map();
    this.closed = false;
  }

  /** The current text (local edits included). */
  get text() {
    return this.ctrl.text;
  }
  /** The last server version integrated. */
  get version() {
    return this.ctrl.ot.version;
  }
  /** This document's OT client id (stable across reconnects and reloads with persistence). */
  get clientId() {
    return this.ctrl.ot.client;
  }
  /** {conn, save, storedLocally, editable, readOnly, deleted} */
  get status() {
    return this.ctrl.status;
  }
  /** True while some local edit is not acknowledged by the server. */
  get pending() {
    return this.ctrl.ot.hasPending();
  }
  /** True when the server acknowledged every local edit. */
  get saved() {
    return this.ctrl.status.save === 'saved';
  }

  /** Collaborators: [{client, name, color, ranges}] with ranges in code points of `text`. */
  presence() {
    return this.ctrl.presence();
  }

  /** Inserts `text` at code point `pos`. */
  insert(pos, text) {
    if (typeof text !== 'string' || text === '') return;
    this.applyOp(pos > 0 ? [pos, text] : [text]);
  }

  /** Deletes `n` code points at `pos`. */
  delete(pos, n) {
    if (!(n > 0)) return;
    this.applyOp(pos > 0 ? [pos, { d: n }] : [{ d: n }]);
  }

  /**
   * Applies a local op (ot-text-unicode format, code points of `text`).
   * Throws while the document is not editable: before the first join (await
   * synced()), when read-only, deleted or closed.
   */
  applyOp(op) {
    if (this.closed) throw new Error('the document is closed');
    if (!this.status.editable) throw new Error('the document is not editable now (before its first join, read-only or deleted)');
    this.check(op);
    const inserts = op.filter((c) => typeof c === 'string');
    // An upper bound of the new length; the exact size is computed only if it could be over.
    const bound = this.ctrl.text.length + inserts.reduce((n, s) => n + s.length, 0);
    const why = this.refusal(inserts, bound, () => utf8Length(type.apply(this.ctrl.text, op)));
    if (why) throw new RangeError(why);
    this.handle({ type: 'local', op });
  }

  /** applyOp without the editable and size checks: the bound editor reports what it already shows. */
  local(op) {
    this.check(op);
    this.handle({ type: 'local', op });
  }

  /** Throws unless op is a valid op on the current text. */
  check(op) {
    type.checkOp(op);
    let reach = 0;
    for (const c of op) {
      if (typeof c === 'number') reach += c;
      else if (typeof c === 'object') reach += typeof c.d === 'number' ? c.d : cpLength(c.d);
    }
    if (reach > this.ctrl.length) throw new RangeError('the op goes past the end of the document');
  }

  /** The limits this document respects (the server's, see fetchLimits). */
  get limits() {
    return this.ctrl.limits;
  }

  /**
   * Why an edit inserting `inserts`, leaving a text of `length16` UTF-16
   * units (UTF-8 size from `bytes()`), would be refused by the server; or null.
   */
  refusal(inserts, length16, bytes) {
    return editTooLarge(this.ctrl.limits, inserts, length16, bytes);
  }

  /** Tells listeners that an edit was refused before it was sent. */
  refused(message) {
    this.emit('notice', { code: 'too_large', message });
  }

  /** Sets our selection ([{anchor, head}] in code points), sent to collaborators (throttled). */
  setSelection(ranges) {
    if (!this.closed) this.handle({ type: 'select', selection: ranges });
  }

  /** Saves the local state now (e.g. on pagehide). */
  persist() {
    if (!this.closed) this.handle({ type: 'persist' });
  }

  /** Resolves once the server has acknowledged every local edit while connected. */
  synced() {
    return new Promise((resolve) => {
      const check = () => {
        const s = this.status;
        if (s.conn === 'connected' && s.save === 'saved') {
          this.off('status', check);
          resolve();
        }
      };
      this.on('status', check);
      check();
    });
  }

  /** Leaves the document (keeping the local state) and stops. */
  close() {
    if (this.closed) return;
    this.persist();
    if (this.client.socket.connected) this.client.socket.emit('doc:leave', { doc: this.id }, () => {});
    this.stop();
  }

  stop() {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.client.detach(this);
  }

  /** Feeds one event to the controller and carries out its effects. */
  handle(ev) {
    if (this.closed) return;
    for (const e of this.ctrl.handle(ev)) this.run(e);
  }

  run(e) {
    if (this.closed && e.type !== 'notice' && e.type !== 'status') return;
    const socket = this.client.socket;
    switch (e.type) {
      case 'emit':
        if (e.ack) {
          socket.timeout(e.timeout).emit(e.event, e.payload, (err, ack) => this.handle({ type: 'ack', ...e.ack, err, ack }));
        } else {
          socket.emit(e.event, e.payload, () => {});
        }
        return;
      case 'timer':
        clearTimeout(this.timers.get(e.name));
        this.timers.set(
          e.name,
          setTimeout(() => {
            this.timers.delete(e.name);
            this.handle({ type: 'timer', name: e.name });
          }, e.ms),
        );
        return;
      case 'cancel':
        clearTimeout(this.timers.get(e.name));
        this.timers.delete(e.name);
        return;
      case 'fetch':
        this.client.rest('GET', e.path).then(
          (data) => this.handle({ type: 'fetched', tag: e.tag, data }),
          (error) => this.handle({ type: 'fetched', tag: e.tag, error }),
        );
        return;
      case 'save': {
        let ok;
        try {
          ok = this.persistence ? this.persistence.save(this.id, e.state) : true;
        } catch {
          ok = false;
        }
        if (ok && typeof ok.then === 'function') ok.then((v) => this.handle({ type: 'saved', ok: v !== false }), () => this.handle({ type: 'saved', ok: false }));
        else this.handle({ type: 'saved', ok: ok !== false });
        return;
      }
      case 'clear':
        try {
          this.persistence?.clear(this.id);
        } catch {
          /* nothing kept to clear */
        }
        return;
      case 'reconnect':
        this.client.reconnect(e.why);
        return;
      case 'close': {
        this.stop();
        // The editor's one document is gone: stop the connection too.
        if (this.client.docs.size === 0) socket.disconnect();
        return;
      }
      case 'change':
        this.emit('change', { op: e.op, origin: e.origin });
        return;
      case 'presence':
        this.emit('presence', this.presence());
        return;
      case 'status':
        this.emit('status', this.status);
        return;
      case 'notice':
        this.emit('notice', { code: e.code, message: e.message, text: e.text, error: e.error, reason: e.reason });
        return;
      case 'joined':
        this.emit('joined');
        return;
      case 'meta':
        this.emit('meta', e.meta);
        return;
      case 'log':
        (console[e.level] ?? console.log)(`cowrite: ${e.message}`, ...(e.detail === undefined ? [] : [e.detail]));
        return;
      default:
        throw new Error(`unknown effect ${e.type}`);
    }
  }
}
