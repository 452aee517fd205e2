// Several clients per document on mixed transports make random concurrent
// edits (emoji included), with forced disconnects mid-run; afterwards every
// client's text equals the server's, no connection ever received the
// broadcast of an op it submitted itself, and every acked op is in the log
// exactly once at its acked version.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, EditClient, sleep, call } from './harness.mjs';

let server;
before(async () => { server = await new Server().start(); });
after(async () => { await server?.kill('SIGTERM'); server?.cleanup(); });

// mulberry32: a small seeded PRNG so failures can be replayed with SEED=.
function prng(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6D2B79F5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function runDoc(doc, seed, transports = [['websocket'], ['polling'], undefined, ['websocket'], ['polling']]) {
  const rand = prng(seed);
  const clients = transports.map((t, i) => new EditClient(server.url, doc, { transports: t, name: `u${i}` }));
  await Promise.all(clients.map((c) => c.start()));

  const rounds = 150;
  for (let r = 0; r < rounds; r++) {
    if (r === rounds / 2) {
      // Send an op and drop the connection before its ack can arrive: it
      // is resubmitted (same client and seq) after the reconnect, or found
      // in the catch-up ops of the rejoin.
      for (const c of clients) { c.randomEdit(rand); c.dropTransport(); }
    }
    for (const c of clients) {
      if (rand() < 0.6) c.randomEdit(rand);
      if (rand() < 0.02) c.dropTransport();
    }
    await sleep(Math.floor(rand() * 15));
  }
  // One client goes offline, edits, and comes back.
  clients[0].socket.disconnect();
  await sleep(20);
  clients[0].randomEdit(rand);
  clients[0].randomEdit(rand);
  clients[0].socket.connect();

  await Promise.all(clients.map((c) => c.waitFor(() => c.idle(), 30000, 'idle')));
  const head = (await server.req('GET', `/api/docs/${doc}`)).body;
  await Promise.all(clients.map((c) => c.waitFor(() => c.version === head.version, 15000, `version ${head.version}`)));

  for (const c of clients) {
    assert.deepEqual(c.errors, [], `${c.client} errors (events: ${c.log.join(', ')})`);
    assert.equal(c.text, head.content, `${c.client} text differs from the server's`);
    for (const [sid, conn] of c.conns) {
      for (const v of conn.acked) {
        assert.ok(!conn.received.has(v), `${c.client} connection ${sid} received its own op v${v}`);
      }
    }
  }

  const log = await server.allOps(doc);
  assert.equal(log.length, head.version, 'log length equals version');
  log.forEach((o, i) => assert.equal(o.version, i + 1, 'log versions are 1..head'));
  const seen = new Set();
  for (const o of log) {
    if (!o.client) continue;
    const key = `${o.client}#${o.seq}`;
    assert.ok(!seen.has(key), `op ${key} committed twice`);
    seen.add(key);
  }
  let acked = 0;
  for (const c of clients) {
    for (const [seq, a] of c.acked) {
      const o = log[a.version - 1];
      assert.equal(o.client, c.client, `v${a.version} client`);
      assert.equal(o.seq, seq, `v${a.version} seq`);
      acked++;
    }
  }
  const drops = clients.reduce((n, c) => n + c.log.filter((l) => l.includes(' drop ')).length, 0);
  const resends = clients.reduce((n, c) => n + c.resends, 0);
  const dups = clients.reduce((n, c) => n + c.duplicateAcks, 0);
  console.log(`# ${doc}: ${log.length} ops, ${acked} acked to clients, ${drops} forced disconnects, ${resends} resubmissions, ${dups} acked as duplicates`);
  assert.ok(acked > 20, `only ${acked} ops were acked`);

  // Resubmitting an acked op (same client and seq) is acked with its
  // original version and leaves the log unchanged.
  const c = clients[1];
  const [seq, a] = [...c.acked][0];
  const r = await call(c.socket, 'doc:op', { doc, version: a.base, op: a.op, client: c.client, seq });
  assert.deepEqual(r, { ok: true, version: a.version });
  assert.equal((await server.req('GET', `/api/docs/${doc}`)).body.version, head.version);

  clients.forEach((c) => c.close());
}

test('random concurrent edits converge on mixed transports', async () => {
  const seed = Number(process.env.SEED || Date.now() % 100000);
  console.log(`# SEED=${seed}`);
  const many = [undefined, ['polling'], ['websocket'], undefined, ['polling'], ['websocket'], undefined, ['polling']];
  await Promise.all([
    runDoc(`conv-a-${seed}`, seed),
    runDoc(`conv-b-${seed}`, seed + 1),
    runDoc(`conv-c-${seed}`, seed + 2, many),
  ]);
});
