// Node socket.io 4.8 peer: the Cowrite conformance echo server's handlers
// (auth, message, message-with-ack, join, leave, to-room, io-to-room,
// broadcast, rooms) on one port, WebSocket and polling, default heartbeat.
// Usage: node sio-peer.js [port]
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const port = Number(process.argv[2] || 3100);
const httpServer = http.createServer();
const io = new Server(httpServer, { cors: { origin: '*' }, maxHttpBufferSize: 1e6 });

function ackIf(args) {
  const last = args[args.length - 1];
  if (typeof last === 'function') { args.pop(); return last; }
  return null;
}

io.on('connection', (socket) => {
  socket.emit('auth', socket.handshake.auth || {});
  socket.on('message', (...args) => socket.emit('message-back', ...args));
  socket.on('message-with-ack', (...args) => { const ack = args.pop(); ack(...args); });
  socket.on('join', (room, ack) => { socket.join(room); if (ack) ack([...socket.rooms].sort()); });
  socket.on('leave', (room, ack) => { socket.leave(room); if (ack) ack([...socket.rooms].sort()); });
  socket.on('to-room', (room, ...args) => { const ack = ackIf(args); socket.to(room).emit('room-message', ...args); if (ack) ack(); });
  socket.on('io-to-room', (room, ...args) => { const ack = ackIf(args); io.to(room).emit('room-message', ...args); if (ack) ack(); });
  socket.on('broadcast', (...args) => { const ack = ackIf(args); socket.broadcast.emit('broadcast-back', ...args); if (ack) ack(); });
  socket.on('rooms', async (room, ack) => { const s = await io.in(room).fetchSockets(); ack(s.map((x) => x.id).sort()); });
});

httpServer.listen(port, '127.0.0.1', () => console.error(`socket.io peer listening on 127.0.0.1:${port} (pid ${process.pid})`));
