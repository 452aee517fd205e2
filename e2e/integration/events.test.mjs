// The change feed (GET /api/docs/{id}/events) read by a real client over
// HTTP: from the head, resumed with Last-Event-ID across a kill -9 and a
// restart (the missing ops replayed from the op log, then live, nothing
// missed or repeated), version_ahead beyond the head, and deleted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Server, connect, call } from '../collab/harness.mjs';
import { openEvents } from './helpers.mjs';

test('change feed: live, resumed after kill -9, deleted', async () => {
  const server = await new Server().start();
  let restarted;
  try {
    assert.equal((await server.req('POST', '/api/docs', { json: { id: 'feed', content: '' } })).status, 201);
    const head = await openEvents(`${server.url}/api/docs/feed/events`);
    assert.equal(head.status, 200);
    assert.match(head.headers.get('content-type'), /^text\/event-stream/);

    // Ops through Socket.IO: the feed sees them as the room does.
    const sock = await connect(server.url, { auth: { name: 'e2e' } });
    const joined = await call(sock, 'doc:join', { doc: 'feed' });
    assert.equal(joined.ok, true);
    for (let i = 0; i < 5; i++) {
      const ack = await call(sock, 'doc:op', { doc: 'feed', version: i, op: i === 0 ? ['a'] : [i, 'a'], client: 'c1', seq: i + 1 });
      assert.equal(ack.ok, true);
    }
    for (let v = 1; v <= 5; v++) {
      const ev = await head.next();
      assert.equal(ev.event, 'op');
      assert.equal(ev.id, String(v));
      assert.equal(ev.data.version, v);
      assert.equal(ev.data.client, 'c1');
      assert.ok(Array.isArray(ev.data.op));
    }
    head.close();
    sock.close();

    await server.kill('SIGKILL');
    restarted = new Server({ dataDir: server.dataDir, port: server.port });
    await restarted.start();

    const ahead = await openEvents(`${restarted.url}/api/docs/feed/events`, { 'Last-Event-ID': '6' });
    assert.equal(ahead.status, 400);
    assert.equal(JSON.parse(ahead.body).error.code, 'version_ahead');

    const resumed = await openEvents(`${restarted.url}/api/docs/feed/events`, { 'Last-Event-ID': '2' });
    // Live ops posted while the replay is read.
    const posts = (async () => {
      for (let v = 5; v < 10; v++) {
        const r = await restarted.req('POST', '/api/docs/feed/ops', { json: { version: v, op: ['b'] } });
        assert.equal(r.status, 200);
      }
    })();
    for (let v = 3; v <= 10; v++) {
      const ev = await resumed.next();
      assert.equal(ev.event, 'op');
      assert.equal(Number(ev.id), v, `event ${v} missing or repeated`);
    }
    await posts;
    assert.equal((await restarted.req('DELETE', '/api/docs/feed')).status, 204);
    const del = await resumed.next();
    assert.equal(del.event, 'deleted');
    assert.deepEqual(del.data, { doc: 'feed' });
    assert.equal(await resumed.next(), null, 'the stream ends after deleted');
  } finally {
    await server.kill('SIGKILL');
    if (restarted) await restarted.kill();
    server.cleanup();
  }
});
