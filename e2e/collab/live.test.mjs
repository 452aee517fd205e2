// REST round trips against the built binary, and what live collaborators
// see of REST changes and of each other: PUT content arrives as an ordinary
// doc:op, DELETE as doc:deleted, presence on join/update/leave/disconnect.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, connect, call, next, text } from './harness.mjs';

let server;
before(async () => { server = await new Server().start(); });
after(async () => { await server?.kill('SIGTERM'); server?.cleanup(); });

test('REST round trip', async () => {
  let r = await server.req('POST', '/api/docs', { json: { id: 'rest-1', title: 'T', content: 'a😀b' } });
  assert.equal(r.status, 201);
  assert.equal(r.body.version, 0);
  assert.equal(r.body.content, 'a😀b');
  assert.equal((await server.req('POST', '/api/docs', { json: { id: 'rest-1' } })).status, 409);

  r = await server.req('POST', '/api/docs/rest-1/ops', { json: { version: 0, op: [2, 'c'], client: 'x', seq: 1 } });
  assert.deepEqual(r.body, { version: 1, op: [2, 'c'] });
  r = await server.req('GET', '/api/docs/rest-1/content');
  assert.equal(r.body, 'a😀cb');
  assert.equal(r.headers.get('etag'), '"1"');
  assert.match(r.headers.get('content-type'), /^text\/plain; charset=utf-8/);

  r = await server.req('PUT', '/api/docs/rest-1/content', { body: 'new', headers: { 'if-match': '0' } });
  assert.equal(r.status, 412);
  assert.equal(r.body.error.code, 'precondition_failed');
  r = await server.req('PUT', '/api/docs/rest-1/content', { body: 'a😀cb!', headers: { 'if-match': '"1"' } });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { version: 2, op: [4, '!'] }, 'PUT computes a minimal op');

  r = await server.req('GET', '/api/docs/rest-1?version=1');
  assert.equal(r.body.content, 'a😀cb');
  r = await server.req('GET', '/api/docs/rest-1/ops?from=1');
  assert.equal(r.body.ops.length, 1);
  assert.equal(r.body.ops[0].version, 2);

  r = await server.req('PATCH', '/api/docs/rest-1', { json: { title: 'U' } });
  assert.equal(r.body.title, 'U');
  r = await server.req('GET', '/api/docs?limit=1000');
  const listed = r.body.docs.find((d) => d.id === 'rest-1');
  assert.equal(listed.version, 2);
  assert.equal(listed.title, 'U');

  r = await server.req('POST', '/api/docs/rest-1/ops', { json: { version: 0, op: [99, 'x'] } });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'invalid_op');
  assert.equal((await server.req('DELETE', '/api/docs/rest-1')).status, 204);
  assert.equal((await server.req('GET', '/api/docs/rest-1')).status, 404);
});

test('PUT content reaches a live collaborator as doc:op', async () => {
  const s = await connect(server.url, { transports: ['polling'] });
  try {
    const j = await call(s, 'doc:join', { doc: 'live-put' });
    assert.equal(j.ok, true);
    assert.equal(j.content, '');
    const got = next(s, 'doc:op');
    const r = await server.req('PUT', '/api/docs/live-put/content', { body: 'héllo 👋' });
    assert.equal(r.status, 200);
    const ev = await got;
    assert.deepEqual(ev, { doc: 'live-put', version: 1, op: ['héllo 👋'], client: '' });
    assert.equal(text.apply(j.content, ev.op), 'héllo 👋');
  } finally { s.close(); }
});

test('socket errors and acks', async () => {
  const s = await connect(server.url);
  try {
    let a = await call(s, 'doc:op', { doc: 'sock-missing', version: 0, op: ['x'], client: 'c', seq: 1 });
    assert.equal(a.error.code, 'not_found');
    assert.equal((await server.req('POST', '/api/docs', { json: { id: 'sock-err' } })).status, 201);
    a = await call(s, 'doc:op', { doc: 'sock-err', version: 0, op: ['x'], client: 'c', seq: 1 });
    assert.equal(a.ok, false);
    assert.equal(a.error.code, 'not_joined');
    assert.ok(a.error.message.length > 0);
    a = await call(s, 'doc:join', 'not an object');
    assert.equal(a.ok, false);
    assert.equal(a.error.code, 'bad_request');
    a = await call(s, 'doc:join', { doc: '../x' });
    assert.equal(a.error.code, 'bad_request');
    a = await call(s, 'doc:join', { doc: 'sock-err', version: 5 });
    assert.equal(a.error.code, 'version_ahead');
    a = await call(s, 'doc:join', { doc: 'sock-err' });
    assert.equal(a.ok, true);
    a = await call(s, 'doc:op', { doc: 'sock-err', version: 0, op: [{ d: 3 }], client: 'c', seq: 1 });
    assert.equal(a.error.code, 'invalid_op');
    assert.ok(a.error.message.length > 0);
    a = await call(s, 'doc:op', { doc: 'sock-err', version: 0, op: 'nope', client: 'c', seq: 1 });
    assert.equal(a.error.code, 'invalid_op');
    a = await call(s, 'doc:op', { doc: 'sock-err', version: 'zero', op: ['x'], client: 'c', seq: 1 });
    assert.equal(a.error.code, 'bad_request');
    a = await call(s, 'doc:op', { doc: 'sock-err', version: 0, op: ['x'], client: 'c', seq: 1 });
    assert.deepEqual(a, { ok: true, version: 1 });
    a = await call(s, 'doc:presence', { doc: 'sock-err', version: 1, selection: [{ anchor: -1, head: 0 }] });
    assert.equal(a.error.code, 'bad_request');
    // Rejoin at version 0: catch-up ops instead of content.
    a = await call(s, 'doc:join', { doc: 'sock-err', version: 0 });
    assert.equal(a.ok, true);
    assert.equal(a.content, undefined);
    assert.deepEqual(a.ops, [{ doc: 'sock-err', version: 1, op: ['x'], client: 'c' }]);
    a = await call(s, 'doc:join', { doc: 'sock-err', version: 1 });
    assert.deepEqual(a.ops, []);
    assert.deepEqual(await call(s, 'doc:leave', { doc: 'sock-err' }), { ok: true });
    a = await call(s, 'doc:op', { doc: 'sock-err', version: 1, op: ['y'], client: 'c', seq: 2 });
    assert.equal(a.error.code, 'not_joined');
    // An event without an ack callback is handled without breaking the connection.
    s.emit('doc:join', { doc: 'sock-err' });
    assert.equal((await call(s, 'doc:join', { doc: 'sock-err' })).ok, true);
  } finally { s.close(); }
});

test('doc:deleted reaches the room and empties it', async () => {
  const a = await connect(server.url, { transports: ['polling'] });
  const b = await connect(server.url);
  try {
    assert.equal((await call(a, 'doc:join', { doc: 'del-1' })).ok, true);
    assert.equal((await call(b, 'doc:join', { doc: 'del-1' })).ok, true);
    const da = next(a, 'doc:deleted');
    const db = next(b, 'doc:deleted');
    assert.equal((await server.req('DELETE', '/api/docs/del-1')).status, 204);
    assert.deepEqual(await da, { doc: 'del-1' });
    assert.deepEqual(await db, { doc: 'del-1' });
    // The sockets left the room: a new document with the same id does not
    // reach them.
    let leaked = false;
    a.on('doc:op', () => { leaked = true; });
    assert.equal((await server.req('POST', '/api/docs', { json: { id: 'del-1' } })).status, 201);
    assert.equal((await server.req('PUT', '/api/docs/del-1/content', { body: 'x' })).status, 200);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(leaked, false);
  } finally { a.close(); b.close(); }
});

test('presence: join, selection, leave and disconnect', async () => {
  const a = await connect(server.url, { auth: { name: 'Ada', color: '#ff0000' } });
  const b = await connect(server.url, { transports: ['polling'], auth: { name: 'Bob' } });
  try {
    await call(a, 'doc:join', { doc: 'pres-1' });
    await call(a, 'doc:op', { doc: 'pres-1', version: 0, op: ['hello'], client: 'ca', seq: 1 });
    const jb = await call(b, 'doc:join', { doc: 'pres-1' });
    assert.deepEqual(jb.presence, []);

    // a's selection reaches b (not a), with a's user.
    const pb = next(b, 'doc:presence');
    let selfPresence = false;
    a.on('doc:presence', (ev) => { if (ev.client === a.id || ev.user.id === a.id) selfPresence = true; });
    assert.deepEqual(await call(a, 'doc:presence', { doc: 'pres-1', version: 1, selection: [{ anchor: 1, head: 3 }] }), { ok: true });
    const ev = await pb;
    assert.equal(ev.doc, 'pres-1');
    assert.deepEqual(ev.user, { id: ev.user.id, name: 'Ada', color: '#ff0000' });
    assert.deepEqual(ev.selection, [{ anchor: 1, head: 3 }]);
    assert.equal(ev.version, 1);

    // A selection at an old version is transformed by the server.
    await call(b, 'doc:op', { doc: 'pres-1', version: 1, op: ['>> '], client: 'cb', seq: 1 });
    const pb2 = next(b, 'doc:presence');
    await call(a, 'doc:presence', { doc: 'pres-1', version: 1, selection: [{ anchor: 1, head: 5 }, { anchor: 0, head: 0 }] });
    const ev2 = await pb2;
    assert.equal(ev2.version, 2);
    // As ot-text-unicode's transformPosition: an insert exactly at a
    // position does not move it.
    assert.deepEqual(ev2.selection, [{ anchor: 4, head: 8 }, { anchor: 0, head: 0 }]);

    // A later joiner sees a's selection in the join ack.
    const c = await connect(server.url);
    const jc = await call(c, 'doc:join', { doc: 'pres-1' });
    assert.equal(jc.presence.length, 1);
    assert.equal(jc.presence[0].user.name, 'Ada');
    c.close();

    // leave → selection null.
    const left = next(b, 'doc:presence', (e) => e.user.name === 'Ada');
    await call(a, 'doc:leave', { doc: 'pres-1' });
    assert.equal((await left).selection, null);

    // disconnect → selection null.
    await call(a, 'doc:join', { doc: 'pres-1' });
    const gone = next(b, 'doc:presence', (e) => e.user.name === 'Ada' && e.selection === null);
    a.close();
    assert.equal((await gone).selection, null);
    assert.equal(selfPresence, false, 'a never receives its own presence');
  } finally { a.close(); b.close(); }
});

test('resubmission from a new connection is acked with the original version', async () => {
  const s1 = await connect(server.url, { transports: ['websocket'] });
  const s2 = await connect(server.url, { transports: ['polling'] });
  const watcher = await connect(server.url);
  try {
    await call(s1, 'doc:join', { doc: 'resub-1' });
    await call(watcher, 'doc:join', { doc: 'resub-1' });
    // Every version the watcher is sent; a resubmission must not add one.
    const seen = [];
    watcher.on('doc:op', (ev) => { seen.push(ev.version); });
    const a1 = await call(s1, 'doc:op', { doc: 'resub-1', version: 0, op: ['abc'], client: 'same', seq: 1 });
    assert.deepEqual(a1, { ok: true, version: 1 });
    await call(s1, 'doc:op', { doc: 'resub-1', version: 1, op: [3, 'd'], client: 'same', seq: 2 });
    // The same client comes back on another connection (the old one still
    // open, as when the server has not noticed a dead connection yet): it
    // takes its client id over at once.
    const j = await call(s2, 'doc:join', { doc: 'resub-1', version: 0 });
    assert.equal(j.ops.length, 2);
    const a2 = await call(s2, 'doc:op', { doc: 'resub-1', version: 1, op: [3, 'd'], client: 'same', seq: 2 });
    assert.deepEqual(a2, { ok: true, version: 2 });
    const a3 = await call(s2, 'doc:op', { doc: 'resub-1', version: 2, op: [4, 'e'], client: 'same', seq: 3 });
    assert.deepEqual(a3, { ok: true, version: 3 });
    // The old connection lost the client id to the new one: a new op is
    // forbidden, a resubmission of a committed one is still answered with
    // its version; it is not disconnected.
    const old = await call(s1, 'doc:op', { doc: 'resub-1', version: 3, op: ['x'], client: 'same', seq: 4 });
    assert.equal(old.ok, false, JSON.stringify(old));
    assert.equal(old.error.code, 'forbidden');
    assert.deepEqual(await call(s1, 'doc:op', { doc: 'resub-1', version: 1, op: [3, 'd'], client: 'same', seq: 2 }), { ok: true, version: 2 });
    assert.equal(s1.connected, true);
    // Wait for the last broadcast, then give a duplicate time to show up.
    for (let i = 0; i < 100 && !seen.includes(3); i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(seen, [1, 2, 3], 'each version broadcast once: the resubmission is not broadcast again');
    assert.equal((await server.req('GET', '/api/docs/resub-1/content')).body, 'abcde');
  } finally { s1.close(); s2.close(); watcher.close(); }
});
