// Shared helpers of the collab end-to-end tests: spawn the cowrite binary on
// a free loopback port with a fresh data directory, call its REST API, and
// drive Socket.IO clients that keep a correct client-side OT state machine
// (one op in flight, later local ops buffered and composed, incoming ops
// transformed against both; own ops are "left", incoming ops "right").
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { type as text } from 'ot-text-unicode';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const binPath = process.env.COWRITE_BIN || path.join(repoRoot, 'bin', 'cowrite');

export { text };

/** Builds bin/cowrite when it is missing (CI builds it before the e2e run). */
export function ensureBinary() {
  if (!existsSync(binPath)) {
    execFileSync('go', ['build', '-o', binPath, '.'], { cwd: repoRoot, stdio: 'inherit' });
  }
}

/** Returns a free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A running cowrite process. start() spawns it and waits for /readyz;
 * kill(signal) stops it and resolves with its exit code/signal.
 */
export class Server {
  constructor({ dataDir, port, args = [] } = {}) {
    this.dataDir = dataDir ?? mkdtempSync(path.join(tmpdir(), 'cowrite-e2e-'));
    this.ownsData = !dataDir;
    this.port = port;
    this.args = args;
    this.output = '';
  }

  get url() { return `http://127.0.0.1:${this.port}`; }

  async start() {
    ensureBinary();
    if (!this.port) this.port = await freePort();
    this.proc = spawn(binPath, ['--addr', `127.0.0.1:${this.port}`, '--data', this.dataDir, ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (d) => { this.output += d.toString(); };
    this.proc.stdout.on('data', collect);
    this.proc.stderr.on('data', collect);
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
    const deadline = Date.now() + 15000;
    for (;;) {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        throw new Error(`cowrite exited during start:\n${this.output}`);
      }
      try {
        const res = await fetch(`${this.url}/readyz`);
        if (res.ok) return this;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) throw new Error(`cowrite did not become ready:\n${this.output}`);
      await sleep(50);
    }
  }

  async kill(signal = 'SIGTERM') {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return this.exited;
    this.proc.kill(signal);
    return this.exited;
  }

  cleanup() {
    if (this.ownsData) rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** fetch against the server; JSON bodies are encoded; returns {status, headers, body}. */
  async req(method, p, { json, body, headers = {} } = {}) {
    const init = { method, headers: { ...headers } };
    if (json !== undefined) {
      init.body = JSON.stringify(json);
      init.headers['content-type'] = 'application/json';
    } else if (body !== undefined) {
      init.body = body;
    }
    const res = await fetch(this.url + p, init);
    const raw = await res.text();
    let parsed = raw;
    if ((res.headers.get('content-type') || '').includes('application/json') && raw !== '') {
      parsed = JSON.parse(raw);
    }
    return { status: res.status, headers: res.headers, body: parsed };
  }

  /** All ops of doc from version 0, following pagination. */
  async allOps(doc) {
    const ops = [];
    for (;;) {
      const r = await this.req('GET', `/api/docs/${doc}/ops?from=${ops.length}&limit=1000`);
      if (r.status !== 200) throw new Error(`GET ops: ${r.status} ${JSON.stringify(r.body)}`);
      if (r.body.ops.length === 0) return ops;
      ops.push(...r.body.ops);
    }
  }
}

/** Connects a bare socket and resolves once connected. */
export function connect(url, opts = {}) {
  const socket = io(url, { forceNew: true, reconnection: false, ...opts });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => { socket.close(); reject(err); });
  });
}

/** Emits an event with an ack and resolves with the ack value. */
export function call(socket, event, payload, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    socket.timeout(timeoutMs).emit(event, payload, (err, ack) => (err ? reject(err) : resolve(ack)));
  });
}

/** Resolves with the next `event` on socket (filtered by pred), or rejects after timeoutMs. */
export function next(socket, event, pred = () => true, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { socket.off(event, on); reject(new Error(`timeout waiting for ${event}`)); }, timeoutMs);
    function on(payload) {
      if (!pred(payload)) return;
      clearTimeout(t);
      socket.off(event, on);
      resolve(payload);
    }
    socket.on(event, on);
  });
}

const ALPHABET = ['a', 'b', 'c', 'x', ' ', '\n', 'é', '中', '😀', '👍🏽', '🇫🇷', 'e\u0301'];

/** Code-point length. */
export const cpLen = (s) => [...s].length;

/** A random valid op against text s (insert or delete at a random position). */
export function randomOp(s, rand = Math.random) {
  const n = cpLen(s);
  const pos = Math.floor(rand() * (n + 1));
  const op = pos > 0 ? [pos] : [];
  if (n > pos && rand() < 0.4) {
    op.push({ d: 1 + Math.floor(rand() * Math.min(5, n - pos)) });
  } else {
    let ins = '';
    const k = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < k; i++) ins += ALPHABET[Math.floor(rand() * ALPHABET.length)];
    op.push(ins);
  }
  return op;
}

let clientCounter = 0;

/**
 * An editing client: one Socket.IO connection (reconnecting on drops) joined
 * to one document, with ShareDB's client-side OT state machine.
 *
 * Records, for the checks after a run:
 *  - acked: Map seq → {version, op}  (op as sent by the client)
 *  - per connection (socket id): versions acked on it and versions of
 *    doc:op broadcasts received on it (their intersection must be empty);
 *  - errors: anything unexpected (error acks, out-of-order versions).
 */
export class EditClient {
  constructor(url, doc, { transports, name } = {}) {
    this.url = url;
    this.doc = doc;
    this.client = `c${process.pid}-${++clientCounter}-${Math.random().toString(36).slice(2, 8)}`;
    this.name = name ?? this.client;
    this.transports = transports;
    this.version = 0;
    this.text = '';
    this.inflight = null; // {op, seq}
    this.buffer = null; // op
    this.seq = 0;
    this.joined = false;
    this.pendingOps = new Map(); // version → {op, client}
    this.pendingAck = null; // {seq, version} of the inflight op, waiting for earlier ops
    this.acked = new Map();
    this.conns = new Map(); // socket id → {acked:Set, received:Set}
    this.errors = [];
    this.joins = 0;
    this.waiters = [];
    this.resends = 0; // inflight ops sent again (same seq) after a reconnect
    this.duplicateAcks = 0; // acks of a seq that was already acked
  }

  start() {
    const opts = {
      forceNew: true,
      reconnectionDelay: 20,
      reconnectionDelayMax: 100,
      randomizationFactor: 0,
      auth: { name: this.name, color: '#336699' },
    };
    if (this.transports) opts.transports = this.transports;
    this.socket = io(this.url, opts);
    this.socket.on('connect', () => this.rejoin());
    this.log = [];
    this.socket.on('disconnect', (reason) => { this.joined = false; this.log.push(`${Date.now() % 100000} disconnect ${reason}`); });
    this.socket.io.on('reconnect_attempt', (n) => this.log.push(`${Date.now() % 100000} reconnect_attempt ${n}`));
    this.socket.io.on('reconnect_error', (e) => this.log.push(`${Date.now() % 100000} reconnect_error ${e.message}`));
    this.socket.on('connect', () => this.log.push(`${Date.now() % 100000} connect ${this.socket.id}`));
    this.socket.on('doc:op', (ev) => this.onRemoteOp(ev));
    this.socket.on('connect_error', () => {});
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.client}: no initial join`)), 10000);
      this.waiters.push({ pred: () => this.joins > 0, resolve: () => { clearTimeout(t); resolve(this); } });
    });
  }

  conn() {
    const id = this.socket.id;
    if (!this.conns.has(id)) this.conns.set(id, { acked: new Set(), received: new Set() });
    return this.conns.get(id);
  }

  rejoin() {
    const socket = this.socket;
    const payload = { doc: this.doc };
    if (this.joins > 0) payload.version = this.version;
    socket.timeout(10000).emit('doc:join', payload, (err, ack) => {
      if (err) return; // connection dropped meanwhile; the next connect rejoins
      if (socket.id === undefined || !socket.connected) return;
      if (!ack || !ack.ok) { this.errors.push(`join failed: ${JSON.stringify(ack)}`); return; }
      if (this.joins === 0 && ack.content !== undefined) {
        this.text = ack.content;
        this.version = ack.version;
        // Ops broadcast while the join was processed may arrive before its
        // ack: those up to the ack's version are in the content already.
        for (const v of this.pendingOps.keys()) if (v <= this.version) this.pendingOps.delete(v);
        this.drain();
      } else if (ack.ops) {
        for (const o of ack.ops) {
          if (o.version > this.version) this.pendingOps.set(o.version, { op: o.op, client: o.client, catchup: true });
        }
        this.drain();
      } else {
        this.errors.push(`rejoin at ${this.version} returned content, not ops`);
        return;
      }
      this.joins++;
      this.joined = true;
      this.conn();
      this.flush(true);
      this.notify();
    });
  }

  onRemoteOp(ev) {
    if (ev.doc !== this.doc) { this.errors.push(`doc:op for another doc ${ev.doc}`); return; }
    this.conn().received.add(ev.version);
    if (ev.version <= this.version) return; // already had it (catch-up overlap)
    this.pendingOps.set(ev.version, { op: ev.op, client: ev.client });
    this.drain();
  }

  // drain applies, in version order, every buffered remote op and the ack
  // of the inflight op, as far as versions are contiguous.
  drain() {
    for (;;) {
      const v = this.version + 1;
      if (this.pendingAck && this.pendingAck.version === v) {
        this.ackInflight(v);
        continue;
      }
      const p = this.pendingOps.get(v);
      if (!p) break;
      this.pendingOps.delete(v);
      if (p.client === this.client) {
        // Our inflight op, committed by an earlier connection whose ack was lost.
        if (!this.inflight) { this.errors.push(`own op v${v} with nothing in flight`); }
        else this.ackInflight(v);
        continue;
      }
      let op = p.op;
      if (this.inflight) {
        const i2 = text.transform(this.inflight.op, op, 'left');
        op = text.transform(op, this.inflight.op, 'right');
        this.inflight.op = i2;
      }
      if (this.buffer) {
        const b2 = text.transform(this.buffer, op, 'left');
        op = text.transform(op, this.buffer, 'right');
        this.buffer = b2;
      }
      this.text = text.apply(this.text, op);
      this.version = v;
    }
    this.notify();
  }

  ackInflight(v) {
    this.acked.set(this.inflight.seq, { version: v, op: this.inflight.sent, base: this.inflight.base });
    this.pendingAck = null;
    this.inflight = null;
    this.version = v;
    this.flush(false);
  }

  /** Applies a local edit and sends or buffers it. */
  edit(op) {
    this.text = text.apply(this.text, op);
    this.buffer = this.buffer ? text.compose(this.buffer, op) : op;
    this.flush(false);
  }

  randomEdit(rand) { this.edit(randomOp(this.text, rand)); }

  // flush sends the inflight op again (after a rejoin) or the buffer.
  flush(resend) {
    if (!this.joined) return;
    if (this.inflight) {
      if (resend) { this.resends++; this.send(); }
      return;
    }
    if (!this.buffer) return;
    this.inflight = { op: this.buffer, seq: ++this.seq };
    this.buffer = null;
    this.send();
  }

  send() {
    const socket = this.socket;
    const { seq, op } = this.inflight;
    this.inflight.sent = op;
    const conn = this.conn();
    const base = this.version;
    const inflight = this.inflight;
    inflight.base = base;
    (inflight.sentOn ??= new Set()).add(socket.id);
    socket.timeout(10000).emit('doc:op', { doc: this.doc, version: base, op, client: this.client, seq }, (err, ack) => {
      if (err) return; // dropped; resent after the rejoin
      if (!ack || !ack.ok) {
        if (ack && ack.error && ack.error.code === 'not_joined') return; // raced a reconnect
        if (ack && ack.error && ack.error.code === 'forbidden') {
          // The client id is still bound to our previous connection until the
          // server has processed its disconnect: retry shortly.
          setTimeout(() => {
            if (this.joined && this.inflight && this.inflight.seq === seq && this.socket === socket) this.send();
          }, 30);
          return;
        }
        this.errors.push(`op seq ${seq} failed: ${JSON.stringify(ack)}`);
        return;
      }
      // Only when every send of this op went through this connection is
      // it certain that the commit came from it (a resend of an op that an
      // earlier connection had committed is acked as a duplicate, and the
      // original broadcast legitimately reaches the new connection).
      if (inflight.sentOn.size === 1) conn.acked.add(ack.version);
      const prev = this.acked.get(seq);
      if (prev) {
        this.duplicateAcks++;
        if (prev.version !== ack.version) this.errors.push(`seq ${seq} acked as v${prev.version} and v${ack.version}`);
        return;
      }
      if (!this.inflight || this.inflight.seq !== seq) {
        this.errors.push(`ack for seq ${seq} that is not in flight`);
        return;
      }
      this.pendingAck = { seq, version: ack.version };
      this.drain();
    });
  }

  idle() { return this.joined && !this.inflight && !this.buffer && this.pendingOps.size === 0; }

  notify() {
    this.waiters = this.waiters.filter((w) => { if (w.pred()) { w.resolve(); return false; } return true; });
  }

  /** Resolves when pred() holds (checked after every state change). */
  waitFor(pred, timeoutMs = 20000, what = 'condition') {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.client}: timeout waiting for ${what} (v${this.version}, inflight ${!!this.inflight}, buffer ${!!this.buffer}, joined ${this.joined}, errors ${this.errors.join('; ')})`)), timeoutMs);
      this.waiters.push({ pred, resolve: () => { clearTimeout(t); resolve(); } });
    });
  }

  /** Drops the connection the way a network failure would; the client reconnects. */
  dropTransport() {
    // Only while connected: closing an engine that the manager is still
    // opening leaves socket.io-client waiting for its connect timeout (20s).
    if (!this.socket.connected) return;
    this.log.push(`${Date.now() % 100000} drop ${this.socket.io.engine?.transport?.name}`);
    this.socket.io.engine.close();
  }

  close() { this.socket.close(); }
}
