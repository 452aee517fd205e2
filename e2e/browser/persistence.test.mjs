// The client package's persistence adapters in a real browser: IndexedDB and
// localStorage, across a reload (clients/js/src/storage.js, loaded as a module).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { serverAndBrowser, repoRoot } from './helpers.mjs';

const env = serverAndBrowser();
const source = readFileSync(path.join(repoRoot, 'clients', 'js', 'src', 'storage.js'), 'utf8');

async function withAdapters(page) {
  await page.addScriptTag({ type: 'module', content: `${source}\nwindow.adapters = { indexedDBPersistence, localStoragePersistence };` });
  await page.waitForFunction(() => window.adapters);
}

test('IndexedDB keeps a document state across a reload, holds what localStorage cannot, and clears it', async () => {
  // The module is injected inline: allow that despite the server's CSP.
  const ctx = await env.browser.newContext({ bypassCSP: true });
  try {
    const page = await ctx.newPage();
    await page.goto(env.server.url + '/');
    await withAdapters(page);
    const state = { client: 'c1', version: 3, seq: 2, inflight: { op: ['hi'], seq: 2 }, buffer: null, text: 'hi 😀' };
    assert.equal(await page.evaluate((s) => window.adapters.indexedDBPersistence().save('doc-a', s), state), true);
    await page.reload();
    await withAdapters(page);
    assert.deepEqual(await page.evaluate(() => window.adapters.indexedDBPersistence().load('doc-a')), state);
    assert.equal(await page.evaluate(() => window.adapters.indexedDBPersistence().load('doc-b')), null);

    // 12 MB of text: over localStorage's quota, fine for IndexedDB.
    const big = await page.evaluate(async () => {
      const s = { client: 'c1', version: 1, seq: 0, inflight: null, buffer: ['x'.repeat(6e6)], text: 'x'.repeat(6e6) };
      const local = window.adapters.localStoragePersistence().save('big', s);
      const idb = await window.adapters.indexedDBPersistence().save('big', s);
      const back = await window.adapters.indexedDBPersistence().load('big');
      return { local, idb, length: back?.text.length };
    });
    assert.deepEqual(big, { local: false, idb: true, length: 6e6 });

    await page.evaluate(() => window.adapters.indexedDBPersistence().clear('doc-a'));
    assert.equal(await page.evaluate(() => window.adapters.indexedDBPersistence().load('doc-a')), null);
  } finally {
    await ctx.close();
  }
});
