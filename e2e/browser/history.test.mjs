// Browser tests of the history panel (issue 15): named versions seen by a
// collaborator, edit sessions instead of keystrokes, author colours from
// blame, and the changes between a version and now.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, alicePlusBob, converge, shot } from './helpers.mjs';

const env = serverAndBrowser();

const openHistory = async (page) => {
  await page.click('[data-testid=history-button]');
  await page.waitForSelector('[data-testid=history-panel]:not([hidden])');
};

test('history: Alice names a version, Bob sees it, both authors have colours, and the changes since are highlighted', async () => {
  const doc = `named-${Date.now()}`;
  const { a, b, close } = await alicePlusBob(env.browser, env.server.url, doc);
  try {
    await a.click('.cm-content');
    await a.keyboard.type('Alice wrote this. ');
    await converge([a, b]);
    await b.click('.cm-content');
    await b.keyboard.press('Control+End');
    await b.keyboard.type('Bob added that.');
    const named = await converge([a, b]);

    // Alice names the current version.
    await openHistory(a);
    await a.waitForFunction((t) => document.querySelector('[data-testid=history-preview]').textContent === t, named);
    await a.fill('[data-testid=version-label]', 'First draft');
    await a.click('[data-testid=version-save]');
    await a.waitForSelector('[data-testid=version-item] >> text=First draft');
    const versions = (await (await fetch(`${env.server.url}/api/docs/${doc}/versions`)).json()).versions;
    assert.equal(versions.length, 1);
    assert.equal(versions[0].label, 'First draft');
    assert.equal(versions[0].author.name, 'Alice', 'the version is named by Alice');

    // Alice then changes the text: deletes "this" and appends a line.
    await a.click('.cm-content');
    await a.keyboard.press('Control+Home');
    for (let i = 0; i < 'Alice wrote '.length; i++) await a.keyboard.press('ArrowRight');
    for (let i = 0; i < 4; i++) await a.keyboard.press('Shift+ArrowRight');
    await a.keyboard.type('it');
    await a.keyboard.press('Control+End');
    await a.keyboard.type('\nAlice again.');
    const now = await converge([a, b]);
    assert.equal(now, 'Alice wrote it. Bob added that.\nAlice again.');

    // Bob opens the panel: the named version is listed with who named it.
    await openHistory(b);
    const item = b.locator('[data-testid=version-item]', { hasText: 'First draft' });
    await item.waitFor();
    assert.match(await item.textContent(), /Alice/);

    // The head, coloured by author: both are in the legend and along the text.
    await b.waitForFunction((t) => document.querySelector('[data-testid=history-preview]').textContent === t, now);
    await b.waitForSelector('[data-testid=legend-item][data-author=Bob]');
    const legend = await b.$$eval('[data-testid=legend-item]', (els) => els.map((e) => e.dataset.author).sort());
    assert.deepEqual(legend, ['Alice', 'Bob']);
    const byAuthor = await b.$$eval('[data-testid=history-preview] .blame', (els) => {
      const m = {};
      for (const e of els) m[e.dataset.author] = (m[e.dataset.author] ?? '') + e.textContent;
      return m;
    });
    assert.equal(byAuthor.Bob, 'Bob added that.');
    assert.equal(byAuthor.Alice, 'Alice wrote it. \nAlice again.');
    const colours = await b.$$eval('[data-testid=history-preview] .blame', (els) => [...new Set(els.map((e) => `${e.dataset.author}=${getComputedStyle(e).backgroundColor}`))]);
    assert.equal(new Set(colours.map((c) => c.split('=')[1])).size, 2, `one colour per author: ${colours}`);

    // Edit sessions, not keystrokes: dozens of ops, one entry per person.
    const sessions = await b.$$eval('[data-testid=session-item] .who', (els) => els.map((e) => e.textContent));
    assert.deepEqual([...sessions].sort(), ['Alice', 'Bob'], `sessions: ${sessions}`);

    // Bob views the named version (read-only) and what changed since.
    await item.locator('[data-testid=version-view]').click();
    await b.waitForFunction((t) => document.querySelector('[data-testid=history-preview]').textContent === t, named);
    assert.match(await b.textContent('[data-testid=history-label]'), /First draft/);
    await b.click('[data-testid=history-mode-diff]');
    await b.waitForSelector('[data-testid=history-diff] [data-testid=diff-ins]');
    // The diff view holds both texts: without its insertions it is the named
    // version, without its deletions it is now.
    const pieces = await b.$eval('[data-testid=history-diff]', (pre) => [...pre.childNodes].map((n) => [n.nodeType === 3 ? 'same' : n.dataset.testid, n.textContent]));
    const without = (kind) => pieces.filter(([k]) => k !== kind).map(([, t]) => t).join('');
    assert.equal(without('diff-ins'), named);
    assert.equal(without('diff-del'), now);
    assert.ok(pieces.some(([k, t]) => k === 'diff-ins' && t.includes('\nAlice again.')), JSON.stringify(pieces));
    assert.ok(pieces.some(([k]) => k === 'diff-del'), 'the deletion is shown');
    assert.notEqual(await b.$eval('[data-testid=diff-ins]', (e) => getComputedStyle(e).backgroundColor), 'rgba(0, 0, 0, 0)');
    await shot(b, 'history-diff');

    // Restoring the named version brings its text back for both.
    await b.click('[data-testid=history-restore]');
    assert.equal(await converge([a, b]), named);
    assert.deepEqual([...a.errors, ...b.errors], []);
  } finally {
    await close();
  }
});

test('history: a version named while the panel is open appears for the collaborator without reopening', async () => {
  const doc = `named-live-${Date.now()}`;
  const { a, b, close } = await alicePlusBob(env.browser, env.server.url, doc);
  try {
    await a.click('.cm-content');
    await a.keyboard.type('one');
    await converge([a, b]);
    await openHistory(b);
    await b.waitForSelector('[data-testid=versions-list] >> text=None yet.');
    await openHistory(a);
    await a.fill('[data-testid=version-label]', 'Milestone');
    await a.click('[data-testid=version-save]');
    await a.waitForSelector('[data-testid=version-item] >> text=Milestone');
    // Alice keeps typing; Bob's open panel refreshes on the change.
    await a.click('.cm-content');
    await a.keyboard.type(' two');
    await converge([a, b]);
    await b.waitForSelector('[data-testid=version-item] >> text=Milestone', { timeout: 10000 });
    assert.deepEqual([...a.errors, ...b.errors], []);
  } finally {
    await close();
  }
});
