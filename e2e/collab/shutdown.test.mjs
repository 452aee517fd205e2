// Graceful shutdown: SIGTERM with live Socket.IO clients on both transports
// and ops in flight exits 0 within the deadline, every acked op is kept, and
// clients see their connection end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Server, EditClient, sleep } from './harness.mjs';

test('SIGTERM shuts down cleanly with live clients', async () => {
  let server = await new Server({ args: ['--shutdown-timeout', '5s'] }).start();
  const dataDir = server.dataDir;
  try {
    const clients = [['polling'], ['websocket'], undefined].map((t) => new EditClient(server.url, 'shut-1', { transports: t }));
    await Promise.all(clients.map((c) => c.start()));
    const disconnected = clients.map((c) => new Promise((r) => c.socket.once('disconnect', r)));
    let stop = false;
    const editing = (async () => { while (!stop) { for (const c of clients) c.randomEdit(); await sleep(5); } })();
    await sleep(300);
    const t0 = Date.now();
    const { code, signal } = await server.kill('SIGTERM');
    stop = true;
    await editing;
    assert.equal(signal, null);
    assert.equal(code, 0, server.output);
    // Exit code 0 already says the documents were flushed within the 5s
    // deadline (run fails otherwise); this bound only catches a hang.
    assert.ok(Date.now() - t0 < 30000, `shutdown took ${Date.now() - t0} ms`);
    assert.match(server.output, /shutting down/);
    await Promise.all(disconnected);
    clients.forEach((c) => c.close());

    server = await new Server({ dataDir }).start();
    const log = await server.allOps('shut-1');
    for (const c of clients) {
      for (const [seq, a] of c.acked) {
        const o = log[a.version - 1];
        assert.ok(o && o.client === c.client && o.seq === seq, `acked v${a.version} kept`);
      }
    }
  } finally {
    await server.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  }
});
