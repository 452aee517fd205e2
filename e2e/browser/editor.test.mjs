// Browser end-to-end tests of the embedded editor: real Chromium pages typing
// into the same document through bin/cowrite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { serverAndBrowser, shot, alicePlusBob, person, openDoc, editorText, converge, SAVED, repoRoot, sleep, cutSocketIO } from './helpers.mjs';

const env = serverAndBrowser();


test('two people type at once (emoji, deletes across each other) and converge with the server', async () => {
  const doc = `pair-${Date.now()}`;
  const alice = await person(env.browser, 'Alice', '#1d4ed8');
  const bob = await person(env.browser, 'Bob', '#b91c1c');
  try {
    await Promise.all([openDoc(alice.page, env.server.url, doc), openDoc(bob.page, env.server.url, doc)]);
    const a = alice.page;
    const b = bob.page;
    await a.click('.cm-content');
    await a.keyboard.type('Alice writes the first line 😀\n');
    await converge([a, b]);

    // Both type at the same time, at different places.
    await b.click('.cm-content');
    await b.keyboard.press('Control+End');
    await Promise.all([
      a.keyboard.type('Alice 👩‍💻 keeps typing; ', { delay: 15 }),
      b.keyboard.type('Bob adds 🎉 and ünïcödé e\u0301 ', { delay: 15 }),
    ]);
    // Bob deletes a range of Alice's text while Alice deletes some of Bob's.
    await b.keyboard.press('Control+Home');
    await Promise.all([
      (async () => {
        for (let i = 0; i < 6; i++) await b.keyboard.press('Shift+ArrowRight');
        await b.keyboard.press('Delete');
        await b.keyboard.type('BOB🙂');
      })(),
      (async () => {
        await a.keyboard.press('Control+End');
        for (let i = 0; i < 4; i++) await a.keyboard.press('Backspace');
        await a.keyboard.type('ALICE🚀');
      })(),
    ]);

    const text = await converge([a, b]);
    assert.equal(await env.server.content(doc), text, 'server text equals the editors');
    assert.match(text, /BOB🙂/);
    assert.match(text, /ALICE🚀/);
    assert.match(text, /🎉/);
    assert.ok(!text.includes('\ufffd'), 'no broken surrogate pairs');

    // Each sees the other's cursor with their name.
    await b.click('.cm-content');
    await b.keyboard.press('Control+End');
    await a.waitForSelector('.cw-remote-cursor-label:text("Bob")', { timeout: 10000 });
    await b.waitForSelector('.cw-remote-cursor-label:text("Alice")', { timeout: 10000 });
    const here = await a.textContent('[data-testid=presence-list]');
    assert.match(here, /Alice/);
    assert.match(here, /Bob/);
    await shot(a, 'pair-alice');
    await shot(b, 'pair-bob');
    assert.deepEqual([...a.errors, ...b.errors], []);
  } finally {
    await alice.ctx.close();
    await bob.ctx.close();
  }
});

test('edits typed while the server is down reach the other side after it restarts', async () => {
  const doc = `restart-${Date.now()}`;
  const { a, b, close } = await alicePlusBob(env.browser, env.server.url, doc);
  try {
    await a.click('.cm-content');
    await a.keyboard.type('before the crash\n');
    await converge([a, b]);

    await env.server.kill('SIGKILL');
    await a.waitForSelector('[data-testid=status][data-conn=reconnecting]', { timeout: 15000 });
    await a.keyboard.type('typed while down 😀\n');
    await b.click('.cm-content');
    await b.keyboard.press('Control+Home');
    await b.keyboard.type('Bob offline too. ');
    await a.waitForSelector('[data-testid=status][data-save=unsaved]');
    await shot(a, 'restart-offline');

    await env.server.start(); // same port, same data
    const text = await converge([a, b], 30000);
    assert.equal(text, await env.server.content(doc));
    assert.equal(text.split('typed while down 😀').length, 2, 'offline edit applied exactly once');
    assert.equal(text.split('Bob offline too. ').length, 2, 'offline edit applied exactly once');
    assert.match(text, /before the crash/);

    // A graceful stop (SIGTERM) and restart.
    await env.server.kill('SIGTERM');
    await a.waitForSelector('[data-testid=status][data-conn=reconnecting]', { timeout: 15000 });
    await a.keyboard.type('after a graceful stop');
    await env.server.start();
    const text2 = await converge([a, b], 30000);
    assert.equal(text2, await env.server.content(doc));
    assert.equal(text2.split('after a graceful stop').length, 2);
    assert.deepEqual([...a.errors, ...b.errors], []);
  } finally {
    await close();
  }
});

test('a reload keeps everything, including edits made while disconnected', async () => {
  const doc = `reload-${Date.now()}`;
  const alice = await person(env.browser, 'Alice', '#1d4ed8');
  try {
    const a = alice.page;
    await openDoc(a, env.server.url, doc);
    await a.click('.cm-content');
    await a.keyboard.type('saved line\n');
    await a.waitForSelector(SAVED);

    // Cut the Socket.IO connection (the page itself still loads) and edit.
    await cutSocketIO(alice.ctx);
    await a.reload();
    await a.waitForFunction(() => window.cowrite?.text().includes('saved line'));
    assert.notEqual(await a.getAttribute('[data-testid=status]', 'data-conn'), 'connected');
    await a.click('.cm-content');
    await a.keyboard.press('Control+End');
    await a.keyboard.type('offline 🛰️ line');
    await a.waitForSelector('[data-testid=status][data-save=unsaved]');
    // Wait for the (throttled) local save.
    await a.waitForFunction(() => Object.values(localStorage).some((v) => v.includes('offline 🛰️ line')));
    await a.reload();
    await a.waitForFunction(() => window.cowrite?.text().includes('offline 🛰️ line'));
    assert.equal(await env.server.content(doc), 'saved line\n', 'the server has not seen the offline edit yet');

    // Reconnect: the pending edit is submitted once.
    await alice.ctx.unrouteAll();
    await a.reload();
    await a.waitForSelector(SAVED, { timeout: 20000 });
    const expected = 'saved line\noffline 🛰️ line';
    assert.equal(await editorText(a), expected);
    assert.equal(await env.server.content(doc), expected);
    await a.reload();
    await a.waitForSelector(SAVED, { timeout: 20000 });
    assert.equal(await editorText(a), expected);
    assert.equal(await env.server.content(doc), expected);
    assert.deepEqual(a.errors, []);
  } finally {
    await alice.ctx.close();
  }
});

test('history: browse an old version and restore it live for everyone', async () => {
  const doc = `history-${Date.now()}`;
  const { a, b, close } = await alicePlusBob(env.browser, env.server.url, doc);
  try {
    await a.click('.cm-content');
    await a.keyboard.type('first draft 😀');
    await converge([a, b]);
    const meta = await (await fetch(`${env.server.url}/api/docs/${doc}`)).json();
    const good = meta.version;
    await a.keyboard.press('Control+a');
    await a.keyboard.type('rewritten badly');
    await converge([a, b]);

    await a.click('[data-testid=history-button]');
    await a.waitForSelector('[data-testid=history-panel]:not([hidden])');
    await a.waitForFunction(() => document.querySelector('[data-testid=history-preview]').textContent === 'rewritten badly');
    // Step back with the keyboard-accessible buttons until the good version.
    const head = Number(await a.getAttribute('[data-testid=history-slider]', 'max'));
    for (let v = head; v > good; v--) await a.click('[data-testid=history-prev]');
    await a.waitForFunction(() => document.querySelector('[data-testid=history-preview]').textContent === 'first draft 😀');
    await shot(a, 'history');
    await a.click('[data-testid=history-restore]');
    const text = await converge([a, b]);
    assert.equal(text, 'first draft 😀');
    assert.equal(await env.server.content(doc), 'first draft 😀');
    assert.deepEqual([...a.errors, ...b.errors], []);
  } finally {
    await close();
  }
});

test('history: a restore leaves the text around a collaborator\'s selection alone, so it does not jump', async () => {
  const doc = `restore-cursor-${Date.now()}`;
  const { a, b, close } = await alicePlusBob(env.browser, env.server.url, doc);
  try {
    await a.click('.cm-content');
    await a.keyboard.type('alpha\nline two\nomega');
    await converge([a, b]);
    const good = (await (await fetch(`${env.server.url}/api/docs/${doc}`)).json()).version;
    // Alice changes the first and the last line; Bob then selects "two".
    await a.keyboard.press('Control+Home');
    await a.keyboard.type('ALPHA ');
    await a.keyboard.press('Control+End');
    await a.keyboard.type(' OMEGA');
    await converge([a, b]);
    await b.locator('.cm-line', { hasText: 'line two' }).click();
    await b.keyboard.press('End');
    for (let i = 0; i < 3; i++) await b.keyboard.press('Shift+ArrowLeft');
    assert.equal(await b.evaluate(() => window.getSelection().toString()), 'two');

    await a.click('[data-testid=history-button]');
    await a.waitForSelector('[data-testid=history-panel]:not([hidden])');
    const head = Number(await a.getAttribute('[data-testid=history-slider]', 'max'));
    for (let v = head; v > good; v--) await a.click('[data-testid=history-prev]');
    await a.waitForFunction(() => document.querySelector('[data-testid=history-preview]').textContent === 'alpha\nline two\nomega');
    await a.click('[data-testid=history-restore]');
    assert.equal(await converge([a, b]), 'alpha\nline two\nomega');
    assert.equal(await b.evaluate(() => window.getSelection().toString()), 'two', "Bob's selection stayed on his word");
    assert.deepEqual([...a.errors, ...b.errors], []);
  } finally {
    await close();
  }
});

test('the document list creates, renames, opens and deletes documents', async () => {
  const alice = await person(env.browser, 'Alice', '#1d4ed8');
  try {
    const a = alice.page;
    await a.goto(env.server.url + '/');
    await a.fill('[data-testid=new-title]', 'Meeting notes');
    await Promise.all([a.waitForURL(/\/d\/[^/]+$/), a.click('[data-testid=create-button]')]);
    await a.waitForSelector(SAVED);
    const id = decodeURIComponent(new URL(a.url()).pathname.slice(3));
    await a.waitForFunction(() => document.querySelector('[data-testid=doc-title]').textContent === 'Meeting notes');
    await a.click('.cm-content');
    await a.keyboard.type('agenda');
    await a.waitForSelector(SAVED);
    // rename from the editor
    await a.click('[data-testid=doc-rename]');
    await a.fill('[data-testid=doc-title-input]', 'Meeting notes v2');
    await a.keyboard.press('Enter');
    await a.waitForFunction(() => document.querySelector('[data-testid=doc-title]')?.textContent === 'Meeting notes v2');
    assert.equal((await (await fetch(`${env.server.url}/api/docs/${encodeURIComponent(id)}`)).json()).title, 'Meeting notes v2');

    // open (and so create) a document by name
    await a.goto(env.server.url + '/');
    const stamp = Date.now();
    await a.fill('[data-testid=open-name]', `Plan ${stamp}: café`);
    await Promise.all([a.waitForURL(/\/d\//), a.click('[data-testid=open-button]')]);
    await a.waitForSelector(SAVED);
    assert.equal(new URL(a.url()).pathname, `/d/Plan-${stamp}-caf`);
    const byName = await (await fetch(`${env.server.url}/api/docs/Plan-${stamp}-caf`)).json();
    assert.equal(byName.title, `Plan ${stamp}: café`);

    await a.goto(env.server.url + '/');
    const row = `[data-testid=doc-row][data-doc="${id}"]`;
    await a.waitForSelector(row);
    await a.click(`${row} [data-testid=rename-button]`);
    await a.fill(`${row} [data-testid=rename-input]`, 'Weekly notes');
    await a.keyboard.press('Enter');
    await a.waitForFunction((sel) => document.querySelector(sel)?.textContent.includes('Weekly notes'), `${row} [data-testid=doc-link]`);
    const meta = await (await fetch(`${env.server.url}/api/docs/${encodeURIComponent(id)}`)).json();
    assert.equal(meta.title, 'Weekly notes');
    assert.equal(meta.content, 'agenda');
    await shot(a, 'list');

    a.once('dialog', (d) => d.accept());
    await a.click(`${row} [data-testid=delete-button]`);
    await a.waitForSelector(row, { state: 'detached' });
    assert.equal((await fetch(`${env.server.url}/api/docs/${encodeURIComponent(id)}`)).status, 404);
    assert.deepEqual(a.errors, []);
  } finally {
    await alice.ctx.close();
  }
});

test('README screenshot: two people editing a note', async () => {
  const doc = `trip-${Date.now()}`;
  const created = await fetch(`${env.server.url}/api/docs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id: doc, title: 'Weekend in Lisbon' }) });
  assert.equal(created.status, 201);
  const alice = await person(env.browser, 'Alice', '#1d4ed8');
  const bob = await person(env.browser, 'Bob', '#047857');
  try {
    const a = alice.page;
    const b = bob.page;
    await Promise.all([openDoc(a, env.server.url, doc), openDoc(b, env.server.url, doc)]);
    await a.click('.cm-content');
    await a.keyboard.type('Weekend in Lisbon 🇵🇹\n\nFriday\n• Alice: book the train 🚆\n\nSaturday\n');
    await converge([a, b]);
    // Alice names this version in the history panel.
    await a.click('[data-testid=history-button]');
    await a.fill('[data-testid=version-label]', 'Plan before Bob');
    await a.click('[data-testid=version-save]');
    await a.waitForSelector('[data-testid=version-item] >> text=Plan before Bob');
    await a.click('.cm-content');
    await a.keyboard.press('Control+End');
    await b.click('.cm-content');
    await b.keyboard.press('Control+End');
    await Promise.all([
      b.keyboard.type('• Bob: tram 28 and pastéis de nata 🥐\n• Bob: fado in Alfama 🎶', { delay: 10 }),
      (async () => {
        await a.keyboard.press('Control+Home');
        for (let i = 0; i < 3; i++) await a.keyboard.press('ArrowDown');
        await a.keyboard.press('End');
        await a.keyboard.type(' at 9:15', { delay: 10 });
      })(),
    ]);
    const text = await converge([a, b]);
    assert.equal(await env.server.content(doc), text);
    assert.match(text, /book the train 🚆 at 9:15/);
    // Bob selects "Alfama" so Alice sees his selection and name.
    for (let i = 0; i < 2; i++) await b.keyboard.press('ArrowLeft');
    for (let i = 0; i < 6; i++) await b.keyboard.press('Shift+ArrowLeft');
    await a.waitForSelector('.cw-remote-selection', { timeout: 10000 });
    await a.waitForSelector('.cw-remote-cursor-label:text("Bob")');
    // The open panel caught up: both authors' colours along the text.
    await a.waitForSelector('[data-testid=legend-item][data-author=Bob]', { timeout: 10000 });
    await a.waitForFunction((t) => document.querySelector('[data-testid=history-preview]').textContent === t, text);
    await a.click('.cm-content');
    await a.keyboard.press('Control+End');
    await sleep(300);
    await a.setViewportSize({ width: 1100, height: 640 });
    await a.$eval('[data-testid=history-panel] h2', (el) => el.scrollIntoView());
    await shot(a, 'readme');
    if (process.env.UPDATE_SCREENSHOT) {
      // UPDATE_SCREENSHOT=1 npm test refreshes the README's picture.
      mkdirSync(path.join(repoRoot, 'docs'), { recursive: true });
      await a.screenshot({ path: path.join(repoRoot, 'docs', 'screenshot.png') });
    }
    assert.deepEqual([...a.errors, ...b.errors], []);
  } finally {
    await alice.ctx.close();
    await bob.ctx.close();
  }
});

test('two tabs of one browser get different client ids; a reload keeps its id', async () => {
  const doc = `tabs-${Date.now()}`;
  const alice = await person(env.browser, 'Alice', '#1d4ed8');
  try {
    const t1 = alice.page;
    const t2 = await alice.ctx.newPage();
    t2.errors = [];
    t2.on('pageerror', (e) => t2.errors.push(String(e)));
    await openDoc(t1, env.server.url, doc);
    await openDoc(t2, env.server.url, doc);
    const id1 = (await t1.evaluate(() => window.cowrite.state())).client;
    const id2 = (await t2.evaluate(() => window.cowrite.state())).client;
    assert.notEqual(id1, id2, 'tabs must not share a client id (the server dedupes by client+seq)');
    await t1.click('.cm-content');
    await t1.keyboard.type('one ');
    await t2.click('.cm-content');
    await t2.keyboard.press('Control+End');
    await t2.keyboard.type('two');
    const text = await converge([t1, t2]);
    assert.equal(await env.server.content(doc), text);
    assert.match(text, /one /);
    assert.match(text, /two/);
    await t1.reload();
    await t1.waitForSelector(SAVED);
    assert.equal((await t1.evaluate(() => window.cowrite.state())).client, id1);
    assert.deepEqual([...t1.errors, ...t2.errors], []);
  } finally {
    await alice.ctx.close();
  }
});

test('deleting a document makes open editors read-only', async () => {
  const doc = `gone-${Date.now()}`;
  const alice = await person(env.browser, 'Alice', '#1d4ed8');
  try {
    const a = alice.page;
    await openDoc(a, env.server.url, doc);
    await a.click('.cm-content');
    await a.keyboard.type('soon gone');
    await a.waitForSelector(SAVED);
    const res = await fetch(`${env.server.url}/api/docs/${doc}`, { method: 'DELETE' });
    assert.ok(res.ok, `DELETE: ${res.status}`);
    await a.waitForSelector('[data-testid=banner]:has-text("deleted")', { timeout: 10000 });
    assert.equal(await a.getAttribute('.cm-content', 'contenteditable'), 'false');
    assert.deepEqual(a.errors, []);
  } finally {
    await alice.ctx.close();
  }
});

test('edits left unsent by a closed tab are sent by the next tab', async () => {
  const doc = `orphan-${Date.now()}`;
  const alice = await person(env.browser, 'Alice', '#1d4ed8');
  const cut = async (page) => {
    await cutSocketIO(page);
  };
  try {
    // Tab one (first slot) and tab two (second slot) on the same document.
    const t1 = alice.page;
    await openDoc(t1, env.server.url, doc);
    await t1.click('.cm-content');
    await t1.keyboard.type('tab one. ');
    await t1.waitForSelector(SAVED);
    const t2 = await alice.ctx.newPage();
    await openDoc(t2, env.server.url, doc);
    const id2 = (await t2.evaluate(() => window.cowrite.state())).client;

    // Tab two loses its connection, is edited, and is closed with the edit unsent.
    await cut(t2);
    await t2.reload();
    await t2.waitForFunction(() => window.cowrite?.text() === 'tab one. ');
    assert.equal((await t2.evaluate(() => window.cowrite.state())).client, id2, 'a reload keeps the slot');
    await t2.click('.cm-content');
    await t2.keyboard.press('Control+End');
    await t2.keyboard.type('written offline in tab two');
    await t2.waitForSelector('[data-testid=status][data-save=unsaved]');
    // Wait for the (throttled) local save.
    await t2.waitForFunction(() => Object.values(localStorage).some((v) => v.includes('written offline in tab two')));
    await t2.close({ runBeforeUnload: true });
    await t1.close({ runBeforeUnload: true });
    assert.equal(await env.server.content(doc), 'tab one. ');

    // A new tab passes over the free first slot and picks up tab two's edit.
    const t3 = await alice.ctx.newPage();
    await openDoc(t3, env.server.url, doc);
    assert.equal((await t3.evaluate(() => window.cowrite.state())).client, id2);
    assert.equal(await editorText(t3), 'tab one. written offline in tab two');
    assert.equal(await env.server.content(doc), 'tab one. written offline in tab two');
  } finally {
    await alice.ctx.close();
  }
});

test('works over HTTP long-polling when WebSockets are blocked', async () => {
  const doc = `polling-${Date.now()}`;
  const alice = await person(env.browser, 'Alice', '#1d4ed8');
  const bob = await person(env.browser, 'Bob', '#b91c1c');
  try {
    let blocked = 0;
    await alice.ctx.routeWebSocket(/\/socket\.io\//, (ws) => {
      blocked++;
      ws.close();
    });
    const a = alice.page;
    const b = bob.page;
    await Promise.all([openDoc(a, env.server.url, doc), openDoc(b, env.server.url, doc)]);
    await a.click('.cm-content');
    await b.click('.cm-content');
    await Promise.all([a.keyboard.type('polling 🐢 ', { delay: 10 }), b.keyboard.type('websocket 🐇 ', { delay: 10 })]);
    const text = await converge([a, b]);
    assert.equal(await env.server.content(doc), text);
    assert.match(text, /polling 🐢 /);
    assert.match(text, /websocket 🐇 /);
    assert.ok(blocked > 0, 'the page tried a WebSocket upgrade, which was refused');
    await b.waitForSelector('.cw-remote-cursor-label:text("Alice")');
    assert.deepEqual([...a.errors, ...b.errors], []);
  } finally {
    await alice.ctx.close();
    await bob.ctx.close();
  }
});

test('random concurrent editing by three people converges', async () => {
  const doc = `random-${Date.now()}`;
  const people = await Promise.all([
    person(env.browser, 'Ann', '#1d4ed8'),
    person(env.browser, 'Ben', '#b91c1c'),
    person(env.browser, 'Cat', '#047857'),
  ]);
  try {
    const pages = people.map((p) => p.page);
    await Promise.all(pages.map((p) => openDoc(p, env.server.url, doc)));
    let seed = 42;
    const rnd = (n) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return (seed >>> 16) % n; // the low bits of this generator are not random
    };
    const words = ['hello ', 'wörld ', '😀', '👍🏽 ', 'e\u0301', '\n', '字 ', '🇫🇷'];
    const keys = ['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'Home', 'End', 'Backspace', 'Delete', 'Shift+ArrowLeft', 'Control+z'];
    // Build per-person scripts first so the random sequence does not depend on timing.
    const scripts = pages.map(() => Array.from({ length: 40 }, () => (rnd(3) === 0 ? { key: keys[rnd(keys.length)] } : { text: words[rnd(words.length)] })));
    await Promise.all(
      pages.map(async (p, i) => {
        await p.click('.cm-content');
        for (const step of scripts[i]) {
          if (step.key) await p.keyboard.press(step.key);
          else await p.keyboard.type(step.text);
        }
      }),
    );
    const text = await converge(pages, 30000);
    assert.equal(await env.server.content(doc), text);
    assert.ok(!/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text), 'no lone surrogates');
    await shot(pages[0], 'random');
    assert.deepEqual(pages.flatMap((p) => p.errors), []);
  } finally {
    await Promise.all(people.map((p) => p.ctx.close()));
  }
});
