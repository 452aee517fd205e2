// Browser tests of the editor as a product (issue 15): labels, status after a
// delete, narrow screens, dark mode, Markdown colouring and preview, the
// server's limits, and confirming a token from a link.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { serverAndBrowser, shot, alicePlusBob, person, openDoc, openAndType, converge, SAVED, repoRoot } from './helpers.mjs';

const env = serverAndBrowser();

const visible = (page, sel) => page.$eval(sel, (el) => {
  const r = el.getBoundingClientRect();
  const cs = getComputedStyle(el);
  return r.width > 1 && r.height > 1 && cs.visibility !== 'hidden' && cs.clip !== 'rect(0px, 0px, 0px, 0px)';
});

test('the name box and the colour square have visible labels', async () => {
  const alice = await person(env.browser, 'Alice', '#1d4ed8');
  try {
    const a = alice.page;
    await openDoc(a, env.server.url, `labels-${Date.now()}`);
    for (const id of ['my-name', 'my-color']) {
      const label = `label[for=${id}]`;
      assert.ok(await visible(a, label), `${label} is visible`);
      assert.ok((await a.textContent(label)).trim().length > 0);
    }
    assert.deepEqual(a.errors, []);
  } finally {
    await alice.ctx.close();
  }
});

test('after a delete the status says the document was deleted, not "Offline · Saved"', async () => {
  const doc = `deleted-status-${Date.now()}`;
  const alice = await person(env.browser, 'Alice', '#1d4ed8');
  try {
    const a = alice.page;
    await openAndType(a, env.server.url, doc, 'soon gone');
    assert.ok((await fetch(`${env.server.url}/api/docs/${doc}`, { method: 'DELETE' })).ok);
    await a.waitForSelector('[data-testid=banner]:has-text("deleted")', { timeout: 10000 });
    const status = await a.textContent('[data-testid=status]');
    assert.doesNotMatch(status, /Saved|Offline/);
    assert.match(status, /Deleted/);
    assert.equal(await a.getAttribute('[data-testid=status]', 'data-conn'), 'deleted');
  } finally {
    await alice.ctx.close();
  }
});

test('an old link to a deleted document says so instead of creating an empty one, and offers to create it', async () => {
  const doc = `old-link-${Date.now()}`;
  const alice = await person(env.browser, 'Alice', '#1d4ed8');
  try {
    const a = alice.page;
    await openAndType(a, env.server.url, doc, 'first life');
    assert.equal((await fetch(`${env.server.url}/api/docs/${doc}`, { method: 'DELETE' })).status, 204);
    await a.goto(`${env.server.url}/d/${doc}`); // the old link, later
    await a.waitForSelector('[data-testid=deleted-notice]', { timeout: 10000 });
    assert.match(await a.textContent('[data-testid=banner]'), /was deleted/);
    assert.equal((await fetch(`${env.server.url}/api/docs/${doc}`)).status, 404, 'opening the link did not bring the document back');
    const list = await (await fetch(`${env.server.url}/api/docs`)).json();
    assert.ok(!list.docs.some((d) => d.id === doc), 'the deleted document is not listed');
    await a.click('[data-testid=recreate]');
    await a.waitForSelector(SAVED, { timeout: 20000 });
    await a.click('.cm-content');
    await a.keyboard.type('second life');
    await a.waitForSelector(SAVED);
    assert.equal(await (await fetch(`${env.server.url}/api/docs/${doc}/content`)).text(), 'second life');
  } finally {
    await alice.ctx.close();
  }
});

test('a rename reaches the collaborator: Bob sees the new title without a reload', async () => {
  const doc = `rename-${Date.now()}`;
  const { a, b, close } = await alicePlusBob(env.browser, env.server.url, doc);
  try {
    await a.click('[data-testid=doc-rename]');
    await a.fill('[data-testid=doc-title-input]', 'Plans for Lisbon');
    await a.keyboard.press('Enter');
    await b.waitForFunction(() => document.querySelector('[data-testid=doc-title]')?.textContent === 'Plans for Lisbon', null, { timeout: 10000 });
    assert.equal(await b.title(), 'Plans for Lisbon · Cowrite');
  } finally {
    await close();
  }
});

test('download the document as .txt, .md and .html, and import a file as a new document from the list', async () => {
  const doc = `files-${Date.now()}`;
  const alice = await person(env.browser, 'Alice', '#1d4ed8');
  try {
    const a = alice.page;
    await openDoc(a, env.server.url, doc);
    await a.click('.cm-content');
    await a.keyboard.type('# Title\n\n<script>alert(1)</script> café');
    await a.waitForSelector(SAVED);
    const text = '# Title\n\n<script>alert(1)</script> café';
    const got = {};
    for (const format of ['txt', 'md', 'html']) {
      const [download] = await Promise.all([a.waitForEvent('download'), a.click(`[data-testid=download-${format}]`)]);
      assert.equal(download.suggestedFilename(), `${doc}.${format}`);
      const chunks = [];
      for await (const c of await download.createReadStream()) chunks.push(c);
      got[format] = Buffer.concat(chunks).toString('utf8');
    }
    assert.equal(got.txt, text);
    assert.equal(got.md, text);
    assert.match(got.html, /<h1[^>]*>Title<\/h1>/);
    assert.doesNotMatch(got.html, /<script>alert/);

    await a.goto(env.server.url + '/');
    await Promise.all([
      a.waitForURL(/\/d\/[^/]+$/),
      a.setInputFiles('[data-testid=import-file]', { name: 'Trip notes.md', mimeType: 'text/markdown', buffer: Buffer.from('imported 😀\n') }),
    ]);
    await a.waitForSelector(SAVED);
    assert.equal(await a.evaluate(() => window.cowrite.text()), 'imported 😀\n');
    assert.equal(await a.textContent('[data-testid=doc-title]'), 'Trip notes');
    assert.deepEqual(a.errors, []);
  } finally {
    await alice.ctx.close();
  }
});

test('the list page and the editor fit a 390 px wide phone', async () => {
  const doc = `phone-${Date.now()}`;
  const created = await fetch(`${env.server.url}/api/docs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id: doc, title: 'A rather long document title for a phone screen' }) });
  assert.equal(created.status, 201);
  const ctx = await env.browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
  try {
    const page = await ctx.newPage();
    await page.goto(env.server.url + '/');
    await page.waitForSelector(`[data-testid=doc-row][data-doc="${doc}"]`);
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(await overflow(), 0, 'the list page does not scroll sideways');
    await shot(page, 'phone-list');
    await openDoc(page, env.server.url, doc);
    assert.equal(await overflow(), 0, 'the editor does not scroll sideways');
    await shot(page, 'phone-editor');
  } finally {
    await ctx.close();
  }
});

const background = (page) => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
const isDark = (rgb) => {
  const [r, g, b] = rgb.match(/\d+/g).map(Number);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b < 100;
};

test('dark mode follows the system, and the toggle overrides it and is remembered', async () => {
  const ctx = await env.browser.newContext({ colorScheme: 'dark', viewport: { width: 1000, height: 560 } });
  try {
    const page = await ctx.newPage();
    const doc = `dark-${Date.now()}`;
    await openDoc(page, env.server.url, doc);
    assert.ok(isDark(await background(page)), 'dark by default on a dark system');
    assert.ok(isDark(await page.evaluate(() => getComputedStyle(document.querySelector('.cm-editor')).backgroundColor)) || isDark(await page.evaluate(() => getComputedStyle(document.querySelector('.editor-host')).backgroundColor)), 'the editor is dark too');
    await shot(page, 'dark');
    if (process.env.UPDATE_SCREENSHOT) {
      mkdirSync(path.join(repoRoot, 'docs'), { recursive: true });
      await page.click('.cm-content');
      await page.keyboard.type('# Dark mode\n\nFollows the system, with a **toggle**.\n\n- Markdown *colouring*\na live `preview`');
      await page.waitForSelector(SAVED);
      await page.click('[data-testid=preview-toggle]');
      await page.waitForSelector('[data-testid=preview] li code');
      await page.screenshot({ path: path.join(repoRoot, 'docs', 'screenshot-dark.png') });
    }
    await page.click('[data-testid=theme-toggle]');
    assert.ok(!isDark(await background(page)), 'the toggle switches to light');
    assert.equal(await page.getAttribute('[data-testid=theme-toggle]', 'aria-pressed'), 'false');
    await page.reload();
    await page.waitForSelector(SAVED);
    assert.ok(!isDark(await background(page)), 'the choice is remembered');
    await page.goto(env.server.url + '/');
    assert.ok(!isDark(await background(page)), 'on the list page too');
    await page.click('[data-testid=theme-toggle]');
    assert.ok(isDark(await background(page)));
  } finally {
    await ctx.close();
  }
});

test('Markdown is coloured in the editor', async () => {
  const alice = await person(env.browser, 'Alice', '#1d4ed8');
  try {
    const a = alice.page;
    await openDoc(a, env.server.url, `md-${Date.now()}`);
    await a.click('.cm-content');
    await a.keyboard.type('# Title\n\nplain and **strong**');
    await a.waitForSelector(SAVED);
    const style = (text) =>
      a.evaluate((t) => {
        const span = [...document.querySelectorAll('.cm-line span')].find((s) => s.textContent.trim() === t);
        if (!span) return null;
        const cs = getComputedStyle(span);
        return { weight: cs.fontWeight, color: cs.color, decoration: cs.textDecorationLine };
      }, text);
    const plain = await a.evaluate(() => getComputedStyle(document.querySelector('.cm-line:last-child')).fontWeight);
    const heading = await style('Title');
    assert.ok(heading, 'the heading text is its own styled span');
    assert.ok(Number(heading.weight) > Number(plain) || heading.decoration.includes('underline'), `heading stands out: ${JSON.stringify(heading)}`);
    const strong = await style('strong');
    assert.ok(strong && Number(strong.weight) >= 600, `strong is bold: ${JSON.stringify(strong)}`);
  } finally {
    await alice.ctx.close();
  }
});

test('the Markdown preview renders live for both people, escapes scripts, and its toggle is remembered', async () => {
  const doc = `preview-${Date.now()}`;
  const { a, b, close } = await alicePlusBob(env.browser, env.server.url, doc);
  try {
    assert.equal(await a.$('[data-testid=preview]:not([hidden])'), null, 'hidden until asked for');
    await a.click('[data-testid=preview-toggle]');
    await a.waitForSelector('[data-testid=preview]:not([hidden])');
    assert.equal(await a.getAttribute('[data-testid=preview-toggle]', 'aria-pressed'), 'true');
    await a.click('.cm-content');
    await a.keyboard.type('# Plan\n\n<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">\n\n');
    await a.waitForSelector('[data-testid=preview] h1:text("Plan")');
    // Bob types; Alice's preview follows.
    await converge([a, b], 30000);
    await b.click('.cm-content');
    await b.keyboard.press('Control+End');
    await b.keyboard.type('- from **Bob**');
    // Once Alice has Bob's text (which takes what the machine's load makes it), her preview shows it.
    await converge([a, b], 30000);
    await a.waitForSelector('[data-testid=preview] li strong:text("Bob")', { timeout: 10000 });
    assert.equal(await a.$('[data-testid=preview] script'), null, 'no script element');
    assert.equal(await a.evaluate(() => window.pwned), undefined, 'no script ran');
    assert.equal(await a.$eval('[data-testid=preview]', (el) => el.innerHTML.includes('onerror')), false, 'no event handler attribute');
    await shot(a, 'preview');
    await a.reload();
    await a.waitForSelector(SAVED);
    await a.waitForSelector('[data-testid=preview] li strong:text("Bob")');
    await a.click('[data-testid=preview-toggle]');
    await a.waitForSelector('[data-testid=preview]', { state: 'hidden' });
    await a.reload();
    await a.waitForSelector(SAVED);
    assert.equal(await a.$('[data-testid=preview]:not([hidden])'), null, 'closed stays closed');
    assert.deepEqual([...a.errors, ...b.errors], []);
  } finally {
    await close();
  }
});

test("the editor takes the title length from the server's limits", async () => {
  const alice = await person(env.browser, 'Alice', '#1d4ed8');
  try {
    const a = alice.page;
    const asked = [];
    a.on('request', (r) => new URL(r.url()).pathname === '/api/limits' && asked.push(r.url()));
    await openDoc(a, env.server.url, `limits-${Date.now()}`);
    const res = await fetch(`${env.server.url}/api/limits`);
    const expected = res.status === 404 ? 200 : (await res.json()).maxTitleLength;
    assert.ok(asked.length >= 1, 'the editor asked for /api/limits');
    await a.click('[data-testid=doc-rename]');
    assert.equal(Number(await a.getAttribute('[data-testid=doc-title-input]', 'maxlength')), expected);
  } finally {
    await alice.ctx.close();
  }
});

test('a paste over the server limit is refused at once and keeps the edits around it', async () => {
  const alice = await person(env.browser, 'Alice', '#1d4ed8');
  try {
    const a = alice.page;
    const doc = `big-${Date.now()}`;
    await openDoc(a, env.server.url, doc);
    const res = await fetch(`${env.server.url}/api/limits`);
    const maxOpBytes = res.status === 404 ? 256 << 10 : (await res.json()).maxOpBytes;
    await a.click('.cm-content');
    await a.keyboard.type('abc');
    await a.keyboard.insertText('x'.repeat(maxOpBytes + 1));
    await a.keyboard.type('def');
    await a.waitForSelector('[data-testid=banner]:has-text("too large")', { timeout: 10000 });
    await a.waitForSelector(SAVED, { timeout: 20000 });
    assert.equal(await a.evaluate(() => window.cowrite.text()), 'abcdef');
    assert.equal(await env.server.content(doc), 'abcdef');
    assert.doesNotMatch(await a.textContent('[data-testid=banner]'), /rejected/);
    assert.deepEqual(a.errors, []);
  } finally {
    await alice.ctx.close();
  }
});

