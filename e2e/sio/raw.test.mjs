// Raw protocol tests (fetch for polling, ws for WebSocket) of the rules in
// shared/sio-conformance.md, against bin/sio-echo.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RawWS, eioOpen, pollURL, sleep, startEcho } from './helpers.mjs';

let server;
const sockets = [];
before(async () => { server = await startEcho(); });
after(async () => {
  for (const s of sockets) s.close();
  await server.stop();
});

function ws(query = 'EIO=4&transport=websocket', pathName = '/socket.io/', opts) {
  const s = new RawWS(`${server.wsURL}${pathName}?${query}`, opts);
  sockets.push(s);
  return s;
}

async function expectError(res, status, code) {
  assert.equal(res.status, status);
  if (code !== undefined) {
    const body = await res.json();
    assert.equal(body.code, code);
    assert.equal(typeof body.message, 'string');
  } else {
    await res.arrayBuffer();
  }
}

const post = (url, body) => fetch(url, { method: 'POST', body });

// expectClosed checks that a polling session is closed: a server-closed session may hand
// its close packet "1" to one last GET (as the Node server does); after that, code 1.
async function expectClosed(url) {
  const res = await fetch(url);
  if (res.status === 200) {
    assert.equal(await res.text(), '1');
    await expectError(await fetch(url), 400, 1);
  } else {
    assert.equal(res.status, 400);
    assert.equal((await res.json()).code, 1);
  }
}

// sioWS opens a WebSocket session and connects to the main namespace.
async function sioWS() {
  const s = ws();
  assert.equal((await s.nextText())[0], '0');
  s.send('40');
  assert.match(await s.nextText(), /^40\{"sid":"[^"]+"\}$/);
  assert.equal(await s.nextText(), '42["auth",{}]');
  return s;
}

describe('Engine.IO handshake and errors', () => {
  for (const p of ['/engine.io/', '/socket.io/', '/engine.io', '/socket.io']) {
    test(`polling open packet on ${p}`, async () => {
      const { open } = await eioOpen(server.url, p);
      assert.deepEqual(Object.keys(open).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
      assert.deepEqual(open.upgrades, ['websocket']);
      assert.equal(open.pingInterval, 300);
      assert.equal(open.pingTimeout, 200);
      assert.equal(open.maxPayload, 1000000);
    });
  }

  test('websocket open packet', async () => {
    const s = ws();
    const open = JSON.parse((await s.nextText()).slice(1));
    assert.deepEqual(Object.keys(open).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
    assert.deepEqual(open.upgrades, []);
    s.close();
  });

  test('error codes', async () => {
    const base = `${server.url}/socket.io/`;
    await expectError(await fetch(`${base}?EIO=4&transport=tobi`), 400, 0);
    await expectError(await fetch(`${base}?EIO=4&transport=polling&sid=nope`), 400, 1);
    await expectError(await post(`${base}?EIO=4&transport=polling`, 'x'), 400, 2);
    await expectError(await fetch(`${base}?transport=polling`), 400, 5);
    await expectError(await fetch(`${base}?EIO=3&transport=polling`), 400, 5);
  });

  test('CORS reflects any origin', async () => {
    const res = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, { headers: { Origin: 'http://example.test' } });
    await res.text();
    assert.equal(res.headers.get('access-control-allow-origin'), 'http://example.test');
  });

  test('a POST body over maxPayload gets 413', async () => {
    const { sid } = await eioOpen(server.url);
    const res = await post(pollURL(server.url, sid), '4' + 'x'.repeat(1_000_001));
    assert.equal(res.status, 413);
    await res.arrayBuffer();
  });

  test('a second concurrent GET is a protocol error', async () => {
    const { sid } = await eioOpen(server.url, '/engine.io/');
    const url = pollURL(server.url, sid, '/engine.io/');
    const first = fetch(url);
    await sleep(50);
    const second = await fetch(url);
    assert.equal(second.status, 400);
    await second.arrayBuffer();
    const r1 = await first;
    assert.equal(await r1.text(), '1');
    await expectError(await fetch(url), 400, 1);
  });

  test('heartbeat: pings every pingInterval, closes without pong', async () => {
    const { sid } = await eioOpen(server.url, '/engine.io/');
    const url = pollURL(server.url, sid, '/engine.io/');
    for (let i = 0; i < 3; i++) {
      // The ping is due 300 ms after the last one; the 10 s abort only
      // catches a missing ping (a loaded machine may be late).
      const res = await fetch(url, { signal: AbortSignal.timeout(10000) });
      assert.equal(await res.text(), '2');
      assert.equal((await post(url, '3')).status, 200);
    }
    // no pong: the session is closed pingTimeout after the ping
    const res = await fetch(url);
    assert.equal(await res.text(), '2');
    await sleep(450);
    await expectClosed(url);
  });

  test('a client ping is a protocol error', async () => {
    const s = ws('EIO=4&transport=websocket', '/engine.io/');
    await s.nextText();
    s.send('2');
    await s.waitClose();
  });

  test('close by POST answers the pending GET with a noop', async () => {
    const { sid } = await eioOpen(server.url, '/engine.io/');
    const url = pollURL(server.url, sid, '/engine.io/');
    const pending = fetch(url);
    await sleep(30);
    assert.equal((await post(url, '1')).status, 200);
    assert.equal(await (await pending).text(), '6');
    await expectError(await fetch(url), 400, 1);
  });

  test('websocket close packet closes at once', async () => {
    const s = ws('EIO=4&transport=websocket', '/engine.io/');
    await s.nextText();
    s.send('1');
    await s.waitClose(1000);
  });

  test('a WebSocket message over maxPayload closes with 1009', async () => {
    const s = ws('EIO=4&transport=websocket', '/engine.io/');
    await s.nextText();
    s.send('4' + 'x'.repeat(1_000_001));
    assert.equal(await s.waitClose(), 1009);
  });
});

describe('bare Engine.IO echo on /engine.io/', () => {
  test('polling: text as text, binary as binary, in order', async () => {
    const { sid } = await eioOpen(server.url, '/engine.io/');
    const url = pollURL(server.url, sid, '/engine.io/');
    assert.equal((await post(url, '4hello\x1ebAQID\x1e4é😀')).status, 200);
    let got = '';
    while (!got.includes('4é😀')) {
      const text = await (await fetch(url)).text();
      got += (got ? '\x1e' : '') + text.split('\x1e').filter((p) => p !== '2').join('\x1e');
      if (text.includes('2')) await post(url, '3');
    }
    assert.equal(got, '4hello\x1ebAQID\x1e4é😀');
  });

  test('websocket: text and binary frames', async () => {
    const s = ws('EIO=4&transport=websocket', '/engine.io/');
    await s.nextText();
    s.send('4hi');
    s.send(Buffer.from([1, 2, 3]));
    assert.equal(await s.nextText(), '4hi');
    const m = await s.next();
    assert.equal(m.binary, true);
    assert.deepEqual(m.data, Buffer.from([1, 2, 3]));
  });
});

describe('upgrade', () => {
  test('probe, noop for the pending GET, then polling is refused', async () => {
    const { sid } = await eioOpen(server.url, '/engine.io/');
    const url = pollURL(server.url, sid, '/engine.io/');
    const pending = fetch(url);
    await sleep(30);
    const s = ws(`EIO=4&transport=websocket&sid=${sid}`, '/engine.io/');
    await s.open();
    s.send('2probe');
    assert.equal(await s.nextText(), '3probe');
    // A ping that fell due meanwhile may take the pending GET first (pingInterval is
    // 300 ms): answer it and poll again; the next GET must then be released by a noop.
    let released = await (await pending).text();
    for (let i = 0; i < 3 && !released.split('\x1e').includes('6'); i++) {
      assert.ok(released.split('\x1e').every((p) => p === '2'), `pending GET got ${released}`);
      await (await post(url, '3')).text();
      released = await (await fetch(url)).text();
    }
    assert.ok(released.split('\x1e').includes('6'), `pending GET got ${released}`);
    s.send('5');
    await sleep(50);
    // Until the server has read the "5", a GET is still released with a noop.
    let after = await fetch(url);
    for (let i = 0; i < 10 && after.status === 200; i++) {
      const body = await after.text();
      assert.ok(body.split('\x1e').every((p) => p === '6' || p === '2'), `GET during the switch got ${body}`);
      if (body.split('\x1e').includes('2')) await (await post(url, '3')).text();
      await sleep(50);
      after = await fetch(url);
    }
    await expectError(after, 400, 3);
    s.send('4after upgrade');
    assert.equal(await s.nextText(), '4after upgrade');

    // a second websocket for the upgraded sid is closed; the first keeps working
    const s2 = ws(`EIO=4&transport=websocket&sid=${sid}`, '/engine.io/');
    await s2.waitClose();
    s.send('4still');
    assert.equal(await s.nextText(), '4still');
  });
});

describe('Socket.IO packets', () => {
  test('CONNECT to /, with payload, to /custom, and unknown namespace', async () => {
    const s = ws();
    await s.nextText();
    s.send('40{"token":"123"}');
    const reply = await s.nextText();
    assert.match(reply, /^40\{"sid":"[A-Za-z0-9_-]+"\}$/);
    assert.equal(await s.nextText(), '42["auth",{"token":"123"}]');
    s.send('40/random');
    assert.equal(await s.nextText(), '44/random,{"message":"Invalid namespace"}');
    s.send('40/custom,{"token":"abc"}');
    const creply = await s.nextText();
    assert.match(creply, /^40\/custom,\{"sid":"[^"]+"\}$/);
    assert.notEqual(creply.slice(10), reply.slice(2));
    assert.equal(await s.nextText(), '42/custom,["auth",{"token":"abc"}]');
  });

  test('byte-exact echo and acks, text and binary', async () => {
    const s = await sioWS();
    s.send('42["message",{"z":1,"a":[1.50,"é😀"],"m":{"_x":null}}]');
    assert.equal(await s.nextText(), '42["message-back",{"z":1,"a":[1.50,"é😀"],"m":{"_x":null}}]');
    s.send('42456["message-with-ack",1,"2",{"3":[false]}]');
    assert.equal(await s.nextText(), '43456[1,"2",{"3":[false]}]');
    s.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    s.send(Buffer.from([1, 2, 3]));
    s.send(Buffer.from([4, 5, 6]));
    assert.equal(await s.nextText(), '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    assert.deepEqual((await s.next()).data, Buffer.from([1, 2, 3]));
    assert.deepEqual((await s.next()).data, Buffer.from([4, 5, 6]));
    s.send('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    s.send(Buffer.from([1, 2, 3]));
    s.send(Buffer.from([4, 5, 6]));
    assert.equal(await s.nextText(), '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    assert.deepEqual((await s.next()).data, Buffer.from([1, 2, 3]));
    assert.deepEqual((await s.next()).data, Buffer.from([4, 5, 6]));
  });

  test('server-to-client ack over the wire', async () => {
    const s = await sioWS();
    s.send('42["server-ack",{"q":1}]');
    const m = await s.nextText();
    const id = m.match(/^42(\d+)\["server-ack",\{"q":1\}\]$/)[1];
    s.send(`43${id}["done",2]`);
    assert.equal(await s.nextText(), '42["server-ack-result","done",2]');
    s.send(`43${id}["again"]`); // unknown id now: ignored
    s.send('42["message","next"]');
    assert.equal(await s.nextText(), '42["message-back","next"]');
  });

  test('41 leaves the namespace silently and keeps the session', async () => {
    const s = await sioWS();
    s.send('40/custom,');
    await s.nextText();
    await s.nextText();
    s.send('41/custom,');
    s.send('42["message","message to main namespace"]');
    assert.equal(await s.nextText(), '42["message-back","message to main namespace"]');
    s.send('41');
    s.send('40');
    assert.match(await s.nextText(), /^40\{"sid"/);
  });

  const closing = {
    'unknown packet type': ['4abc'],
    'unknown type digit': ['49'],
    'invalid payload format': ['42{}'],
    'invalid ack id': ['42abc["message-with-ack",1,"2",{"3":[false]}]'],
    'reserved event name': ['42["disconnect"]'],
    'event name not a string': ['42[1,2]'],
    'empty event': ['42[]'],
    'ack not an array': ['431{}'],
    'CONNECT payload not an object': ['40/custom,[1]'],
    'packet for a namespace not connected': ['42/custom,["message"]'],
    'second CONNECT': ['40'],
    'text while awaiting attachments': ['451-["message",{"_placeholder":true,"num":0}]', '42["message"]'],
  };
  for (const [name, msgs] of Object.entries(closing)) {
    test(`closes the connection: ${name}`, async () => {
      const s = await sioWS();
      for (const m of msgs) s.send(m);
      await s.waitClose();
    });
  }

  test('closes the connection: unexpected binary message', async () => {
    const s = await sioWS();
    s.send(Buffer.from([1]));
    await s.waitClose();
  });

  test('closes a session with no namespace CONNECT after the connect timeout', async () => {
    const s = ws(); // answers pings, so only the connect timeout can close it
    await s.nextText();
    const t0 = Date.now();
    await s.waitClose(30000); // only a hang guard: a loaded machine may be late
    const dt = Date.now() - t0;
    assert.ok(dt > 400, `closed after ${dt} ms, before the 1 s connect timeout`);
  });

  test('polling: attachments arriving in a later POST; UTF-8', async () => {
    const { sid } = await eioOpen(server.url);
    const url = pollURL(server.url, sid);
    await post(url, '40');
    const read = async () => {
      for (;;) {
        const parts = (await (await fetch(url)).text()).split('\x1e');
        const rest = parts.filter((p) => p !== '2');
        if (rest.length < parts.length) await post(url, '3');
        if (rest.length) return rest;
      }
    };
    let got = await read();
    while (got.length < 2) got = got.concat(await read());
    assert.match(got[0], /^40\{"sid"/);
    assert.equal(got[1], '42["auth",{}]');
    assert.equal((await post(url, '452-["message","é😀",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]\x1ebAQI=')).status, 200);
    await sleep(50);
    assert.equal((await post(url, 'bAwQ=')).status, 200);
    got = await read();
    while (got.length < 3) got = got.concat(await read());
    assert.deepEqual(got, ['452-["message-back","é😀",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]', 'bAQI=', 'bAwQ=']);
  });

  test('polling: an unparsable POST body closes the session', async () => {
    const { sid } = await eioOpen(server.url);
    const url = pollURL(server.url, sid);
    const res = await post(url, 'x');
    assert.equal(res.status, 400);
    await res.arrayBuffer();
    await expectClosed(url);
  });
});
