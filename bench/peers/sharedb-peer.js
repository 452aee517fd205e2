// ShareDB 7 peer: in-memory database (no fsync), ot-text-unicode registered,
// ShareDB's own JSON protocol over ws (one WebSocket per client).
// Usage: node sharedb-peer.js [port]
'use strict';
const http = require('http');
const WebSocket = require('ws');
const ShareDB = require('sharedb');
const WebSocketJSONStream = require('@teamwork/websocket-json-stream');
const textUnicode = require('ot-text-unicode');

ShareDB.types.register(textUnicode.type);

const port = Number(process.argv[2] || 3200);
const backend = new ShareDB();
const server = http.createServer();
const wss = new WebSocket.Server({ server });
wss.on('connection', (ws) => backend.listen(new WebSocketJSONStream(ws)));
server.listen(port, '127.0.0.1', () => console.error(`sharedb peer listening on 127.0.0.1:${port} (pid ${process.pid})`));
