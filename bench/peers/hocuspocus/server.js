// Hocuspocus 4 peer: @hocuspocus/server with @hocuspocus/extension-sqlite
// (better-sqlite3, one file), as Hocuspocus' docs recommend for persistence.
// Default debounce: a document is stored 2 s after its last change and at
// least every 10 s while it keeps changing (maxDebounce); nothing is
// fsynced per update, unlike Cowrite, which fsyncs before every ack.
// Usage: node server.js [port] [sqlite file]
'use strict';
const { Server } = require('@hocuspocus/server');
const { SQLite } = require('@hocuspocus/extension-sqlite');

const port = Number(process.argv[2] || 3300);
const file = process.argv[3] || 'hocuspocus.sqlite';

const server = new Server({
  port,
  address: '127.0.0.1',
  quiet: true,
  extensions: [new SQLite({ database: file })],
});
server.listen().then(() => {
  console.error(`hocuspocus peer listening on 127.0.0.1:${port} (pid ${process.pid}, sqlite ${file})`);
});
