// /api/openapi.json: a valid OpenAPI 3.1 document (checked with
// @apidevtools/swagger-parser) that names every route the server registers
// (read from api/rest.go and run.go) and no other, and whose schemas the
// server's real responses satisfy (checked with ajv, JSON Schema 2020-12),
// so the description cannot drift from the server. /api/reference renders
// it in Chromium from the binary alone (no request leaves the server).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { chromium } from 'playwright-core';
import { Server, repoRoot } from '../collab/harness.mjs';
import { openEvents } from './helpers.mjs';

/** The routes registered in the Go source, as "METHOD /path/{param}". */
function sourceRoutes() {
  const routes = new Set();
  const rest = readFileSync(path.join(repoRoot, 'api', 'rest.go'), 'utf8');
  for (const [, recv, method, p] of rest.matchAll(/\b([gr])\.(Get|Post|Put|Patch|Delete)\("([^"]+)"/g)) {
    const full = (recv === 'g' ? '/api' : '') + p.replace(/:([a-z]+)/g, '{$1}');
    routes.add(`${method.toUpperCase()} ${full}`);
  }
  const run = readFileSync(path.join(repoRoot, 'run.go'), 'utf8');
  for (const [, method, p] of run.matchAll(/\bapp\.(Get|Post)\("([^"]+)"/g)) routes.add(`${method.toUpperCase()} ${p}`);
  return routes;
}

function specRoutes(spec) {
  const routes = new Set();
  for (const [p, item] of Object.entries(spec.paths)) {
    for (const m of ['get', 'post', 'put', 'patch', 'delete']) if (item[m]) routes.add(`${m.toUpperCase()} ${p}`);
  }
  return routes;
}

/** Validates a response against the operation's schema for its status. */
function checker(spec) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(spec, 'spec');
  const checked = new Set();
  const check = (method, p, status, ctype, body) => {
    const op = spec.paths[p]?.[method.toLowerCase()];
    assert.ok(op, `no operation ${method} ${p} in the description`);
    let r = op.responses[String(status)];
    assert.ok(r, `${method} ${p} answered ${status}, which the description does not list`);
    if (r.$ref) r = spec.components.responses[r.$ref.split('/').pop()];
    checked.add(`${method} ${p} ${status}`);
    if (!r.content) return;
    const media = Object.keys(r.content).find((k) => (ctype || '').startsWith(k));
    assert.ok(media, `${method} ${p} ${status}: content type ${ctype} is not described (${Object.keys(r.content)})`);
    if (media !== 'application/json') return;
    const ptr = `spec#/paths/${p.replaceAll('~', '~0').replaceAll('/', '~1')}/${method.toLowerCase()}/responses/${status}`;
    const schemaRef = op.responses[String(status)].$ref
      ? `spec#/components/responses/${op.responses[String(status)].$ref.split('/').pop()}/content/application~1json/schema`
      : `${ptr}/content/application~1json/schema`;
    const validate = ajv.getSchema(schemaRef);
    assert.ok(validate, `no schema at ${schemaRef}`);
    assert.ok(validate(body), `${method} ${p} ${status}: ${JSON.stringify(body)} does not match: ${ajv.errorsText(validate.errors)}`);
  };
  check.schema = (name, value) => {
    const validate = ajv.getSchema(`spec#/components/schemas/${name}`);
    assert.ok(validate(value), `${JSON.stringify(value)} is not a ${name}: ${ajv.errorsText(validate.errors)}`);
  };
  check.checked = checked;
  return check;
}

test('openapi.json is valid, complete, and matches the responses', async () => {
  const server = await new Server().start();
  try {
    const res = await fetch(`${server.url}/api/openapi.json`);
    assert.equal(res.status, 200);
    const spec = await res.json();
    assert.equal(spec.openapi, '3.1.0');
    await SwaggerParser.validate(structuredClone(spec));

    assert.deepEqual([...specRoutes(spec)].sort(), [...sourceRoutes()].sort(),
      'the description and the registered routes differ');

    const check = checker(spec);
    const call = async (method, route, p, opts) => {
      const r = await server.req(method, p, opts);
      check(method, route, r.status, r.headers.get('content-type'), r.body);
      return r;
    };
    await call('GET', '/healthz', '/healthz');
    await call('GET', '/readyz', '/readyz');
    await call('GET', '/metrics', '/metrics');
    await call('POST', '/api/docs', '/api/docs', { json: { id: 'spec', title: 'T', content: 'hello world' } });
    await call('POST', '/api/docs', '/api/docs', { json: { id: 'spec' } }); // 409
    await call('POST', '/api/docs', '/api/docs', { json: { id: 'bad id' } }); // 400
    await call('POST', '/api/docs', '/api/docs', { body: '' });
    await call('GET', '/api/docs', '/api/docs?limit=1');
    await call('GET', '/api/docs', '/api/docs?limit=0'); // 400
    await call('GET', '/api/docs/{id}', '/api/docs/spec');
    await call('GET', '/api/docs/{id}', '/api/docs/nope'); // 404
    await call('PATCH', '/api/docs/{id}', '/api/docs/spec', { json: { title: 'New' } });
    await call('POST', '/api/docs/{id}/ops', '/api/docs/spec/ops', { json: { version: 0, op: [5, ','], client: 'c', seq: 1 } });
    await call('POST', '/api/docs/{id}/ops', '/api/docs/spec/ops', { json: { version: 0, op: [99, 'x'] } }); // invalid_op
    await call('POST', '/api/docs/{id}/ops', '/api/docs/spec/ops', { json: { version: 9, op: ['x'] } }); // version_ahead
    await call('GET', '/api/docs/{id}', '/api/docs/spec?version=0');
    await call('GET', '/api/docs/{id}/ops', '/api/docs/spec/ops?from=0');
    await call('GET', '/api/docs/{id}/content', '/api/docs/spec/content');
    await call('PUT', '/api/docs/{id}/content', '/api/docs/spec/content', { body: 'hello, world!', headers: { 'content-type': 'text/plain' } });
    await call('PUT', '/api/docs/{id}/content', '/api/docs/spec/content', { body: 'x', headers: { 'content-type': 'text/plain', 'if-match': '"1"' } }); // 412
    await call('PATCH', '/api/docs/{id}/content', '/api/docs/spec/content', { json: { version: 1, content: 'hello, brave world' } });
    const content = await server.req('GET', '/api/docs/spec/content');
    assert.equal(content.body, 'hello, brave world!', 'the PATCH merged over the PUT');
    await call('GET', '/api/docs/{id}/events', '/api/docs/spec/events', { headers: { 'last-event-id': '99' } }); // 400
    await call('GET', '/api/limits', '/api/limits');
    await call('GET', '/api/docs/{id}/blame', '/api/docs/spec/blame');
    await call('GET', '/api/docs/{id}/blame', '/api/docs/spec/blame?version=99'); // 404
    await call('GET', '/api/docs/{id}/diff', '/api/docs/spec/diff?from=0');
    await call('GET', '/api/docs/{id}/diff', '/api/docs/spec/diff?from=0', { headers: { accept: 'text/x-diff' } });
    await call('GET', '/api/docs/{id}/diff', '/api/docs/spec/diff?from=0&to=99'); // 404
    await call('GET', '/api/docs/{id}/diff', '/api/docs/spec/diff?from=2&to=1'); // 400
    for (const f of ['txt', 'md', 'html', 'jsonl']) await call('GET', '/api/docs/{id}/export', `/api/docs/spec/export?format=${f}`);
    await call('GET', '/api/docs/{id}/export', '/api/docs/spec/export?format=pdf'); // 400
    const history = await server.req('GET', '/api/docs/spec/export?format=jsonl');
    await call('POST', '/api/docs/import', '/api/docs/import?id=spec-copy', { body: history.body, headers: { 'content-type': 'application/x-ndjson' } });
    await call('POST', '/api/docs/import', '/api/docs/import?id=spec-copy', { body: history.body, headers: { 'content-type': 'application/x-ndjson' } }); // 409
    await call('POST', '/api/docs/import', '/api/docs/import', { body: '# md', headers: { 'content-type': 'text/markdown' } });
    await call('POST', '/api/docs/import', '/api/docs/import', { body: '{"type":"nope"}', headers: { 'content-type': 'application/x-ndjson' } }); // 400
    await call('POST', '/api/docs/{id}/versions', '/api/docs/spec/versions', { json: { label: 'v1', version: 1 } });
    await call('POST', '/api/docs/{id}/versions', '/api/docs/spec/versions', { json: { version: 1 } }); // 400
    await call('GET', '/api/docs/{id}/versions', '/api/docs/spec/versions');
    await call('DELETE', '/api/docs/{id}/versions/{version}', '/api/docs/spec/versions/1');
    await call('DELETE', '/api/docs/{id}/versions/{version}', '/api/docs/spec/versions/1'); // 404
    // Share links need token mode: this server is open (400, reason open_mode).
    await call('POST', '/api/docs/{id}/share', '/api/docs/spec/share', { json: { role: 'editor' } });
    await call('GET', '/api/docs/{id}/share', '/api/docs/spec/share');
    await call('DELETE', '/api/docs/{id}/share/{share}', '/api/docs/spec/share/sh_x');

    const stream = await openEvents(`${server.url}/api/docs/spec/events?from=0`);
    check('GET', '/api/docs/{id}/events', stream.status, stream.headers.get('content-type'));
    const ev = await stream.next();
    assert.equal(ev.event, 'op');
    check.schema('OpEvent', ev.data);
    await call('DELETE', '/api/docs/{id}', '/api/docs/spec');
    for (let e = await stream.next(); e; e = await stream.next()) {
      if (e.event === 'deleted') { check.schema('Deleted', e.data); break; }
      check.schema('OpEvent', e.data);
    }
    stream.close();
    await call('DELETE', '/api/docs/{id}', '/api/docs/spec'); // 404
    await call('GET', '/api/openapi.json', '/api/openapi.json');
    await call('GET', '/api/reference', '/api/reference');
    assert.ok(check.checked.size >= 20, `only ${check.checked.size} responses checked`);
  } finally {
    await server.kill();
    server.cleanup();
  }
});

test('the embedded Redoc bundle is the pinned npm one', () => {
  const embedded = readFileSync(path.join(repoRoot, 'api', 'openapi', 'redoc.standalone.js'));
  const pinned = readFileSync(path.join(repoRoot, 'e2e', 'node_modules', 'redoc', 'bundles', 'redoc.standalone.js'));
  assert.ok(embedded.equals(pinned), 'api/openapi/redoc.standalone.js differs from node_modules/redoc: copy it again');
});

test('/api/reference renders from the binary alone', async () => {
  const server = await new Server().start();
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    const foreign = [];
    // The served Content-Security-Policy stops anything else (Redoc's footer
    // logo on its CDN): no request to another host may complete.
    page.on('requestfinished', (req) => { if (!req.url().startsWith(server.url)) foreign.push(req.url()); });
    await page.goto(`${server.url}/api/reference`);
    await page.getByRole('heading', { name: 'Change feed (Server-Sent Events)' }).first().waitFor();
    await page.getByText('Cowrite REST API').first().waitFor();
    assert.deepEqual(foreign.filter((u) => !u.startsWith('data:') && !u.startsWith('blob:')), [], 'requests left the server');
  } finally {
    await browser.close();
    await server.kill();
    server.cleanup();
  }
});
