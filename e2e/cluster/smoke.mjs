// A smoke check of a running 3-node cluster: clients on different nodes
// (WebSocket and polling) edit one document and converge.
// Usage: node cluster/smoke.mjs http://127.0.0.1:3101 http://127.0.0.1:3102 http://127.0.0.1:3103
import { io } from "socket.io-client";

const urls = process.argv.slice(2);
const doc = "smoke-" + Date.now();
const transports = (i) => (process.env.TRANSPORTS === "default" ? ["polling", "websocket"] : i === 1 ? ["polling"] : ["websocket"]);
const clients = urls.map((u, i) => io(u, { transports: transports(i), auth: { name: "u" + i }, forceNew: true }));
const emit = (s, ev, p) => new Promise((res) => s.emit(ev, p, res));
const states = [];
for (const [i, s] of clients.entries()) {
  if (!s.connected) await new Promise((res) => s.on("connect", res));
  const st = { version: 0, text: "", seen: [], presence: [] };
  states.push(st);
  s.on("doc:op", (ev) => {
    st.seen.push(ev.version);
  });
  s.on("doc:presence", (ev) => st.presence.push(ev.client + ":" + JSON.stringify(ev.selection)));
  const j = await emit(s, "doc:join", { doc, client: "c" + i });
  if (!j.ok) throw new Error("join " + JSON.stringify(j));
  if (process.env.DEBUG) console.log("joined", i, urls[i]);
}
// Each client inserts 10 chars against version 0 one at a time (the server transforms).
const acks = await Promise.all(
  clients.map(async (s, i) => {
    const out = [];
    for (let k = 1; k <= 10; k++) {
      const a = await emit(s, "doc:op", { doc, version: 0, op: [String(i)], client: "c" + i, seq: k });
      if (!a.ok) throw new Error("op " + JSON.stringify(a));
      if (process.env.DEBUG) console.log("ack", i, k, a.version);
      out.push(a.version);
    }
    return out;
  }),
);
await emit(clients[0], "doc:presence", { doc, version: 30, selection: [{ anchor: 1, head: 2 }] });
await new Promise((r) => setTimeout(r, 500));
const res = await Promise.all(urls.map((u) => fetch(u + "/api/docs/" + doc).then((r) => r.json())));
let ok = true;
for (const [i, r] of res.entries()) {
  console.log(urls[i], "version", r.version, "content", r.content);
  if (r.version !== 30 || r.content !== res[0].content) ok = false;
}
for (const [i, st] of states.entries()) {
  const all = [...st.seen, ...acks[i]].sort((a, b) => a - b);
  console.log("client", i, "broadcasts", st.seen.length, "acks", acks[i].length, "presence", st.presence);
  if (all.length !== 30 || all.some((v, k) => v !== k + 1)) ok = false;
}
clients.forEach((s) => s.close());
console.log(ok ? "SMOKE OK" : "SMOKE FAILED");
process.exit(ok ? 0 : 1);
