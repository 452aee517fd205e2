// Helpers of the integration end-to-end tests: a Server-Sent Events reader
// over fetch, and a real HTTP webhook receiver whose answers the test
// switches (refuse, accept), verifying every signature.
import http from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Opens an SSE stream; next() resolves with {id, event, data} or null at the end. */
export async function openEvents(url, headers = {}) {
  const ac = new AbortController();
  const res = await fetch(url, { headers, signal: ac.signal });
  if (res.status !== 200) {
    const body = await res.text();
    return { status: res.status, body, close() {} };
  }
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  return {
    status: res.status,
    headers: res.headers,
    close() { ac.abort(); },
    async next() {
      let ev = {};
      for (;;) {
        const nl = buf.indexOf('\n');
        if (nl < 0) {
          let chunk;
          try { chunk = await reader.read(); } catch { return null; }
          if (chunk.done) return null;
          buf += dec.decode(chunk.value, { stream: true });
          continue;
        }
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === '') {
          if (ev.event) return ev;
          ev = {};
        } else if (line.startsWith('id: ')) ev.id = line.slice(4);
        else if (line.startsWith('event: ')) ev.event = line.slice(7);
        else if (line.startsWith('data: ')) ev.data = JSON.parse(line.slice(6));
      }
    },
  };
}

/** Verifies a Cowrite-Signature header (t=<unix>,v1=<hex>) against the raw body. */
export function verifySignature(secret, header, body) {
  const parts = Object.fromEntries(String(header).split(',').map((p) => p.split('=')));
  if (!parts.t || !parts.v1) return false;
  const want = createHmac('sha256', secret).update(`${parts.t}.${body}`).digest();
  const got = Buffer.from(parts.v1, 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * A webhook receiver on a free port. mode 'refuse' answers 500, 'accept'
 * answers 204 and records the event. waitFor(pred) resolves once the
 * accepted events satisfy pred.
 */
export async function startReceiver(secret) {
  const r = { mode: 'refuse', accepted: [], requests: 0, badSignatures: 0, waiters: [] };
  r.server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      r.requests++;
      if (!verifySignature(secret, req.headers['cowrite-signature'], body)) r.badSignatures++;
      if (r.mode !== 'accept') {
        res.writeHead(500).end('not now');
        return;
      }
      const ev = JSON.parse(body);
      if (req.headers['cowrite-delivery'] !== ev.id) r.badSignatures++;
      r.accepted.push(ev);
      res.writeHead(204).end();
      r.waiters = r.waiters.filter((w) => !w());
    });
  });
  await new Promise((resolve) => r.server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${r.server.address().port}/hook`;
  r.waitFor = (pred) => new Promise((resolve) => {
    const check = () => { if (pred(r.accepted)) { resolve(r.accepted); return true; } return false; };
    if (!check()) r.waiters.push(check);
  });
  r.close = () => new Promise((resolve) => { r.server.closeAllConnections(); r.server.close(resolve); });
  return r;
}
