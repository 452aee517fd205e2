// Browser tests of per-user undo (issue 15): Ctrl-Z undoes only your own
// edits, never a collaborator's, Ctrl-Shift-Z redoes, and the undo history
// survives a reload. (Redo is pressed as Control+Shift+KeyZ: Playwright's
// "Control+Shift+z" sends the key "z" with Shift, which no keyboard does, and
// CodeMirror reads it as Ctrl-z.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, alicePlusBob, person, openDoc, converge, editorText, cutSocketIO, SAVED } from './helpers.mjs';

const env = serverAndBrowser();

test("undo: Alice's Ctrl-Z takes back her edit and leaves Bob's text alone; Ctrl-Shift-Z redoes it", async () => {
  const doc = `undo-${Date.now()}`;
  const { a, b, close } = await alicePlusBob(env.browser, env.server.url, doc);
  try {
    await b.click('.cm-content');
    await b.keyboard.type('Bob first. ');
    await converge([a, b]);
    await a.click('.cm-content');
    await a.keyboard.press('Control+End');
    await a.keyboard.type('Alice second.');
    await converge([a, b]);
    // Bob writes after Alice, in the middle and at the end.
    await b.keyboard.press('Control+End');
    await b.keyboard.type(' Bob third.');
    assert.equal(await converge([a, b]), 'Bob first. Alice second. Bob third.');

    await a.keyboard.press('Control+z');
    assert.equal(await converge([a, b]), 'Bob first.  Bob third.', "only Alice's words went");
    await a.keyboard.press('Control+z'); // nothing more of hers to undo: Bob's text stays
    assert.equal(await converge([a, b]), 'Bob first.  Bob third.');
    await a.keyboard.press('Control+Shift+KeyZ');
    assert.equal(await converge([a, b]), 'Bob first. Alice second. Bob third.');
    assert.equal(await env.server.content(doc), 'Bob first. Alice second. Bob third.');
    assert.deepEqual([...a.errors, ...b.errors], []);
  } finally {
    await close();
  }
});

test('undo: the history survives a reload, and undoing after it still spares the collaborator', async () => {
  const doc = `undo-reload-${Date.now()}`;
  const { a, b, close } = await alicePlusBob(env.browser, env.server.url, doc);
  try {
    await a.click('.cm-content');
    await a.keyboard.type('Alice draft.');
    await converge([a, b]);
    await a.reload();
    await a.waitForSelector(SAVED, { timeout: 20000 });
    // While Alice's page is reloaded, Bob writes before her text.
    await b.click('.cm-content');
    await b.keyboard.press('Control+Home');
    await b.keyboard.type('Bob: ');
    assert.equal(await converge([a, b]), 'Bob: Alice draft.');

    await a.click('.cm-content');
    await a.keyboard.press('Control+z');
    assert.equal(await converge([a, b]), 'Bob: ', "Alice's edit from before the reload is undone, Bob's stays");
    await a.keyboard.press('Control+Shift+KeyZ');
    assert.equal(await converge([a, b]), 'Bob: Alice draft.');
    assert.equal(await editorText(b), 'Bob: Alice draft.');
    assert.deepEqual([...a.errors, ...b.errors], []);
  } finally {
    await close();
  }
});

test('undo: edits made offline and kept over a reload can be undone after it, and redone once online', async () => {
  const doc = `undo-offline-${Date.now()}`;
  const alice = await person(env.browser, 'Alice', '#1d4ed8');
  try {
    const a = alice.page;
    await openDoc(a, env.server.url, doc);
    await a.click('.cm-content');
    await a.keyboard.type('online words.');
    await a.waitForSelector(SAVED);
    // Cut the Socket.IO connection (the page itself still loads), edit, reload.
    await cutSocketIO(alice.ctx);
    await a.reload();
    await a.waitForFunction(() => window.cowrite?.text() === 'online words.');
    await a.click('.cm-content');
    await a.keyboard.press('Control+End');
    await a.keyboard.type(' offline words.');
    await a.waitForSelector('[data-testid=status][data-save=unsaved]');
    await a.reload();
    await a.waitForFunction(() => window.cowrite?.text() === 'online words. offline words.');
    // Still offline: the first undo takes back the offline words, the second the online ones.
    await a.click('.cm-content');
    await a.keyboard.press('Control+z');
    assert.equal(await editorText(a), 'online words.');
    await a.keyboard.press('Control+z');
    assert.equal(await editorText(a), '');
    await a.keyboard.press('Control+Shift+KeyZ');
    assert.equal(await editorText(a), 'online words.');
    // Back online: the server gets the net result.
    await alice.ctx.unrouteAll();
    await a.reload();
    await a.waitForSelector(SAVED, { timeout: 20000 });
    assert.equal(await editorText(a), 'online words.');
    assert.equal(await env.server.content(doc), 'online words.');
    await a.click('.cm-content');
    await a.keyboard.press('Control+Shift+KeyZ');
    await a.waitForSelector(SAVED);
    assert.equal(await env.server.content(doc), 'online words. offline words.', 'redo after the reload, sent to the server');
    assert.deepEqual(a.errors, []);
  } finally {
    await alice.ctx.close();
  }
});
