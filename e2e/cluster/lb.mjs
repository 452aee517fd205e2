// A round-robin load balancer without session affinity, for checking that
// a cluster needs none: every HTTP request and every WebSocket upgrade goes
// to the next node in turn.
// Usage: node cluster/lb.mjs PORT http://127.0.0.1:3101 http://127.0.0.1:3102 ...
import http from "node:http";
import net from "node:net";

const [port, ...ups] = process.argv.slice(2);
const targets = ups.map((u) => new URL(u));
let next = 0;
const pick = () => targets[next++ % targets.length];

const server = http.createServer((req, res) => {
  const t = pick();
  const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
    res.writeHead(r.statusCode, r.headers);
    r.pipe(res);
  });
  up.on("error", () => {
    res.writeHead(502);
    res.end();
  });
  req.pipe(up);
});
server.on("upgrade", (req, sock, head) => {
  const t = pick();
  const up = net.connect(t.port, t.hostname, () => {
    let raw = `${req.method} ${req.url} HTTP/1.1\r\n`;
    for (let i = 0; i < req.rawHeaders.length; i += 2) raw += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
    up.write(raw + "\r\n");
    if (head.length) up.write(head);
    up.pipe(sock);
    sock.pipe(up);
  });
  up.on("error", () => sock.destroy());
  sock.on("error", () => up.destroy());
});
server.listen(Number(port), "127.0.0.1", () => console.log("lb listening on", port));
