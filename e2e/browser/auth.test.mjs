// The editor against a server with --auth-mode token: tokens from a link,
// a token prompt, names from token claims, and viewers being read-only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, launchBrowser, person, converge, editorText, mintToken, SAVED } from './helpers.mjs';

const secret = 'browser-e2e-secret-0123456789-abcdefghijklmnop';
let server;
let browser;

before(async () => {
  server = await new Server({ args: ['--auth-mode', 'token'], env: { COWRITE_AUTH_SECRET: secret } }).start();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('tokens: from a link, from the prompt, claims as names, viewers read-only', async () => {
  const doc = `team-${Date.now()}`;
  const aliceTok = mintToken(secret, ['--name', 'Alice (token)', '--color', '#7e22ce', '--doc', 'team-*=editor']);
  const vicTok = mintToken(secret, ['--name', 'Vic', '--doc', 'team-*=viewer']);
  const alice = await person(browser, 'local-name', '#1d4ed8');
  const bob = await person(browser, 'Bob', '#b91c1c');
  const vic = await person(browser, 'Vic', '#047857');
  try {
    // Alice follows a link carrying her token: it is kept and removed from the address bar.
    const a = alice.page;
    await a.goto(`${server.url}/d/${doc}#token=${aliceTok}`);
    await a.waitForSelector(SAVED, { timeout: 20000 });
    assert.equal(new URL(a.url()).hash, '');
    await a.click('.cm-content');
    await a.keyboard.type('only editors may write ✍️');
    await a.waitForSelector(SAVED);
    assert.equal(await server.content(doc, aliceTok), 'only editors may write ✍️');

    // Bob has no token: he is asked for one and pastes Alice's.
    const b = bob.page;
    await b.goto(`${server.url}/d/${doc}`);
    await b.waitForSelector('[data-testid=token-form]', { timeout: 15000 });
    await b.fill('[data-testid=token-input]', aliceTok);
    await Promise.all([b.waitForNavigation(), b.click('[data-testid=token-form] button')]);
    await b.waitForSelector(SAVED, { timeout: 20000 });
    assert.equal(await editorText(b), 'only editors may write ✍️');
    // The name shown to others comes from the token, not the local setting.
    await a.click('.cm-content');
    await a.keyboard.press('Control+End');
    await b.waitForSelector('.cw-remote-cursor-label:text("Alice (token)")', { timeout: 10000 });

    // Listing documents needs an admin token: the list says so and offers the prompt.
    await b.goto(`${server.url}/`);
    await b.waitForSelector('[data-testid=list-status]:has-text("may not list documents")');
    await b.waitForSelector('[data-testid=token-form]');
    const admin = await person(browser, 'Root', '#1d4ed8');
    await admin.page.goto(`${server.url}/#token=${mintToken(secret, ['--admin'])}`);
    await admin.page.waitForSelector(`[data-testid=doc-row][data-doc="${doc}"]`);
    await admin.ctx.close();

    // Vic may only read: his edit is refused and his editor becomes read-only.
    const v = vic.page;
    await v.goto(`${server.url}/d/${doc}#token=${vicTok}`);
    await v.waitForSelector(SAVED, { timeout: 20000 });
    assert.equal(await editorText(v), 'only editors may write ✍️');
    await v.click('.cm-content');
    await v.keyboard.type('vandalism');
    await v.waitForSelector('[data-testid=banner]:has-text("view this document but not edit")', { timeout: 20000 });
    assert.equal(await v.getAttribute('.cm-content', 'contenteditable'), 'false');
    await v.waitForFunction(() => window.cowrite.text() === 'only editors may write ✍️', null, { timeout: 20000 });
    assert.equal(await server.content(doc, aliceTok), 'only editors may write ✍️');
    await converge([a, v]);
  } finally {
    await alice.ctx.close();
    await bob.ctx.close();
    await vic.ctx.close();
  }
});
