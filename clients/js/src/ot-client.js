// The client side of Cowrite's OT protocol (SPEC.md §1–3), as a pure state
// machine: no sockets, no editor, no timers, so it can be tested in memory.
//
// Model (as in ShareDB / ot.js):
//   - `version` is the last server version this client has integrated; the
//     editor text is server(version) ∘ inflight ∘ buffer.
//   - At most one op is in flight (sent, not yet acked). Later local edits are
//     composed into `buffer`, which is sent when the in-flight op is acked.
//   - Incoming ops are transformed against inflight and buffer: our pending
//     ops win ties as "left", the incoming op is transformed as "right".
//   - Each op sent gets the next `seq` (1, 2, …) for this `client`; after a
//     reconnect the in-flight op is resent with the same seq, so the server's
//     (client, seq) dedupe guarantees it is applied at most once.
//   - Server events are integrated strictly in version order: an ack or an op
//     that arrives ahead of a missing version is queued until the gap fills.
//
// Usage: call local(op) for editor edits; call take() to get the next op to
// send (or null); feed ack(seq, version) and remote(version, op, client) from
// the server; both return the ops (already transformed) to apply to the
// editor. Call disconnected() when the socket drops, then after doc:join
// feed the catch-up ops with remote() and call take() to resend.

import { type } from 'ot-text-unicode';

export class OTClient {
  /**
   * @param {object} o
   * @param {string} o.client   stable client id (same across reconnects)
   * @param {number} [o.version] last integrated server version
   * @param {number} [o.seq]     last seq used
   * @param {{op:any[],seq:number}|null} [o.inflight]
   * @param {any[]|null} [o.buffer]
   * @param {(version:number, op:any[], client:string)=>void} [o.onCommit]
   *   called for every integrated server version with the op as the server
   *   committed it (server coordinates) — ours included — e.g. to move
   *   collaborators' cursors.
   */
  constructor({ client, version = 0, seq = 0, inflight = null, buffer = null, onCommit = null }) {
    if (!client) throw new Error('OTClient: client id required');
    this.client = client;
    this.version = version;
    this.seq = seq;
    /** @type {{op:any[], seq:number, sent:boolean}|null} */
    this.inflight = inflight ? { op: inflight.op, seq: inflight.seq, sent: false } : null;
    /** @type {any[]|null} */
    this.buffer = buffer && buffer.length ? buffer : null;
    /** version → {op, client} | {ack: seq}; events not yet integrable */
    this.queue = new Map();
    this.onCommit = onCommit;
  }

  /** True while some local edit is not acked by the server. */
  hasPending() {
    return this.inflight !== null || this.buffer !== null;
  }

  /** Records a local edit (an op on the editor's current text). */
  local(op) {
    op = type.normalize(op);
    if (op.length === 0) return;
    this.buffer = this.buffer ? type.compose(this.buffer, op) : op;
    if (this.buffer.length === 0) this.buffer = null;
  }

  /**
   * Returns the op to send now — {version, op, seq} — or null when nothing is
   * to be sent (nothing pending, or an op is already in flight and was sent).
   * An in-flight op that was not sent on the current connection is returned
   * again with its original seq.
   */
  take() {
    if (this.inflight) {
      if (this.inflight.sent) return null;
      this.inflight.sent = true;
      return { version: this.version, op: this.inflight.op, seq: this.inflight.seq };
    }
    if (!this.buffer) return null;
    this.inflight = { op: this.buffer, seq: ++this.seq, sent: true };
    this.buffer = null;
    return { version: this.version, op: this.inflight.op, seq: this.inflight.seq };
  }

  /**
   * The server acked our op `seq` as committed at `version`. Returns the
   * remote ops (transformed) that became applicable, in order.
   */
  ack(seq, version) {
    if (!this.inflight || this.inflight.seq !== seq) return [];
    return this._receive(version, { ack: seq });
  }

  /**
   * A committed op from the server (broadcast or catch-up). An op carrying our
   * own client id is the commit of our in-flight op (its ack was lost, e.g. on
   * a disconnect) and is treated as its ack. Returns the ops to apply to the
   * editor, already transformed against our pending edits.
   */
  remote(version, op, client) {
    if (client === this.client && this.inflight) {
      return this._receive(version, { ack: this.inflight.seq });
    }
    return this._receive(version, { op, client });
  }

  /** The connection dropped: the in-flight op must be resent after rejoin. */
  disconnected() {
    if (this.inflight) this.inflight.sent = false;
    this.queue.clear();
  }

  /** The in-flight op was refused for now (e.g. rate limited): take() returns it again. */
  unsend() {
    if (this.inflight) this.inflight.sent = false;
  }

  /** Versions queued because an earlier version is missing (0 = no gap). */
  gap() {
    return this.queue.size;
  }

  /**
   * Drops the pending edits and starts again at `version` (e.g. after the
   * server sent full content). Queued server ops above `version` are kept;
   * call drain() after updating the editor to apply them.
   */
  reset(version) {
    this.version = version;
    this.inflight = null;
    this.buffer = null;
    for (const [v, e] of this.queue) if (v <= version || 'ack' in e) this.queue.delete(v);
  }

  /** Integrates queued events that became applicable; returns the ops to apply. */
  drain() {
    return this._drain();
  }

  /** Serializable state (for localStorage). */
  snapshot() {
    return {
      client: this.client,
      version: this.version,
      seq: this.seq,
      inflight: this.inflight ? { op: this.inflight.op, seq: this.inflight.seq } : null,
      buffer: this.buffer,
    };
  }

  _receive(version, ev) {
    if (!Number.isInteger(version) || version <= this.version) return [];
    this.queue.set(version, ev);
    return this._drain();
  }

  _drain() {
    const out = [];
    while (this.queue.has(this.version + 1)) {
      const v = this.version + 1;
      const e = this.queue.get(v);
      this.queue.delete(v);
      if ('ack' in e) {
        const committed = this.inflight ? this.inflight.op : [];
        if (this.inflight && this.inflight.seq === e.ack) this.inflight = null;
        this.version = v;
        if (this.onCommit) this.onCommit(v, committed, this.client);
        continue;
      }
      let op = e.op;
      if (this.onCommit) this.onCommit(v, e.op, e.client);
      if (this.inflight) {
        const mine = this.inflight.op;
        this.inflight.op = type.transform(mine, op, 'left');
        op = type.transform(op, mine, 'right');
      }
      if (this.buffer) {
        const mine = this.buffer;
        this.buffer = type.transform(mine, op, 'left');
        op = type.transform(op, mine, 'right');
        if (this.buffer.length === 0) this.buffer = null;
      }
      this.version = v;
      out.push({ version: v, op, client: e.client });
    }
    return out;
  }
}
