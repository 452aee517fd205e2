// Share links in the editor (docs/sharing.md): an owner mints an editor link
// and a viewer link in the Share dialog; a second person opens each and gets
// exactly that role; revoking the editor link in the dialog cuts the open
// editor off (read-only, asked for a new link), and pasting a new link gives
// the access back without reloading the page. In open mode the dialog says
// that anyone with the link can edit. An expired token turns the page
// read-only, and a fresh token of the same user restores editing over the
// same connection (auth:refresh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, person, editorText, mintToken, Server, SAVED } from './helpers.mjs';

const secret = 'browser-e2e-share-secret-0123456789-abcdefghij';
const env = serverAndBrowser({ args: ['--auth-mode', 'token'], env: { COWRITE_AUTH_SECRET: secret } });

/** Opens the Share dialog, mints a link with `role`, returns its URL (and checks the clipboard). */
async function mintLink(page, role) {
  await page.click('[data-testid=share-button]');
  await page.waitForSelector('[data-testid=share-dialog][open]');
  await page.selectOption('[data-testid=share-role-select]', role);
  await page.selectOption('[data-testid=share-expiry-select]', '86400');
  await page.click('[data-testid=share-create]');
  const url = await (await page.waitForSelector('[data-testid=share-url]')).inputValue();
  await page.click('[data-testid=share-copy]');
  await page.waitForSelector('[data-testid=share-copy]:text("Copied")');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), url, 'the link is on the clipboard');
  await page.waitForSelector(`[data-testid=share-item][data-role=${role}]`);
  await page.click('[data-testid=share-close]');
  await page.waitForSelector('[data-testid=share-dialog]', { state: 'detached' });
  return url;
}

test('share links: an editor link edits, a viewer link reads, a revoked link is cut off and a new one restores access', async () => {
  const doc = `shared-${Date.now()}`;
  const ownerTok = mintToken(secret, ['--sub', 'alice', '--name', 'Alice', '--doc', `${doc}=owner`]);
  const alice = await person(env.browser, 'Alice', '#1d4ed8');
  const guest = await person(env.browser, 'Guest', '#b91c1c');
  const viewer = await person(env.browser, 'Vera', '#047857');
  try {
    await alice.ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: env.server.url });
    const a = alice.page;
    await a.goto(`${env.server.url}/d/${doc}#token=${ownerTok}`);
    await a.waitForSelector(SAVED, { timeout: 20000 });
    await a.click('.cm-content');
    await a.keyboard.type('shared notes');
    await a.waitForSelector(SAVED);

    const editorLink = await mintLink(a, 'editor');
    const viewerLink = await mintLink(a, 'viewer');
    assert.match(editorLink, new RegExp(`/d/${doc}#token=`));
    assert.notEqual(editorLink, viewerLink);

    // The editor link: the guest edits, and Alice sees it.
    const g = guest.page;
    await g.goto(editorLink);
    await g.waitForSelector(SAVED, { timeout: 20000 });
    assert.equal(new URL(g.url()).hash, '', 'the token is taken out of the address bar');
    await g.waitForSelector('[data-testid=share-role][data-role=editor]');
    assert.equal(await editorText(g), 'shared notes');
    await g.click('.cm-content');
    await g.keyboard.press('Control+End');
    await g.keyboard.type(' + guest');
    await g.waitForSelector(SAVED);
    await a.waitForFunction(() => window.cowrite.text() === 'shared notes + guest', null, { timeout: 20000 });

    // The viewer link: Vera reads live, cannot type, and the server keeps the text.
    const v = viewer.page;
    await v.goto(viewerLink);
    await v.waitForSelector(SAVED, { timeout: 20000 });
    await v.waitForSelector('[data-testid=share-role][data-role=viewer]');
    assert.equal(await editorText(v), 'shared notes + guest');
    await v.click('.cm-content');
    await v.keyboard.type('vandalism');
    assert.equal(await editorText(v), 'shared notes + guest', 'a viewer link cannot type');
    await a.click('.cm-content');
    await a.keyboard.press('Control+End');
    await a.keyboard.type('!');
    await a.waitForSelector(SAVED);
    await v.waitForFunction(() => window.cowrite.text() === 'shared notes + guest!', null, { timeout: 20000 });
    assert.equal(await env.server.content(doc, ownerTok), 'shared notes + guest!');

    // Alice revokes the editor link: the guest's open editor is cut off.
    await a.click('[data-testid=share-button]');
    await a.waitForSelector('[data-testid=share-item][data-role=editor]');
    await a.click('[data-testid=share-item][data-role=editor] [data-testid=share-revoke]');
    await a.waitForSelector('[data-testid=share-message]:has-text("revoked")');
    await a.waitForSelector('[data-testid=share-item][data-role=editor]', { state: 'detached' });
    await a.waitForSelector('[data-testid=share-item][data-role=viewer]');
    await g.waitForSelector('[data-testid=status][data-conn=revoked]', { timeout: 20000 }); // the server lapses it during the DELETE
    await g.waitForSelector('[data-testid=access-lapsed]:has-text("revoked")');
    assert.equal(await g.getAttribute('.cm-content', 'contenteditable'), 'false');
    // The viewer's link still works.
    assert.equal(await v.$('[data-testid=status][data-conn=revoked]'), null);

    // A new editor link pasted into the guest's page restores the access in place.
    const again = await (async () => {
      await a.click('[data-testid=share-close]');
      return mintLink(a, 'editor');
    })();
    await g.fill('[data-testid=refresh-token-input]', again);
    await g.click('[data-testid=refresh-form] button');
    await g.waitForSelector(SAVED, { timeout: 20000 });
    assert.equal(await g.getAttribute('.cm-content', 'contenteditable'), 'true');
    await g.click('.cm-content');
    await g.keyboard.press('Control+End');
    await g.keyboard.type(' back');
    await g.waitForSelector(SAVED);
    await a.waitForFunction(() => window.cowrite.text() === 'shared notes + guest! back', null, { timeout: 20000 });
    assert.deepEqual([...a.errors, ...g.errors, ...v.errors], []);
  } finally {
    await alice.ctx.close();
    await guest.ctx.close();
    await viewer.ctx.close();
  }
});

test('in open mode the Share dialog says that anyone with the link can edit', async () => {
  const open = await new Server().start();
  const p = await person(env.browser, 'Olga', '#1d4ed8');
  try {
    await p.page.goto(`${open.url}/d/open-share`);
    await p.page.waitForSelector(SAVED, { timeout: 20000 });
    await p.page.click('[data-testid=share-button]');
    await p.page.waitForSelector('[data-testid=share-message]:has-text("Anyone with the link can edit")');
    assert.equal(await p.page.inputValue('[data-testid=share-url]'), `${open.url}/d/open-share`);
    assert.equal(await p.page.isVisible('[data-testid=share-create]'), false);
  } finally {
    await p.ctx.close();
    await open.close();
  }
});

test('an expired token: read-only, then a fresh token of the same user restores editing without reconnecting', async () => {
  const srv = await new Server({ args: ['--auth-mode', 'token', '--auth-leeway', '0s'], env: { COWRITE_AUTH_SECRET: secret } }).start();
  const doc = `expiring-${Date.now()}`;
  const p = await person(env.browser, 'Bob', '#b91c1c');
  try {
    const page = p.page;
    const short = mintToken(secret, ['--sub', 'bob', '--ttl', '8s', '--doc', `${doc}=editor`]);
    await page.goto(`${srv.url}/d/${doc}#token=${short}`);
    await page.waitForSelector(SAVED, { timeout: 20000 });
    await page.click('.cm-content');
    await page.keyboard.type('before');
    await page.waitForSelector(SAVED);
    await page.waitForSelector('[data-testid=status][data-conn=expired]', { timeout: 30000 });
    await page.waitForSelector('[data-testid=access-lapsed]:has-text("expired")');
    assert.equal(await page.getAttribute('.cm-content', 'contenteditable'), 'false');
    // Record every connection state from now on.
    await page.evaluate(() => {
      window.connStates = [];
      const el = document.querySelector('[data-testid=status]');
      new MutationObserver(() => window.connStates.push(el.dataset.conn)).observe(el, { attributes: true, attributeFilter: ['data-conn'] });
    });
    const fresh = mintToken(secret, ['--sub', 'bob', '--ttl', '1h', '--doc', `${doc}=editor`]);
    await page.fill('[data-testid=refresh-token-input]', fresh);
    await page.click('[data-testid=refresh-form] button');
    await page.waitForSelector(SAVED, { timeout: 20000 });
    const states = await page.evaluate(() => window.connStates);
    assert.ok(states.includes('connected'), `states seen: ${states}`);
    assert.ok(!states.some((s) => s === 'reconnecting' || s === 'offline' || s === 'connecting'), `the page reconnected: ${states}`);
    assert.equal(await page.evaluate(() => localStorage.getItem('cowrite:token')), fresh);
    await page.click('.cm-content');
    await page.keyboard.press('Control+End');
    await page.keyboard.type(' after');
    await page.waitForSelector(SAVED);
    assert.equal(await srv.content(doc, fresh), 'before after');
    assert.deepEqual(page.errors, []);
  } finally {
    await p.ctx.close();
    await srv.close();
  }
});
