// Browser tests of the document list as a live view (issue 15): a rename in
// one person's editor and a deletion reach another person's list page
// without a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, person, openDoc } from './helpers.mjs';

const env = serverAndBrowser();

test("the list page follows renames and deletions made by someone else, live", async () => {
  const doc = `live-list-${Date.now()}`;
  const other = `${doc}-other`;
  for (const [id, title] of [[doc, 'Old title'], [other, 'Stays']]) {
    const res = await fetch(`${env.server.url}/api/docs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id, title }) });
    assert.equal(res.status, 201);
  }
  const alice = await person(env.browser, 'Alice', '#1d4ed8');
  const bob = await person(env.browser, 'Bob', '#b91c1c');
  try {
    const a = alice.page;
    const b = bob.page;
    await b.goto(env.server.url + '/');
    const row = b.locator(`[data-testid=doc-row][data-doc="${doc}"]`);
    await row.locator('[data-testid=doc-link]', { hasText: 'Old title' }).waitFor();

    // Alice renames the document in her editor.
    await openDoc(a, env.server.url, doc);
    await a.click('[data-testid=doc-rename]');
    await a.fill('[data-testid=doc-title-input]', 'Trip to Porto');
    await a.keyboard.press('Enter');
    await a.waitForFunction(() => document.querySelector('[data-testid=doc-title]').textContent === 'Trip to Porto');
    // Bob's list shows it without a reload.
    await row.locator('[data-testid=doc-link]', { hasText: 'Trip to Porto' }).waitFor({ timeout: 10000 });
    assert.equal(await row.locator('[data-testid=rename-button]').getAttribute('aria-label'), 'Rename Trip to Porto');

    // A rename over REST too.
    const res = await fetch(`${env.server.url}/api/docs/${doc}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ title: 'Trip to Lisbon' }) });
    assert.equal(res.status, 200);
    await row.locator('[data-testid=doc-link]', { hasText: 'Trip to Lisbon' }).waitFor({ timeout: 10000 });

    // A deletion removes the row; the other document stays.
    assert.equal((await fetch(`${env.server.url}/api/docs/${doc}`, { method: 'DELETE' })).status, 204);
    await row.waitFor({ state: 'detached', timeout: 10000 });
    assert.equal(await b.locator(`[data-testid=doc-row][data-doc="${other}"] [data-testid=doc-link]`).textContent(), 'Stays');
    // Alice's editor was not disturbed by Bob's list watching the document.
    assert.deepEqual(await a.$$eval('[data-testid=presence-item]', (els) => els.length), 1);
    assert.deepEqual([...a.errors, ...b.errors], []);
  } finally {
    await Promise.all([alice.ctx.close(), bob.ctx.close()]);
  }
});
