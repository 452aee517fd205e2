// Cross-site attacks through a real Chromium (issue 17 #3): a page of
// another site cannot create a document or commit an op with a no-cors
// text/plain fetch, and a DNS-rebound host name is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { chromium } from 'playwright-core';
import { Server, chromiumPath } from './helpers.mjs';

let server;
let evil;
let browser;

before(async () => {
  server = await new Server().start();
  // "Another site": a page served from localhost on another port (the
  // server is reached as 127.0.0.1).
  evil = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>evil</title><p>nothing to see</p>');
  });
  await new Promise((resolve) => evil.listen(0, '127.0.0.1', resolve));
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // DNS rebinding without a DNS server: this name resolves to loopback.
      '--host-resolver-rules=MAP rebind.test 127.0.0.1'],
  });
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => (evil ? evil.close(resolve) : resolve()));
  await server?.close();
});

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(server.url + path, init);
  return { status: res.status, body: await res.json().catch(() => null) };
}

test('a page of another site cannot create a document or commit an op', async () => {
  assert.equal((await api('POST', '/api/docs', { id: 'victim', content: 'mine' })).status, 201);
  const page = await browser.newPage();
  try {
    await page.goto(`http://localhost:${evil.address().port}/`);
    const results = await page.evaluate(async (target) => {
      const out = [];
      const send = async (path, body) => {
        try {
          const res = await fetch(target + path, { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify(body) });
          out.push(res.type); // "opaque": the request was sent
        } catch (e) {
          out.push(`error: ${e}`);
        }
      };
      await send('/api/docs', { id: 'csrf-created', content: 'pwned' });
      await send('/api/docs/victim/ops', { version: 0, op: ['pwned '] });
      // A form post needs no script at all.
      const f = document.createElement('form');
      f.method = 'POST';
      f.action = `${target}/api/docs/victim/ops`;
      f.enctype = 'text/plain';
      const i = document.createElement('input');
      i.name = '{"version":0,"op":["form "],"x":"'; // sent as {"version":0,"op":["form "],"x":"="}
      i.value = '"}';
      f.append(i);
      document.body.append(f);
      return out;
    }, server.url);
    assert.deepEqual(results, ['opaque', 'opaque'], 'Chromium sent both requests');
    assert.equal((await api('GET', '/api/docs/csrf-created')).status, 404, 'no document was created');
    assert.equal((await api('GET', '/api/docs/victim')).body.version, 0, 'no op was committed');
    // The form post navigates the page: wait for the server's answer.
    const [nav] = await Promise.all([page.waitForNavigation(), page.evaluate(() => document.forms[0].submit())]);
    assert.equal(nav.status(), 403, 'the form post is refused');
  } finally {
    await page.close();
  }
  assert.equal((await api('GET', '/api/docs/csrf-created')).status, 404, 'no document was created');
  const victim = await api('GET', '/api/docs/victim');
  assert.equal(victim.status, 200);
  assert.equal(victim.body.version, 0, 'no op was committed');
  assert.equal(victim.body.content, 'mine');
});

test('a DNS-rebound host name is refused', async () => {
  const page = await browser.newPage();
  try {
    const port = new URL(server.url).port;
    const res = await page.goto(`http://rebind.test:${port}/api/docs`);
    assert.equal(res.status(), 403);
    const body = JSON.parse(await res.text());
    assert.equal(body.error.code, 'forbidden');
    // The rebound page cannot read the documents with a same-origin fetch either.
    const status = await page.evaluate(async () => (await fetch('/api/docs/victim')).status);
    assert.equal(status, 403);
    // The same server under its IP address is served.
    const ok = await page.goto(`${server.url}/api/docs/victim`);
    assert.equal(ok.status(), 200);
  } finally {
    await page.close();
  }
});
