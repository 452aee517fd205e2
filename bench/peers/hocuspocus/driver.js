// Yjs load driver for the Hocuspocus peer: the collab workload of
// cowrite-bench (D documents × E editors, random inserts carrying a
// timestamp, an 8-character delete with each insert once a document is over
// -doc-len characters) as Yjs updates in Hocuspocus' framing of the
// y-protocols messages, one WebSocket per editor (as one browser tab has).
//
// The work is spread over -procs worker processes (child_process.fork of
// this file), each owning whole documents; the parent only coordinates,
// reads the server's CPU and RSS (/proc/<pid>) and merges the workers'
// histograms. Output: a table on stdout and, with -json, the same JSON
// fields as cowrite-bench (workload "collab", proto "hocuspocus").
//
// Hocuspocus messages (every one starts with the document name, varString):
//   Auth (2), Token (0), token, provider version → Auth (2), Authenticated (2)
//   Sync (0), SyncStep1 (0), state vector → the server's SyncStep1 and SyncStep2
//   Sync (0), Update (2), update        → broadcast to every connection of the
//                                         document (sender included); the
//                                         sender gets SyncStatus (8), 1 once
//                                         the update is applied in memory
// So the "ack" here is in-memory application; the SQLite extension stores a
// document 2 s after its last change and at least every 10 s (debounce).
//
// Modes: closed loop (-rate 0: each editor sends its next update when the
// previous one is acknowledged) or open loop (-rate N: N updates/s in total,
// Poisson or uniform arrivals over the editors). Latencies are measured from
// the moment an update is written to the socket: ack (SyncStatus) and
// delivery (the timestamp inside the inserted text, read by every other
// editor when it applies the broadcast; wall clock µs, all processes on one
// machine). "send lag" is how late the tool sent against the schedule.
//
// Usage: node driver.js -url ws://127.0.0.1:3300 -docs 100 -editors 5
//        [-rate 3000] [-arrivals poisson|uniform] [-duration 5s] [-procs 3]
//        [-server-pid PID] [-json out.json] [-label L] [-doc-len 2000] [-q]
//        [-observers K]
// -observers K (default: all editors): only the first K editors of each
// document apply the broadcasts (and measure delivery); the others write
// updates against their own view only. The server's work per update is the
// same, the driver's much smaller (every editor applying every broadcast
// costs the driver ~5 Yjs applies per update), for offered rates above what
// one driver core sustains otherwise.
// DRIVER_NODE_ARGS (e.g. "--cpu-prof") is passed to the worker processes.
'use strict';
const { fork } = require('child_process');
const fs = require('fs');
const { performance } = require('perf_hooks');

// --- histogram: the same log-linear layout as cowrite-bench's (hist.go),
// in µs, 16 sub-buckets per power of two.
const NB = 64 * 16;
function bucketOf(v) {
  if (v < 16) return v;
  const e = 32 - Math.clz32(v) - 5; // v < 2^32 µs
  return (e + 1) * 16 + ((v >>> e) & 15);
}
function bucketValue(i) {
  if (i < 16) return i;
  const e = Math.floor(i / 16) - 1;
  return (i % 16 + 16) * 2 ** e;
}
class Hist {
  constructor() { this.counts = new Float64Array(NB); this.n = 0; this.max = 0; }
  record(us) {
    if (!(us >= 0)) us = 0;
    const v = Math.min(Math.floor(us), 0xffffffff);
    this.counts[bucketOf(v)]++;
    this.n++;
    if (us > this.max) this.max = us;
  }
  merge(o) {
    for (let i = 0; i < NB; i++) this.counts[i] += o.counts[i];
    this.n += o.n;
    this.max = Math.max(this.max, o.max);
  }
  quantileMs(q) {
    if (this.n === 0) return 0;
    const want = Math.max(1, Math.round(q * this.n));
    let seen = 0;
    for (let i = 0; i < NB; i++) {
      seen += this.counts[i];
      if (seen >= want) return Math.min(bucketValue(i + 1), this.max) / 1000;
    }
    return this.max / 1000;
  }
  toJSON() { return { counts: Array.from(this.counts), n: this.n, max: this.max }; }
  static from(o) { const h = new Hist(); h.counts = Float64Array.from(o.counts); h.n = o.n; h.max = o.max; return h; }
  // buckets returns [[upper edge ms, count], …] of the non-empty buckets.
  buckets() {
    const out = [];
    for (let i = 0; i < NB; i++) if (this.counts[i]) out.push([Math.min(bucketValue(i + 1), this.max) / 1000, this.counts[i]]);
    return out;
  }
}

function parseArgs(argv) {
  const o = {
    url: 'ws://127.0.0.1:3300', docs: 100, editors: 5, rate: 0, arrivals: 'poisson',
    duration: 5, warmup: -1, procs: 3, serverPid: 0, json: '', label: '', docLen: 2000, quiet: false, observers: 0,
  };
  const dur = (s) => {
    const m = /^([\d.]+)(ms|s|m)?$/.exec(s);
    if (!m) throw new Error(`bad duration ${s}`);
    return Number(m[1]) * ({ ms: 0.001, s: 1, m: 60 }[m[2] || 's']);
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--?/, '');
    const v = () => { if (i + 1 >= argv.length) throw new Error(`-${k} needs a value`); return argv[++i]; };
    switch (k) {
      case 'url': o.url = v().replace(/^http/, 'ws'); break;
      case 'docs': o.docs = Number(v()); break;
      case 'editors': o.editors = Number(v()); break;
      case 'rate': o.rate = Number(v()); break;
      case 'arrivals': o.arrivals = v(); break;
      case 'duration': o.duration = dur(v()); break;
      case 'warmup': o.warmup = dur(v()); break;
      case 'procs': o.procs = Number(v()); break;
      case 'server-pid': o.serverPid = Number(v()); break;
      case 'json': o.json = v(); break;
      case 'label': o.label = v(); break;
      case 'doc-len': o.docLen = Number(v()); break;
      case 'observers': o.observers = Number(v()); break;
      case 'q': o.quiet = true; break;
      default: throw new Error(`unknown flag -${k}`);
    }
  }
  if (!(o.docs >= 1 && o.editors >= 2 && o.procs >= 1 && o.rate >= 0)) throw new Error('need -docs ≥ 1, -editors ≥ 2, -procs ≥ 1, -rate ≥ 0');
  if (o.arrivals !== 'poisson' && o.arrivals !== 'uniform') throw new Error('-arrivals: poisson or uniform');
  if (!(o.observers >= 0)) throw new Error('-observers ≥ 0');
  if (o.observers === 0 || o.observers > o.editors) o.observers = o.editors;
  if (o.warmup < 0) o.warmup = Math.min(o.duration / 10, 1);
  o.procs = Math.min(o.procs, o.docs);
  return o;
}

function procStat(pid) {
  const b = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = b.slice(b.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}
function procRSS(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

// ---------------------------------------------------------------- parent
async function parent(o) {
  const workers = [];
  const runID = (Date.now() % 1e9).toString(36);
  for (let w = 0; w < o.procs; w++) {
    const docs = [];
    for (let d = w; d < o.docs; d += o.procs) docs.push(`bench-${runID}-${d}`);
    const share = (docs.length * o.editors) / (o.docs * o.editors);
    const execArgv = (process.env.DRIVER_NODE_ARGS || '').split(' ').filter(Boolean); // e.g. --cpu-prof
    const child = fork(__filename, ['--worker'], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    workers.push({ child, docs, share });
  }
  const waitAll = (type) => Promise.all(workers.map((w) => new Promise((resolve, reject) => {
    const on = (m) => {
      if (m.type === type) { w.child.off('message', on); resolve(m); }
      if (m.type === 'error') reject(new Error(m.message));
    };
    w.child.on('message', on);
    w.child.once('exit', (code) => reject(new Error(`worker exited (${code}) before ${type}`)));
  })));
  const send = (m) => workers.forEach((w) => w.child.send(m));
  try {
    workers.forEach((w) => w.child.send({ type: 'config', o, docs: w.docs, rate: o.rate * w.share }));
    await waitAll('joined');
    let total = 0;
    const progress = o.quiet ? null : setInterval(() => send({ type: 'progress' }), 1000);
    if (progress) workers.forEach((w) => w.child.on('message', (m) => {
      if (m.type === 'progress') { total += m.ops; }
    }));
    let lastTotal = 0, t = 0;
    const printer = o.quiet ? null : setInterval(() => {
      t++;
      process.stderr.write(`[${String(t).padStart(4)}s] hocuspocus collab: ${total - lastTotal}/s (total ${total})\n`);
      lastTotal = total;
    }, 1000);
    send({ type: 'start' });
    await sleep(o.warmup * 1000);
    const rss0 = o.serverPid ? procRSS(o.serverPid) : 0;
    const cpu0 = o.serverPid ? procStat(o.serverPid) : 0;
    const t0 = performance.now();
    send({ type: 'measure', on: true });
    await sleep(o.duration * 1000);
    send({ type: 'measure', on: false });
    const secs = (performance.now() - t0) / 1000;
    const cpu1 = o.serverPid ? procStat(o.serverPid) : 0;
    const rss1 = o.serverPid ? procRSS(o.serverPid) : 0;
    if (progress) clearInterval(progress);
    if (printer) clearInterval(printer);
    const done = waitAll('result');
    send({ type: 'stop' });
    const results = await done;
    const ack = new Hist(), del = new Hist(), lag = new Hist();
    let ops = 0, bcasts = 0, errors = 0, toolCPU = 0, winCPU = 0, sent = 0, bad = 0;
    const notes = [];
    for (const r of results) {
      ack.merge(Hist.from(r.ack)); del.merge(Hist.from(r.del)); lag.merge(Hist.from(r.lag));
      ops += r.ops; bcasts += r.bcasts; errors += r.errors; toolCPU += r.toolCPU; winCPU += r.winCPU; sent += r.sent; bad += r.bad;
      if (r.note) notes.push(r.note);
    }
    if (bad) { errors += bad; notes.unshift(`${bad} documents did not converge`); }
    const res = {
      label: o.label || undefined, workload: 'collab', proto: 'hocuspocus', url: o.url,
      docs: o.docs, editors: o.editors, seconds: secs, ops, rate: ops / secs,
      offered_rate: o.rate || undefined, arrivals: o.rate ? o.arrivals : undefined,
      p50_ms: ack.quantileMs(0.5), p99_ms: ack.quantileMs(0.99), p999_ms: ack.quantileMs(0.999), max_ms: ack.max / 1000,
      bcast_p50_ms: del.quantileMs(0.5), bcast_p99_ms: del.quantileMs(0.99), bcast_p999_ms: del.quantileMs(0.999), broadcasts: bcasts,
      send_lag_p99_ms: lag.quantileMs(0.99),
      errors,
      server_cpu_s: o.serverPid ? cpu1 - cpu0 : undefined,
      server_cpu_us_per_op: o.serverPid && ops ? ((cpu1 - cpu0) / ops) * 1e6 : undefined,
      tool_cpu_s: toolCPU,
      // The driver's own CPU per acked update in the window: how many
      // updates/s one core of driver can generate and apply (all editors
      // apply every broadcast, as browsers do).
      tool_cpu_window_s: winCPU, tool_cpu_us_per_op: ops ? (winCPU / ops) * 1e6 : undefined,
      rss_before_kib: rss0 || undefined, rss_after_kib: rss1 || undefined,
      ack_hist: ack.buckets(), bcast_hist: del.buckets(),
      note: notes.join('; ') || undefined,
    };
    if (ops === 0) res.errors++;
    printTable(res, o);
    if (o.json) fs.writeFileSync(o.json, JSON.stringify(res, null, 2) + '\n');
    return res.errors ? 2 : 0;
  } finally {
    // Workers exit by themselves after their result (and write any
    // --cpu-prof then); kill those that have not within 5 s.
    await Promise.all(workers.map((w) => (w.child.exitCode !== null ? null : new Promise((resolve) => {
      const t = setTimeout(() => { w.child.kill(); resolve(); }, 5000);
      w.child.once('exit', () => { clearTimeout(t); resolve(); });
    }))));
  }
}

function printTable(r, o) {
  const row = (k, v) => process.stdout.write(`${k.padEnd(22)} ${v}\n`);
  row('workload', `collab (hocuspocus) ${r.url}`);
  row('docs x editors', `${r.docs} x ${r.editors} (${o.procs} driver processes, ${o.observers} applying broadcasts)`);
  if (r.offered_rate) row('offered', `${r.offered_rate} ops/s (${r.arrivals})`);
  row('seconds', r.seconds.toFixed(2));
  row('acked updates', `${r.ops} (${r.rate.toFixed(0)}/s)`);
  row('ack p50/p99/p999/max', `${r.p50_ms.toFixed(2)} / ${r.p99_ms.toFixed(2)} / ${r.p999_ms.toFixed(2)} / ${r.max_ms.toFixed(2)} ms`);
  row('delivery p50/p99/p999', `${r.bcast_p50_ms.toFixed(2)} / ${r.bcast_p99_ms.toFixed(2)} / ${r.bcast_p999_ms.toFixed(2)} ms (${r.broadcasts} received)`);
  if (r.offered_rate) row('send lag p99', `${r.send_lag_p99_ms.toFixed(2)} ms`);
  if (r.server_cpu_s !== undefined) row('server cpu', `${r.server_cpu_s.toFixed(2)}s (${(r.server_cpu_us_per_op || 0).toFixed(2)} µs/op)`);
  row('tool cpu', `${r.tool_cpu_s.toFixed(2)}s (in the window ${r.tool_cpu_window_s.toFixed(2)}s, ${(r.tool_cpu_us_per_op || 0).toFixed(0)} µs per acked update)`);
  if (r.rss_after_kib) row('server rss', `${r.rss_before_kib} -> ${r.rss_after_kib} KiB`);
  row('errors', String(r.errors));
  if (r.note) row('note', r.note);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- worker
function worker() {
  const Y = require('yjs');
  const encoding = require('lib0/encoding');
  const decoding = require('lib0/decoding');
  const WebSocket = require('ws');

  const nowUs = () => Math.floor((performance.timeOrigin + performance.now()) * 1000);
  const ack = new Hist(), del = new Hist(), lag = new Hist();
  let o, rate, measuring = false, running = false, ops = 0, progressOps = 0, bcasts = 0, errors = 0, sent = 0;
  let lastErr = '';
  const editors = [];
  const fail = (msg) => { errors++; lastErr = msg; };
  const cpu0 = process.cpuUsage();
  let winCPU0 = cpu0, winCPU = 0; // CPU seconds of the measured window

  class Editor {
    constructor(doc, idx, seed) {
      this.name = doc;
      this.idx = idx;
      // An observer applies the broadcasts (and measures delivery); the
      // others (with -observers < editors) only write their own updates
      // against their own view of the text, which the server merges alike.
      this.observer = idx < o.observers;
      this.rng = mulberry32(seed);
      this.doc = new Y.Doc();
      this.text = this.doc.getText('content');
      this.inflight = []; // send times (µs) of updates not yet acknowledged
      this.gotStep2 = false;
      this.syncAcks = 0; // SyncStatus replies still owed for our SyncStep2
      this.joined = false;
      this.text.observe((ev, tr) => {
        if (tr.origin !== 'remote' || !measuring) return;
        const now = nowUs();
        for (const d of ev.delta) {
          if (typeof d.insert !== 'string') continue;
          for (const tok of d.insert.split(';')) {
            if (!tok) continue;
            const ts = parseInt(tok, 36);
            if (ts > 1e15 && ts <= now + 1e6) { del.record(now - ts); bcasts++; }
          }
        }
      });
      this.doc.on('update', (u, origin) => {
        if (origin === 'remote') return;
        this.sendUpdate(u);
      });
    }
    prefix(enc) { encoding.writeVarString(enc, this.name); }
    connect(url) {
      return new Promise((resolve, reject) => {
        this.joinedCb = resolve;
        const ws = new WebSocket(url, { perMessageDeflate: false });
        ws.binaryType = 'nodebuffer';
        this.ws = ws;
        ws.on('open', () => {
          const e = encoding.createEncoder();
          this.prefix(e);
          encoding.writeVarUint(e, 2); // Auth
          encoding.writeVarUint(e, 0); // Token
          encoding.writeVarString(e, '');
          ws.send(encoding.toUint8Array(e));
        });
        ws.on('message', (data) => {
          try { this.onMessage(data); } catch (err) { fail(`${this.name}: ${err.message}`); }
        });
        ws.on('error', (err) => { fail(`${this.name}: ${err.message}`); reject(err); });
        ws.on('close', () => { if (running) fail(`${this.name}: connection closed`); });
      });
    }
    onMessage(data) {
      const d = decoding.createDecoder(new Uint8Array(data.buffer, data.byteOffset, data.length));
      decoding.readVarString(d);
      const type = decoding.readVarUint(d);
      switch (type) {
        case 2: { // Auth
          const sub = decoding.readVarUint(d);
          if (sub !== 2) throw new Error(`auth refused (${sub})`);
          const e = encoding.createEncoder();
          this.prefix(e);
          encoding.writeVarUint(e, 0);
          encoding.writeVarUint(e, 0); // SyncStep1
          encoding.writeVarUint8Array(e, Y.encodeStateVector(this.doc));
          this.ws.send(encoding.toUint8Array(e));
          break;
        }
        case 0: case 4: { // Sync, SyncReply
          const step = decoding.readVarUint(d);
          const payload = decoding.readVarUint8Array(d);
          if (step === 0) { // the server's SyncStep1: answer with what it lacks
            const e = encoding.createEncoder();
            this.prefix(e);
            encoding.writeVarUint(e, 0);
            encoding.writeVarUint(e, 1);
            encoding.writeVarUint8Array(e, Y.encodeStateAsUpdate(this.doc, payload));
            this.syncAcks++;
            this.ws.send(encoding.toUint8Array(e));
          } else {
            if (step === 1 || this.observer) Y.applyUpdate(this.doc, payload, 'remote');
            if (step === 1) this.gotStep2 = true;
          }
          this.checkJoined();
          break;
        }
        case 8: { // SyncStatus
          const ok = decoding.readVarUint(d);
          if (ok !== 1) throw new Error('update refused (SyncStatus 0)');
          if (this.syncAcks > 0) { this.syncAcks--; this.checkJoined(); break; }
          const t = this.inflight.shift();
          if (t === undefined) throw new Error('unexpected SyncStatus');
          if (measuring) { ack.record(nowUs() - t); ops++; }
          progressOps++;
          if (running && rate === 0) this.next(0);
          break;
        }
        default: // Awareness, Stateless, …: not used here
      }
    }
    checkJoined() {
      if (!this.joined && this.gotStep2 && this.syncAcks === 0 && this.joinedCb) {
        this.joined = true;
        this.joinedCb();
      }
    }
    sendUpdate(u) {
      const e = encoding.createEncoder();
      this.prefix(e);
      encoding.writeVarUint(e, 0);
      encoding.writeVarUint(e, 2); // Update
      encoding.writeVarUint8Array(e, u);
      this.inflight.push(nowUs());
      sent++;
      this.ws.send(encoding.toUint8Array(e));
    }
    // next inserts a timestamp at a random place (and deletes 8 characters
    // after it once the text is over docLen); the update handler sends it.
    next(lateUs) {
      if (measuring) lag.record(lateUs);
      const n = this.text.length;
      const ins = nowUs().toString(36) + ';';
      this.doc.transact(() => {
        if (n > o.docLen && n > 16) {
          const p = Math.floor(this.rng() * (n - 16));
          this.text.insert(p, ins);
          this.text.delete(p + ins.length, 8);
        } else {
          this.text.insert(Math.floor(this.rng() * (n + 1)), ins);
        }
      });
    }
  }

  // Open loop: one Poisson (or uniform) process of this worker's share of
  // the rate, each arrival going to a random editor (so each editor's
  // arrivals are Poisson too). Timers fire at best every ~1 ms: arrivals
  // due by then are sent together, and the lateness is recorded.
  function schedule() {
    const rng = mulberry32(12345 + process.pid);
    const meanUs = 1e6 / rate;
    let due = nowUs();
    const gap = () => (o.arrivals === 'poisson' ? -Math.log(1 - rng()) * meanUs : meanUs);
    due += gap();
    const tick = () => {
      if (!running) return;
      const now = nowUs();
      while (due <= now) {
        const e = editors[Math.floor(rng() * editors.length)];
        e.next(now - due);
        due += gap();
      }
      setTimeout(tick, Math.max(0, Math.min(50, (due - nowUs()) / 1000 - 0.5)));
    };
    tick();
  }

  process.on('message', async (m) => {
    try {
      switch (m.type) {
        case 'config': {
          o = m.o;
          rate = m.rate;
          const joins = [];
          m.docs.forEach((doc, di) => {
            for (let i = 0; i < o.editors; i++) {
              const e = new Editor(doc, i, (di * 100000 + i + 1) ^ process.pid);
              editors.push(e);
              joins.push(e.connect(o.url));
            }
          });
          await Promise.all(joins);
          process.send({ type: 'joined' });
          break;
        }
        case 'start':
          running = true;
          if (rate > 0) schedule();
          else for (const e of editors) e.next(0);
          break;
        case 'measure':
          measuring = m.on;
          if (m.on) winCPU0 = process.cpuUsage();
          else { const c = process.cpuUsage(winCPU0); winCPU = (c.user + c.system) / 1e6; }
          break;
        case 'progress': process.send({ type: 'progress', ops: progressOps }); progressOps = 0; break;
        case 'stop': {
          running = false;
          const bad = await settle();
          const c = process.cpuUsage(cpu0);
          process.send({
            type: 'result', ack: ack.toJSON(), del: del.toJSON(), lag: lag.toJSON(), ops, bcasts, errors, sent, bad,
            toolCPU: (c.user + c.system) / 1e6, winCPU, note: lastErr,
          });
          for (const e of editors) e.ws.terminate();
          process.exit(0);
        }
      }
    } catch (err) {
      process.send({ type: 'error', message: err.message });
    }
  });

  // settle waits (≤ 15 s) until every update is acknowledged and the
  // editors of each document hold the same text; returns the documents that
  // did not converge.
  async function settle() {
    const deadline = Date.now() + 15000;
    for (;;) {
      let bad = 0;
      const byDoc = new Map();
      for (const e of editors) {
        if (!byDoc.has(e.name)) byDoc.set(e.name, []);
        byDoc.get(e.name).push(e);
      }
      const waiting = editors.some((e) => e.inflight.length > 0);
      if (!waiting || Date.now() > deadline) {
        for (const es of byDoc.values()) {
          const obs = es.filter((e) => e.observer);
          const t = obs[0].text.toString();
          if (es.some((e) => e.inflight.length > 0) || obs.some((e) => e.text.toString() !== t)) bad++;
        }
        // Acked everywhere but a broadcast may still be on its way.
        if (bad === 0 || Date.now() > deadline) {
          if (bad) lastErr = `${bad} documents did not converge`;
          return bad;
        }
      }
      await sleep(50);
    }
  }
}

function mulberry32(a) {
  a >>>= 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

if (process.argv.includes('--worker')) {
  worker();
} else {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`driver: ${err.message}`);
    process.exit(1);
  }
  parent(o).then((code) => process.exit(code), (err) => {
    console.error(`driver: ${err.message}`);
    process.exit(1);
  });
}
