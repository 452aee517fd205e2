// Browser tests of the Markdown preview on a long document (issue 15): only
// the blocks that changed are rendered again, the result is the same as a
// full render, and typing latency with the preview open (measured with
// performance.now(), reported, not asserted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, person, openDoc, SAVED } from './helpers.mjs';

const env = serverAndBrowser();

const section = (i) => `## Section ${i}\n\nSome *emphasis*, some **strong** text, a [link](https://example.org/${i}) and \`code\`.\n\n- item one\n- item two\n\n> a quote\n\n`;
let content = '';
for (let i = 0; content.length < 100_000; i++) content += section(i);
const sections = content.split('## Section').length - 1;

async function bigDoc(name) {
  const doc = `${name}-${Date.now()}`;
  const created = await fetch(`${env.server.url}/api/docs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id: doc, content }) });
  assert.equal(created.status, 201);
  return doc;
}

test('the preview of a 100 KB document renders again only the block being edited', async () => {
  const doc = await bigDoc('preview-blocks');
  const alice = await person(env.browser, 'Alice', '#1d4ed8');
  try {
    const a = alice.page;
    await openDoc(a, env.server.url, doc);
    await a.click('[data-testid=preview-toggle]');
    await a.waitForFunction((n) => document.querySelectorAll('[data-testid=preview] h2').length === n, sections, { timeout: 30000 });
    // Mark every rendered element; an incremental render keeps the marks outside the edited block.
    const marked = await a.evaluate(() => {
      const els = document.querySelectorAll('[data-testid=preview] *');
      els.forEach((e) => (e.dataset.mark = '1'));
      return els.length;
    });
    // Alice edits the heading of section 10, in the middle of the text: she
    // finds it with the editor's search (Ctrl-F), then goes to the end of the line.
    await a.click('.cm-content');
    await a.keyboard.press('Control+Home');
    await a.keyboard.press('Control+f');
    await a.waitForSelector('.cm-search input[name=search]');
    await a.keyboard.type('## Section 10'); // the search field has the focus
    await a.keyboard.press('Enter');
    await a.keyboard.press('Escape');
    await a.keyboard.press('End');
    await a.keyboard.type(' edited');
    await a.waitForSelector(SAVED, { timeout: 20000 });
    assert.ok((await a.evaluate(() => window.cowrite.text())).includes('## Section 10 edited\n'), 'the heading of section 10 was edited');
    await a.waitForSelector('[data-testid=preview] h2:has-text("edited")', { timeout: 20000 });
    const after = await a.evaluate(() => {
      const els = [...document.querySelectorAll('[data-testid=preview] *')];
      return { total: els.length, unmarked: els.filter((e) => !e.dataset.mark).map((e) => e.tagName + ':' + e.textContent.slice(0, 30)), h2: document.querySelectorAll('[data-testid=preview] h2').length };
    });
    assert.equal(after.total, marked, 'as many elements as before');
    assert.equal(after.h2, sections);
    const shown = JSON.stringify(after.unmarked).slice(0, 500);
    assert.ok(after.unmarked.length > 0 && after.unmarked.length <= 3, `only the edited block is new: ${shown}`);
    assert.ok(after.unmarked.some((t) => /^H2:Section 10 edited/.test(t)), shown);
    assert.deepEqual(a.errors, []);
  } finally {
    await alice.ctx.close();
  }
});

test('typing latency with the preview open on a 100 KB Markdown document (reported, not asserted)', async (t) => {
  const doc = await bigDoc('perf');
  const alice = await person(env.browser, 'Alice', '#1d4ed8');
  try {
    const a = alice.page;
    await openDoc(a, env.server.url, doc);
    await a.evaluate(() => {
      window.latencies = [];
      window.longTasks = [];
      new PerformanceObserver((l) => window.longTasks.push(...l.getEntries().map((e) => e.duration))).observe({ type: 'longtask' });
      // keydown → the frame after the change is painted
      document.addEventListener('keydown', () => {
        const t0 = performance.now();
        requestAnimationFrame(() => setTimeout(() => window.latencies.push(performance.now() - t0)));
      }, true);
    });
    const measure = async (words) => {
      await a.evaluate(() => {
        window.latencies = [];
        window.longTasks = [];
      });
      await a.click('.cm-content');
      await a.keyboard.press('Control+End');
      await a.keyboard.type(words, { delay: 30 });
      await a.waitForSelector(SAVED, { timeout: 20000 });
      const lat = (await a.evaluate(() => window.latencies)).sort((x, y) => x - y);
      assert.ok(lat.length >= words.length - 2, 'latencies were measured');
      const pct = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(1);
      const long = await a.evaluate(() => window.longTasks);
      return `median ${pct(0.5)} ms, p90 ${pct(0.9)} ms, max ${lat[lat.length - 1].toFixed(1)} ms over ${lat.length} keys, ${long.length} long tasks (> 50 ms${long.length ? `, longest ${Math.max(...long).toFixed(0)} ms` : ''})`;
    };
    const without = await measure(' typing without the preview');
    await a.click('[data-testid=preview-toggle]');
    await a.waitForFunction((n) => document.querySelectorAll('[data-testid=preview] h2').length === n, sections, { timeout: 30000 });
    const first = await a.getAttribute('[data-testid=preview]', 'data-render-ms');
    const withPreview = await measure(' typing with the preview open');
    await a.waitForSelector('[data-testid=preview] p:last-child:has-text("preview open")');
    const render = await a.getAttribute('[data-testid=preview]', 'data-render-ms');
    const slice = await a.getAttribute('[data-testid=preview]', 'data-slice-max-ms');
    const report = `keystroke to painted frame on ${content.length} bytes: preview closed ${without}; open ${withPreview}; first render ${first} ms, last render ${render} ms (split into blocks + Markdown+sanitize of the changed ones, sliced; + DOM patch), longest render slice ${slice} ms`;
    t.diagnostic(report);
    console.log(report);
  } finally {
    await alice.ctx.close();
  }
});
