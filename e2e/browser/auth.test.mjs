// The editor against a server with --auth-mode token: tokens from a link,
// a token prompt, names from token claims, and viewers being read-only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, person, converge, editorText, mintToken, SAVED } from './helpers.mjs';

const secret = 'browser-e2e-secret-0123456789-abcdefghijklmnop';
const env = serverAndBrowser({ args: ['--auth-mode', 'token'], env: { COWRITE_AUTH_SECRET: secret } });

test('tokens: from a link, from the prompt, claims as names, viewers read-only', async () => {
  const doc = `team-${Date.now()}`;
  const aliceTok = mintToken(secret, ['--name', 'Alice (token)', '--color', '#7e22ce', '--doc', 'team-*=editor']);
  const vicTok = mintToken(secret, ['--name', 'Vic', '--doc', 'team-*=viewer']);
  const alice = await person(env.browser, 'local-name', '#1d4ed8');
  const bob = await person(env.browser, 'Bob', '#b91c1c');
  const vic = await person(env.browser, 'Vic', '#047857');
  try {
    // Alice follows a link carrying her token: it is kept and removed from the address bar.
    const a = alice.page;
    await a.goto(`${env.server.url}/d/${doc}#token=${aliceTok}`);
    await a.waitForSelector(SAVED, { timeout: 20000 });
    assert.equal(new URL(a.url()).hash, '');
    await a.click('.cm-content');
    await a.keyboard.type('only editors may write ✍️');
    await a.waitForSelector(SAVED);
    assert.equal(await env.server.content(doc, aliceTok), 'only editors may write ✍️');

    // Bob has no token: he is asked for one and pastes Alice's.
    const b = bob.page;
    await b.goto(`${env.server.url}/d/${doc}`);
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
    await b.goto(`${env.server.url}/`);
    await b.waitForSelector('[data-testid=list-status]:has-text("may not list documents")');
    await b.waitForSelector('[data-testid=token-form]');
    const admin = await person(env.browser, 'Root', '#1d4ed8');
    await admin.page.goto(`${env.server.url}/#token=${mintToken(secret, ['--admin'])}`);
    await admin.page.waitForSelector(`[data-testid=doc-row][data-doc="${doc}"]`);
    await admin.ctx.close();

    // Vic may only read: his edit is refused and his editor becomes read-only.
    const v = vic.page;
    await v.goto(`${env.server.url}/d/${doc}#token=${vicTok}`);
    await v.waitForSelector(SAVED, { timeout: 20000 });
    assert.equal(await editorText(v), 'only editors may write ✍️');
    await v.click('.cm-content');
    await v.keyboard.type('vandalism');
    await v.waitForSelector('[data-testid=banner]:has-text("view this document but not edit")', { timeout: 20000 });
    assert.equal(await v.getAttribute('.cm-content', 'contenteditable'), 'false');
    await v.waitForFunction(() => window.cowrite.text() === 'only editors may write ✍️', null, { timeout: 20000 });
    assert.equal(await env.server.content(doc, aliceTok), 'only editors may write ✍️');
    await converge([a, v]);
  } finally {
    await alice.ctx.close();
    await bob.ctx.close();
    await vic.ctx.close();
  }
});

test('a link with another token asks before replacing the stored one', async () => {
  const first = mintToken(secret, ['--name', 'First', '--doc', 'ask-*=editor']);
  const second = mintToken(secret, ['--name', 'Second', '--doc', 'ask-*=editor']);
  const doc = `ask-${Date.now()}`;
  const p = await person(env.browser, 'Pat', '#1d4ed8');
  try {
    const page = p.page;
    const stored = () => page.evaluate(() => localStorage.getItem('cowrite:token'));
    await page.goto(`${env.server.url}/d/${doc}#token=${first}`);
    await page.waitForSelector(SAVED, { timeout: 20000 });
    assert.equal(await stored(), first, 'the first token is taken without asking');

    // Another token: the user is asked; saying no keeps the stored one.
    const dialogs = [];
    page.once('dialog', (d) => {
      dialogs.push(d.message());
      d.dismiss();
    });
    await page.goto(`${env.server.url}/d/${doc}?x=1#token=${second}`);
    await page.waitForSelector(SAVED, { timeout: 20000 });
    assert.equal(dialogs.length, 1, 'asked once');
    assert.match(dialogs[0], /token/i);
    assert.equal(await stored(), first);
    assert.equal(new URL(page.url()).hash, '', 'the token is removed from the address bar either way');

    // Saying yes replaces it.
    page.once('dialog', (d) => d.accept());
    await page.goto(`${env.server.url}/d/${doc}?x=2#token=${second}`);
    await page.waitForSelector(SAVED, { timeout: 20000 });
    assert.equal(await stored(), second);

    // The same token again: nothing to ask.
    let asked = false;
    page.once('dialog', (d) => {
      asked = true;
      d.dismiss();
    });
    await page.goto(`${env.server.url}/d/${doc}?x=3#token=${second}`);
    await page.waitForSelector(SAVED, { timeout: 20000 });
    assert.equal(asked, false);
  } finally {
    await p.ctx.close();
  }
});
