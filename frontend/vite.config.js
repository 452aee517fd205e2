import { defineConfig } from 'vite';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const sioDist = fileURLToPath(new URL('./node_modules/socket.io-client/dist/', import.meta.url));

// Ships the official socket.io-client browser bundle with the app, so the Go
// server can serve it at /socket.io/socket.io.js as the Node server does.
const socketIOClientBundle = {
  name: 'cowrite-socket.io-client-bundle',
  generateBundle() {
    for (const [from, to] of [
      ['socket.io.min.js', 'socket.io/socket.io.min.js'],
      ['socket.io.min.js.map', 'socket.io/socket.io.min.js.map'],
    ]) {
      this.emitFile({ type: 'asset', fileName: to, source: readFileSync(sioDist + from) });
    }
  },
};

// The client package (../clients/js) is used from source: one implementation
// of the sync logic for the editor and for integrators. Its dependencies
// resolve to this app's copies (dedupe), so CodeMirror is loaded once.
const clientSrc = fileURLToPath(new URL('../clients/js/src/', import.meta.url));

// A running `cowrite` (default :3000) serves the API and Socket.IO in dev.
const backend = process.env.COWRITE_BACKEND || 'http://127.0.0.1:3000';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist/app',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    chunkSizeWarningLimit: 800,
  },
  plugins: [socketIOClientBundle],
  resolve: {
    alias: [
      { find: /^@cowrite\/client$/, replacement: clientSrc + 'index.js' },
      { find: /^@cowrite\/client\/codemirror$/, replacement: clientSrc + 'codemirror.js' },
    ],
    dedupe: ['@codemirror/state', '@codemirror/view', 'ot-text-unicode', 'socket.io-client'],
  },
  server: {
    proxy: {
      '/api': backend,
      '/socket.io': { target: backend, ws: true },
    },
  },
  test: {
    include: ['test/**/*.test.js'],
    environment: 'node',
  },
});
