// Soak: mixed load against bin/cowrite for SOAK_DURATION (default 30m),
// sampling the server's RSS (total and anonymous), the data file's used
// size, goroutines (/metrics), open files and ack latency over time, then
// writing a report (JSON, Markdown) and an SVG plot to SOAK_OUT (default
// e2e/artifacts/soak). SOAK_BACKUP_EVERY=N also saves a backup of the data
// file every N samples into SOAK_OUT/backups (for
// go run ./storage/internal/dbusage FILE: where its pages are).
//
// Load: editors on both transports typing into four documents (their
// presence sent with every other edit), one editor leaving and a new one
// joining every 2 s, a dropped transport (reconnect and resend) every 3 s,
// a REST writer (ops, reads, and a PUT of the content now and then), and a
// probe socket whose op acks give the latency. The load is a steady state
// (documents of bounded length, old ops pruned from disk), so that memory
// has a reason to stay flat.
//
// Verdict: 0 errors (failed acks, REST errors, editors that do not converge
// with the server at the end), and anonymous RSS, the data file's used size,
// goroutines and open files flat after warm-up (the first quarter): the mean
// of the last quarter of the remaining samples at most 10 % (or a small
// absolute slack) above the mean of their second quarter (RULE). Total RSS
// and latency are reported, not judged: total RSS includes the page cache
// of the memory-mapped data file, latency depends on the machine's load.
//
// Run: make soak (SOAK_DURATION=2m make soak for a short one), or
// node soak/soak.mjs from e2e/. soak.test.mjs runs a 2-minute one in CI.
import { closeSync, openSync, readFileSync, readSync, readdirSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server, EditClient, connect, call, sleep, cpLen } from '../collab/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Parses "30m", "2m", "90s", "1h" or plain seconds. */
export function parseDuration(s) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(String(s).trim());
  if (!m) throw new Error(`bad SOAK_DURATION ${s} (want e.g. 30m, 90s)`);
  const n = Number(m[1]);
  return n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'];
}

function procStats(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) * 1024;
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  return { rss: kb('VmRSS'), rssAnon: kb('RssAnon'), fds };
}

/**
 * The data file's used size: bbolt's high water mark (pages in use or free
 * for reuse; the file on disk is preallocated in 16 MiB steps beyond it),
 * read from its newer valid meta page. A meta page: a 16-byte page header,
 * then magic u32, version u32, page size u32, flags u32, root bucket (16
 * bytes), freelist page u64, high water mark u64, txid u64 and an FNV-64a
 * checksum of the bytes from the magic on; little-endian here.
 */
export function dataFileUsed(file) {
  const fd = openSync(file, 'r');
  try {
    const meta = (off) => {
      const b = Buffer.alloc(80);
      if (readSync(fd, b, 0, 80, off) < 80 || b.readUInt32LE(16) !== 0xED0CDAED) return null;
      let h = 0xcbf29ce484222325n;
      for (let i = 16; i < 72; i++) h = ((h ^ BigInt(b[i])) * 0x100000001b3n) & 0xffffffffffffffffn;
      if (h !== b.readBigUInt64LE(72)) return null; // torn by a concurrent write, or damaged
      return { pageSize: b.readUInt32LE(24), pages: Number(b.readBigUInt64LE(56)), txid: b.readBigUInt64LE(64) };
    };
    const a = meta(0);
    const b = meta(a?.pageSize ?? 4096);
    const m = !a ? b : !b ? a : (b.txid > a.txid ? b : a);
    return m ? m.pages * m.pageSize : NaN;
  } finally { closeSync(fd); }
}

async function goroutines(server) {
  const r = await fetch(`${server.url}/metrics`);
  const m = /^go_goroutines (\d+)/m.exec(await r.text());
  return m ? Number(m[1]) : NaN;
}

const quantile = (xs, q) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * The flatness verdict of one series (values after warm-up): the mean of
 * its last quarter at most max(110 % of, slack above) the mean of its
 * second quarter. slope is the least-squares growth per minute of the
 * values over ts (ms), for the report.
 */
export function flat(values, slack, ts = []) {
  const q = Math.max(1, Math.floor(values.length / 4));
  const early = mean(values.slice(q, 2 * q));
  const late = mean(values.slice(-q));
  const limit = Math.max(early * 1.1, early + slack);
  return { early, late, limit, ok: late <= limit, slope: slopePerMin(ts, values) };
}

function slopePerMin(ts, ys) {
  if (ts.length < 2 || ts.length !== ys.length) return NaN;
  const mt = mean(ts), my = mean(ys);
  let num = 0, den = 0;
  for (let i = 0; i < ts.length; i++) { num += (ts[i] - mt) * (ys[i] - my); den += (ts[i] - mt) ** 2; }
  return den > 0 ? (num / den) * 60_000 : NaN;
}

// What the verdict judges, and with which slack: printed in the report.
// Total RSS is not judged: besides the process's own memory (RssAnon) it
// counts the pages of the memory-mapped data file the process touched
// (RssFile, page cache): they follow the file's size and reads, and the
// kernel reclaims them at will, so they are no sign of a leak. The file is
// judged by its used size instead (bbolt's high water mark).
const judged = [
  ['rssAnon', 'anonymous RSS (MiB)', 1048576, 4 << 20],
  // The slack covers the storage's checkpoint cycle: the journal fills up
  // to its checkpoint thresholds (and at most about twice its live entries
  // plus 1 MiB), snapshots pile up until their document is checkpointed and
  // pruned; only a file growing well past that over the run fails.
  ['dataBytes', 'data file used (MiB)', 1048576, 4 << 20],
  ['goroutines', 'goroutines', 1, 10],
  ['fds', 'open files', 1, 5],
];
export const RULE = 'Judged after warm-up (the first quarter of the samples): anonymous RSS (RssAnon), the data file\'s used size ' +
  '(bbolt\'s high water mark: pages in use or free for reuse), goroutines and open files are each flat when the mean of the ' +
  'last quarter of the remaining samples is at most max(110 %, slack above) the mean of their second quarter ' +
  '(slack: 4 MiB, 4 MiB — the journal\'s checkpoint cycle —, 10, 5); and 0 errors. Total RSS is reported, not judged: it includes the page cache of the ' +
  'memory-mapped data file (RssFile), which follows the file and the kernel reclaims.';

function svgPlot(samples, file) {
  const series = [
    ['total RSS (MiB, not judged)', (s) => s.rss / 1048576],
    ['anonymous RSS (MiB)', (s) => s.rssAnon / 1048576],
    ['data file used (MiB)', (s) => s.dataBytes / 1048576],
    ['goroutines', (s) => s.goroutines],
    ['open files', (s) => s.fds],
    ['probe ack p99 (ms)', (s) => s.probeP99],
  ];
  const W = 720, H = 150, pad = 40;
  const t0 = samples[0].t, t1 = samples.at(-1).t || 1;
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H * series.length}" font-family="sans-serif" font-size="11">\n`;
  series.forEach(([name, f], i) => {
    const ys = samples.map(f).filter(Number.isFinite);
    const max = Math.max(1, ...ys) * 1.1;
    const y0 = i * H;
    const pts = samples.filter((s) => Number.isFinite(f(s))).map((s) => {
      const x = pad + ((s.t - t0) / Math.max(1, t1 - t0)) * (W - 2 * pad);
      const y = y0 + H - 20 - (f(s) / max) * (H - 40);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    });
    svg += `<text x="${pad}" y="${y0 + 14}">${name} (max ${Math.max(...ys).toFixed(1)}, axis 0–${max.toFixed(1)})</text>\n`;
    svg += `<line x1="${pad}" y1="${y0 + H - 20}" x2="${W - pad}" y2="${y0 + H - 20}" stroke="#999"/>\n`;
    svg += `<polyline fill="none" stroke="#1565c0" stroke-width="1.5" points="${pts.join(' ')}"/>\n`;
    svg += `<text x="${W - pad}" y="${y0 + H - 6}" text-anchor="end">${((t1 - t0) / 1000).toFixed(0)} s</text>\n`;
  });
  svg += '</svg>\n';
  writeFileSync(file, svg);
}

export async function runSoak({ durationMs, outDir, log = console.log, backupEvery = 0 }) {
  // A steady state: old ops are pruned from disk (--retention), documents
  // stay below maxLen code points, the REST document is reset by a PUT and
  // the probe's alternates an insert and a delete.
  const server = await new Server({ args: ['--log-level', 'warn', '--retention', '500'] }).start();
  const maxLen = 2000;
  const errors = [];
  const docs = ['soak-a', 'soak-b', 'soak-c', 'soak-d'];
  const editors = [];
  let transportFlip = 0;
  const addEditor = async () => {
    const t = transportFlip++ % 2 === 0 ? ['polling'] : undefined; // polling only, or upgrade to WebSocket
    const c = new EditClient(server.url, docs[editors.length % docs.length], { transports: t });
    await c.start();
    editors.push(c);
  };
  const probeLat = [];
  const restLat = [];
  let restOps = 0;
  let stop = false;
  const loops = [];
  try {
    for (let i = 0; i < 8; i++) await addEditor();
    // Editors type; every other edit also sends presence.
    loops.push((async () => {
      let n = 0;
      while (!stop) {
        for (const c of editors) {
          if (!c.joined) continue;
          const len = cpLen(c.text);
          if (len > maxLen) {
            const at = Math.floor(Math.random() * (len - 50));
            c.edit(at > 0 ? [at, { d: 50 }] : [{ d: 50 }]);
          } else {
            c.randomEdit();
          }
          if (++n % 2 === 0) {
            const len = [...c.text].length;
            const at = Math.floor(Math.random() * (len + 1));
            c.socket.emit('doc:presence', { doc: c.doc, version: c.version, selection: [{ anchor: at, head: at }] });
          }
        }
        await sleep(50);
      }
    })());
    // Churn: one editor leaves (its final state is checked first), a new one joins.
    loops.push((async () => {
      while (!stop) {
        await sleep(2000);
        if (stop) break;
        const c = editors.shift();
        try { await c.waitFor(() => c.idle(), 20000, 'idle before leaving'); } catch (e) { errors.push(String(e)); }
        errors.push(...c.errors);
        c.close();
        await addEditor();
      }
    })());
    // Reconnects: drop a random editor's transport.
    loops.push((async () => {
      while (!stop) {
        await sleep(3000);
        editors[Math.floor(Math.random() * editors.length)]?.dropTransport();
      }
    })());
    // REST writer.
    loops.push((async () => {
      if ((await server.req('POST', '/api/docs', { json: { id: 'soak-rest' } })).status !== 201) errors.push('create soak-rest');
      let version = 0;
      for (let seq = 1, i = 0; !stop; seq++, i++) {
        const t = performance.now();
        const r = await server.req('POST', '/api/docs/soak-rest/ops', { json: { version, op: ['x'], client: 'rest-writer', seq } });
        restLat.push(performance.now() - t);
        if (r.status !== 200) { errors.push(`REST op: ${r.status} ${JSON.stringify(r.body)}`); break; }
        version = r.body.version;
        restOps++;
        if (i % 10 === 0 && (await server.req('GET', '/api/docs/soak-rest')).status !== 200) errors.push('REST get');
        if (i % 200 === 199) {
          const p = await server.req('PUT', '/api/docs/soak-rest/content', { json: { content: 'reset ' + i } });
          if (p.status !== 200) errors.push(`REST put: ${p.status} ${JSON.stringify(p.body)}`);
          version = (await server.req('GET', '/api/docs/soak-rest')).body.version;
        }
        await sleep(100);
      }
    })());
    // Latency probe.
    loops.push((async () => {
      const s = await connect(server.url);
      try {
        const j = await call(s, 'doc:join', { doc: 'soak-probe' });
        if (!j.ok) { errors.push(`probe join ${JSON.stringify(j)}`); return; }
        let version = j.version;
        for (let seq = 1; !stop; seq++) {
          const t = performance.now();
          const op = seq % 2 === 1 ? ['p'] : [{ d: 1 }];
          const a = await call(s, 'doc:op', { doc: 'soak-probe', version, op, client: 'probe', seq });
          probeLat.push(performance.now() - t);
          if (!a.ok) { errors.push(`probe op ${JSON.stringify(a)}`); break; }
          version = a.version;
          await sleep(200);
        }
      } finally { s.close(); }
    })());

    const samples = [];
    const sampleMs = Math.max(1000, Math.floor(durationMs / 120));
    const start = Date.now();
    while (Date.now() - start < durationMs) {
      await sleep(sampleMs);
      const { rss, rssAnon, fds } = procStats(server.proc.pid);
      const dbFile = path.join(server.dataDir, 'cowrite.db');
      const fileBytes = statSync(dbFile).size, dataBytes = dataFileUsed(dbFile);
      const pl = probeLat.splice(0), rl = restLat.splice(0);
      const s = {
        t: Date.now() - start, rss, rssAnon, dataBytes, fileBytes, fds, goroutines: await goroutines(server),
        probeP50: quantile(pl, 0.5), probeP99: quantile(pl, 0.99), restP50: quantile(rl, 0.5), restP99: quantile(rl, 0.99),
        acked: editors.reduce((n, c) => n + c.acked.size, 0) + restOps, errors: errors.length,
      };
      samples.push(s);
      if (backupEvery > 0 && samples.length % backupEvery === 0) {
        // A copy of the data file for offline inspection (go run ./storage/internal/dbusage FILE).
        const r = await fetch(`${server.url}/api/admin/backup`);
        if (r.ok) {
          mkdirSync(path.join(outDir, 'backups'), { recursive: true });
          writeFileSync(path.join(outDir, 'backups', `t${String(Math.round(s.t / 1000)).padStart(5, '0')}s.db`), Buffer.from(await r.arrayBuffer()));
        } else log(`# soak: backup failed: ${r.status}`);
      }
      if (samples.length % 10 === 1) log(`# soak t=${(s.t / 1000).toFixed(0)}s rss=${(rss / 1048576).toFixed(1)}MiB anon=${(rssAnon / 1048576).toFixed(1)}MiB file=${(dataBytes / 1048576).toFixed(1)}MiB goroutines=${s.goroutines} fds=${fds} probe p50/p99=${s.probeP50?.toFixed(1)}/${s.probeP99?.toFixed(1)}ms errors=${errors.length}`);
    }
    stop = true;
    await Promise.all(loops);
    // Convergence: every editor, once idle, holds the server's content.
    for (const c of editors) {
      try {
        await c.waitFor(() => c.idle(), 20000, 'idle at the end');
        const d = (await server.req('GET', `/api/docs/${c.doc}`)).body;
        if (d.version === c.version && d.content !== c.text) errors.push(`${c.client} diverged from ${c.doc} at v${d.version}`);
      } catch (e) { errors.push(String(e)); }
      errors.push(...c.errors);
      c.close();
    }

    const after = samples.slice(Math.floor(samples.length / 4));
    const ts = after.map((s) => s.t);
    const verdict = Object.fromEntries(judged.map(([k, , , slack]) => [k, flat(after.map((s) => s[k]), slack, ts)]));
    const reported = { rss: flat(after.map((s) => s.rss), 4 << 20, ts) };
    const ok = errors.length === 0 && Object.values(verdict).every((v) => v.ok);
    const report = { durationMs, rule: RULE, samples, verdict, reported, errors: errors.slice(0, 50), errorCount: errors.length, ok };
    mkdirSync(outDir, { recursive: true });
    writeFileSync(path.join(outDir, 'soak.json'), JSON.stringify(report, null, 1));
    svgPlot(samples, path.join(outDir, 'soak.svg'));
    const fmt = (v, unit = 1, d = 1) => (v / unit).toFixed(d);
    const row = (name, v, unit, judgedIt) =>
      `| ${name} | ${fmt(v.early, unit)} | ${fmt(v.late, unit)} | ${fmt(v.slope, unit, 2)} | ${judgedIt ? fmt(v.limit, unit) : '—'} | ${judgedIt ? v.ok : 'not judged'} |`;
    const first = samples[0], last = samples.at(-1);
    const md = [
      `# Soak report (${fmt(durationMs, 60000)} min)`, '',
      `Verdict: **${ok ? 'PASS' : 'FAIL'}** — ${errors.length} errors; ${last?.acked ?? 0} ops acked.`, '',
      '| series | mean, 2nd quarter | mean, last quarter | slope per minute | limit | flat |', '|---|---|---|---|---|---|',
      ...judged.map(([k, name, unit]) => row(name, verdict[k], unit, true)),
      row('total RSS (MiB)', reported.rss, 1048576, false),
      '', `Data file: ${fmt(first?.dataBytes ?? NaN, 1048576)} → ${fmt(last?.dataBytes ?? NaN, 1048576)} MiB used, ` +
        `${fmt(first?.fileBytes ?? NaN, 1048576)} → ${fmt(last?.fileBytes ?? NaN, 1048576)} MiB on disk (bbolt preallocates).`,
      '', RULE,
      '', `Probe ack latency p50/p99 over the run: ${fmt(quantile(samples.map((s) => s.probeP50).filter(Number.isFinite), 0.5))} / ${fmt(quantile(samples.map((s) => s.probeP99).filter(Number.isFinite), 0.5))} ms (median of the per-sample values); REST op p50 ${fmt(quantile(samples.map((s) => s.restP50).filter(Number.isFinite), 0.5))} ms.`,
      '', '![soak plot](soak.svg)', '',
      ...errors.slice(0, 20).map((e) => `- error: ${e}`),
    ].join('\n');
    writeFileSync(path.join(outDir, 'soak.md'), md + '\n');
    log(md);
    return report;
  } finally {
    stop = true;
    for (const c of editors) c.close();
    await server.kill('SIGTERM');
    server.cleanup?.();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const durationMs = parseDuration(process.env.SOAK_DURATION || '30m');
  const outDir = process.env.SOAK_OUT || path.join(here, '..', 'artifacts', 'soak');
  const report = await runSoak({ durationMs, outDir, backupEvery: Number(process.env.SOAK_BACKUP_EVERY || 0) });
  process.exit(report.ok ? 0 : 1);
}
