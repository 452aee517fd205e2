// The client against a real server: bin/cowrite (built by `make build`) on a
// free port with a temporary data directory, over real sockets.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, fetchLimits, DEFAULT_LIMITS, localStoragePersistence, request } from '../src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = process.env.COWRITE_BIN || path.resolve(here, '../../../bin/cowrite');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves when cond() holds, checked on each of the docs' events; rejects after `ms`. */
function until(docs, cond, what, ms = 20000) {
  return new Promise((resolve, reject) => {
    const offs = [];
    const done = (err) => {
      clearTimeout(timer);
      for (const off of offs) off();
      err ? reject(err) : resolve();
    };
    const check = () => {
      if (cond()) done();
    };
    const timer = setTimeout(() => done(new Error(`timed out waiting for ${what}`)), ms);
    for (const d of docs) for (const ev of ['change', 'status', 'presence', 'notice']) offs.push(d.on(ev, check));
    check();
  });
}
const synced = (...docs) => until(docs, () => docs.every((d) => d.saved && d.status.conn === 'connected') && docs.every((d) => d.text === docs[0].text), 'sync');

/** A Web Storage over a Map (Node has no localStorage). */
class MapStorage {
  constructor() {
    this.map = new Map();
  }
  getItem(k) {
    return this.map.has(k) ? this.map.get(k) : null;
  }
  setItem(k, v) {
    this.map.set(k, String(v));
  }
  removeItem(k) {
    this.map.delete(k);
  }
}

class Server {
  async start() {
    this.dir ??= mkdtempSync(path.join(tmpdir(), 'cowrite-client-'));
    this.port ??= await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.proc = spawn(bin, ['--addr', `127.0.0.1:${this.port}`, '--data', this.dir], { stdio: 'ignore' });
    this.exited = new Promise((r) => this.proc.on('exit', r));
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${this.url}/readyz`)).ok) return;
      } catch {
        /* not listening yet */
      }
      if (i > 400) throw new Error('cowrite did not start');
      await new Promise((r) => setTimeout(r, 50)); // polling a starting process, not synchronizing a test
    }
  }
  async kill(signal = 'SIGKILL') {
    this.proc.kill(signal);
    await this.exited;
  }
  content(doc) {
    return fetch(`${this.url}/api/docs/${doc}/content`).then((r) => r.text());
  }
}

describe.skipIf(!existsSync(bin))('client against bin/cowrite', () => {
  const server = new Server();
  const clients = [];
  const open = (name, o = {}) => {
    const c = connect(server.url, { name, color: '#1d4ed8', ...o });
    clients.push(c);
    return c;
  };
  beforeAll(() => server.start(), 30000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await server.kill('SIGTERM');
    rmSync(server.dir, { recursive: true, force: true });
  });

  it('two clients edit one document and converge with the server; presence names the other', async () => {
    const [a, b] = await Promise.all([open('Ann').openDoc('pair'), open('Ben').openDoc('pair')]);
    expect(() => a.insert(0, 'too early')).toThrow(/not editable/);
    await synced(a, b);
    a.insert(0, 'Hello 😀 world');
    await until([b], () => b.text === 'Hello 😀 world', 'b sees a');
    b.insert(6, 'dear ');
    a.delete(8, 5); // concurrent with b's insert: "world" goes
    await synced(a, b);
    expect(a.text).toBe('Hello dear 😀 ');
    expect(await server.content('pair')).toBe(a.text);
    a.setSelection([{ anchor: 2, head: 4 }]);
    await until([b], () => b.presence().some((p) => p.name === 'Ann' && p.ranges[0]?.head === 4), 'b sees Ann');
    expect(a.version).toBe(b.version);
  }, 30000);

  it('edits made while the server is down are resent once, with their (client, seq), also from a reloaded client', async () => {
    const storage = new MapStorage();
    const persistence = localStoragePersistence(storage);
    const a = await open('Ann').openDoc('crash', { persistence });
    const b = await open('Ben').openDoc('crash');
    await synced(a, b);
    a.insert(0, 'before. ');
    await synced(a, b);
    await server.kill('SIGKILL');
    await until([a], () => a.status.conn === 'reconnecting', 'a notices');
    expect(a.text).toBe('before. ');
    a.insert(8, 'offline A. ');
    b.insert(0, 'offline B. ');
    expect(a.status.save).toBe('unsaved');
    a.persist();
    const id = a.clientId;
    clients[clients.length - 2].close(); // "reload": a's client goes away with its edit unsent
    const a2 = await open('Ann').openDoc('crash', { persistence });
    expect(a2.clientId).toBe(id);
    expect(a2.text).toBe('before. offline A. ');
    await server.start();
    await synced(a2, b);
    const text = await server.content('crash');
    expect(text).toBe(a2.text);
    expect(text.split('offline A. ').length).toBe(2);
    expect(text.split('offline B. ').length).toBe(2);
  }, 60000);

  it('works with an asynchronous persistence adapter (as IndexedDB is)', async () => {
    const map = new Map();
    const persistence = {
      load: async (id) => structuredClone(map.get(id) ?? null),
      save: async (id, state) => (map.set(id, structuredClone(state)), true),
      clear: async (id) => void map.delete(id),
    };
    const a = await open('Ann').openDoc('async', { persistence });
    await synced(a);
    a.insert(0, 'kept');
    await synced(a);
    a.persist();
    await until([a], () => map.get('async')?.text === 'kept', 'saved');
    const id = a.clientId;
    a.close();
    const again = await open('Ann').openDoc('async', { persistence });
    expect(again.clientId).toBe(id);
    expect(again.text).toBe('kept');
    await synced(again);
    expect(await server.content('async')).toBe('kept');
  }, 30000);

  it('a deleted document tells its editors and stops', async () => {
    const a = await open('Ann').openDoc('gone');
    await synced(a);
    expect(() => a.applyOp([5, 'x'])).toThrow(/past the end/);
    expect(() => a.insert(0, 'x'.repeat(DEFAULT_LIMITS.maxOpBytes))).toThrow(/too large/);
    expect(a.text).toBe('');
    a.insert(0, 'x');
    await synced(a);
    const notices = [];
    a.on('notice', (n) => notices.push(n.code));
    await request('DELETE', `${server.url}/api/docs/gone`);
    await until([a], () => a.status.deleted, 'deleted');
    expect(notices).toContain('deleted');
    expect(a.status.editable).toBe(false);
  }, 30000);

  it('a watcher follows renames, ops and deletions of documents it did not open', async () => {
    const a = await open('Ann').openDoc('watched');
    await synced(a);
    a.insert(0, 'v1');
    await synced(a);
    const events = [];
    const seen = (what) => new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 20000);
      const check = () => (events.some((e) => e.startsWith(what)) ? (clearTimeout(t), resolve()) : setTimeout(check, 20));
      check();
    });
    const w = open('Watcher').watch({
      meta: (id, m) => events.push(`meta ${id} ${m.title}`),
      op: (id, v) => events.push(`op ${id} ${v}`),
      deleted: (id) => events.push(`deleted ${id}`),
      joined: (id) => events.push(`joined ${id}`),
      max: 1,
    });
    expect(w.add('watched', a.version)).toBe(true);
    expect(w.add('another')).toBe(false); // full
    await seen('joined watched');
    await request('PATCH', `${server.url}/api/docs/watched`, { title: 'Renamed' });
    await seen('meta watched Renamed');
    a.insert(0, 'x');
    await seen(`op watched ${a.version + 1}`);
    await request('DELETE', `${server.url}/api/docs/watched`);
    await seen('deleted watched');
    w.close();
  }, 30000);

  it('reads the limits the server publishes', async () => {
    const c = open('Ann');
    const res = await fetch(`${server.url}/api/limits`);
    expect(res.status).toBe(200);
    const published = await res.json();
    const limits = await fetchLimits((m, p) => c.rest(m, p));
    expect(limits).toEqual(Object.fromEntries(Object.keys(DEFAULT_LIMITS).map((k) => [k, published[k]])));
  });
});

describe('fetchLimits', () => {
  it('takes the values a server publishes and keeps defaults for missing or malformed ones', async () => {
    const srv = createServer((req, res) => {
      if (req.url !== '/api/limits') return res.writeHead(404).end();
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ maxOpBytes: 1000, maxTitleLength: 'long', maxSelectionRanges: 8 }));
    });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${srv.address().port}`;
    try {
      const limits = await fetchLimits((m, p) => request(m, base + p));
      expect(limits).toEqual({ ...DEFAULT_LIMITS, maxOpBytes: 1000, maxSelectionRanges: 8 });
      await expect(fetchLimits((m, p) => request(m, `${base}/nowhere${p}`))).resolves.toEqual(DEFAULT_LIMITS);
      await expect(fetchLimits((m, p) => request(m, `http://127.0.0.1:1${p}`))).rejects.toMatchObject({ code: 'network' });
    } finally {
      srv.close();
    }
  });
});

describe('editTooLarge', () => {
  it('refuses an op over maxOpBytes and a document over maxDocBytes, at the boundary', async () => {
    const { editTooLarge } = await import('../src/limits.js');
    // one insert of n ASCII bytes is estimated at 2 + (n + 2) + 12 bytes
    const limits = { maxOpBytes: 116, maxDocBytes: 10 };
    expect(editTooLarge(limits, ['x'.repeat(100)], 0, () => 0)).toBeNull();
    expect(editTooLarge(limits, ['x'.repeat(101)], 0, () => 0)).toMatch(/too large.*116/);
    expect(editTooLarge(limits, ['é'], 3, () => 10)).toBeNull();
    expect(editTooLarge(limits, ['é'], 4, () => 11)).toMatch(/document would be too large: 11 bytes/);
    let counted = 0;
    expect(editTooLarge(limits, ['a'], 3, () => ++counted)).toBeNull();
    expect(counted).toBe(0); // 3 UTF-16 units cannot reach 10 bytes: not counted
  });
});
