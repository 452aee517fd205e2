import { describe, it, expect } from 'vitest';
import { type } from 'ot-text-unicode';
import { OTClient } from '../src/ot-client.js';

// A deterministic PRNG so failures are reproducible.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ['a', 'b', 'c', ' ', '\n', '😀', '👍🏽', 'é', 'e\u0301', '字', '🇫🇷'];

function randomOp(text, r) {
  const len = Array.from(text).length;
  const pos = Math.floor(r() * (len + 1));
  if (len > 0 && r() < 0.4) {
    const n = 1 + Math.floor(r() * Math.min(5, len - pos));
    if (pos < len) return pos > 0 ? [pos, { d: n }] : [{ d: n }];
  }
  let s = '';
  const k = 1 + Math.floor(r() * 3);
  for (let i = 0; i < k; i++) s += ALPHABET[Math.floor(r() * ALPHABET.length)];
  return pos > 0 ? [pos, s] : [s];
}

// An in-memory server with the semantics of SPEC.md §2–3.
class Server {
  constructor(content = '') {
    this.content = content;
    this.ops = []; // ops[i] is version i+1: {op, client}
    this.seen = new Map(); // client → Map(seq → version)
  }
  get head() {
    return this.ops.length;
  }
  submit({ version, op, client, seq }) {
    if (version > this.head) throw new Error('version_ahead');
    const dedupe = this.seen.get(client) ?? new Map();
    this.seen.set(client, dedupe);
    if (dedupe.has(seq)) return { version: dedupe.get(seq), dup: true };
    op = type.normalize(op);
    for (let v = version; v < this.head; v++) op = type.transform(op, this.ops[v].op, 'left');
    this.content = type.apply(this.content, op);
    this.ops.push({ op, client });
    dedupe.set(seq, this.head);
    return { version: this.head, op };
  }
  since(version) {
    return this.ops.slice(version).map((o, i) => ({ version: version + i + 1, op: o.op, client: o.client }));
  }
}

// A simulated browser: text, OT client, and two ordered message queues.
class Peer {
  constructor(name, server) {
    this.server = server;
    this.ot = new OTClient({ client: name, version: server.head });
    this.text = server.content;
    this.up = []; // client → server messages
    this.down = []; // server → client messages
    this.online = true;
  }
  edit(r) {
    const op = randomOp(this.text, r);
    this.text = type.apply(this.text, op);
    this.ot.local(op);
    this.pump();
  }
  apply(ops) {
    for (const { op } of ops) this.text = type.apply(this.text, op);
  }
  pump() {
    if (!this.online) return;
    const m = this.ot.take();
    if (m) this.up.push({ ...m, client: this.ot.client });
  }
  deliverDown() {
    const m = this.down.shift();
    if (m.ack) this.apply(this.ot.ack(m.seq, m.version));
    else this.apply(this.ot.remote(m.version, m.op, m.client));
    this.pump();
  }
  disconnect(limbo) {
    this.online = false;
    // Messages already on their way to the server may still arrive there
    // after the disconnect: their commit then reaches everyone (this client's
    // new connection included) as a broadcast, but their ack is lost.
    if (limbo) for (const m of this.up) limbo.push(m);
    this.up = [];
    this.down = [];
    this.ot.disconnected();
  }
  reconnect() {
    this.online = true;
    // doc:join {version} → catch-up ops
    for (const o of this.server.since(this.ot.version)) this.apply(this.ot.remote(o.version, o.op, o.client));
    this.pump();
  }
}

function deliverUp(peer, peers, server) {
  const m = peer.up.shift();
  const res = server.submit(m);
  peer.down.push({ ack: true, seq: m.seq, version: res.version });
  if (!res.dup) {
    for (const p of peers) if (p !== peer && p.online) p.down.push({ version: res.version, op: res.op, client: m.client });
  }
}

// A message that reached the server after its sender disconnected.
function deliverLimbo(limbo, peers, server) {
  const m = limbo.shift();
  const res = server.submit(m);
  if (!res.dup) {
    for (const p of peers) if (p.online) p.down.push({ version: res.version, op: res.op, client: m.client });
  }
  return res;
}

function settle(peers, server, limbo = []) {
  while (limbo.length) deliverLimbo(limbo, peers, server);
  for (const p of peers) if (!p.online) p.reconnect();
  let guard = 0;
  while (peers.some((p) => p.up.length || p.down.length)) {
    for (const p of peers) {
      while (p.up.length) deliverUp(p, peers, server);
      while (p.down.length) p.deliverDown();
    }
    if (++guard > 10000) throw new Error('no quiescence');
  }
}

describe('OTClient', () => {
  it('sends one op at a time and composes later edits into the buffer', () => {
    const c = new OTClient({ client: 'a', version: 3 });
    c.local(['x']);
    expect(c.take()).toEqual({ version: 3, op: ['x'], seq: 1 });
    c.local([1, 'y']);
    c.local([2, 'z']);
    expect(c.take()).toBeNull(); // one in flight
    expect(c.buffer).toEqual([1, 'yz']);
    expect(c.ack(1, 4)).toEqual([]);
    expect(c.version).toBe(4);
    expect(c.take()).toEqual({ version: 4, op: [1, 'yz'], seq: 2 });
    c.ack(2, 5);
    expect(c.hasPending()).toBe(false);
    expect(c.take()).toBeNull();
  });

  it('transforms incoming ops against inflight (left) and buffer', () => {
    const c = new OTClient({ client: 'a', version: 0 });
    // document "" → local "A", in flight; then local "AB", buffered
    c.local(['A']);
    c.take();
    c.local([1, 'B']);
    // remote inserts "R" at 0 concurrently: our pending ops win the tie (left)
    const out = c.remote(1, ['R'], 'b');
    expect(out).toEqual([{ version: 1, op: [2, 'R'], client: 'b' }]);
    expect(c.inflight.op).toEqual(['A']);
    expect(type.apply(type.apply(type.apply('', ['A']), [1, 'B']), [2, 'R'])).toBe('ABR');
    expect(c.version).toBe(1);
    // the server transformed our A against R with side left: A stays at 0
    c.ack(1, 2);
    expect(c.take()).toEqual({ version: 2, op: [1, 'B'], seq: 2 });
  });

  it('reports every committed op in server coordinates, ours included', () => {
    const commits = [];
    const c = new OTClient({ client: 'a', version: 0, onCommit: (v, op, client) => commits.push([v, op, client]) });
    c.local(['A']);
    c.take();
    c.remote(1, ['R'], 'b');
    c.ack(1, 2);
    // the server saw R first, then our A transformed against R (A is left: stays at 0)
    expect(commits).toEqual([
      [1, ['R'], 'b'],
      [2, ['A'], 'a'],
    ]);
  });

  it('handles an ack that arrives before an earlier broadcast', () => {
    const c = new OTClient({ client: 'a', version: 0 });
    c.local(['x']);
    c.take();
    expect(c.ack(1, 2)).toEqual([]); // version 1 not seen yet: queued
    expect(c.version).toBe(0);
    expect(c.hasPending()).toBe(true);
    const out = c.remote(1, ['y'], 'b');
    expect(out.map((o) => o.version)).toEqual([1]);
    expect(c.version).toBe(2);
    expect(c.hasPending()).toBe(false);
  });

  it('reset keeps queued server ops above the new version', () => {
    const c = new OTClient({ client: 'a', version: 0 });
    c.local(['x']);
    c.take();
    expect(c.remote(7, [3, 'late'], 'b')).toEqual([]); // arrives before the join's content at 6
    c.remote(3, ['old'], 'b');
    c.reset(6);
    expect(c.hasPending()).toBe(false);
    expect(c.drain()).toEqual([{ version: 7, op: [3, 'late'], client: 'b' }]);
    expect(c.version).toBe(7);
  });

  it('ignores stale and duplicate acks and ops', () => {
    const c = new OTClient({ client: 'a', version: 5 });
    expect(c.remote(5, ['x'], 'b')).toEqual([]);
    expect(c.ack(1, 6)).toEqual([]); // nothing in flight
    expect(c.version).toBe(5);
    c.local(['x']);
    c.take();
    expect(c.ack(7, 6)).toEqual([]); // wrong seq
    expect(c.hasPending()).toBe(true);
  });

  it('resends the in-flight op with the same seq after a reconnect', () => {
    const c = new OTClient({ client: 'a', version: 0 });
    c.local(['hello']);
    const first = c.take();
    c.local([5, '!']);
    c.disconnected();
    // catch-up: someone else's op at version 1
    const out = c.remote(1, ['>'], 'b');
    expect(out[0].op).toEqual([6, '>']); // after 'hello' (inflight) and '!' (buffer, wins the tie)
    const again = c.take();
    expect(again.seq).toBe(first.seq);
    expect(again.version).toBe(1);
    expect(again.op).toEqual(['hello']);
    expect(c.take()).toBeNull();
  });

  it('treats its own op in the catch-up as the ack of the in-flight op', () => {
    const c = new OTClient({ client: 'a', version: 0 });
    c.local(['hello']);
    c.take();
    c.local([5, '!']);
    c.disconnected();
    expect(c.remote(1, ['hello'], 'a')).toEqual([]); // our own commit: not applied again
    expect(c.version).toBe(1);
    expect(c.inflight).toBeNull();
    expect(c.take()).toEqual({ version: 1, op: [5, '!'], seq: 2 });
  });

  it('restores from a snapshot and resends with the saved seq', () => {
    const c = new OTClient({ client: 'a', version: 2, seq: 4 });
    c.local(['x']);
    c.take();
    c.local([1, 'y']);
    const snap = JSON.parse(JSON.stringify(c.snapshot()));
    const d = new OTClient(snap);
    expect(d.take()).toEqual({ version: 2, op: ['x'], seq: 5 });
    d.ack(5, 3);
    expect(d.take()).toEqual({ version: 3, op: [1, 'y'], seq: 6 });
  });

  it('a resubmitted op the server already committed is not applied twice', () => {
    const server = new Server('');
    const a = new Peer('a', server);
    const b = new Peer('b', server);
    a.text = 'x';
    a.ot.local(['x']);
    a.pump();
    deliverUp(a, [a, b], server); // committed, ack queued for a
    a.disconnect(); // ack lost
    a.ot.version = 0; // pretend the catch-up is unavailable: resend blindly
    a.online = true;
    a.pump();
    expect(a.up[0].seq).toBe(1);
    deliverUp(a, [a, b], server);
    expect(server.head).toBe(1);
    expect(server.content).toBe('x');
    a.deliverDown();
    expect(a.ot.hasPending()).toBe(false);
    expect(a.ot.version).toBe(1);
  });

  let lateTotal = 0;
  for (const seed of Array.from({ length: 24 }, (_, i) => i + 1)) {
    it(`converges with random concurrent edits, emoji, reconnects and late commits (seed ${seed})`, () => {
      const r = rng(seed);
      const server = new Server('start 😀 text');
      const peers = [new Peer('a', server), new Peer('b', server), new Peer('c', server)];
      const limbo = [];
      let late = 0; // late commits that reached their own sender as a broadcast
      for (let step = 0; step < 400; step++) {
        const p = peers[Math.floor(r() * peers.length)];
        const x = r();
        if (x < 0.45) p.edit(r);
        else if (x < 0.65 && p.up.length) deliverUp(p, peers, server);
        else if (x < 0.85 && p.down.length) p.deliverDown();
        else if (x < 0.88 && limbo.length) {
          const sender = peers.find((q) => q.ot.client === limbo[0].client);
          if (!deliverLimbo(limbo, peers, server).dup && sender.online) late++;
        } else if (x < 0.95 && p.online) p.disconnect(r() < 0.5 ? limbo : null);
        else if (!p.online) p.reconnect();
      }
      settle(peers, server, limbo);
      lateTotal += late;
      for (const p of peers) {
        expect(p.text).toBe(server.content);
        expect(p.ot.hasPending()).toBe(false);
        expect(p.ot.version).toBe(server.head);
      }
      // seqs are contiguous per client: every op each peer sent was committed once
      for (const p of peers) {
        const seqs = [...(server.seen.get(p.ot.client)?.keys() ?? [])];
        expect(seqs).toEqual(seqs.map((_, i) => i + 1));
        expect(seqs.length).toBe(p.ot.seq);
      }
    });
  }

  it('the random runs above exercised late commits reaching their own sender', () => {
    expect(lateTotal).toBeGreaterThan(0);
  });
});
