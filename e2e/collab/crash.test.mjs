// Durability under kill -9: run a write load (Socket.IO clients and a REST
// writer), SIGKILL the server at a random moment, restart it on the same
// data directory, and check that every acked op is in the log at its acked
// version, that the log replays to the stored content, and that resubmitting
// acked ops (same client and seq) is acked with the original version without
// changing the log. CRASH_ROUNDS (default 2) sets the number of kill -9
// rounds; the test prints the acked ops, the acked ops lost and the
// duplicates it found, and fails unless both are 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Server, EditClient, connect, call, sleep, text } from './harness.mjs';

async function restWriter(server, doc, stop, cycle) {
  const client = `rest-${process.pid}-${doc}-${cycle}`;
  const acked = new Map();
  let version = (await server.req('GET', `/api/docs/${doc}`)).body.version;
  for (let seq = 1; !stop.done; seq++) {
    try {
      const r = await server.req('POST', `/api/docs/${doc}/ops`, { json: { version, op: ['r'], client, seq } });
      if (r.status !== 200) break;
      acked.set(seq, { version: r.body.version, base: version });
      version = r.body.version;
    } catch { break; } // the server died
  }
  return { client, acked };
}

const rounds = Number(process.env.CRASH_ROUNDS || 2);

test(`every acked op survives kill -9 (${rounds} rounds) and is deduplicated after restart`, async () => {
  // Frequent snapshots and a short in-memory history: after a restart most
  // acked ops are only in the op log, where duplicate lookups must find them.
  // Each such lookup costs a rate-limit token; this test resubmits every
  // acked op of a client at once, so the limit is off.
  const args = ['--snapshot-every', '5', '--history-ops', '8', '--ops-per-second', '-1'];
  let server = await new Server({ args }).start();
  const dataDir = server.dataDir;
  try {
    const docs = ['crash-a', 'crash-b'];
    assert.equal((await server.req('POST', '/api/docs', { json: { id: 'crash-r' } })).status, 201);
    const clients = [];
    const restAcksAll = [];
    // Crash cycles: load, kill -9 at a random moment, restart.
    for (let cycle = 0; cycle < rounds; cycle++) {
      const round = [];
      for (const [i, t] of [['polling'], undefined, ['polling'], undefined].entries()) {
        round.push(new EditClient(server.url, docs[i % 2], { transports: t }));
      }
      await Promise.all(round.map((c) => c.start()));
      clients.push(...round);
      const stop = { done: false };
      const rest = restWriter(server, 'crash-r', stop, cycle);
      const editing = (async () => {
        while (!stop.done) {
          for (const c of round) c.randomEdit();
          await sleep(3);
        }
      })();

      // Kill at a random moment once the load is going (at least 10 ops
      // acked: on a loaded machine the first acks may take a while).
      const ackedNow = () => round.reduce((n, c) => n + c.acked.size, 0);
      for (let waited = 0; ackedNow() < 10 && waited < 30000; waited += 10) await sleep(10);
      await sleep(Math.floor(Math.random() * 700));
      await server.kill('SIGKILL');
      stop.done = true;
      await editing;
      restAcksAll.push(await rest);
      round.forEach((c) => c.close());
      const total = round.reduce((n, c) => n + c.acked.size, restAcksAll.at(-1).acked.size);
      console.log(`# cycle ${cycle}: ${total} ops acked before the kill`);
      assert.ok(total > 10, `only ${total} ops were acked before the kill`);
      server = await new Server({ dataDir, args }).start();
    }

    const heads = {};
    let ackedTotal = 0;
    let lost = 0;
    let duplicates = 0;
    for (const doc of [...docs, 'crash-r']) {
      const log = await server.allOps(doc);
      const d = (await server.req('GET', `/api/docs/${doc}`)).body;
      heads[doc] = d.version;
      assert.equal(log.length, d.version, `${doc}: log length equals version`);
      let content = '';
      log.forEach((o, i) => {
        assert.equal(o.version, i + 1, `${doc}: versions are contiguous`);
        content = text.apply(content, o.op);
      });
      assert.equal(content, d.content, `${doc}: the log replays to the stored content`);
      const byVersion = new Map(log.map((o) => [o.version, o]));
      const seen = new Set();
      for (const o of log) {
        if (!o.client || !o.seq) continue;
        const k = `${o.client}#${o.seq}`;
        if (seen.has(k)) duplicates++;
        seen.add(k);
      }
      const check = (client, acked) => {
        for (const [seq, a] of acked) {
          ackedTotal++;
          const o = byVersion.get(a.version);
          if (!o || o.client !== client || o.seq !== seq) {
            lost++;
            console.log(`# ${doc}: acked ${client}#${seq} at v${a.version} is not there after the crashes`);
          }
        }
      };
      if (doc === 'crash-r') for (const ra of restAcksAll) check(ra.client, ra.acked);
      for (const c of clients) if (c.doc === doc) check(c.client, c.acked);
    }
    console.log(`# ${rounds} kill -9 rounds: ${ackedTotal} ops acked, ${lost} acked ops lost, ${duplicates} duplicates`);
    assert.equal(lost, 0, 'acked ops lost');
    assert.equal(duplicates, 0, 'duplicate (client, seq) in the log');

    // Resubmit acked ops (REST, then over Socket.IO): deduplicated, log
    // unchanged, and every one — the client's newest op as well as older
    // seqs, which collab looks up in the op log — acked with exactly its
    // original version (the server keeps every op: --retention 0).
    const expectVersion = (doc, client, seq, a, got) => {
      assert.equal(got, a.version, `${doc} ${client}#${seq}: resubmission acked with the original version`);
    };
    const resubmit = async (doc, client, seq, a, op) => {
      const r = await server.req('POST', `/api/docs/${doc}/ops`, { json: { version: a.base, op, client, seq } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      expectVersion(doc, client, seq, a, r.body.version);
    };
    for (const ra of restAcksAll) for (const [seq, a] of ra.acked) await resubmit('crash-r', ra.client, seq, a, ['r']);
    for (const c of clients.slice(1)) {
      for (const [seq, a] of c.acked) await resubmit(c.doc, c.client, seq, a, a.op);
    }
    const c0 = clients[0];
    if (c0.acked.size > 0) {
      const s = await connect(server.url);
      try {
        assert.equal((await call(s, 'doc:join', { doc: c0.doc })).ok, true);
        for (const [seq, a] of c0.acked) {
          const ack = await call(s, 'doc:op', { doc: c0.doc, version: a.base, op: a.op, client: c0.client, seq });
          assert.equal(ack.ok, true, JSON.stringify(ack));
          expectVersion(c0.doc, c0.client, seq, a, ack.version);
        }
      } finally { s.close(); }
    }
    for (const doc of [...docs, 'crash-r']) {
      const d = (await server.req('GET', `/api/docs/${doc}`)).body;
      assert.equal(d.version, heads[doc], `${doc}: resubmissions left the log unchanged`);
    }
  } finally {
    await server.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  }
});
