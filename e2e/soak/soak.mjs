// Soak: mixed load against bin/cowrite for SOAK_DURATION (default 30m),
// sampling the server's RSS, goroutines (/metrics), open files and ack
// latency over time, then writing a report (JSON, Markdown) and an SVG plot
// to SOAK_OUT (default e2e/artifacts/soak).
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
// with the server at the end), and RSS, goroutines and open files flat
// after warm-up (the first quarter): the mean of the last quarter of the
// samples at most 10 % (or a small absolute slack) above the mean of the
// second quarter. Latency is reported, not asserted (the figures depend on
// the machine's load).
//
// Run: make soak (SOAK_DURATION=2m make soak for a short one), or
// node soak/soak.mjs from e2e/. soak.test.mjs runs a 2-minute one in CI.
import { readFileSync, readdirSync, mkdirSync, writeFileSync } from 'node:fs';
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
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)[1]) * 1024;
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  return { rss, fds };
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

/** The flatness verdict of one series (values after warm-up). */
export function flat(values, slack) {
  const q = Math.max(1, Math.floor(values.length / 4));
  const early = mean(values.slice(q, 2 * q));
  const late = mean(values.slice(-q));
  const limit = Math.max(early * 1.1, early + slack);
  return { early, late, limit, ok: late <= limit };
}

function svgPlot(samples, file) {
  const series = [
    ['RSS (MiB)', (s) => s.rss / 1048576],
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

export async function runSoak({ durationMs, outDir, log = console.log }) {
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
      const { rss, fds } = procStats(server.proc.pid);
      const pl = probeLat.splice(0), rl = restLat.splice(0);
      const s = {
        t: Date.now() - start, rss, fds, goroutines: await goroutines(server),
        probeP50: quantile(pl, 0.5), probeP99: quantile(pl, 0.99), restP50: quantile(rl, 0.5), restP99: quantile(rl, 0.99),
        acked: editors.reduce((n, c) => n + c.acked.size, 0) + restOps, errors: errors.length,
      };
      samples.push(s);
      if (samples.length % 10 === 1) log(`# soak t=${(s.t / 1000).toFixed(0)}s rss=${(rss / 1048576).toFixed(1)}MiB goroutines=${s.goroutines} fds=${fds} probe p50/p99=${s.probeP50?.toFixed(1)}/${s.probeP99?.toFixed(1)}ms errors=${errors.length}`);
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
    const verdict = {
      rss: flat(after.map((s) => s.rss), 4 << 20),
      goroutines: flat(after.map((s) => s.goroutines), 10),
      fds: flat(after.map((s) => s.fds), 5),
    };
    const ok = errors.length === 0 && Object.values(verdict).every((v) => v.ok);
    const report = { durationMs, samples, verdict, errors: errors.slice(0, 50), errorCount: errors.length, ok };
    mkdirSync(outDir, { recursive: true });
    writeFileSync(path.join(outDir, 'soak.json'), JSON.stringify(report, null, 1));
    svgPlot(samples, path.join(outDir, 'soak.svg'));
    const fmt = (v, unit = 1, d = 1) => (v / unit).toFixed(d);
    const md = [
      `# Soak report (${fmt(durationMs, 60000)} min)`, '',
      `Verdict: **${ok ? 'PASS' : 'FAIL'}** — ${errors.length} errors; ${samples.at(-1)?.acked ?? 0} ops acked.`, '',
      '| series | mean, 2nd quarter | mean, last quarter | limit | flat |', '|---|---|---|---|---|',
      `| RSS (MiB) | ${fmt(verdict.rss.early, 1048576)} | ${fmt(verdict.rss.late, 1048576)} | ${fmt(verdict.rss.limit, 1048576)} | ${verdict.rss.ok} |`,
      `| goroutines | ${fmt(verdict.goroutines.early)} | ${fmt(verdict.goroutines.late)} | ${fmt(verdict.goroutines.limit)} | ${verdict.goroutines.ok} |`,
      `| open files | ${fmt(verdict.fds.early)} | ${fmt(verdict.fds.late)} | ${fmt(verdict.fds.limit)} | ${verdict.fds.ok} |`,
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
  const report = await runSoak({ durationMs, outDir });
  process.exit(report.ok ? 0 : 1);
}
