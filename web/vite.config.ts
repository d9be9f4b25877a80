/// <reference types="vitest" />
// Builds the console into JZ_CONSOLE_OUT (CMake passes BUILD/console, where `jizhan
// server` finds it) or dist/. `npm run dev` serves it with the API proxied to a server on
// JZ_API (default http://127.0.0.1:8080).
import { defineConfig } from 'vite';

const api = process.env.JZ_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: process.env.JZ_CONSOLE_OUT ?? 'dist',
    emptyOutDir: true,
    target: 'es2020',
    // The polyfill is for old browsers; without it no inline code is needed anywhere.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 900,
    rollupOptions: {
      onwarn(warning, warn) {
        // React Server Components' "use client" markers mean nothing in a browser bundle.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  server: { proxy: { '/api': api, '/devenvs': { target: api, ws: true } } },
  test: { environment: 'jsdom', include: ['src/**/*.test.{ts,tsx}'] },
});
