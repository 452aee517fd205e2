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
