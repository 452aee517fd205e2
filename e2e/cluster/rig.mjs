// The cluster test rig: 3 real nats-server processes (JetStream, routed to
// each other, monitoring on), 3 cowrite processes with --cluster, each on a
// free loopback port, all in one temporary directory. Used by the fault
// tier and by the wrappers that run the collab and browser suites against a
// cluster.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot, binPath, ensureBinary, freePort, sleep } from '../collab/harness.mjs';

export const natsBin = process.env.NATS_SERVER_BIN || path.join(repoRoot, 'bin', 'nats-server');

/** Builds bin/nats-server from the pinned module when it is missing. */
export function ensureNats() {
  if (!existsSync(natsBin)) {
    execFileSync('go', ['build', '-o', natsBin, 'github.com/nats-io/nats-server/v2'], { cwd: repoRoot, stdio: 'inherit' });
  }
}

/** A child process that keeps the tail of its output. */
export class Proc {
  constructor(bin, args) {
    this.bin = bin;
    this.args = args;
    this.output = '';
  }
  start() {
    this.proc = spawn(this.bin, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d) => { this.output = (this.output + d).slice(-20000); };
    this.proc.stdout.on('data', keep);
    this.proc.stderr.on('data', keep);
    this.exited = new Promise((r) => this.proc.on('exit', r));
  }
  get alive() { return this.proc && this.proc.exitCode === null && this.proc.signalCode === null; }
  async kill(sig = 'SIGKILL') {
    if (!this.alive) return;
    this.proc.kill(sig);
    await this.exited;
  }
}

/** Waits until url/readyz answers 200. */
export async function waitReady(url, ms = 90000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const r = await fetch(url + '/readyz');
      if (r.ok) return;
    } catch {}
    await sleep(200);
  }
  throw new Error(`${url} not ready after ${ms} ms`);
}

/** Waits until node url counts n active members (its /metrics). */
export async function waitActive(url, n, ms = 60000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const m = await (await fetch(url + '/metrics')).text();
      const v = /^cowrite_cluster_active_members (\S+)$/m.exec(m);
      if (v && Number(v[1]) >= n) return;
    } catch {}
    await sleep(200);
  }
  throw new Error(`${url} did not see ${n} active members after ${ms} ms`);
}

/**
 * Starts 3 NATS servers and 3 cowrite nodes (extra cowrite flags in args)
 * and waits until every node is ready. Returns { nats, cws, urls,
 * monPorts, dir, stop }; stop() kills everything and removes the directory.
 */
export async function startCluster({ args = [] } = {}) {
  ensureBinary();
  ensureNats();
  const dir = mkdtempSync(path.join(tmpdir(), 'cowrite-cluster-'));
  const natsPorts = [await freePort(), await freePort(), await freePort()];
  const monPorts = [await freePort(), await freePort(), await freePort()];
  const routePorts = [await freePort(), await freePort(), await freePort()];
  const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`).join(',');
  const nats = natsPorts.map((p, i) => new Proc(natsBin, ['-js', '-sd', path.join(dir, `n${i}`), '-n', `n${i}`, '-a', '127.0.0.1',
    '-p', String(p), '-m', String(monPorts[i]), '--cluster_name', 'cowrite', '--cluster', `nats://127.0.0.1:${routePorts[i]}`, '--routes', routes]));
  const natsURLs = natsPorts.map((p) => `nats://127.0.0.1:${p}`).join(',');
  const cwPorts = [await freePort(), await freePort(), await freePort()];
  const cws = cwPorts.map((p, i) => new Proc(binPath, ['--addr', `127.0.0.1:${p}`, '--cluster', natsURLs, '--node-id', `cw${i}`,
    '--log-level', 'warn', '--cluster-connect-timeout', '90s', ...args]));
  const urls = cwPorts.map((p) => `http://127.0.0.1:${p}`);
  const all = [...nats, ...cws];
  const stop = async () => {
    for (const p of all) await p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const p of all) p.start();
    for (const u of urls) await waitReady(u);
    // Until every node counts every member active, their views of a
    // document's owner may differ (two sequencers, the fence decides).
    for (const u of urls) await waitActive(u, urls.length);
  } catch (err) {
    for (const [i, p] of cws.entries()) console.log(`--- cw${i}\n${p.output.slice(-3000)}`);
    await stop();
    throw err;
  }
  return { nats, cws, urls, monPorts, dir, stop };
}

/** The leader of JetStream stream name, as the servers' /jsz?streams=true say. */
export async function streamLeader(monPorts, name) {
  for (let tries = 0; tries < 100; tries++) {
    for (const mp of monPorts) {
      try {
        const j = await (await fetch(`http://127.0.0.1:${mp}/jsz?streams=true`)).json();
        for (const acc of j.account_details || []) {
          for (const st of acc.stream_detail || []) {
            if (st.name === name && st.cluster && st.cluster.leader) return st.cluster.leader;
          }
        }
      } catch {}
    }
    await sleep(100);
  }
  throw new Error(`no leader of ${name} in /jsz`);
}

/** jetstore.Shard: fnv32a(id) mod k, the op stream of a document. */
export function shard(id, k) {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(id, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % k;
}
