// socket.io-client 4.8 against bin/sio-echo, over the three transport configurations.
//
// The server pings every 300 ms as in conformance mode, but with a 2 s ping timeout
// (ECHO_ARGS) so that a loaded CI machine cannot turn a slow scheduler into a spurious
// "ping timeout"; raw.test.mjs checks the exact 300/200 ms conformance heartbeat.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { io, Manager } from 'socket.io-client';
import { sleep, startEcho, withTimeout } from './helpers.mjs';

const CONFIGS = {
  'polling then upgrade': {},
  websocket: { transports: ['websocket'] },
  polling: { transports: ['polling'] },
};

const ECHO_ARGS = ['-ping-interval', '300ms', '-ping-timeout', '2s'];

const clients = [];

function client(server, opts = {}, nsp = '/') {
  const s = io(server.url + nsp, {
    forceNew: true,
    reconnection: false,
    autoConnect: false,
    timeout: 5000,
    ...opts,
  });
  clients.push(s);
  return s;
}

async function connected(s) {
  if (!s.connected) {
    s.connect();
    await withTimeout(once(s, 'connect'), 5000, 'connect');
  }
  return s;
}

// nextEvent resolves with the args of the next `event`; it rejects at once, with the
// reason, if the socket disconnects first.
function nextEvent(s, event, ms = 3000) {
  return withTimeout(new Promise((resolve, reject) => {
    const onEvent = (...args) => { s.off('disconnect', onDisconnect); resolve(args); };
    const onDisconnect = (reason) => {
      s.off(event, onEvent);
      reject(new Error(`disconnected (${reason}) while waiting for ${event}`));
    };
    s.once(event, onEvent);
    if (event !== 'disconnect') s.once('disconnect', onDisconnect);
  }), ms, `event ${event}`);
}

// noEvent resolves when `event` does not arrive within ms, rejects if it does.
function noEvent(s, event, ms = 300) {
  return new Promise((resolve, reject) => {
    const fn = (...args) => reject(new Error(`unexpected ${event}: ${JSON.stringify(args)}`));
    s.once(event, fn);
    setTimeout(() => { s.off(event, fn); resolve(); }, ms);
  });
}

// ack emits with a timeout and resolves with every ack argument.
function ack(s, event, ...args) {
  return new Promise((resolve, reject) => {
    s.timeout(3000).emit(event, ...args, (err, ...res) => (err ? reject(err) : resolve(res)));
  });
}

const toBuf = (x) => Buffer.from(x instanceof ArrayBuffer ? new Uint8Array(x) : x);

let server;
before(async () => { server = await startEcho({ args: ECHO_ARGS }); });
after(async () => {
  for (const c of clients) c.disconnect();
  await server.stop();
});

for (const [name, opts] of Object.entries(CONFIGS)) {
  describe(`socket.io-client, ${name}`, () => {
    test('auth payload is echoed; socket id differs from the engine id', async () => {
      const s = client(server, { ...opts, auth: { token: 'abc', n: [1, 2] } });
      const auth = nextEvent(s, 'auth');
      await connected(s);
      assert.deepEqual(await auth, [{ token: 'abc', n: [1, 2] }]);
      assert.equal(typeof s.id, 'string');
      assert.notEqual(s.id, s.io.engine.id);
      const plain = client(server, opts);
      const auth2 = nextEvent(plain, 'auth');
      await connected(plain);
      assert.deepEqual(await auth2, [{}]);
    });

    test('events and acks both ways', async () => {
      const s = await connected(client(server, opts));
      const back = nextEvent(s, 'message-back');
      s.emit('message', 1, '2', { 3: [true], z: null });
      assert.deepEqual(await back, [1, '2', { 3: [true], z: null }]);

      assert.deepEqual(await ack(s, 'message-with-ack', 1, '2', { 3: [false] }), [1, '2', { 3: [false] }]);
      assert.equal(await s.timeout(3000).emitWithAck('message-with-ack', 'first'), 'first');

      s.once('server-ack', (...args) => {
        const cb = args.pop();
        assert.deepEqual(args, ['x', { y: 1 }]);
        cb('result', 42);
      });
      const result = nextEvent(s, 'server-ack-result');
      s.emit('server-ack', 'x', { y: 1 });
      assert.deepEqual(await result, ['result', 42]);

      // an event the server never acks times out on the client
      await assert.rejects(s.timeout(200).emitWithAck('no-such-handler'));
    });

    test('binary in events and acks: nested, several buffers', async () => {
      const s = await connected(client(server, opts));
      const a = Buffer.from([1, 2, 3]);
      const b = Buffer.from([]);
      const c = Buffer.from('€uro', 'utf8');
      const back = nextEvent(s, 'message-back');
      s.emit('message', a, { nested: [b, { deep: c }], n: 1 }, 'text');
      const [x, y, z] = await back;
      assert.deepEqual(toBuf(x), a);
      assert.deepEqual(toBuf(y.nested[0]), b);
      assert.deepEqual(toBuf(y.nested[1].deep), c);
      assert.equal(y.n, 1);
      assert.equal(z, 'text');

      const res = await ack(s, 'message-with-ack', { list: [a, c] }, c);
      assert.deepEqual(toBuf(res[0].list[0]), a);
      assert.deepEqual(toBuf(res[0].list[1]), c);
      assert.deepEqual(toBuf(res[1]), c);
    });

    test('binary near maxPayload is echoed; over maxPayload disconnects', async () => {
      const s = await connected(client(server, opts));
      // 700 kB: as base64 over polling this is ~933 kB, just under the 1 MB maxPayload.
      const big = Buffer.alloc(700_000, 7);
      big[12345] = 1;
      const back = nextEvent(s, 'message-back', 10000);
      s.emit('message', big);
      const [got] = await back;
      assert.equal(toBuf(got).length, big.length);
      assert.ok(toBuf(got).equals(big));

      const gone = nextEvent(s, 'disconnect', 10000);
      s.emit('message', Buffer.alloc(1_100_000, 1));
      const [reason] = await gone;
      assert.match(reason, /transport (close|error)/);
    });

    test('two namespaces multiplexed on one connection', async () => {
      const m = new Manager(server.url, { ...opts, reconnection: false, autoConnect: false, forceNew: true });
      const root = m.socket('/');
      const custom = m.socket('/custom', { auth: { who: 'custom' } });
      clients.push(root, custom);
      const auth = nextEvent(custom, 'auth');
      await Promise.all([connected(root), connected(custom)]);
      assert.deepEqual(await auth, [{ who: 'custom' }]);
      assert.equal(root.io, custom.io);
      assert.notEqual(root.id, custom.id);
      const back = nextEvent(root, 'message-back');
      root.emit('message', 'on root');
      assert.deepEqual(await back, ['on root']);
      // leaving /custom keeps / working on the same engine connection
      const engineId = m.engine.id;
      custom.disconnect();
      const back2 = nextEvent(root, 'message-back');
      root.emit('message', 'still');
      assert.deepEqual(await back2, ['still']);
      assert.equal(m.engine.id, engineId);
    });

    test('unknown namespace gives connect_error "Invalid namespace"', async () => {
      const s = client(server, opts, '/random');
      const err = nextEvent(s, 'connect_error');
      s.connect();
      const [e] = await err;
      assert.equal(e.message, 'Invalid namespace');
    });

    test('rooms: to-room, io-to-room, broadcast, leave, disconnect', async () => {
      const [a, b, c] = await Promise.all([0, 1, 2].map(() => connected(client(server, opts))));
      const room = `room-${name}`;
      assert.deepEqual(await ack(a, 'join', room), [[a.id, room].sort()]);
      assert.deepEqual(await ack(b, 'join', room), [[b.id, room].sort()]);
      assert.deepEqual(await ack(c, 'join', `${room}-other`), [[c.id, `${room}-other`].sort()]);
      assert.deepEqual(await ack(a, 'rooms', room), [[a.id, b.id].sort()]);

      // to-room: everyone in the room except the sender
      let bGot = nextEvent(b, 'room-message');
      let aNo = noEvent(a, 'room-message');
      let cNo = noEvent(c, 'room-message');
      assert.deepEqual(await ack(a, 'to-room', room, 'hi', { k: 1 }), []);
      assert.deepEqual(await bGot, ['hi', { k: 1 }]);
      await Promise.all([aNo, cNo]);

      // io-to-room: the sender included, other rooms isolated
      const aGot = nextEvent(a, 'room-message');
      bGot = nextEvent(b, 'room-message');
      cNo = noEvent(c, 'room-message');
      a.emit('io-to-room', room, 'all');
      assert.deepEqual(await aGot, ['all']);
      assert.deepEqual(await bGot, ['all']);
      await cNo;

      // broadcast: every socket but the sender
      const bb = nextEvent(b, 'broadcast-back');
      const cb = nextEvent(c, 'broadcast-back');
      aNo = noEvent(a, 'broadcast-back');
      a.emit('broadcast', 'bcast');
      assert.deepEqual(await bb, ['bcast']);
      assert.deepEqual(await cb, ['bcast']);
      await aNo;

      // leave
      assert.deepEqual(await ack(b, 'leave', room), [[b.id]]);
      assert.deepEqual(await ack(a, 'rooms', room), [[a.id]]);
      const bNo = noEvent(b, 'room-message');
      a.emit('io-to-room', room, 'after leave');
      await bNo;

      // disconnect removes from every room
      a.disconnect();
      let left;
      for (let i = 0; i < 50; i++) {
        [left] = await ack(c, 'rooms', room);
        if (left.length === 0) break;
        await sleep(20);
      }
      assert.deepEqual(left, []);
    });

    test('disconnect-me: the server disconnects the socket', async () => {
      const s = await connected(client(server, opts));
      const gone = nextEvent(s, 'disconnect');
      s.emit('disconnect-me');
      assert.deepEqual((await gone)[0], 'io server disconnect');
    });

    test('stays connected across many heartbeats under traffic; UTF-8 and emoji', async () => {
      const s = await connected(client(server, opts));
      let pings = 0;
      s.io.engine.on('ping', () => { pings++; });
      let disconnected = false;
      s.on('disconnect', () => { disconnected = true; });
      const text = 'héllo wörld — 😀🎉 𝄞 中文 \u0000 \u2028 "quotes" \\ </script>';
      // Traffic for 3 s, and on until at least 5 heartbeats and 21 round
      // trips have happened; the 30 s deadline only catches a stall, it
      // does not measure speed.
      const minEnd = Date.now() + 3000;
      const end = Date.now() + 30000;
      let n = 0;
      while ((Date.now() < minEnd || pings < 5 || n <= 20) && Date.now() < end) {
        const [back] = await ack(s, 'message-with-ack', text, n);
        assert.equal(back, text);
        n++;
        await sleep(20);
      }
      assert.equal(disconnected, false);
      assert.ok(pings >= 5, `only ${pings} pings in 30 s`);
      assert.ok(n > 20, `only ${n} round trips in 30 s`);
    });
  });
}

describe('reconnection after the server restarts on the same port', () => {
  for (const [name, opts] of Object.entries(CONFIGS)) {
    test(name, async () => {
      const srv = await startEcho({ args: ECHO_ARGS });
      try {
        const s = io(srv.url, { ...opts, forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 200 });
        clients.push(s);
        await withTimeout(once(s, 'connect'), 5000, 'connect');
        const firstId = s.id;
        const gone = nextEvent(s, 'disconnect', 5000);
        assert.equal(await srv.stop(), 0, 'sio-echo did not exit cleanly on SIGTERM');
        assert.match((await gone)[0], /transport (close|error)|ping timeout/);
        const again = withTimeout(once(s, 'connect'), 10000, 'reconnect');
        const srv2 = await startEcho({ port: srv.port, args: ECHO_ARGS });
        try {
          await again;
          assert.notEqual(s.id, firstId);
          assert.deepEqual(await ack(s, 'message-with-ack', 'back'), ['back']);
        } finally {
          s.disconnect();
          await srv2.stop();
        }
      } finally {
        await srv.stop();
      }
    });
  }
});
