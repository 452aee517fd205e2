// Helpers of the browser end-to-end tests: spawn bin/cowrite on a free port
// with a temp data dir (restartable on the same port and data), and drive
// Debian's Chromium through playwright-core.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const binPath = process.env.COWRITE_BIN || path.join(repoRoot, 'bin', 'cowrite');
export const artifacts = path.join(repoRoot, 'e2e', 'artifacts');
export const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Builds the editor and bin/cowrite when the binary is missing. */
function ensureBinary() {
  if (existsSync(binPath)) return;
  execFileSync('make', ['build'], { cwd: repoRoot, stdio: 'inherit' });
}

/** A cowrite process that can be killed and restarted on the same port and data. */
export class Server {
  /** @param {{args?: string[], env?: Record<string,string>}} [o] extra flags and environment */
  constructor({ args = [], env = {} } = {}) {
    this.dataDir = mkdtempSync(path.join(tmpdir(), 'cowrite-browser-'));
    this.output = '';
    this.args = args;
    this.env = env;
  }
  get url() {
    return `http://127.0.0.1:${this.port}`;
  }
  async start() {
    ensureBinary();
    this.port ??= await freePort();
    this.proc = spawn(binPath, ['--addr', `127.0.0.1:${this.port}`, '--data', this.dataDir, ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...this.env },
    });
    this.proc.stdout.on('data', (d) => (this.output += d));
    this.proc.stderr.on('data', (d) => (this.output += d));
    this.exited = new Promise((resolve) => this.proc.on('exit', resolve));
    let spawnError = null;
    this.proc.on('error', (e) => (spawnError = e));
    const deadline = Date.now() + 20000;
    for (;;) {
      if (spawnError) throw new Error(`cannot start ${binPath}: ${spawnError.message}`);
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) throw new Error(`cowrite exited during start:\n${this.output}`);
      try {
        if ((await fetch(`${this.url}/readyz`)).ok) break;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`cowrite did not become ready:\n${this.output}`);
      await sleep(50);
    }
    const home = await (await fetch(`${this.url}/`)).text();
    if (!home.includes('<div id="app">')) throw new Error('bin/cowrite was built without the editor: run `make build`');
    return this;
  }
  async kill(signal = 'SIGKILL') {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill(signal);
    await this.exited;
  }
  async close() {
    await this.kill('SIGTERM');
    rmSync(this.dataDir, { recursive: true, force: true });
  }
  async content(doc, token) {
    const res = await fetch(`${this.url}/api/docs/${encodeURIComponent(doc)}/content`, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
    if (!res.ok) throw new Error(`GET content: ${res.status} ${await res.text()}`);
    return res.text();
  }
}

export async function launchBrowser() {
  mkdirSync(artifacts, { recursive: true });
  return chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Runs `cowrite token …` and returns the token. */
export function mintToken(secret, args) {
  return execFileSync(binPath, ['token', ...args], { env: { ...process.env, COWRITE_AUTH_SECRET: secret } }).toString().trim();
}

/** A fresh browser context (own localStorage) whose user is `name`/`color`. */
export async function person(browser, name, color) {
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 560 } });
  await ctx.addInitScript(
    ([n, c]) => {
      if (!localStorage.getItem('cowrite:identity')) localStorage.setItem('cowrite:identity', JSON.stringify({ name: n, color: c }));
    },
    [name, color],
  );
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  return { ctx, page };
}

export const SAVED = '[data-testid=status][data-conn=connected][data-save=saved]';

export async function openDoc(page, base, doc) {
  await page.goto(`${base}/d/${encodeURIComponent(doc)}`);
  await page.waitForSelector(SAVED, { timeout: 20000 });
}

export const editorText = (page) => page.evaluate(() => window.cowrite.text());

/** Opens `doc` in `page`, types `text` into the editor and waits until it is saved. */
export async function openAndType(page, base, doc, text) {
  await openDoc(page, base, doc);
  await page.click('.cm-content');
  await page.keyboard.type(text);
  await page.waitForSelector(SAVED);
}

/** Cuts the Socket.IO connection of a page or context (the page itself still loads); undo with unrouteAll(). */
export async function cutSocketIO(target) {
  await target.route((url) => url.pathname.startsWith('/socket.io/'), (route) => route.abort());
  await target.routeWebSocket(/\/socket\.io\//, (ws) => ws.close());
}

/** Waits until every page is connected with nothing unsaved and all show the same text. */
export async function converge(pages, timeout = 20000) {
  const deadline = Date.now() + timeout;
  let texts = [];
  for (;;) {
    const ok = await Promise.all(pages.map((p) => p.$(SAVED)));
    texts = await Promise.all(pages.map(editorText));
    if (ok.every(Boolean) && texts.every((t) => t === texts[0])) return texts[0];
    if (Date.now() > deadline) throw new Error(`pages did not converge: ${JSON.stringify(texts)}`);
    await sleep(100);
  }
}

/**
 * Starts one server (with `opts`) and one browser for the test file and stops
 * them after it; the returned object's `server` and `browser` are set once
 * the file's `before` hook ran.
 */
export function serverAndBrowser(opts) {
  const env = {};
  before(async () => {
    env.server = await new Server(opts).start();
    env.browser = await launchBrowser();
  });
  after(async () => {
    await env.browser?.close();
    await env.server?.close();
  });
  return env;
}

/** Saves a screenshot of `page` as e2e/artifacts/<name>.png. */
export const shot = (page, name) => page.screenshot({ path: path.join(artifacts, `${name}.png`) });

/** Alice and Bob (two browser contexts) with `doc` open; close() ends both. */
export async function alicePlusBob(browser, base, doc) {
  const alice = await person(browser, 'Alice', '#1d4ed8');
  const bob = await person(browser, 'Bob', '#b91c1c');
  await Promise.all([openDoc(alice.page, base, doc), openDoc(bob.page, base, doc)]);
  return { a: alice.page, b: bob.page, close: () => Promise.all([alice.ctx.close(), bob.ctx.close()]) };
}
