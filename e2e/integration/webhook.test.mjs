// Webhooks from the built binary to a real HTTP receiver: events queued
// while the receiver refuses, and a debounced doc.updated still pending,
// survive kill -9 and are delivered after the restart, signed, in order,
// never announcing an op beyond the durable head.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Server } from '../collab/harness.mjs';
import { startReceiver } from './helpers.mjs';

const secret = 'e2e-webhook-secret';

test('webhook events survive kill -9 and arrive after the restart', async () => {
  const rx = await startReceiver(secret);
  const args = ['--webhook-url', rx.url, '--webhook-secret', secret, '--webhook-debounce', '1s'];
  const server = await new Server({ args }).start();
  let restarted;
  try {
    assert.equal((await server.req('POST', '/api/docs', { json: { id: 'w' } })).status, 201);
    for (let v = 0; v < 3; v++) {
      assert.equal((await server.req('POST', '/api/docs/w/ops', { json: { version: v, op: [v === 0 ? 'x' : v, 'y'].filter((c) => c !== 0) } })).status, 200);
    }
    // The dispatcher has tried doc.created at least once (refused): it is queued.
    while (rx.requests === 0) await new Promise((r) => rx.server.once('request', r));
    await server.kill('SIGKILL');
    assert.equal(rx.accepted.length, 0);

    rx.mode = 'accept';
    restarted = new Server({ dataDir: server.dataDir, port: server.port, args });
    await restarted.start();
    const got = await rx.waitFor((evs) => evs.some((e) => e.type === 'doc.updated' && e.to === 3));
    const head = (await restarted.req('GET', '/api/docs/w')).body.version;
    assert.equal(head, 3);

    // More edits, then a delete: doc.updated 3..5 before doc.deleted.
    for (let v = 3; v < 5; v++) {
      assert.equal((await restarted.req('POST', '/api/docs/w/ops', { json: { version: v, op: ['z'] } })).status, 200);
    }
    assert.equal((await restarted.req('DELETE', '/api/docs/w')).status, 204);
    await rx.waitFor((evs) => evs.some((e) => e.type === 'doc.deleted'));

    const seen = new Set();
    const events = rx.accepted.filter((e) => !seen.has(e.id) && seen.add(e.id)); // at least once: dedupe by id
    assert.deepEqual(events.map((e) => e.type),
      ['doc.created', ...events.filter((e) => e.type === 'doc.updated').map(() => 'doc.updated'), 'doc.deleted']);
    let to = 0;
    for (const e of events.filter((e) => e.type === 'doc.updated')) {
      assert.equal(e.from, to, `doc.updated ${e.from}..${e.to} after ${to}`);
      assert.ok(e.to > e.from);
      to = e.to;
    }
    assert.equal(to, 5);
    assert.ok(got.length >= 2);
    for (const e of events) {
      assert.equal(e.doc, 'w');
      assert.ok(!Number.isNaN(Date.parse(e.time)));
    }
    assert.equal(rx.badSignatures, 0, 'every request carried a valid Cowrite-Signature and Cowrite-Delivery');
    const metrics = await (await fetch(`${restarted.url}/metrics`)).text();
    assert.match(metrics, /cowrite_webhook_delivered_total [1-9]/);
    assert.match(metrics, /cowrite_webhook_queued \d/); // the last ack may still be on its way
  } finally {
    await server.kill('SIGKILL');
    if (restarted) await restarted.kill();
    server.cleanup();
    await rx.close();
  }
});

test('a webhook URL that is not http(s) is refused at start', async () => {
  const server = new Server({ args: ['--webhook-url', 'ftp://example.com/hook'] });
  await assert.rejects(server.start(), /webhook-url/);
  server.cleanup();
});
