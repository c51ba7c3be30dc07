/// <reference types="vitest/config" />
import { defineConfig } from 'vite';

// `npm run dev` proxies the API to a running `wgpilot serve` (self-signed HTTPS).
// (No @types/node in this project: read the environment without it.)
const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const target = env.WGPILOT_URL ?? 'https://127.0.0.1:8443';

// No @vitejs/plugin-react: esbuild compiles JSX with the automatic runtime, which
// is all this app needs (no Fast Refresh in dev; a full reload is fine).
export default defineConfig({
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: '../wgpilot/web/dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2020',
    // The server's CSP forbids inline script and style: never inline assets as
    // data: URLs into JS/CSS either (img-src allows data:, but keep it uniform).
    assetsInlineLimit: 0,
    sourcemap: false,
    rollupOptions: {
      output: {
        entryFileNames: 'assets/[name]-[hash].js',
        chunkFileNames: 'assets/[name]-[hash].js',
        assetFileNames: 'assets/[name]-[hash][extname]',
      },
    },
  },
  server: {
    proxy: {
      // The server checks Origin on state-changing requests: present its own.
      '/api': { target, secure: false, headers: { origin: target } },
      '/health': { target, secure: false },
    },
  },
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    environment: 'node',
  },
});
