import { describe, it, expect } from 'vitest';
import { type } from 'ot-text-unicode';
import { DocController, usableState, GAP_LIMIT } from '../src/controller.js';

// Feeds events to a controller and keeps every effect it returned.
function harness(opts = {}) {
  const c = new DocController({ doc: 'd', client: 'me', now: () => 1234, ...opts });
  const log = [];
  const send = (ev) => {
    const fx = c.handle(ev);
    log.push(...fx);
    return fx;
  };
  return { c, log, send };
}
const of = (fx, t) => fx.filter((e) => e.type === t);
const emits = (fx, event) => fx.filter((e) => e.type === 'emit' && e.event === event);
const joinAck = (fx) => emits(fx, 'doc:join')[0].ack;

// Connects and answers the join with `ack`.
function joined(h, ack) {
  const fx = h.send({ type: 'connect' });
  return h.send({ type: 'ack', ...joinAck(fx), err: null, ack: { ok: true, doc: 'd', presence: [], ...ack } });
}

describe('DocController: join', () => {
  it('joins a new document with its content and becomes editable', () => {
    const h = harness();
    expect(h.c.status).toMatchObject({ conn: 'connecting', save: 'loading', editable: false });
    const fx = h.send({ type: 'connect' });
    expect(emits(fx, 'doc:join')[0].payload).toEqual({ doc: 'd', client: 'me' }); // no version: we know none
    expect(h.c.status.conn).toBe('joining');
    const after = h.send({ type: 'ack', ...joinAck(fx), err: null, ack: { ok: true, doc: 'd', version: 4, content: 'héllo 😀', presence: [] } });
    expect(of(after, 'change')).toEqual([{ type: 'change', op: ['héllo 😀'], text: 'héllo 😀', origin: 'remote' }]);
    expect(h.c.text).toBe('héllo 😀');
    expect(h.c.ot.version).toBe(4);
    expect(h.c.status).toMatchObject({ conn: 'connected', save: 'saved', editable: true });
    expect(of(after, 'joined')).toHaveLength(1);
    expect(of(after, 'save')[0].state).toMatchObject({ client: 'me', version: 4, text: 'héllo 😀', saved: 1234 });
    expect(emits(after, 'doc:presence')[0].payload).toEqual({ doc: 'd', version: 4, selection: [{ anchor: 0, head: 0 }] });
  });

  it('rejoins with its saved version; its own op in the catch-up acks the in-flight op', () => {
    const saved = { client: 'me', version: 3, seq: 2, inflight: { op: ['A'], seq: 2 }, buffer: [1, 'B'], text: 'ABxyz' };
    const h = harness({ saved });
    expect(h.c.status).toMatchObject({ save: 'unsaved', editable: true });
    const fx = h.send({ type: 'connect' });
    expect(emits(fx, 'doc:join')[0].payload).toEqual({ doc: 'd', client: 'me', version: 3 });
    // version 4: a collaborator's insert at the start; version 5: our A (committed before the drop)
    const after = h.send({
      type: 'ack', ...joinAck(fx), err: null,
      ack: { ok: true, doc: 'd', version: 5, ops: [{ version: 4, op: ['R'], client: 'bob' }, { version: 5, op: ['A'], client: 'me' }], presence: [] },
    });
    expect(h.c.text).toBe('ABRxyz');
    // the in-flight op counted as acked; the buffer is sent next, with a fresh seq, at the head
    expect(emits(after, 'doc:op').map((e) => e.payload)).toEqual([{ doc: 'd', version: 5, op: [1, 'B'], client: 'me', seq: 3 }]);
    expect(h.c.status.save).toBe('saving');
  });

  it('resends an unacknowledged op with its original seq after a reconnect', () => {
    const h = harness();
    joined(h, { version: 0, content: '' });
    const first = h.send({ type: 'local', op: ['hi'] });
    expect(emits(first, 'doc:op')[0].payload).toMatchObject({ version: 0, seq: 1, op: ['hi'] });
    h.send({ type: 'disconnect', reason: 'transport close' });
    expect(h.c.status).toMatchObject({ conn: 'reconnecting', save: 'unsaved' });
    // typed while offline: buffered, nothing sent
    expect(emits(h.send({ type: 'local', op: [2, '!'] }), 'doc:op')).toEqual([]);
    const fx = h.send({ type: 'connect' });
    expect(emits(fx, 'doc:join')[0].payload.version).toBe(0);
    const after = h.send({ type: 'ack', ...joinAck(fx), err: null, ack: { ok: true, doc: 'd', version: 0, ops: [], presence: [] } });
    expect(emits(after, 'doc:op').map((e) => e.payload)).toEqual([{ doc: 'd', version: 0, op: ['hi'], client: 'me', seq: 1 }]);
    const acked = h.send({ type: 'ack', kind: 'op', seq: 1, err: null, ack: { ok: true, version: 1 } });
    expect(emits(acked, 'doc:op').map((e) => e.payload)).toEqual([{ doc: 'd', version: 1, op: [2, '!'], client: 'me', seq: 2 }]);
    h.send({ type: 'ack', kind: 'op', seq: 2, err: null, ack: { ok: true, version: 2 } });
    expect(h.c.text).toBe('hi!');
    expect(h.c.status.save).toBe('saved');
  });

  it('ignores the answer to a join that a reconnect made stale', () => {
    const h = harness();
    const fx = h.send({ type: 'connect' });
    h.send({ type: 'disconnect', reason: 'transport close' });
    h.send({ type: 'connect' });
    const stale = h.send({ type: 'ack', ...joinAck(fx), err: null, ack: { ok: true, doc: 'd', version: 9, content: 'old', presence: [] } });
    expect(of(stale, 'change')).toEqual([]);
    expect(h.c.joined).toBe(false);
  });

  it('queues ops that arrive between the join and its ack', () => {
    const h = harness();
    const fx = h.send({ type: 'connect' });
    h.send({ type: 'doc:op', msg: { doc: 'd', version: 3, op: [2, 'Z'], client: 'bob' } });
    h.send({ type: 'ack', ...joinAck(fx), err: null, ack: { ok: true, doc: 'd', version: 2, content: 'ab', presence: [] } });
    expect(h.c.text).toBe('abZ');
    expect(h.c.ot.version).toBe(3);
  });
});

describe('DocController: text length', () => {
  it('keeps the length in code points through local and remote changes', () => {
    const h = harness({ saved: { client: 'me', version: 0, seq: 0, inflight: null, buffer: null, text: 'a😀' } });
    expect(h.c.length).toBe(2);
    joined(h, { version: 0, ops: [] });
    h.send({ type: 'local', op: [2, '👍🏽x'] });
    h.send({ type: 'doc:op', msg: { doc: 'd', version: 1, op: [{ d: 1 }], client: 'x' } });
    expect(h.c.text).toBe('😀👍🏽x');
    expect(h.c.length).toBe(Array.from(h.c.text).length);
    h.send({ type: 'local', op: [1, { d: '👍🏽' }] });
    expect(h.c.length).toBe(Array.from(h.c.text).length);
  });
});

describe('DocController: resync', () => {
  it('reconnects when the catch-up ends below the head', () => {
    const h = harness({ saved: { client: 'me', version: 1, seq: 0, inflight: null, buffer: null, text: 'a' } });
    const fx = h.send({ type: 'connect' });
    const after = h.send({ type: 'ack', ...joinAck(fx), err: null, ack: { ok: true, doc: 'd', version: 3, ops: [{ version: 2, op: [1, 'b'], client: 'x' }], presence: [] } });
    expect(of(after, 'reconnect')).toHaveLength(1);
    expect(h.c.joined).toBe(false);
  });

  it('arms a timer for a missing version, and resyncs if it never arrives', () => {
    const h = harness();
    joined(h, { version: 0, content: '' });
    const fx = h.send({ type: 'doc:op', msg: { doc: 'd', version: 2, op: ['late'], client: 'x' } });
    expect(of(fx, 'timer')).toEqual([{ type: 'timer', name: 'gap', ms: 5000 }]);
    expect(of(h.send({ type: 'timer', name: 'gap' }), 'reconnect')).toHaveLength(1);
  });

  it('cancels the gap timer when the missing version arrives', () => {
    const h = harness();
    joined(h, { version: 0, content: '' });
    h.send({ type: 'doc:op', msg: { doc: 'd', version: 2, op: [1, 'b'], client: 'x' } });
    const fx = h.send({ type: 'doc:op', msg: { doc: 'd', version: 1, op: ['a'], client: 'x' } });
    expect(of(fx, 'cancel')).toEqual([{ type: 'cancel', name: 'gap' }]);
    expect(h.c.text).toBe('ab');
  });

  it('resyncs at once when too many versions wait behind a gap', () => {
    const h = harness();
    joined(h, { version: 0, content: '' });
    let fx = [];
    for (let v = 2; v <= GAP_LIMIT + 2; v++) fx = h.send({ type: 'doc:op', msg: { doc: 'd', version: v, op: ['x'], client: 'x' } });
    expect(of(fx, 'reconnect')).toHaveLength(1);
  });

  it('resyncs when an ack times out while connected, not after a drop', () => {
    const h = harness();
    joined(h, { version: 0, content: '' });
    h.send({ type: 'local', op: ['x'] });
    expect(of(h.send({ type: 'ack', kind: 'op', seq: 1, err: new Error('timeout'), ack: undefined }), 'reconnect')).toHaveLength(1);
    h.send({ type: 'disconnect', reason: 'transport close' });
    expect(of(h.send({ type: 'ack', kind: 'op', seq: 1, err: new Error('timeout'), ack: undefined }), 'reconnect')).toEqual([]);
  });

  it('reconnects by itself after the server closed the session', () => {
    const h = harness({ random: () => 0 });
    joined(h, { version: 0, content: '' });
    const fx = h.send({ type: 'disconnect', reason: 'io server disconnect' });
    expect(of(fx, 'timer')).toEqual([{ type: 'timer', name: 'reconnect', ms: 500 }]);
    expect(of(h.send({ type: 'timer', name: 'reconnect' }), 'reconnect')).toHaveLength(1);
  });
});

describe('DocController: far behind (rebase)', () => {
  const saved = { client: 'me', version: 1, seq: 0, inflight: null, buffer: ['mine '], text: 'mine a' };

  it('pages the missing ops in over REST and integrates them as a catch-up', () => {
    const h = harness({ saved });
    const fx = h.send({ type: 'connect' });
    const after = h.send({ type: 'ack', ...joinAck(fx), err: null, ack: { ok: true, doc: 'd', version: 3, content: 'abc', presence: [] } });
    expect(of(after, 'fetch')).toEqual([{ type: 'fetch', tag: 'ops', path: '/api/docs/d/ops?from=1&to=3&limit=1000' }]);
    expect(h.c.status.conn).toBe('joining');
    const page1 = h.send({ type: 'fetched', tag: 'ops', data: { ops: [{ version: 2, op: [1, 'b'], client: 'x' }] } });
    expect(of(page1, 'fetch')[0].path).toBe('/api/docs/d/ops?from=2&to=3&limit=1000');
    const page2 = h.send({ type: 'fetched', tag: 'ops', data: { ops: [{ version: 3, op: [2, 'c'], client: 'x' }] } });
    expect(h.c.text).toBe('mine abc');
    expect(h.c.status.conn).toBe('connected');
    expect(emits(page2, 'doc:op').map((e) => e.payload)).toEqual([{ doc: 'd', version: 3, op: ['mine '], client: 'me', seq: 1 }]);
  });

  it('without the ops, rebases the pending edit on a diff of the old and new content', () => {
    const h = harness({ saved });
    const fx = h.send({ type: 'connect' });
    h.send({ type: 'ack', ...joinAck(fx), err: null, ack: { ok: true, doc: 'd', version: 9, content: 'a and more', presence: [] } });
    const failed = h.send({ type: 'fetched', tag: 'ops', error: new Error('pruned') });
    expect(of(failed, 'fetch')).toEqual([{ type: 'fetch', tag: 'base', path: '/api/docs/d?version=1' }]);
    const after = h.send({ type: 'fetched', tag: 'base', data: { content: 'a' } });
    expect(h.c.text).toBe('mine a and more');
    expect(h.c.ot.version).toBe(9);
    expect(emits(after, 'doc:op').map((e) => e.payload)).toEqual([{ doc: 'd', version: 9, op: ['mine '], client: 'me', seq: 1 }]);
  });

  it('when even that fails, the server text wins and the unsent text is offered', () => {
    const h = harness({ saved });
    const fx = h.send({ type: 'connect' });
    h.send({ type: 'ack', ...joinAck(fx), err: null, ack: { ok: true, doc: 'd', version: 9, content: 'server', presence: [] } });
    h.send({ type: 'fetched', tag: 'ops', error: new Error('pruned') });
    const after = h.send({ type: 'fetched', tag: 'base', error: new Error('gone') });
    expect(of(after, 'notice')[0]).toMatchObject({ code: 'merge_failed', text: 'mine a' });
    expect(h.c.text).toBe('server');
    expect(h.c.ot.hasPending()).toBe(false);
  });
});

describe('DocController: errors', () => {
  function withOp() {
    const h = harness();
    joined(h, { version: 0, content: '' });
    h.send({ type: 'local', op: ['x'] });
    return h;
  }
  const refuse = (h, code, message = code) => h.send({ type: 'ack', kind: 'op', seq: 1, err: null, ack: { ok: false, error: { code, message } } });

  it('rate_limited: resends the same op after a pause', () => {
    const h = withOp();
    expect(of(refuse(h, 'rate_limited'), 'timer')).toEqual([{ type: 'timer', name: 'flush', ms: 1000 }]);
    expect(emits(h.send({ type: 'timer', name: 'flush' }), 'doc:op')[0].payload).toMatchObject({ seq: 1, op: ['x'] });
  });

  it('forbidden once: reconnects and retries; forbidden again: read-only with the server text', () => {
    const h = withOp();
    expect(of(refuse(h, 'forbidden'), 'timer')).toEqual([{ type: 'timer', name: 'resync', ms: 1000 }]);
    expect(of(h.send({ type: 'timer', name: 'resync' }), 'reconnect')).toHaveLength(1);
    const fx = refuse(h, 'forbidden');
    expect(of(fx, 'notice')[0].code).toBe('read_only');
    expect(of(fx, 'clear')).toHaveLength(1);
    expect(of(fx, 'reconnect')).toHaveLength(1);
    expect(h.c.status).toMatchObject({ editable: false, readOnly: true, save: 'loading' });
  });

  it('an op that can never succeed is dropped and the server text reloaded', () => {
    const h = withOp();
    const fx = refuse(h, 'too_large', 'op too large');
    expect(of(fx, 'notice')[0]).toMatchObject({ code: 'op_rejected' });
    expect(of(fx, 'reconnect')).toHaveLength(1);
    expect(h.c.ot.hasPending()).toBe(false);
    expect(h.c.status.editable).toBe(false);
  });

  it('not_joined resyncs; a refusal for an op no longer in flight is ignored', () => {
    const h = withOp();
    expect(of(refuse(h, 'not_joined'), 'reconnect')).toHaveLength(1);
    h.send({ type: 'ack', kind: 'op', seq: 1, err: null, ack: { ok: true, version: 1 } });
    expect(refuse(h, 'invalid_op')).toEqual([]);
  });

  it('a join refused as forbidden or not found says so', () => {
    for (const code of ['forbidden', 'not_found', 'internal']) {
      const h = harness();
      const fx = h.send({ type: 'connect' });
      const after = h.send({ type: 'ack', ...joinAck(fx), err: null, ack: { ok: false, error: { code, message: 'no' } } });
      expect(of(after, 'notice')[0].code).toBe(code === 'internal' ? 'join_failed' : code);
      expect(h.c.status.conn).toBe('error');
    }
  });

  it('a server that lost our version: start over from its content, offering the unsent text', () => {
    const h = harness({ saved: { client: 'me', version: 7, seq: 1, inflight: null, buffer: ['u'], text: 'u' } });
    const fx = h.send({ type: 'connect' });
    const after = h.send({ type: 'ack', ...joinAck(fx), err: null, ack: { ok: false, error: { code: 'version_ahead', message: 'ahead' } } });
    expect(of(after, 'notice')[0]).toMatchObject({ code: 'history_lost', text: 'u' });
    expect(of(after, 'clear')).toHaveLength(1);
    const rejoin = emits(after, 'doc:join')[0];
    expect(rejoin.payload).toEqual({ doc: 'd', client: 'me' });
    h.send({ type: 'ack', ...rejoin.ack, err: null, ack: { ok: true, doc: 'd', version: 0, content: '', presence: [] } });
    expect(h.c.text).toBe('');
    expect(h.c.status).toMatchObject({ conn: 'connected', save: 'saved', editable: true });
  });

  it('an unauthorized connection is not retried and asks for a token', () => {
    const h = harness();
    const fx = h.send({ type: 'connect_error', message: 'unauthorized', online: true, hadToken: true });
    expect(of(fx, 'notice')[0]).toMatchObject({ code: 'unauthorized', message: 'The server refused your access token.' });
    expect(h.c.status.conn).toBe('error');
  });

  it('drops malformed saved state', () => {
    expect(usableState(null)).toBeNull();
    expect(usableState({ client: 'me', version: 1, text: 5 })).toBeNull();
    expect(usableState({ client: 'me', version: -1, text: '' })).toBeNull();
    expect(usableState({ client: 'me', version: 1, text: '', inflight: { op: [0], seq: 1 } })).toBeNull();
    expect(usableState({ client: 'me', version: 1, text: '', inflight: { op: ['x'], seq: 'a' } })).toBeNull();
    const ok = { client: 'me', version: 1, seq: 1, text: 'x', inflight: { op: ['x'], seq: 1 }, buffer: null };
    expect(usableState(ok)).toBe(ok);
    expect(harness({ saved: { client: 'x', version: 'bad', text: '' } }).c.ot.client).toBe('me');
  });
});

describe('DocController: offline and deletion', () => {
  it('keeps edits while offline, saves them locally, and reports where they are', () => {
    const h = harness();
    joined(h, { version: 0, content: '' });
    h.send({ type: 'disconnect', reason: 'transport close' });
    h.send({ type: 'offline' });
    const fx = h.send({ type: 'local', op: ['offline'] });
    expect(h.c.status).toMatchObject({ conn: 'offline', save: 'unsaved', storedLocally: true });
    expect(of(fx, 'timer')).toContainEqual({ type: 'timer', name: 'persist', ms: 250 });
    const saved = h.send({ type: 'timer', name: 'persist' });
    expect(of(saved, 'save')[0].state).toMatchObject({ buffer: ['offline'], text: 'offline', version: 0 });
    h.send({ type: 'saved', ok: false });
    expect(h.c.status.storedLocally).toBe(false);
  });

  it('a deleted document is cleared, closed and read-only', () => {
    const h = harness();
    joined(h, { version: 0, content: 'x' });
    const fx = h.send({ type: 'doc:deleted', msg: { doc: 'd' } });
    expect(fx.map((e) => e.type)).toEqual(expect.arrayContaining(['clear', 'close', 'notice', 'status']));
    expect(h.c.status).toMatchObject({ editable: false, deleted: true });
    expect(of(h.send({ type: 'persist' }), 'save')).toEqual([]);
  });
});

describe('DocController: metadata', () => {
  it('passes a rename (doc:meta) on to the page', () => {
    const h = harness();
    joined(h, { version: 0, content: '' });
    const fx = h.send({ type: 'doc:meta', msg: { doc: 'd', title: 'New', version: 0, updated: 't' } });
    expect(of(fx, 'meta')).toEqual([{ type: 'meta', meta: { title: 'New', version: 0, updated: 't' } }]);
  });
});

describe('DocController: an old link to a deleted document', () => {
  it('a join answered not_found with reason "deleted" is read-only and tells the page, without retrying', () => {
    const h = harness();
    const fx = h.send({ type: 'connect' });
    const after = h.send({ type: 'ack', ...joinAck(fx), err: null,
      ack: { ok: false, error: { code: 'not_found', reason: 'deleted', message: 'document "d" was deleted at …' } } });
    expect(of(after, 'notice')).toContainEqual(expect.objectContaining({ code: 'deleted_link' }));
    expect(emits(after, 'doc:join')).toEqual([]);
    expect(h.c.status).toMatchObject({ editable: false, deleted: true, conn: 'offline' });
  });
  it('a plain not_found (auto-create off) is still an error, not a deletion', () => {
    const h = harness();
    const fx = h.send({ type: 'connect' });
    const after = h.send({ type: 'ack', ...joinAck(fx), err: null, ack: { ok: false, error: { code: 'not_found', message: 'no such document' } } });
    expect(of(after, 'notice')).toContainEqual(expect.objectContaining({ code: 'not_found' }));
    expect(h.c.status).toMatchObject({ deleted: false, conn: 'error' });
  });
});

describe('DocController: presence', () => {
  it('sends our selection only when nothing is pending, and at most the server limit of ranges', () => {
    const h = harness({ limits: { maxSelectionRanges: 2 } });
    joined(h, { version: 0, content: 'abcdef' });
    h.send({ type: 'select', selection: [{ anchor: 1, head: 2 }, { anchor: 3, head: 3 }, { anchor: 4, head: 99 }] });
    const sent = emits(h.send({ type: 'timer', name: 'presence' }), 'doc:presence');
    expect(sent[0].payload.selection).toEqual([{ anchor: 1, head: 2 }, { anchor: 3, head: 3 }]);
    h.send({ type: 'local', op: ['x'] });
    expect(emits(h.send({ type: 'timer', name: 'presence' }), 'doc:presence')).toEqual([]);
    const acked = h.send({ type: 'ack', kind: 'op', seq: 1, err: null, ack: { ok: true, version: 1 } });
    expect(emits(acked, 'doc:presence')[0].payload).toMatchObject({ version: 1 });
  });

  it("shows collaborators' selections moved through our pending edit", () => {
    const h = harness();
    joined(h, { version: 0, content: 'abc' });
    h.send({ type: 'doc:presence', msg: { doc: 'd', client: 'bob', user: { id: 'b', name: 'Bob', color: '#123456' }, version: 0, selection: [{ anchor: 2, head: 2 }] } });
    h.send({ type: 'local', op: ['XY'] });
    expect(h.c.presence()).toEqual([{ name: 'Bob', color: '#123456', ranges: [{ anchor: 4, head: 4 }] }]);
  });
});

describe('DocController: convergence with a simulated server', () => {
  it('two controllers with interleaved delivery end with the server text', () => {
    let content = 'base';
    const ops = [];
    const a = harness({ client: 'a' });
    const b = harness({ client: 'b' });
    const queue = [];
    const deliver = (h, fx) => {
      for (const e of fx) if (e.type === 'emit' && e.event === 'doc:op') queue.push({ h, e });
    };
    for (const h of [a, b]) {
      const fx = h.send({ type: 'connect' });
      h.send({ type: 'ack', ...joinAck(fx), err: null, ack: { ok: true, doc: 'd', version: 0, content, presence: [] } });
    }
    deliver(a, a.send({ type: 'local', op: [4, ' A1'] }));
    deliver(b, b.send({ type: 'local', op: ['B1 '] }));
    deliver(a, a.send({ type: 'local', op: [{ d: 1 }] }));
    while (queue.length) {
      const { h, e } = queue.shift();
      let op = e.payload.op;
      for (let v = e.payload.version; v < ops.length; v++) op = type.transform(op, ops[v].op, 'left');
      content = type.apply(content, op);
      ops.push({ op, client: e.payload.client });
      const version = ops.length;
      for (const other of [a, b]) if (other !== h) deliver(other, other.send({ type: 'doc:op', msg: { doc: 'd', version, op, client: e.payload.client } }));
      deliver(h, h.send({ type: 'ack', ...e.ack, err: null, ack: { ok: true, version } }));
    }
    expect(a.c.text).toBe(content);
    expect(b.c.text).toBe(content);
    expect(content).toBe('B1 ase A1');
  });
});

describe('DocController: token lapse and auth:refresh', () => {
  it('keeps a refused edit through auth:expired, is read-only, and resends it after the refresh and rejoin', () => {
    const h = harness();
    joined(h, { version: 2, content: 'ab' });
    expect(emits(h.send({ type: 'local', op: [2, 'c'] }), 'doc:op')[0].payload).toMatchObject({ version: 2, seq: 1 });
    // The token lapsed: the write is refused before (or after) the event arrives.
    const refused = h.send({ type: 'ack', kind: 'op', seq: 1, err: null, ack: { ok: false, error: { code: 'unauthorized', message: 'token expired' } } });
    expect(of(refused, 'reconnect')).toEqual([]);
    expect(of(refused, 'clear')).toEqual([]);
    const ex = h.send({ type: 'auth_expired', reason: 'revoked', message: 'this share link was revoked' });
    expect(of(ex, 'notice')[0]).toMatchObject({ code: 'auth_expired', reason: 'revoked' });
    expect(h.c.status).toMatchObject({ conn: 'revoked', editable: false, save: 'unsaved' });
    expect(h.c.ot.hasPending()).toBe(true);
    // Nothing is sent while lapsed; a join refused meanwhile changes nothing.
    expect(emits(h.send({ type: 'local', op: [3, 'd'] }), 'doc:op')).toEqual([]);
    const fx = h.send({ type: 'auth_refreshed', rejoin: true });
    const join = emits(fx, 'doc:join')[0];
    expect(join.payload).toEqual({ doc: 'd', client: 'me', version: 2 });
    const after = h.send({ type: 'ack', ...join.ack, err: null, ack: { ok: true, doc: 'd', version: 2, ops: [], presence: [] } });
    expect(emits(after, 'doc:op').map((e) => e.payload)).toEqual([{ doc: 'd', version: 2, op: [2, 'c'], client: 'me', seq: 1 }]);
    expect(h.c.status).toMatchObject({ conn: 'connected', editable: true });
    expect(h.c.text).toBe('abcd');
  });
});
