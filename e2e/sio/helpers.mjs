// Shared helpers of the Socket.IO end-to-end tests: start ../../bin/sio-echo on a free port,
// wait for it, stop it; a small raw WebSocket client that queues messages.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '..', '..');
export const ECHO_BIN = path.join(ROOT, 'bin', 'sio-echo');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function freePort() {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  await once(srv, 'close');
  return port;
}

async function waitListening(port, deadlineMs = 10000) {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => { c.destroy(); resolve(true); });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`sio-echo did not listen on ${port}`);
    await sleep(25);
  }
}

// startEcho spawns bin/sio-echo and resolves once it accepts connections.
export async function startEcho({ port, args = [] } = {}) {
  port ??= await freePort();
  const proc = spawn(ECHO_BIN, ['-addr', `127.0.0.1:${port}`, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr = (stderr + d).slice(-200000); });
  const exited = once(proc, 'exit');
  await Promise.race([
    waitListening(port),
    exited.then(([code]) => { throw new Error(`sio-echo exited with ${code}: ${stderr}`); }),
  ]);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    wsURL: `ws://127.0.0.1:${port}`,
    proc,
    logs: () => stderr,
    // stop sends SIGTERM (SIGKILL after 5 s) and resolves with the exit code.
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      const [code] = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

// RawWS is a WebSocket whose messages are queued: next() resolves with the next one
// ({ data: string | Buffer, binary }). With autoPong, Engine.IO pings ("2") are answered
// with "3" and not queued.
export class RawWS {
  constructor(url, { autoPong = true } = {}) {
    this.ws = new WebSocket(url);
    this.queue = [];
    this.waiters = [];
    this.closed = false;
    this.closeCode = undefined;
    this.autoPong = autoPong;
    this.ws.on('message', (data, isBinary) => {
      const m = isBinary ? { binary: true, data: Buffer.from(data) } : { binary: false, data: data.toString() };
      if (this.autoPong && !m.binary && m.data === '2') {
        this.ws.send('3');
        return;
      }
      const w = this.waiters.shift();
      if (w) w.resolve(m); else this.queue.push(m);
    });
    this.closedPromise = new Promise((resolve) => {
      this.ws.on('close', (code) => {
        this.closed = true;
        this.closeCode = code;
        for (const w of this.waiters.splice(0)) w.reject(new Error(`websocket closed (${code})`));
        resolve(code);
      });
    });
    this.ws.on('error', () => {});
  }

  async open() {
    if (this.ws.readyState === WebSocket.OPEN) return;
    await once(this.ws, 'open');
  }

  next(timeoutMs = 3000) {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    if (this.closed) return Promise.reject(new Error(`websocket closed (${this.closeCode})`));
    return new Promise((resolve, reject) => {
      const w = { resolve, reject };
      const t = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error('timeout waiting for a message'));
      }, timeoutMs);
      w.resolve = (v) => { clearTimeout(t); resolve(v); };
      w.reject = (e) => { clearTimeout(t); reject(e); };
      this.waiters.push(w);
    });
  }

  async nextText(timeoutMs) {
    const m = await this.next(timeoutMs);
    if (m.binary) throw new Error(`expected text, got binary ${m.data.toString('hex')}`);
    return m.data;
  }

  send(data) { this.ws.send(data); }

  // waitClose resolves with the close code, or rejects after timeoutMs.
  waitClose(timeoutMs = 3000) {
    return Promise.race([
      this.closedPromise,
      sleep(timeoutMs).then(() => { throw new Error('websocket still open'); }),
    ]);
  }

  close() { try { this.ws.terminate(); } catch { /* already closed */ } }
}

// eioOpen opens a polling Engine.IO session on path and returns { sid, open }.
export async function eioOpen(base, pathName = '/socket.io/') {
  const res = await fetch(`${base}${pathName}?EIO=4&transport=polling`);
  const text = await res.text();
  if (res.status !== 200 || text[0] !== '0') throw new Error(`handshake failed: ${res.status} ${text}`);
  const open = JSON.parse(text.slice(1));
  return { sid: open.sid, open };
}

export function pollURL(base, sid, pathName = '/socket.io/') {
  return `${base}${pathName}?EIO=4&transport=polling&sid=${sid}`;
}

// withTimeout rejects when p does not settle in ms.
export function withTimeout(p, ms, what = 'operation') {
  let t;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise((_, reject) => { t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms); }),
  ]);
}
