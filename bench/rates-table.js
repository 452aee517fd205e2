// Prints the side-by-side table of bench/rates.sh from its raw JSON files
// (<peer>-<rate>-<round>.json): medians over rounds of achieved rate,
// server CPU per op, ack p50/p99/p999, delivery p50/p99 and server RSS,
// with Cowrite's CPU per op against each peer's, and the durability caveat.
// Usage: node bench/rates-table.js <raw dir> [description]
'use strict';
const fs = require('fs');
const path = require('path');

const dir = process.argv[2];
const desc = process.argv[3] || '';
const runs = new Map(); // "rate peer" → [result]
for (const f of fs.readdirSync(dir).sort()) {
  const m = /^(.+)-(\d+)-(\d+)\.json$/.exec(f);
  if (!m) continue;
  const r = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
  const key = `${m[2]} ${m[1]}`;
  if (!runs.has(key)) runs.set(key, []);
  runs.get(key).push(r);
}
const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
const order = ['cowrite', 'sharedb', 'hocuspocus'];
const rates = [...new Set([...runs.keys()].map((k) => Number(k.split(' ')[0])))].sort((a, b) => a - b);
const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const lines = [];
lines.push(`Open loop, ${desc}`);
lines.push('');
lines.push('| offered ops/s | server | achieved ops/s | server CPU µs/op | ack p50 / p99 / p999 ms | delivery p50 / p99 ms | send lag p99 ms | server RSS MiB | tool CPU µs/op | errors | Cowrite CPU/op ÷ this |');
lines.push('| ---: | --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |');
for (const rate of rates) {
  const cw = runs.get(`${rate} cowrite`);
  const cwCPU = cw ? median(cw.map((r) => r.server_cpu_us_per_op)) : NaN;
  for (const peer of order) {
    const rs = runs.get(`${rate} ${peer}`);
    if (!rs) continue;
    const m = (k) => median(rs.map((r) => r[k]));
    const cpu = m('server_cpu_us_per_op');
    lines.push(`| ${rate} | ${peer} (${rs.length} runs) | ${f(m('rate'), 0)} | ${f(cpu, 0)} | ${f(m('p50_ms'))} / ${f(m('p99_ms'))} / ${f(m('p999_ms'))} | ${f(m('bcast_p50_ms'))} / ${f(m('bcast_p99_ms'))} | ${f(m('send_lag_p99_ms'))} | ${f(m('rss_after_kib') / 1024, 1)} | ${f(median(rs.map((r) => r.tool_cpu_us_per_op ?? (r.tool_cpu_s / r.ops) * 1e6)), 0)} | ${rs.reduce((a, r) => a + (r.errors || 0), 0)} | ${peer === 'cowrite' ? '' : f(cwCPU / cpu)} |`);
  }
}
// Ack latency histograms, merged over rounds, in power-of-two ms buckets.
const edges = [0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, Infinity];
const label = (e) => (e === Infinity ? '> 256' : `≤ ${e}`);
lines.push('');
lines.push('Ack latency histogram, % of acks per bucket (ms):');
lines.push('');
lines.push(`| offered ops/s | server | ${edges.map(label).join(' | ')} |`);
lines.push(`| ---: | --- |${edges.map(() => ' ---: |').join('')}`);
for (const rate of rates) {
  for (const peer of order) {
    const rs = runs.get(`${rate} ${peer}`);
    if (!rs) continue;
    const counts = edges.map(() => 0);
    let n = 0;
    for (const r of rs) {
      for (const [ms, c] of r.ack_hist || []) {
        counts[edges.findIndex((e) => ms <= e)] += c;
        n += c;
      }
    }
    lines.push(`| ${rate} | ${peer} | ${counts.map((c) => (n ? ((100 * c) / n).toFixed(1) : '–')).join(' | ')} |`);
  }
}
lines.push('');
lines.push('Durability differs: Cowrite acks after fsync (every op durable); ShareDB runs on its in-memory');
lines.push('database; Hocuspocus acks (SyncStatus) once an update is applied in memory, and its SQLite');
lines.push('extension stores a document 2 s after its last change and at most every 10 s while it keeps');
lines.push('changing (debounce 2 s, maxDebounce 10 s). Ack and delivery latencies are measured from the');
lines.push('moment the op is written to the socket; send lag is how late it was written against its');
lines.push('scheduled arrival (an editor keeps one op in flight in Cowrite and ShareDB, as their clients do).');
lines.push('Tool CPU µs/op: the load generator\'s own CPU per acked op (the Hocuspocus driver: in the window;');
lines.push('cowrite-bench: the whole run, joins included); a saturated tool makes every latency meaningless.');
console.log(lines.join('\n'));
