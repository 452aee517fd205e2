// Two browsers (real Chromium, the embedded editor) on two different nodes
// of a 3-node cluster type into one document at once and converge; the
// third node serves the same content over REST, and a rename on one node
// reaches the other browser's title (doc:meta across nodes).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, person, openDoc, converge } from '../browser/helpers.mjs';
import { startCluster } from './rig.mjs';

let rig;
let browser;
before(async () => {
  rig = await startCluster();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await rig?.stop();
});

test('cluster: two browsers on two nodes type at once and converge', async () => {
  const doc = `cluster-pair-${Date.now()}`;
  const alice = await person(browser, 'Alice', '#1d4ed8');
  const bob = await person(browser, 'Bob', '#b91c1c');
  try {
    const [a, b] = [alice.page, bob.page];
    await Promise.all([openDoc(a, rig.urls[0], doc), openDoc(b, rig.urls[1], doc)]);
    await a.click('.cm-content');
    await a.keyboard.type('Alice on node 0 😀\n');
    await converge([a, b]);
    await b.click('.cm-content');
    await b.keyboard.press('Control+End');
    await Promise.all([
      a.keyboard.type('Alice keeps typing; ', { delay: 15 }),
      b.keyboard.type('Bob on node 1 🎉 ', { delay: 15 }),
    ]);
    const text = await converge([a, b]);
    assert.match(text, /Alice keeps typing; /);
    assert.match(text, /Bob on node 1 🎉 /);
    const res = await fetch(`${rig.urls[2]}/api/docs/${encodeURIComponent(doc)}/content`);
    assert.equal(await res.text(), text, 'the third node serves the editors\' text');

    const r = await fetch(`${rig.urls[2]}/api/docs/${encodeURIComponent(doc)}`, {
      method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: 'Renamed on node 2' }),
    });
    assert.equal(r.status, 200);
    await b.waitForFunction(() => document.title.includes('Renamed on node 2'), null, { timeout: 10000 });
    assert.deepEqual([...a.errors, ...b.errors], [], 'no page errors');
  } finally {
    await alice.ctx.close();
    await bob.ctx.close();
  }
});
