// Token authentication over Socket.IO and REST (--auth-mode token): a bad or
// missing token is refused at connect with connect_error "unauthorized";
// presence shows the token's name and colour; roles are enforced per event.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { io } from 'socket.io-client';
import { Server, binPath, connect, call, next } from './harness.mjs';

const secret = 'e2e-secret-e2e-secret-e2e-secret-0123456789';
let server;
before(async () => { server = await new Server({ args: ['--auth-mode', 'token', '--auth-secret', secret] }).start(); });
after(async () => { await server?.kill('SIGTERM'); server?.cleanup(); });

const mint = (...args) => execFileSync(binPath, ['token', '--secret', secret, ...args]).toString().trim();

function refused(opts) {
  return new Promise((resolve, reject) => {
    const s = io(server.url, { forceNew: true, reconnection: false, ...opts });
    s.on('connect', () => { s.close(); reject(new Error('connected without a valid token')); });
    s.on('connect_error', (err) => { s.close(); resolve(err); });
  });
}

test('bad or missing token is refused with connect_error unauthorized', async () => {
  assert.equal((await refused({})).message, 'unauthorized');
  assert.equal((await refused({ auth: { token: 'garbage' } })).message, 'unauthorized');
  const other = execFileSync(binPath, ['token', '--secret', 'x'.repeat(40), '--doc', '*=editor']).toString().trim();
  assert.equal((await refused({ auth: { token: other }, transports: ['websocket'] })).message, 'unauthorized');
  // Correctly signed but expired (beyond the server's 30 s leeway).
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: 'u-old', iat: now - 7200, exp: now - 120, docs: { '*': 'editor' } })}`;
  const expired = `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
  assert.equal((await refused({ auth: { token: expired }, transports: ['polling'] })).message, 'unauthorized');
  assert.equal((await server.req('GET', '/api/docs', { headers: { authorization: `Bearer ${expired}` } })).status, 401);
});

test('token claims drive presence and roles', async () => {
  const ada = await connect(server.url, { auth: { token: mint('--sub', 'u-ada', '--name', 'Ada', '--color', '#123456', '--doc', 'auth-*=editor'), name: 'ignored' } });
  const vic = await connect(server.url, { auth: { token: mint('--sub', 'u-vic', '--name', 'Vic', '--doc', 'auth-1=viewer') } });
  try {
    assert.equal((await call(ada, 'doc:join', { doc: 'auth-1' })).ok, true);
    const j = await call(vic, 'doc:join', { doc: 'auth-1' });
    assert.equal(j.ok, true);
    let a = await call(vic, 'doc:op', { doc: 'auth-1', version: 0, op: ['x'], client: 'v', seq: 1 });
    assert.equal(a.error.code, 'forbidden');
    a = await call(vic, 'doc:presence', { doc: 'auth-1', version: 0, selection: [{ anchor: 0, head: 0 }] });
    assert.equal(a.error.code, 'forbidden', 'a viewer cannot write presence');
    a = await call(vic, 'doc:join', { doc: 'auth-2' });
    assert.equal(a.error.code, 'forbidden');
    a = await call(ada, 'doc:join', { doc: 'other-1' });
    assert.equal(a.error.code, 'forbidden', 'an editor of auth-* gets nothing on other-1');

    const p = next(vic, 'doc:presence');
    assert.deepEqual(await call(ada, 'doc:presence', { doc: 'auth-1', version: 0, selection: [{ anchor: 0, head: 0 }] }), { ok: true });
    assert.deepEqual((await p).user, { id: 'u-ada', name: 'Ada', color: '#123456' });

    assert.equal((await server.req('GET', '/api/docs/auth-1')).status, 401);
    const r = await server.req('GET', '/api/docs/auth-1', { headers: { authorization: `Bearer ${mint('--doc', 'auth-1=viewer')}` } });
    assert.equal(r.status, 200);
  } finally { ada.close(); vic.close(); }
});
